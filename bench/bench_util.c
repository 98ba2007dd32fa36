/* See bench_util.h. */
#include "bench_util.h"

#include <errno.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "verto/error.h"

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_stats bench_stats_of(const double *x, int n) {
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    bench_stats r = {n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), s[0], s[n - 1]};
    free(s);
    return r;
}

double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

double bench_rss_now_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    bool ok = f && fscanf(f, "%lld %lld", &size, &resident) == 2;
    if (f) fclose(f);
    return ok ? (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0) : 0.0;
}

const char *bench_opt(int argc, char **argv, const char *name) {
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return NULL;
}

int64_t bench_opt_int(int argc, char **argv, const char *name, int64_t def, int64_t lo, int64_t hi) {
    const char *v = bench_opt(argc, argv, name);
    if (!v) return def;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "bench: %s wants an integer in [%lld, %lld], got \"%s\"\n", name, (long long)lo,
                (long long)hi, v);
        exit(2);
    }
    return x;
}

void bench_check_opts(int argc, char **argv, const char *const *known) {
    for (int i = 1; i < argc; i += 2) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(argv[i], *k);
        if (!ok || i + 1 >= argc) {
            fprintf(stderr, "bench: %s option %s\n", ok ? "no value for" : "unknown", argv[i]);
            exit(2);
        }
    }
}

int bench_set_threads(int64_t n) {
    omp_set_num_threads((int)n);
    return omp_get_max_threads();
}

void bench_json_array(FILE *f, const char *key, const double *x, int n) {
    fprintf(f, "\"%s\": [", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.6g", i ? ", " : "", x[i]);
    fputc(']', f);
}

void bench_json_stats(FILE *f, const char *key, bench_stats s) {
    fprintf(f, "\"%s\": {\"median\": %.6g, \"min\": %.6g, \"max\": %.6g}", key, s.median, s.min, s.max);
}

void bench_die_verto(const char *what) {
    fprintf(stderr, "bench: %s: %s\n", what, vt_last_error());
    exit(1);
}

vt_precision bench_opt_precision(int argc, char **argv) {
    const char *v = bench_opt(argc, argv, "--precision");
    vt_precision p = VT_PRECISION_FP32;
    if (v && !vt_precision_parse(v, &p)) {
        fprintf(stderr, "bench: --precision must be fp32 or bf16, not '%s'\n", v);
        exit(2);
    }
    return p;
}
