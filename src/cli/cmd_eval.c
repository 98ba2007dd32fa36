/* verto eval: a fine-tuned model's figures on a labelled file, as its task
 * has them: accuracy, per-class precision / recall / F1, macro and micro F1,
 * the confusion matrix and (two classes) ROC-AUC of a classifier; micro /
 * macro / samples F1, subset accuracy and Hamming loss of a multi-label
 * model; MSE, MAE, R², Pearson and Spearman of a regression. */
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/qa_commands.h"
#include "cli/model_dir.h"
#include "verto/dataset.h"
#include "verto/metrics.h"
#include "verto/task.h"

/* Evaluates `task` on d and prints its figures. */
static vt_status report(vt_task *task, const vt_labelled *d, const char *const *names, double threshold, bool json,
                        const char *dir, const char *data) {
    vt_task_kind kind = vt_task_get_kind(task);
    if (!json) printf("model: %s (%s)\ndata: %s (%s)\n", dir, vt_task_kind_name(kind), data, vt_data_format_name(d->format));
    vt_status st;
    if (kind == VT_TASK_MULTI_LABEL) {
        vt_multilabel_metrics m = {0};
        st = vt_task_evaluate_multilabel(task, d, threshold, NULL, &m, NULL);
        if (st == VT_OK && json) vt_multilabel_metrics_print_json(&m, names, stdout);
        else if (st == VT_OK) vt_multilabel_metrics_print(&m, names, stdout);
        vt_multilabel_metrics_free(&m);
    } else if (kind == VT_TASK_REGRESSION) {
        vt_regression_metrics m;
        st = vt_task_evaluate_regression(task, d, NULL, &m, NULL);
        if (st == VT_OK && json) vt_regression_metrics_print_json(&m, stdout);
        else if (st == VT_OK) vt_regression_metrics_print(&m, stdout);
    } else {
        vt_metrics m = {0};
        st = vt_task_evaluate(task, d, NULL, NULL, &m, NULL);
        if (st == VT_OK && json) vt_metrics_print_json(&m, names, stdout);
        else if (st == VT_OK) vt_metrics_print(&m, names, stdout);
        vt_metrics_free(&m);
    }
    if (st == VT_OK && json) putchar('\n');
    return st;
}

/* A token classifier on tagged sentences: entity precision / recall / F1 per
 * type and overall, token accuracy, the confusion of types. */
static vt_status eval_tokens(const char *dir, const char *data, const char *mode_name, bool skip_bad, bool json,
                             vt_precision prec, int64_t max_length, int64_t batch) {
    vt_ner_mode mode;
    if (!vt_ner_mode_parse(mode_name, &mode))
        return vt_error(VT_ERR_INVALID_ARG, "--mode must be default or strict, not '%s'", mode_name);
    vt_task *task = cli_load_task(dir, VT_TASK_TOKEN_CLASSIFICATION, prec, max_length, batch);
    if (!task) return vt_last_status();
    const vt_bert_config *c = vt_task_config(task);
    const char *labels[VT_BERT_MAX_LABELS];
    for (int k = 0; k < c->num_labels; k++) labels[k] = c->id2label[k];
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.id2label = labels;
    o.num_labels = c->num_labels;
    o.skip_bad_rows = skip_bad;
    vt_tagged d = {0};
    vt_ner_metrics m = {0};
    vt_status st = vt_tagged_load(data, &o, &d);
    if (st == VT_OK && d.n_skipped) {
        fprintf(stderr, "warning: skipped %zu malformed sentences of %s\n", d.n_skipped, data);
        for (int i = 0; i < d.n_notes; i++) fprintf(stderr, "  %s\n", d.notes[i]);
    }
    if (st == VT_OK) st = vt_task_evaluate_ner(task, &d, mode, VT_SCHEME_AUTO, &m);
    if (st == VT_OK && json) {
        vt_ner_metrics_print_json(&m, stdout);
        putchar('\n');
    } else if (st == VT_OK) {
        printf("model: %s (token-classification)\ndata: %s (%s, %s)\n", dir, data, vt_tagged_format_name(d.format),
               vt_tag_scheme_name(d.scheme));
        vt_ner_metrics_print(&m, stdout);
    }
    vt_ner_metrics_free(&m);
    vt_tagged_free(&d);
    vt_task_free(task);
    return st;
}

int cmd_eval(int argc, char **argv) {
    if (cli_is_qa_model(argc, argv)) return cmd_eval_qa(argc, argv); /* SQuAD: its own options */
    const char *dir = NULL, *data = NULL, *format = NULL, *text_col = NULL, *text_b_col = NULL, *label_col = NULL;
    const char *precision = "fp32", *separator = NULL, *mode = "default";
    bool json = false, skip_bad = false;
    int64_t batch = 32, max_length = 0;
    double threshold = -1;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned classifier (single- or multi-label, tokens) or regression directory"},
        {"--data", CLI_STRING, &data, "FILE", "labelled examples: .tsv, .csv or .jsonl (\"-\": standard input); tagged "
         "sentences (CoNLL or JSONL) for a token classifier"},
        {"--format", CLI_STRING, &format, "tsv|csv|jsonl", "the data's format (default: from its extension)"},
        {"--text-column", CLI_STRING, &text_col, "NAME", "the text's column or key (default text)"},
        {"--text-b-column", CLI_STRING, &text_b_col, "NAME", "the second text's column or key (default text_b, if present)"},
        {"--label-column", CLI_STRING, &label_col, "NAME", "the label's column or key (default label; multi-label: labels)"},
        {"--label-separator", CLI_STRING, &separator, "S", "multi-label: what joins a cell's labels (default \",\")"},
        {"--threshold", CLI_FLOAT, &threshold, "P", "multi-label: predict labels at or above P (default: the one fine-tuning chose)", 0, 1},
        {"--mode", CLI_STRING, &mode, "default|strict", "token classification: seqeval's default (conlleval) or strict mode"},
        {"--skip-bad-rows", CLI_FLAG, &skip_bad, NULL, "leave out malformed rows (counted on stderr) instead of failing"},
        {"--json", CLI_FLAG, &json, NULL, "print one JSON object instead of the table"},
        {"--precision", CLI_STRING, &precision, "fp32|bf16|int8", CLI_PRECISION_HELP},
        {"--batch-size", CLI_INT, &batch, "N", "examples per forward pass (default 32)", 1, 65536},
        {"--max-seq-length", CLI_INT, &max_length, "N", "truncate to N tokens, or read windows of N with a windowed classifier (default: as fine-tuned)", 2, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto eval --model DIR --data FILE [--json]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir || !data) return cli_fail("eval needs --model DIR and --data FILE");
    vt_precision prec;
    if (cli_precision(precision, &prec)) return 1;
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    if (format && !vt_data_format_parse(format, &o.format)) return cli_fail("--format must be tsv, csv or jsonl, not '%s'", format);
    o.text_column = text_col;
    o.text_b_column = text_b_col;
    o.label_column = label_col;
    o.label_separator = separator;
    o.skip_bad_rows = skip_bad;

    vt_task_kind kind;
    if (vt_task_kind_of_dir(dir, &kind) == VT_OK && kind == VT_TASK_TOKEN_CLASSIFICATION) {
        vt_status st = eval_tokens(dir, data, mode, skip_bad, json, prec, max_length, batch);
        return st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    }
    vt_task *task = cli_load_sequence_task(dir, prec, max_length, batch);
    vt_status st = task ? VT_OK : vt_last_status();
    vt_labelled d = {0};
    const char *names[VT_BERT_MAX_LABELS];
    if (st == VT_OK) { /* the model's label ids */
        const vt_bert_config *c = vt_task_config(task);
        for (int k = 0; k < c->num_labels; k++) names[k] = c->id2label[k];
        o.id2label = names;
        o.num_labels = c->num_labels;
        kind = vt_task_get_kind(task);
        o.kind = kind == VT_TASK_MULTI_LABEL ? VT_LABEL_MULTI : kind == VT_TASK_REGRESSION ? VT_LABEL_REGRESSION : VT_LABEL_SINGLE;
        st = vt_labelled_load(data, &o, &d);
    }
    if (st == VT_OK && d.n_skipped) {
        fprintf(stderr, "warning: skipped %zu malformed rows of %s\n", d.n_skipped, data);
        for (int i = 0; i < d.n_notes; i++) fprintf(stderr, "  %s\n", d.notes[i]);
    }
    if (st == VT_OK) st = report(task, &d, names, threshold, json, dir, data);
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    vt_labelled_free(&d);
    vt_task_free(task);
    return rc;
}
