/* verto auto's child processes (see auto_child.h). */
#include "cli/auto_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double auto_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* "m:ss" */
static void mmss(double s, char *buf, size_t size) {
    long t = s < 0 ? 0 : (long)s;
    snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void progress(const auto_clock *clock, const char *what, double started, bool tty, bool last) {
    char used[48], budget[48];
    mmss(auto_now() - clock->t0, used, sizeof used);
    mmss(clock->budget_s, budget, sizeof budget);
    fprintf(stderr, "%s[auto %s / %s] %s: %.0f s%s", tty ? "\r\033[K" : "", used, budget, what, auto_now() - started,
            tty && !last ? "" : "\n");
    fflush(stderr);
}

/* The last line of the log that starts with "error:", else its last line. */
static void last_error(const char *log_path, char *why, size_t size) {
    FILE *f = fopen(log_path, "r");
    char line[512], last[512] = "";
    bool found = false;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        bool err = !strncmp(line, "error:", 6);
        if (err || !found) snprintf(last, sizeof last, "%s", line);
        found |= err;
    }
    if (f) fclose(f);
    snprintf(why, size, "%s", last[0] ? last : "it failed without a message");
}

auto_child_result auto_child_run(const char *const *args, const char *log_path, const char *stdout_path,
                                 double deadline, const auto_clock *clock, const char *what, char *why,
                                 size_t why_size) {
    why[0] = 0;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(why, why_size, "cannot find the verto binary (/proc/self/exe): %s", strerror(errno));
        return AUTO_CHILD_FAILED;
    }
    self[n] = 0;
    const char *deleted = " (deleted)"; /* the binary was replaced (rebuilt) while auto ran: run the new one */
    size_t dl = strlen(deleted);
    if ((size_t)n > dl && !strcmp(self + n - dl, deleted)) self[n - dl] = 0;
    int nargs = 0;
    while (args[nargs]) nargs++;
    char **argv = calloc((size_t)nargs + 2, sizeof *argv);
    if (!argv) {
        snprintf(why, why_size, "out of memory");
        return AUTO_CHILD_FAILED;
    }
    argv[0] = self;
    for (int i = 0; i < nargs; i++) argv[i + 1] = (char *)args[i];
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int out = stdout_path ? open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : log;
        if (log < 0 || out < 0 || dup2(out, 1) < 0 || dup2(log, 2) < 0) _exit(126);
        execv(self, argv);
        _exit(127);
    }
    free(argv);
    if (pid < 0) {
        snprintf(why, why_size, "cannot start a process: %s", strerror(errno));
        return AUTO_CHILD_FAILED;
    }
    bool tty = isatty(2);
    double started = auto_now(), shown = started, term_at = 0;
    progress(clock, what, started, tty, false);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            snprintf(why, why_size, "lost the process: %s", strerror(errno));
            return AUTO_CHILD_FAILED;
        }
        double now = auto_now();
        if (!term_at && now >= deadline) { /* the budget is a hard limit */
            kill(pid, SIGTERM);
            term_at = now;
        } else if (term_at && now - term_at > 15) kill(pid, SIGKILL);
        if (now - shown >= (tty ? 1.0 : 30.0)) {
            progress(clock, what, started, tty, false);
            shown = now;
        }
        sleep_s(0.1);
    }
    progress(clock, what, started, tty, true);
    if (term_at) {
        snprintf(why, why_size, "stopped at the budget's end after %.0f s", auto_now() - started);
        return AUTO_CHILD_DEADLINE;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return AUTO_CHILD_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) >= 126) snprintf(why, why_size, "cannot run %s", self);
    else last_error(log_path, why, why_size);
    return AUTO_CHILD_FAILED;
}
