/* Helpers shared by the benchmark programs in bench/: a monotonic clock,
 * summary statistics, peak memory, option parsing and JSON output.
 *
 * Every program prints one JSON object on one line to stdout (its result);
 * bench/run.py collects those lines. Messages go to stderr. */
#ifndef VERTO_BENCH_UTIL_H
#define VERTO_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "verto/bert.h"

/* Seconds on a monotonic clock. */
double bench_now(void);

typedef struct bench_stats {
    double median, min, max;
} bench_stats;

/* Median, minimum and maximum of x (n >= 1; x is not modified). */
bench_stats bench_stats_of(const double *x, int n);

/* Peak resident set size of this process so far, in MiB (getrusage ru_maxrss). */
double bench_peak_rss_mib(void);
/* Resident set size now, in MiB (/proc/self/statm; 0 if unreadable). Taken
 * before the model exists, it is the baseline the libraries alone cost. */
double bench_rss_now_mib(void);

/* Options are "--name value" pairs. bench_opt returns the value of `name`
 * (NULL when absent); bench_opt_int parses it as an integer in [lo, hi]
 * (`def` when absent) and exits with a message naming the option otherwise.
 * bench_check_opts exits on any "--name" not in `known` (NULL-terminated) or
 * missing its value, so a typo never silently runs the default. */
const char *bench_opt(int argc, char **argv, const char *name);
int64_t bench_opt_int(int argc, char **argv, const char *name, int64_t def, int64_t lo, int64_t hi);
void bench_check_opts(int argc, char **argv, const char *const *known);
/* --precision fp32|bf16 (default fp32); exits with a message on anything else. */
vt_precision bench_opt_precision(int argc, char **argv);

/* Sets the OpenMP threads (n >= 1) and returns the number in effect. */
int bench_set_threads(int64_t n);

/* JSON fragments for the one-line result: `"key": [x0, x1, ...]` and
 * `"key": {"median": m, "min": a, "max": b}` (no separators around them). */
void bench_json_array(FILE *f, const char *key, const double *x, int n);
void bench_json_stats(FILE *f, const char *key, bench_stats s);

/* Exits with status 1 after printing "bench: <what>: <vt_last_error()>". */
void bench_die_verto(const char *what);

#endif
