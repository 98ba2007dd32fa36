/* Crash-safe file writes.
 *
 * Every file verto writes goes to "PATH.tmp.XXXXXX" beside its final name,
 * is flushed and fsync'ed, then renamed over PATH (and the directory synced),
 * so a reader sees the old file or the new one, never half of one. A full disk
 * or any other write failure is reported naming the file and the temporary
 * is removed. */
#ifndef VERTO_FILEIO_H
#define VERTO_FILEIO_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_atomic_file {
    FILE *f;          /* write through this between open and commit (stdio only: no fileno) */
    char *final_path; /* owned */
    char *tmp_path;   /* owned */
    void *impl;       /* private: descriptor and first write error */
} vt_atomic_file;

/* Creates the temporary file for `path`. On failure nothing is created. */
VT_API vt_status vt_atomic_open(vt_atomic_file *af, const char *path);

/* Flushes, fsyncs, closes and renames to the final name, then syncs the
 * directory. Checks every step (including earlier fwrite errors via ferror).
 * On failure removes the temporary and leaves any old file untouched.
 * Either way `af` is released. */
VT_API vt_status vt_atomic_commit(vt_atomic_file *af);

/* Closes and removes the temporary; `af` is released. Safe after a failed open. */
VT_API void vt_atomic_abort(vt_atomic_file *af);

/* Writes `n` bytes to `path` atomically (open + fwrite + commit). */
VT_API vt_status vt_write_file_atomic(const char *path, const void *data, size_t n);

/* Reads a whole file ("-": standard input) into a NUL-terminated heap buffer
 * (*out, *len without the NUL). Errors name the file. max_bytes bounds what
 * will be read. */
VT_API vt_status vt_read_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* mkdir -p for one path; VT_OK if it already exists as a directory. */
VT_API vt_status vt_mkdir_p(const char *path);

/* True if path names a directory (following links). */
VT_API bool vt_is_dir(const char *path);

#ifdef __cplusplus
}
#endif
#endif
