/* Crash-safe writes, bounded reads and mkdir -p (verto/fileio.h).
 *
 * - an atomic write replaces the old content; an aborted one leaves it
 *   untouched; neither leaves a temporary behind;
 * - a missing, non-directory or read-only destination is an error naming it;
 * - a full disk (a 64 KiB tmpfs mounted for the test) is reported as
 *   "error writing PATH: No space left on device", with the old file intact
 *   and the temporary removed; where mounting is refused, RLIMIT_FSIZE makes
 *   the same writes fail with EFBIG instead, which is also always tested. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vt_test.h"
#include "verto/error.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void assert_contains(const char *msg, const char *want) {
    if (!strstr(msg, want)) fail_msg("message \"%s\" does not contain \"%s\"", msg, want);
}

static void assert_file_is(const char *path, const char *want) {
    char *got = NULL;
    size_t len = 0;
    if (vt_read_file(path, 1 << 20, &got, &len) != VT_OK) fail_msg("%s", vt_last_error());
    assert_int_equal(len, strlen(want));
    assert_string_equal(got, want);
    free(got);
}

/* Number of entries in dir whose name contains ".tmp." */
static int count_temps(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_atomic_replaces(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "f.txt");
    assert_int_equal(vt_write_file_atomic(path, "old", 3), VT_OK);
    assert_file_is(path, "old");
    assert_int_equal(vt_write_file_atomic(path, "new content", 11), VT_OK);
    assert_file_is(path, "new content");
    assert_int_equal(vt_write_file_atomic(path, NULL, 0), VT_OK);
    assert_file_is(path, "");
    /* stream writes through open / commit; a new file is rw-r--r-- */
    char *p2 = join(dir, "g.txt");
    vt_atomic_file af;
    assert_int_equal(vt_atomic_open(&af, p2), VT_OK);
    assert_non_null(af.f);
    assert_non_null(strstr(af.tmp_path, "g.txt.tmp."));
    for (int i = 0; i < 1000; i++) fprintf(af.f, "%d\n", i);
    assert_int_equal(count_temps(dir), 1);
    assert_int_equal(vt_atomic_commit(&af), VT_OK);
    assert_null(af.f);
    assert_null(af.tmp_path);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(vt_read_file(p2, 1 << 20, &text, &len), VT_OK);
    assert_int_equal(strncmp(text, "0\n1\n2\n", 6), 0);
    assert_non_null(strstr(text, "\n999\n"));
    free(text);
    struct stat sb;
    assert_int_equal(stat(p2, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    assert_int_equal(count_temps(dir), 0);
    /* committing twice is a state error, not a crash */
    assert_int_equal(vt_atomic_commit(&af), VT_ERR_STATE);
    remove_tree(dir);
    free(p2);
    free(path);
    free(dir);
}

static void test_abort_keeps_old(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "keep.txt");
    assert_int_equal(vt_write_file_atomic(path, "old", 3), VT_OK);
    vt_atomic_file af;
    assert_int_equal(vt_atomic_open(&af, path), VT_OK);
    fputs("half of a new fi", af.f);
    fflush(af.f);
    assert_file_is(path, "old"); /* readers never see the new data early */
    vt_atomic_abort(&af);
    assert_null(af.f);
    assert_file_is(path, "old");
    assert_int_equal(count_temps(dir), 0);
    vt_atomic_abort(&af); /* twice is harmless */
    remove_tree(dir);
    free(path);
    free(dir);
}

/* Where the file cannot be created, the error names it and nothing remains. */
static void expect_create_fails(const char *path, const char *why) {
    vt_clear_error();
    assert_int_equal(vt_write_file_atomic(path, "x", 1), VT_ERR_IO);
    printf("    %s\n", vt_last_error());
    assert_contains(vt_last_error(), path);
    if (why) assert_contains(vt_last_error(), why);
    vt_atomic_file af;
    assert_int_equal(vt_atomic_open(&af, path), VT_ERR_IO);
    assert_null(af.f);
    vt_atomic_abort(&af); /* safe after a failed open */
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0);
}

static void test_bad_destinations(void **state) {
    char *dir = test_tmpdir();
    char *missing = join(dir, "no/such/dir/f.txt");
    expect_create_fails(missing, "No such file or directory");
    char *file = join(dir, "regular");
    assert_int_equal(vt_write_file_atomic(file, "x", 1), VT_OK);
    char *under_file = join(file, "f.txt");
    expect_create_fails(under_file, "Not a directory");
    /* a read-only directory: root ignores permission bits, so mount it read-only */
    char *ro = join(dir, "ro");
    assert_int_equal(mkdir(ro, 0755), 0);
    bool mounted = false;
    if (geteuid() == 0) {
        mounted = mount("tmpfs", ro, "tmpfs", MS_RDONLY, "size=16k") == 0;
        if (!mounted) printf("    cannot mount a read-only tmpfs (%s); using /proc\n", strerror(errno));
    } else {
        assert_int_equal(chmod(ro, 0555), 0);
    }
    char *in_ro = join(geteuid() != 0 || mounted ? ro : "/proc", "f.txt");
    expect_create_fails(in_ro, geteuid() != 0 ? "Permission denied" : mounted ? "Read-only file system" : NULL);
    if (mounted) assert_int_equal(umount(ro), 0);
    remove_tree(dir);
    free(in_ro);
    free(ro);
    free(under_file);
    free(file);
    free(missing);
    free(dir);
}

/* Writes 256 KiB to path (which cannot hold it) three ways, each failing
 * with an error naming the file and containing `why`, the old content kept
 * and no temporary left in dir. */
static void expect_writes_fail(const char *dir, const char *path, const char *why) {
    size_t big = 256 * 1024;
    char *data = malloc(big);
    assert_non_null(data);
    memset(data, 'z', big);
    /* one call */
    vt_clear_error();
    assert_int_equal(vt_write_file_atomic(path, data, big), VT_ERR_IO);
    printf("    %s\n", vt_last_error());
    assert_contains(vt_last_error(), "error writing");
    assert_contains(vt_last_error(), path);
    assert_contains(vt_last_error(), why);
    assert_file_is(path, "old");
    assert_int_equal(count_temps(dir), 0);
    /* many small fwrites through the stream; the first failure is the one reported */
    vt_atomic_file af;
    assert_int_equal(vt_atomic_open(&af, path), VT_OK);
    for (size_t i = 0; i < big / 64; i++) fwrite(data, 1, 64, af.f);
    errno = 0;
    assert_int_equal(vt_atomic_commit(&af), VT_ERR_IO);
    assert_contains(vt_last_error(), path);
    assert_contains(vt_last_error(), why);
    assert_file_is(path, "old");
    assert_int_equal(count_temps(dir), 0);
    /* a safetensors file */
    int64_t n = (int64_t)(big / 4);
    vt_st_entry e = {.name = "w", .dtype = VT_ST_F32, .ndim = 1, .shape = &n, .data = data};
    assert_int_equal(vt_st_write(path, &e, 1, NULL, 0), VT_ERR_IO);
    assert_contains(vt_last_error(), path);
    assert_contains(vt_last_error(), why);
    assert_file_is(path, "old");
    assert_int_equal(count_temps(dir), 0);
    free(data);
}

/* RLIMIT_FSIZE below the write size: write() fails with EFBIG ("File too
 * large") once SIGXFSZ is ignored. */
static void fsize_limited_writes(const char *dir, const char *path) {
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = 64 * 1024, .rlim_max = old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    expect_writes_fail(dir, path, "File too large");
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
}

static void test_full_disk(void **state) {
    char *dir = test_tmpdir();
    char *mnt = join(dir, "small");
    assert_int_equal(mkdir(mnt, 0755), 0);
    char *path = join(mnt, "model.safetensors");
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") == 0) {
        printf("    64 KiB tmpfs at %s\n", mnt);
        assert_int_equal(vt_write_file_atomic(path, "old", 3), VT_OK);
        expect_writes_fail(mnt, path, "No space left on device");
        /* the disk is usable again afterwards */
        assert_int_equal(vt_write_file_atomic(path, "new", 3), VT_OK);
        assert_file_is(path, "new");
        assert_int_equal(umount(mnt), 0);
    } else {
        printf("    cannot mount a tmpfs (%s): simulating with RLIMIT_FSIZE\n", strerror(errno));
        assert_int_equal(vt_write_file_atomic(path, "old", 3), VT_OK);
        fsize_limited_writes(mnt, path);
    }
    remove_tree(dir);
    free(path);
    free(mnt);
    free(dir);
}

static void test_file_too_large(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "f.bin");
    assert_int_equal(vt_write_file_atomic(path, "old", 3), VT_OK);
    fsize_limited_writes(dir, path);
    remove_tree(dir);
    free(path);
    free(dir);
}

static void test_read_file(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "r.txt");
    char *text = NULL;
    size_t len = 99;
    assert_int_equal(vt_write_file_atomic(path, "hello\0world", 11), VT_OK);
    assert_int_equal(vt_read_file(path, 11, &text, &len), VT_OK);
    assert_int_equal(len, 11);
    assert_memory_equal(text, "hello\0world", 12); /* NUL-terminated too */
    free(text);
    /* over the limit */
    assert_int_equal(vt_read_file(path, 10, &text, &len), VT_ERR_FORMAT);
    assert_null(text);
    assert_contains(vt_last_error(), path);
    assert_contains(vt_last_error(), "limit");
    /* empty file */
    assert_int_equal(vt_write_file_atomic(path, "", 0), VT_OK);
    assert_int_equal(vt_read_file(path, 0, &text, &len), VT_OK);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);
    /* a file whose size stat does not know (procfs): read to EOF, bounded */
    assert_int_equal(vt_read_file("/proc/self/status", 1 << 20, &text, &len), VT_OK);
    assert_true(len > 100);
    assert_non_null(strstr(text, "Name:"));
    free(text);
    assert_int_equal(vt_read_file("/proc/self/status", 50, &text, &len), VT_ERR_FORMAT);
    assert_contains(vt_last_error(), "/proc/self/status");
    /* missing file, directory */
    char *missing = join(dir, "missing.txt");
    assert_int_equal(vt_read_file(missing, 100, &text, &len), VT_ERR_IO);
    assert_contains(vt_last_error(), missing);
    assert_contains(vt_last_error(), "No such file");
    assert_int_equal(vt_read_file(dir, 100, &text, &len), VT_ERR_IO);
    assert_contains(vt_last_error(), dir);
    assert_contains(vt_last_error(), "directory");
    remove_tree(dir);
    free(missing);
    free(path);
    free(dir);
}

static void test_mkdir_p(void **state) {
    char *dir = test_tmpdir();
    char *deep = join(dir, "a/b//c/d/");
    assert_int_equal(vt_mkdir_p(deep), VT_OK);
    struct stat sb;
    char *abcd = join(dir, "a/b/c/d");
    assert_int_equal(stat(abcd, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(vt_mkdir_p(abcd), VT_OK); /* existing is fine */
    assert_int_equal(vt_mkdir_p(dir), VT_OK);
    char *file = join(dir, "a/file");
    assert_int_equal(vt_write_file_atomic(file, "x", 1), VT_OK);
    assert_int_equal(vt_mkdir_p(file), VT_ERR_IO);
    assert_contains(vt_last_error(), file);
    assert_contains(vt_last_error(), "Not a directory");
    char *below = join(file, "sub/dir");
    assert_int_equal(vt_mkdir_p(below), VT_ERR_IO);
    printf("    %s\n", vt_last_error());
    assert_contains(vt_last_error(), below);
    assert_int_equal(vt_mkdir_p(""), VT_ERR_INVALID_ARG);
    remove_tree(dir);
    free(below);
    free(file);
    free(abcd);
    free(deep);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_replaces),
        cmocka_unit_test(test_abort_keeps_old),
        cmocka_unit_test(test_bad_destinations),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
