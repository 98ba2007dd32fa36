/* A clean stop on SIGINT / SIGTERM for the training loops: the handler only
 * records the signal; a loop checks it between steps, saves a checkpoint and
 * returns, so an interrupted run resumes with --resume. */
#ifndef VT_TRAIN_STOP_SIGNAL_H
#define VT_TRAIN_STOP_SIGNAL_H

#include <signal.h>

typedef struct stop_watch {
    struct sigaction old_int, old_term; /* the handlers to put back */
} stop_watch;

/* Installs the handlers and forgets any earlier signal. */
void stop_watch_begin(stop_watch *w);
/* Puts the previous handlers back. */
void stop_watch_end(stop_watch *w);
/* The signal received since stop_watch_begin, or 0. */
int stop_signal_received(void);

#endif
