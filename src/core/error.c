/* Thread-local last-error message (see verto/error.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "verto/error.h"

static _Thread_local char last_message[1024];
static _Thread_local vt_status last_status = VT_OK;

const char *vt_last_error(void) { return last_message; }
vt_status vt_last_status(void) { return last_status; }

void vt_clear_error(void) {
    last_message[0] = '\0';
    last_status = VT_OK;
}

vt_status vt_error(vt_status status, const char *fmt, ...) {
    /* Format into a copy first: callers may pass vt_last_error() itself as an
     * argument, to prefix context to a lower layer's message. */
    char message[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    memcpy(last_message, message, sizeof message);
    last_status = status;
    return status;
}

const char *vt_status_name(vt_status status) {
    switch (status) {
    case VT_OK: return "ok";
    case VT_ERR_INVALID_ARG: return "invalid argument";
    case VT_ERR_SHAPE: return "shape error";
    case VT_ERR_IO: return "I/O error";
    case VT_ERR_FORMAT: return "format error";
    case VT_ERR_NOMEM: return "out of memory";
    case VT_ERR_NUMERIC: return "numeric error";
    case VT_ERR_UNSUPPORTED: return "unsupported";
    case VT_ERR_STATE: return "wrong state";
    }
    return "unknown error";
}
