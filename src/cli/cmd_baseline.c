/* verto baseline: TF-IDF + logistic regression with C chosen on dev, saved as
 * a model directory that eval, predict and serve read (vt_baseline_fit). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/baseline.h"
#include "verto/bert.h"
#include "verto/dataset.h"

/* "0.1,1,10" into grid (at most VT_BASELINE_MAX_C values). */
static int parse_grid(const char *s, double *grid, int *n) {
    *n = 0;
    for (const char *p = s;;) {
        errno = 0;
        char *end;
        double c = strtod(p, &end);
        if (end == p || errno || !(c > 0) || (*end && *end != ','))
            return cli_fail("--c-grid takes positive numbers joined by commas, not '%s'", s);
        if (*n == VT_BASELINE_MAX_C) return cli_fail("--c-grid takes at most %d values", VT_BASELINE_MAX_C);
        grid[(*n)++] = c;
        if (!*end) return 0;
        p = end + 1;
    }
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cmd_baseline(int argc, char **argv) {
    const char *train_path = NULL, *dev_path = NULL, *out = NULL, *task = "sequence-classification", *grid_s = NULL;
    const char *text_col = NULL, *label_col = NULL, *separator = NULL;
    int64_t max_train = 0, seed = 42;
    bool skip_bad = false;
    vt_baseline_options bo;
    vt_baseline_options_default(&bo);
    const cli_option opts[] = {
        {"--train", CLI_STRING, &train_path, "FILE", "labelled training data (.tsv, .csv or .jsonl), as verto finetune reads"},
        {"--dev", CLI_STRING, &dev_path, "FILE", "labelled development data: C (and a multi-label threshold) is chosen on it"},
        {"-o|--output", CLI_STRING, &out, "DIR", "the model directory to write"},
        {"--task", CLI_STRING, &task, "KIND", "sequence-classification (one label per text, default) or multi-label"},
        {"--min-df", CLI_INT, &bo.min_df, "N", "keep terms found in at least N training texts (default 1)", 1, 2e9},
        {"--c-grid", CLI_STRING, &grid_s, "C,C,...", "inverse regularisation strengths to try (default 0.1,1,10,100,1000)"},
        {"--tol", CLI_FLOAT, &bo.tol, "T", "L-BFGS stops when every gradient component is at most T (default 1e-8)", 1e-300, 1},
        {"--max-iter", CLI_INT, &bo.max_iter, "N", "L-BFGS iterations per fit at most (default 10000)", 1, 1e9},
        {"--max-train-examples", CLI_INT, &max_train, "N", "use a seeded random N of the training examples", 1, 1e12},
        {"--seed", CLI_INT, &seed, "N", "the draw of --max-train-examples (default 42)", 0, 9e15},
        {"--text-column", CLI_STRING, &text_col, "NAME", "the text's column or key (default text)"},
        {"--label-column", CLI_STRING, &label_col, "NAME", "the label's column or key (default label; multi-label: labels)"},
        {"--label-separator", CLI_STRING, &separator, "S", "multi-label: what joins a cell's labels (default \",\")"},
        {"--skip-bad-rows", CLI_FLAG, &skip_bad, NULL, "skip and count malformed rows instead of failing"},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto baseline --train FILE --dev FILE -o OUT [options]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!train_path || !out) return cli_fail("baseline needs --train FILE, --dev FILE and -o OUT");
    if (!dev_path) return cli_fail("baseline needs --dev FILE: C (and a multi-label threshold) is chosen on a dev set");
    bool multi = !strcmp(task, "multi-label");
    if (!multi && strcmp(task, "sequence-classification"))
        return cli_fail("--task must be sequence-classification or multi-label for the baseline, not '%s'", task);
    double grid[VT_BASELINE_MAX_C];
    if (grid_s && parse_grid(grid_s, grid, &bo.n_c)) return 1;
    if (grid_s) bo.c_grid = grid;
    bo.log = stdout;

    vt_labelled_options lo;
    vt_labelled_options_default(&lo);
    lo.text_column = text_col;
    lo.label_column = label_col;
    lo.label_separator = separator;
    lo.skip_bad_rows = skip_bad;
    lo.kind = multi ? VT_LABEL_MULTI : VT_LABEL_SINGLE;
    lo.max_labels = VT_BERT_MAX_LABELS;
    lo.max_label_bytes = VT_BERT_LABEL_MAX - 1;
    vt_labelled train = {0}, dev = {0};
    double t0 = seconds();
    vt_status st = vt_labelled_load(train_path, &lo, &train);
    if (st == VT_OK && max_train > 0) st = vt_labelled_subsample(&train, (size_t)max_train, (uint64_t)seed);
    if (st == VT_OK) { /* dev follows train's label map: a label only in dev is a bad row naming its line */
        lo.id2label = (const char *const *)train.id2label;
        lo.num_labels = train.num_labels;
        st = vt_labelled_load(dev_path, &lo, &dev);
    }
    for (int f = 0; st == VT_OK && f < 2; f++) {
        const vt_labelled *d = f ? &dev : &train;
        if (!d->n_skipped) continue;
        fprintf(stderr, "warning: skipped %zu malformed rows of %s\n", d->n_skipped, f ? dev_path : train_path);
        for (int i = 0; i < d->n_notes; i++) fprintf(stderr, "  %s\n", d->notes[i]);
    }
    vt_baseline_report rep;
    vt_baseline *b = NULL;
    if (st == VT_OK) {
        printf("train %s: %zu examples, dev %s: %zu, %d labels (%s)\n", train_path, train.n, dev_path, dev.n,
               train.num_labels, multi ? "multi-label" : "single-label");
        if (!(b = vt_baseline_fit(&train, &dev, &bo, &rep))) st = vt_last_status();
    }
    if (st == VT_OK) st = vt_baseline_save(b, out);
    if (st == VT_OK) {
        printf("%lld terms; chosen C %g (dev %s %.4f)", (long long)rep.n_terms, rep.c[rep.best],
               multi ? "micro F1" : "accuracy", rep.dev_score[rep.best]);
        if (multi) printf(", threshold %.6g", rep.threshold);
        printf("; %.2f s; wrote %s\n", seconds() - t0, out);
    }
    vt_baseline_free(b);
    vt_labelled_free(&train);
    vt_labelled_free(&dev);
    return st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
}
