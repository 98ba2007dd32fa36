/* Status codes and the last-error message.
 *
 * The library never prints and never exits on bad input: a failing call returns
 * a vt_status other than VT_OK (or NULL) and leaves a one-line message, naming
 * the file, tensor or shape at fault, in a thread-local buffer. */
#ifndef VERTO_ERROR_H
#define VERTO_ERROR_H

#include "verto/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_status {
    VT_OK = 0,
    VT_ERR_INVALID_ARG, /* a caller passed something the contract forbids */
    VT_ERR_SHAPE,       /* tensor shapes do not fit together */
    VT_ERR_IO,          /* the operating system refused a read or write */
    VT_ERR_FORMAT,      /* a file's contents are malformed or inconsistent */
    VT_ERR_NOMEM,       /* an allocation failed */
    VT_ERR_NUMERIC,     /* a loss or gradient became NaN or infinite */
    VT_ERR_UNSUPPORTED, /* valid, but not something verto implements */
    VT_ERR_STATE,       /* call order is wrong (e.g. fit before compile) */
} vt_status;

/* The message of the most recent failure on this thread ("" if none).
 * The pointer stays valid until the next failing call on the same thread. */
VT_API const char *vt_last_error(void);

/* The status of the most recent failure on this thread (VT_OK if none). */
VT_API vt_status vt_last_status(void);

/* Forget the last failure on this thread. */
VT_API void vt_clear_error(void);

/* Record a failure: formats the message printf-style and returns `status`,
 * so that callers can write `return vt_error(VT_ERR_IO, "...", ...)`. */
VT_API vt_status vt_error(vt_status status, const char *fmt, ...)
           __attribute__((format(printf, 2, 3)));

/* Short English name of a status ("shape error", "I/O error", ...). */
VT_API const char *vt_status_name(vt_status status);

#ifdef __cplusplus
}
#endif
#endif
