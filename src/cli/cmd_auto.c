/* verto auto: the best model a time budget allows, chosen on dev, with a
 * report (src/cli/auto_run.c runs it, verto/auto.h decides and reports). */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/auto_run.h"
#include "cli/commands.h"
#include "verto/bert.h"
#include "verto/dataset.h"
#include "verto/fileio.h"

/* Takes every "--unlabelled FILE" out of argv (the option repeats) into files. */
static int take_unlabelled(int *argc, char **argv, const char **files, int *n, int max) {
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--unlabelled")) {
            if (i + 1 == *argc) return cli_fail("--unlabelled needs a FILE");
            if (*n == max) return cli_fail("at most %d unlabelled files", max);
            files[(*n)++] = argv[++i];
        } else argv[w++] = argv[i];
    }
    *argc = w;
    return 0;
}

static vt_status load(const char *path, const char *what, vt_labelled_options *lo, vt_labelled *d) {
    vt_status st = vt_labelled_load(path, lo, d);
    if (st != VT_OK) return st;
    if (!d->n) return vt_error(VT_ERR_FORMAT, "%s %s: no examples", what, path);
    if (d->text_b) return vt_error(VT_ERR_UNSUPPORTED, "%s %s: text pairs are not supported by auto", what, path);
    return VT_OK;
}

int cmd_auto(int argc, char **argv) {
    enum { MAX_UNLABELLED = 64 };
    const char *unlabelled[MAX_UNLABELLED + 64];
    int n_unlabelled = 0;
    if (take_unlabelled(&argc, argv, unlabelled, &n_unlabelled, MAX_UNLABELLED)) return 1;
    auto_inputs in = {0};
    const char *first_unlabelled = NULL;
    double budget_min = 0;
    const cli_option opts[] = {
        {"--train", CLI_STRING, &in.train, "FILE", "labelled training data (.tsv, .csv or .jsonl; text and label)"},
        {"--dev", CLI_STRING, &in.dev, "FILE", "labelled development data: every choice is made on it"},
        {"--test", CLI_STRING, &in.test, "FILE", "labelled test data: reported for the chosen model and the baseline, never used to choose"},
        {"--unlabelled", CLI_STRING, &first_unlabelled, "FILE...", "plain text of the domain for pretraining (repeatable)"},
        {"--init", CLI_STRING, &in.init, "DIR", "a pretrained model directory to fine-tune (else: pretrain a small BERT here)"},
        {"--budget-minutes", CLI_FLOAT, &budget_min, "N", "wall time for everything, a hard limit", 0.01, 1e6},
        {"-o|--output", CLI_STRING, &in.out, "DIR", "where best/, report.md, report.html and report.json go"},
        {0}};
    char **more = NULL;
    int n_more = 0;
    int rc = cli_parse(argc, argv, opts,
                       "verto auto --train FILE --dev FILE [--test FILE] [--unlabelled FILE...] [--init DIR] "
                       "--budget-minutes N -o OUT",
                       &more, &n_more);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    for (int i = 0; i < n_more && n_unlabelled < MAX_UNLABELLED + 64; i++) unlabelled[n_unlabelled++] = more[i];
    if (!in.train || !in.out || !(budget_min > 0)) {
        free(more);
        return cli_fail("auto needs --train FILE, --dev FILE, --budget-minutes N and -o OUT");
    }
    if (!in.dev) {
        free(more);
        return cli_fail("auto needs --dev FILE: every candidate is chosen on a dev set, never on test");
    }
    in.budget_s = budget_min * 60;
    in.unlabelled = unlabelled;
    in.n_unlabelled = n_unlabelled;
    vt_status st = VT_OK;
    for (int i = 0; st == VT_OK && i < n_unlabelled; i++) {
        char *text = NULL;
        size_t len = 0;
        st = vt_read_file(unlabelled[i], (size_t)1 << 32, &text, &len); /* readable now, not after the baseline */
        free(text);
    }
    if (st == VT_OK && in.init && !vt_is_dir(in.init)) st = vt_error(VT_ERR_IO, "--init %s: not a directory", in.init);

    vt_labelled_options lo;
    vt_labelled_options_default(&lo);
    lo.kind = VT_LABEL_SINGLE;
    lo.max_labels = VT_BERT_MAX_LABELS;
    lo.max_label_bytes = VT_BERT_LABEL_MAX - 1;
    vt_labelled train = {0}, dev = {0}, test = {0};
    if (st == VT_OK) st = load(in.train, "train", &lo, &train);
    if (st == VT_OK && train.num_labels < 2)
        st = vt_error(VT_ERR_FORMAT, "train %s: only %d label; a classifier needs at least 2", in.train, train.num_labels);
    if (st == VT_OK) { /* dev and test follow train's labels: a label only there is an error naming its line */
        lo.id2label = (const char *const *)train.id2label;
        lo.num_labels = train.num_labels;
        st = load(in.dev, "dev", &lo, &dev);
    }
    if (st == VT_OK && in.test) st = load(in.test, "test", &lo, &test);
    if (st == VT_OK) {
        in.train_data = &train;
        in.dev_data = &dev;
        fprintf(stderr, "auto: train %zu, dev %zu%s examples, %d labels, budget %.1f min\n", train.n, dev.n,
                in.test ? " (and test)" : "", train.num_labels, budget_min);
        rc = auto_run(&in);
    } else rc = cli_fail("%s", vt_last_error());
    vt_labelled_free(&train);
    vt_labelled_free(&dev);
    vt_labelled_free(&test);
    free(more);
    return rc;
}
