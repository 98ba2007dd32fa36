/* Shared by the request parsers of src/serve: a JSON object's members
 * checked against the allowed names (unknown or repeated: an error naming it,
 * `where` prefixing the name). */
#ifndef VT_SERVE_REQUEST_FIELDS_H
#define VT_SERVE_REQUEST_FIELDS_H

#include <cjson/cJSON.h>

#include "verto/error.h"

vt_status serve_check_members(const cJSON *obj, const char *const *allowed, const char *where);

#endif
