/* The training loops' stop on SIGINT / SIGTERM (see stop_signal.h). */
#include "train/stop_signal.h"

static volatile sig_atomic_t received = 0;

static void on_signal(int sig) { received = sig; }

void stop_watch_begin(stop_watch *w) {
    struct sigaction act = {.sa_handler = on_signal};
    sigemptyset(&act.sa_mask);
    received = 0;
    sigaction(SIGINT, &act, &w->old_int);
    sigaction(SIGTERM, &act, &w->old_term);
}

void stop_watch_end(stop_watch *w) {
    sigaction(SIGINT, &w->old_int, NULL);
    sigaction(SIGTERM, &w->old_term, NULL);
}

int stop_signal_received(void) { return (int)received; }
