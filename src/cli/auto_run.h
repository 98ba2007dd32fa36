/* verto auto's run: the baseline, then the Transformer recipes the data and
 * the budget allow, each a child process (auto_child.h); the choice on dev
 * and the report are the library's (verto/auto.h). */
#ifndef VT_CLI_AUTO_RUN_H
#define VT_CLI_AUTO_RUN_H

#include <stddef.h>

#include "verto/dataset.h"

typedef struct auto_inputs {
    const char *train, *dev, *test; /* files (test may be NULL) */
    const char *const *unlabelled;  /* (n_unlabelled) plain-text files */
    int n_unlabelled;
    const char *init;               /* a model directory, or NULL */
    const char *out;
    double budget_s;
    const vt_labelled *train_data, *dev_data; /* already loaded and checked */
} auto_inputs;

/* Runs everything and writes OUT; returns the exit status (0, or 1 after
 * printing "error: ..."). */
int auto_run(const auto_inputs *in);

#endif
