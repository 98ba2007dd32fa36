/* verto auto's steps as child processes of this verto binary: each with a
 * deadline (SIGTERM at the deadline, SIGKILL 15 s later), its output in a
 * log file, and a progress line on stderr while it runs. */
#ifndef VT_CLI_AUTO_CHILD_H
#define VT_CLI_AUTO_CHILD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum auto_child_result {
    AUTO_CHILD_OK,       /* exited 0 */
    AUTO_CHILD_FAILED,   /* exited non-zero (or could not start): why holds its last error line */
    AUTO_CHILD_DEADLINE, /* stopped at the deadline */
} auto_child_result;

/* Seconds on the monotonic clock. */
double auto_now(void);

typedef struct auto_clock {
    double t0, budget_s; /* when auto started; its budget */
} auto_clock;

/* Runs `verto ARGS...` (args NULL-terminated, args[0] the subcommand) with
 * stdout to stdout_path (NULL: the log) and stderr to log_path, until it
 * exits or `deadline` (auto_now's clock) passes. `what` names it on the
 * progress line. */
auto_child_result auto_child_run(const char *const *args, const char *log_path, const char *stdout_path,
                                 double deadline, const auto_clock *clock, const char *what, char *why,
                                 size_t why_size);

#endif
