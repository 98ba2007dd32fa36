/* verto finetune: single-label or multi-label classification, or
 * regression, from labelled TSV/CSV/JSONL (the options and the data;
 * vt_task_finetune does the rest). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/qa_commands.h"
#include "cli/dist_job.h"
#include "cli/dp_args.h"
#include "verto/dataset.h"
#include "verto/dist.h"
#include "verto/task.h"

typedef struct options {
    vt_finetune_options ft; /* the options that reach it as they are */
    const char *init, *train, *dev, *class_weights, *text_col, *text_b_col, *label_col, *precision, *task, *separator;
    int64_t max_len, keep_tail, max_windows, freeze, seed, threads, max_train;
    double dist_timeout;
    bool skip_bad;
    const char *dp_sampling;
    vt_dp_request dp; /* the --dp- options as given */
} options;

/* Loads train and dev with one label map: the init model's when it is a
 * classifier with the same labels, else the training set's (sorted). */
static vt_status load_data(const options *a, vt_labelled *train, vt_labelled *dev) {
    vt_labelled_options lo;
    vt_labelled_options_default(&lo);
    lo.text_column = a->text_col;
    lo.text_b_column = a->text_b_col;
    lo.label_column = a->label_col;
    lo.skip_bad_rows = a->skip_bad;
    lo.label_separator = a->separator;
    vt_task_kind kind;
    vt_task_kind_parse(a->task, &kind);
    lo.kind = kind == VT_TASK_MULTI_LABEL ? VT_LABEL_MULTI : kind == VT_TASK_REGRESSION ? VT_LABEL_REGRESSION : VT_LABEL_SINGLE;
    lo.max_labels = VT_BERT_MAX_LABELS;
    lo.max_label_bytes = VT_BERT_LABEL_MAX - 1;
    vt_status st = vt_labelled_load(a->train, &lo, train);
    if (st != VT_OK) return st;
    if (train->n == 0) return vt_error(VT_ERR_INVALID_ARG, "%s holds no examples", a->train);
    lo.id2label = (const char *const *)train->id2label;
    lo.num_labels = train->num_labels;
    return vt_labelled_load(a->dev, &lo, dev);
}

/* The options that reach vt_task_finetune* from the command line. */
static vt_finetune_options finetune_options(const options *a) {
    vt_finetune_options o = a->ft;
    o.max_seq_length = (int32_t)a->max_len;
    o.keep_tail = (int32_t)a->keep_tail;
    o.max_windows = (int32_t)a->max_windows;
    o.freeze_layers = (int)a->freeze;
    o.balanced_class_weights = a->class_weights != NULL;
    o.seed = (uint64_t)a->seed;
    o.log = stdout;
    return o;
}

/* Sequence classification, multi-label or regression on labelled rows. */
static vt_status run_sequence(const options *a) {
    vt_labelled train = {0}, dev = {0};
    vt_status st = load_data(a, &train, &dev);
    if (st == VT_OK && a->max_train > 0) st = vt_labelled_subsample(&train, (size_t)a->max_train, (uint64_t)a->seed);
    vt_finetune_options o = finetune_options(a);
    if (st == VT_OK) st = vt_task_finetune(a->init, &train, &dev, &o, NULL);
    vt_labelled_free(&train);
    vt_labelled_free(&dev);
    return st;
}

/* Token classification on tagged sentences (CoNLL or JSONL), dev following train's labels. */
static vt_status run_tokens(const options *a) {
    vt_tagged_options to;
    vt_tagged_options_default(&to);
    to.skip_bad_rows = a->skip_bad;
    to.max_labels = VT_BERT_MAX_LABELS;
    vt_tagged train = {0}, dev = {0};
    vt_status st = vt_tagged_load(a->train, &to, &train);
    if (st == VT_OK) {
        to.id2label = (const char *const *)train.id2label;
        to.num_labels = train.num_labels;
        to.scheme = train.scheme;
        st = vt_tagged_load(a->dev, &to, &dev);
    }
    for (int i = 0; st == VT_OK && i < train.n_notes; i++) fprintf(stderr, "skipped: %s\n", train.notes[i]);
    for (int i = 0; st == VT_OK && i < dev.n_notes; i++) fprintf(stderr, "skipped: %s\n", dev.notes[i]);
    vt_finetune_options o = finetune_options(a);
    if (st == VT_OK) st = vt_task_finetune_ner(a->init, &train, &dev, &o, NULL);
    vt_tagged_free(&train);
    vt_tagged_free(&dev);
    return st;
}

static int run(const options *a) {
    vt_task_kind kind;
    vt_status st = VT_OK;
    if (!vt_task_kind_parse(a->task, &kind) || !(vt_task_kind_is_sequence(kind) || kind == VT_TASK_TOKEN_CLASSIFICATION))
        st = vt_error(VT_ERR_INVALID_ARG,
                      "--task must be sequence-classification, multi-label, regression or token-classification, not "
                      "'%s'",
                      a->task);
    else st = kind == VT_TASK_TOKEN_CLASSIFICATION ? run_tokens(a) : run_sequence(a);
    return cli_leave_job(st);
}

int cmd_finetune(int argc, char **argv) {
    if (cli_wants_causal_lm(argc, argv)) return cmd_finetune_causal_lm(argc, argv); /* GPT-2: its own options */
    if (cli_wants_qa_task(argc, argv)) return cmd_finetune_qa(argc, argv); /* SQuAD: its own options */
    options a = {.max_len = 128, .keep_tail = -1, .max_windows = -1, .seed = 42,
                 .dist_timeout = VT_DIST_DEFAULT_TIMEOUT, .precision = "fp32", .task = "sequence-classification"};
    vt_finetune_options_default(&a.ft);
    a.dp.noise_multiplier = -1; /* unset */
    const cli_option opts[] = {
        {"--init", CLI_STRING, &a.init, "DIR", "any BERT-family directory (BERT, RoBERTa, XLM-RoBERTa, DistilBERT): pretrained, published, or a classifier"},
        {"--task", CLI_STRING, &a.task, "KIND",
         "sequence-classification (one label per text, default), multi-label (a set of labels per text: a JSON list "
         "or a --label-separator-joined cell; sigmoid + binary cross-entropy), regression (a number per text; MSE), "
         "token-classification (a tag per word: CoNLL files or JSONL {\"tokens\", \"tags\"}; entities, as run_ner.py) or "
         "question-answering (SQuAD data; its options: verto finetune --task question-answering --help)"},
        {"--train", CLI_STRING, &a.train, "FILE", "labelled training data (.tsv, .csv or .jsonl)"},
        {"--dev", CLI_STRING, &a.dev, "FILE", "labelled development data; the best epoch on it is kept"},
        {"-o|--output", CLI_STRING, &a.ft.out_dir, "DIR", "output directory (the best model, metrics.jsonl)"},
        {"--epochs", CLI_INT, &a.ft.epochs, "N", "passes over the training data (default 3)", 1, 1e6},
        {"--batch-size", CLI_INT, &a.ft.batch_size, "N", "examples per step and rank (default 32)", 1, 4096},
        {"--lr", CLI_FLOAT, &a.ft.lr, "LR", "peak learning rate (default 5e-5)", 1e-12, 10},
        {"--warmup-ratio", CLI_FLOAT, &a.ft.warmup_ratio, "R", "fraction of steps for linear warmup (default 0.1)", 0, 1},
        {"--weight-decay", CLI_FLOAT, &a.ft.weight_decay, "W", "AdamW decay (default 0.01)", 0, 1},
        {"--max-seq-length", CLI_INT, &a.max_len, "N", "truncate inputs to N tokens (default 128)", 3, 1e6},
        {"--keep-tail", CLI_INT, &a.keep_tail, "N",
         "an input longer than --max-seq-length keeps its last N tokens and as many first ones as fit (default: as --init, normally 0: the first ones only)",
         0, 1e9},
        {"--max-windows", CLI_INT, &a.max_windows, "K",
         "read an input longer than --max-seq-length as up to K windows of that length spread over it (each a "
         "training example; predictions average their logits) instead of truncating it (default: as --init, normally 1)",
         1, VT_TOK_MAX_WINDOWS},
        {"--early-stopping", CLI_INT, &a.ft.early_stopping, "N", "stop after N epochs without dev improvement (default: off)", 0, 1e6},
        {"--freeze-layers", CLI_INT, &a.freeze, "K", "freeze the embeddings and the first K layers", 0, 1e4},
        {"--class-weights", CLI_STRING, &a.class_weights, "auto", "weight the loss by inverse class frequency"},
        {"--max-train-examples", CLI_INT, &a.max_train, "N", "use a seeded random N of the training examples", 1, 1e12},
        {"--seed", CLI_INT, &a.seed, "N", "head initialisation, data order and dropout (default 42)", 0, 9e15},
        {"--precision", CLI_STRING, &a.precision, "fp32|bf16", "matrix products in fp32 (default) or in bf16 with f32 accumulation"},
        {"--threads", CLI_INT, &a.threads, "N", "OpenMP threads (default: all cores, shared by a machine's ranks)", 1, 4096},
        {"--text-column", CLI_STRING, &a.text_col, "NAME", "TSV/CSV column of the text (default text)"},
        {"--text-b-column", CLI_STRING, &a.text_b_col, "NAME", "column of the second text of pairs (default text_b)"},
        {"--label-column", CLI_STRING, &a.label_col, "NAME", "column of the label (default label; multi-label: labels)"},
        {"--label-separator", CLI_STRING, &a.separator, "S", "multi-label: what joins a cell's labels (default \",\")"},
        {"--skip-bad-rows", CLI_FLAG, &a.skip_bad, NULL, "skip and count malformed rows instead of failing"},
        {"--resume", CLI_FLAG, &a.ft.resume, NULL, "continue from the latest checkpoint in the output directory"},
        {"--zero1", CLI_FLAG, &a.ft.zero1, NULL, "under mpirun: shard the optimizer state over the ranks (ZeRO stage 1)"},
        {"--padded-batches", CLI_FLAG, &a.ft.padded_batches, NULL,
         "pad each training batch to its longest row instead of packing the rows without padding (same "
         "gradients, more work; classification and tagging)"},
        CLI_DP_OPTIONS(a.ft, a.dp, a.dp_sampling),
        {"--dist-timeout", CLI_FLOAT, &a.dist_timeout, "SEC", "under mpirun: fail when other ranks stay silent this long (default 300)", 1, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto finetune --init DIR --train FILE --dev FILE -o OUT [options]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!a.init || !a.train || !a.dev || !a.ft.out_dir) return cli_fail("finetune needs --init DIR, --train FILE, --dev FILE and -o OUT");
    if (a.class_weights && strcmp(a.class_weights, "auto")) return cli_fail("--class-weights takes only 'auto'");
    if (cli_train_precision(a.precision, &a.ft.precision)) return 1;
    if (cli_dp_options(&a.ft, &a.dp, a.dp_sampling)) return 1;
    vt_status st = cli_join_job(a.dist_timeout, a.threads);
    if (st != VT_OK) return cli_leave_job(st);
    return run(&a);
}
