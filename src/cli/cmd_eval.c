/* verto eval: accuracy, per-class precision / recall / F1, macro and micro F1,
 * the confusion matrix and (two classes) ROC-AUC of a classifier on a labelled file. */
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_dir.h"
#include "verto/dataset.h"
#include "verto/metrics.h"
#include "verto/task.h"

int cmd_eval(int argc, char **argv) {
    const char *dir = NULL, *data = NULL, *format = NULL, *text_col = NULL, *text_b_col = NULL, *label_col = NULL;
    const char *precision = "fp32";
    bool json = false, skip_bad = false;
    int64_t batch = 32, max_length = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned sequence classifier directory"},
        {"--data", CLI_STRING, &data, "FILE", "labelled examples: .tsv, .csv or .jsonl (\"-\": standard input)"},
        {"--format", CLI_STRING, &format, "tsv|csv|jsonl", "the data's format (default: from its extension)"},
        {"--text-column", CLI_STRING, &text_col, "NAME", "the text's column or key (default text)"},
        {"--text-b-column", CLI_STRING, &text_b_col, "NAME", "the second text's column or key (default text_b, if present)"},
        {"--label-column", CLI_STRING, &label_col, "NAME", "the label's column or key (default label)"},
        {"--skip-bad-rows", CLI_FLAG, &skip_bad, NULL, "leave out malformed rows (counted on stderr) instead of failing"},
        {"--json", CLI_FLAG, &json, NULL, "print one JSON object instead of the table"},
        {"--precision", CLI_STRING, &precision, "fp32|bf16", "matrix products in fp32 (default) or in bf16 with f32 accumulation"},
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
    o.skip_bad_rows = skip_bad;

    vt_task *task = cli_load_task(dir, VT_TASK_SEQUENCE_CLASSIFICATION, prec, max_length, batch);
    vt_labelled d = {0};
    vt_metrics m = {0};
    const char *names[VT_BERT_MAX_LABELS];
    vt_status st = task ? VT_OK : vt_last_status();
    const vt_bert_config *c = task ? vt_task_config(task) : NULL;
    if (st == VT_OK) { /* the model's label ids */
        for (int k = 0; k < c->num_labels; k++) names[k] = c->id2label[k];
        o.id2label = names;
        o.num_labels = c->num_labels;
        st = vt_labelled_load(data, &o, &d);
    }
    if (st == VT_OK && d.n_skipped) {
        fprintf(stderr, "warning: skipped %zu malformed rows of %s\n", d.n_skipped, data);
        for (int i = 0; i < d.n_notes; i++) fprintf(stderr, "  %s\n", d.notes[i]);
    }
    if (st == VT_OK) st = vt_task_evaluate(task, &d, NULL, NULL, &m, NULL);
    if (st == VT_OK) {
        if (json) {
            vt_metrics_print_json(&m, names, stdout);
            putchar('\n');
        } else {
            printf("model: %s\ndata: %s (%s)\n", dir, data, vt_data_format_name(d.format));
            vt_metrics_print(&m, names, stdout);
        }
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    vt_metrics_free(&m);
    vt_labelled_free(&d);
    vt_task_free(task);
    return rc;
}
