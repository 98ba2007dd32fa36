/* verto eval: accuracy, per-class precision / recall / F1, macro and micro F1,
 * the confusion matrix and (two classes) ROC-AUC of a classifier on a labelled file. */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/text_pairs.h"
#include "verto/dataset.h"
#include "verto/metrics.h"

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

    vt_bert *model = NULL;
    vt_tokenizer *tok = NULL;
    vt_labelled d = {0};
    vt_metrics m = {0};
    double *probs = NULL, *score = NULL;
    int32_t *pred = NULL;
    const char *names[VT_BERT_MAX_LABELS];
    vt_status st = cli_load_classifier(dir, &model, &tok);
    if (st == VT_OK) st = vt_bert_set_precision(model, prec);
    const vt_bert_config *c = model ? vt_bert_get_config(model) : NULL;
    size_t K = c ? (size_t)c->num_labels : 0;
    if (st == VT_OK) { /* the model's label ids */
        for (size_t k = 0; k < K; k++) names[k] = c->id2label[k];
        o.id2label = names;
        o.num_labels = (int)K;
        st = vt_labelled_load(data, &o, &d);
    }
    if (st == VT_OK && d.n_skipped) {
        fprintf(stderr, "warning: skipped %zu malformed rows of %s\n", d.n_skipped, data);
        for (int i = 0; i < d.n_notes; i++) fprintf(stderr, "  %s\n", d.notes[i]);
    }
    if (st == VT_OK) {
        probs = malloc(d.n * K * sizeof *probs);
        pred = malloc(d.n * sizeof *pred);
        score = malloc(d.n * sizeof *score);
        if (!probs || !pred || !score) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu predictions", d.n);
    }
    int32_t maxlen = c ? vt_bert_input_length(c, max_length, vt_tok_get_options(tok)->model_max_length) : 0;
    if (st == VT_OK)
        st = cli_classify(model, tok, d.n, (const char *const *)d.text, d.text_len, (const char *const *)d.text_b,
                          d.text_b_len, (size_t)batch, maxlen, probs);
    if (st == VT_OK) {
        for (size_t i = 0; i < d.n; i++) {
            const double *p = probs + i * K;
            int32_t best = 0;
            for (size_t k = 1; k < K; k++)
                if (p[k] > p[best]) best = (int32_t)k;
            pred[i] = best;
            score[i] = p[1]; /* the positive class (id 1) when there are two */
        }
        st = vt_metrics_compute(d.label, pred, K == 2 ? score : NULL, d.n, (int)K, &m);
    }
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
    free(probs);
    free(pred);
    free(score);
    vt_labelled_free(&d);
    vt_tok_free(tok);
    vt_bert_free(model);
    return rc;
}
