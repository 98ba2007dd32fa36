/* Crash-safe writes (temporary + fsync + rename), bounded reads, mkdir -p. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "verto/fileio.h"

/* The FILE of an atomic file writes through this, so that the first write
 * error (ENOSPC, EFBIG, EIO...) is kept for the message at commit. */
typedef struct sink {
    int fd;
    int err; /* first errno seen, 0 if none */
} sink;

static ssize_t sink_write(void *cookie, const char *buf, size_t size) {
    sink *s = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(s->fd, buf + done, size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (!s->err) s->err = w < 0 ? errno : EIO;
            return 0; /* fopencookie: 0 signals an error */
        }
        done += (size_t)w;
    }
    return (ssize_t)done;
}

static int sink_seek(void *cookie, off64_t *offset, int whence) {
    sink *s = cookie;
    off_t r = lseek(s->fd, (off_t)*offset, whence);
    if (r < 0) return -1;
    *offset = r;
    return 0;
}

static int sink_close(void *cookie) {
    sink *s = cookie;
    int r = close(s->fd);
    if (r != 0 && !s->err) s->err = errno;
    s->fd = -1;
    return r;
}

static void release(vt_atomic_file *af) {
    free(af->final_path);
    free(af->tmp_path);
    free(af->impl);
    af->f = NULL;
    af->final_path = af->tmp_path = NULL;
    af->impl = NULL;
}

vt_status vt_atomic_open(vt_atomic_file *af, const char *path) {
    if (!af) return vt_error(VT_ERR_INVALID_ARG, "vt_atomic_open: no handle given");
    *af = (vt_atomic_file){0};
    if (!path || !*path) return vt_error(VT_ERR_INVALID_ARG, "vt_atomic_open: empty path");
    size_t n = strlen(path);
    af->final_path = strdup(path);
    af->tmp_path = malloc(n + sizeof ".tmp.XXXXXX");
    sink *s = af->impl = calloc(1, sizeof *s);
    if (!af->final_path || !af->tmp_path || !s) {
        release(af);
        return vt_error(VT_ERR_NOMEM, "cannot create %s: out of memory", path);
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    s->fd = mkostemp(af->tmp_path, O_CLOEXEC);
    if (s->fd < 0) {
        int err = errno;
        release(af);
        return vt_error(VT_ERR_IO, "cannot create %s: %s", path, strerror(err));
    }
    /* mkstemp makes 0600; keep an existing file's mode, else rw-r--r-- */
    struct stat sb;
    mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644;
    (void)fchmod(s->fd, mode); /* not fatal: the data is what matters */
    af->f = fopencookie(s, "wb", (cookie_io_functions_t){.write = sink_write, .seek = sink_seek, .close = sink_close});
    if (!af->f) {
        int err = errno;
        close(s->fd);
        unlink(af->tmp_path);
        release(af);
        return vt_error(VT_ERR_NOMEM, "cannot create %s: %s", path, strerror(err));
    }
    return VT_OK;
}

/* fsync of the directory holding `path`, so the rename itself is durable.
 * File systems that cannot sync directories (EINVAL) are not an error. */
static int sync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return errno;
    int err = fsync(fd) != 0 && errno != EINVAL ? errno : 0;
    close(fd);
    return err;
}

vt_status vt_atomic_commit(vt_atomic_file *af) {
    if (!af || !af->f || !af->impl) return vt_error(VT_ERR_STATE, "vt_atomic_commit: no file is open");
    sink *s = af->impl;
    int err = 0;
    if (fflush(af->f) != 0 || ferror(af->f) || s->err) err = s->err ? s->err : (errno ? errno : EIO);
    if (!err && fsync(s->fd) != 0) err = errno;
    if (fclose(af->f) != 0 && !err) err = s->err ? s->err : (errno ? errno : EIO);
    af->f = NULL;
    vt_status st = VT_OK;
    if (err) {
        unlink(af->tmp_path);
        st = vt_error(VT_ERR_IO, "error writing %s: %s", af->final_path, strerror(err));
    } else if (rename(af->tmp_path, af->final_path) != 0) {
        err = errno;
        unlink(af->tmp_path);
        st = vt_error(VT_ERR_IO, "cannot rename %s to %s: %s", af->tmp_path, af->final_path, strerror(err));
    } else if ((err = sync_parent(af->final_path)) != 0) {
        st = vt_error(VT_ERR_IO, "error syncing the directory of %s: %s", af->final_path, strerror(err));
    }
    release(af);
    return st;
}

void vt_atomic_abort(vt_atomic_file *af) {
    if (!af) return;
    if (af->f) fclose(af->f);
    if (af->tmp_path) unlink(af->tmp_path);
    release(af);
}

vt_status vt_write_file_atomic(const char *path, const void *data, size_t n) {
    if (!data && n) return vt_error(VT_ERR_INVALID_ARG, "writing %s: no data given", path ? path : "(null)");
    vt_atomic_file af;
    vt_status st = vt_atomic_open(&af, path);
    if (st != VT_OK) return st;
    if (n) fwrite(data, 1, n, af.f); /* errors are caught by commit */
    return vt_atomic_commit(&af);
}

vt_status vt_read_file(const char *path, size_t max_bytes, char **out, size_t *len) {
    if (!path || !out || !len) return vt_error(VT_ERR_INVALID_ARG, "vt_read_file: missing argument");
    *out = NULL;
    *len = 0;
    bool is_stdin = !strcmp(path, "-");
    if (is_stdin) path = "standard input";
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vt_error(VT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    int serr = fstat(fd, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? EISDIR : 0;
    if (serr) {
        if (!is_stdin) close(fd);
        return vt_error(VT_ERR_IO, "cannot read %s: %s", path, strerror(serr));
    }
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max_bytes) {
        if (!is_stdin) close(fd);
        return vt_error(VT_ERR_FORMAT, "%s is %lld bytes, more than the limit of %zu", path, (long long)sb.st_size,
                        max_bytes);
    }
    /* read to EOF (the size may change, or not be known for pipes) */
    size_t cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : 65536, n = 0;
    char *buf = malloc(cap);
    vt_status st = VT_OK;
    while (buf) {
        if (n == cap - 1) { /* full: stop at EOF, else grow */
            char probe;
            ssize_t r = read(fd, &probe, 1);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                st = vt_error(VT_ERR_IO, "error reading %s: %s", path, strerror(errno));
                break;
            }
            if (r == 0) break;
            if (n >= max_bytes) {
                n++;
                break;
            }
            size_t ncap = cap <= SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;
            char *grown = realloc(buf, ncap);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap = ncap;
            buf[n++] = probe;
            continue;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = vt_error(VT_ERR_IO, "error reading %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (!is_stdin) close(fd);
    if (!buf) return vt_error(VT_ERR_NOMEM, "cannot read %s: out of memory", path);
    if (st == VT_OK && n > max_bytes)
        st = vt_error(VT_ERR_FORMAT, "%s is more than the limit of %zu bytes", path, max_bytes);
    if (st != VT_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return VT_OK;
}

bool vt_is_dir(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Creates one directory; an existing directory is fine. */
static vt_status mkdir_one(const char *dir, const char *full) {
    if (mkdir(dir, 0777) == 0) return VT_OK;
    int err = errno;
    struct stat sb;
    if (err == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return VT_OK;
    if (err == EEXIST) err = ENOTDIR;
    if (!strcmp(dir, full)) return vt_error(VT_ERR_IO, "cannot create directory %s: %s", full, strerror(err));
    return vt_error(VT_ERR_IO, "cannot create directory %s: %s: %s", full, dir, strerror(err));
}

vt_status vt_mkdir_p(const char *path) {
    if (!path || !*path) return vt_error(VT_ERR_INVALID_ARG, "vt_mkdir_p: empty path");
    char *p = strdup(path);
    if (!p) return vt_error(VT_ERR_NOMEM, "cannot create directory %s: out of memory", path);
    vt_status st = VT_OK;
    for (char *c = p + 1; *c && st == VT_OK; c++) {
        if (*c != '/' || c[-1] == '/') continue;
        *c = '\0';
        st = mkdir_one(p, path);
        *c = '/';
    }
    if (st == VT_OK) st = mkdir_one(p, path);
    free(p);
    return st;
}
