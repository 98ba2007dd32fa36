/* verto predict: one JSON object per input line, {"label", "score", "probs"}. */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/text_input.h"
#include "cli/text_pairs.h"
#include "core/format.h"
#include "verto/dataset.h"

int cmd_predict(int argc, char **argv) {
    const char *dir = NULL, *input = NULL, *text_col = NULL, *text_b_col = NULL, *precision = "fp32";
    bool jsonl = false;
    int64_t batch = 32, max_length = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned sequence classifier directory"},
        {"--input", CLI_STRING, &input, "FILE", "one input per line (default: standard input, or the TEXT arguments)"},
        {"--jsonl", CLI_FLAG, &jsonl, NULL, "input lines are JSON objects with \"text\" and optionally \"text_b\""},
        {"--text-column", CLI_STRING, &text_col, "KEY", "with --jsonl: the text's key (default text)"},
        {"--text-b-column", CLI_STRING, &text_b_col, "KEY", "with --jsonl: the second text's key (default text_b)"},
        {"--precision", CLI_STRING, &precision, "fp32|bf16", "matrix products in fp32 (default) or in bf16 with f32 accumulation"},
        {"--batch-size", CLI_INT, &batch, "N", "inputs per forward pass (default 32)", 1, 65536},
        {"--max-seq-length", CLI_INT, &max_length, "N", "truncate to N tokens, or read windows of N with a windowed classifier (default: as fine-tuned)", 2, 1e6},
        {0}};
    char **args;
    int n_args;
    int rc = cli_parse(argc, argv, opts, "verto predict --model DIR [--input FILE] [--jsonl] [TEXT...]", &args, &n_args);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir) {
        free(args);
        return cli_fail("predict needs --model DIR");
    }
    vt_precision prec;
    if (cli_precision(precision, &prec)) {
        free(args);
        return 1;
    }
    if (jsonl && n_args) {
        free(args);
        return cli_fail("--jsonl reads --input or standard input, not TEXT arguments");
    }
    vt_bert *model = NULL;
    vt_tokenizer *tok = NULL;
    cli_lines lines = {0};
    vt_labelled rows = {0};
    double *probs = NULL;
    vt_status st = cli_load_classifier(dir, &model, &tok);
    if (st == VT_OK) st = vt_bert_set_precision(model, prec);
    /* all input is read (and checked) before anything is printed */
    if (st == VT_OK && jsonl) {
        vt_labelled_options o;
        vt_labelled_options_default(&o);
        o.format = VT_DATA_JSONL;
        o.unlabelled = true;
        o.text_column = text_col;
        o.text_b_column = text_b_col;
        st = vt_labelled_load(input ? input : "-", &o, &rows);
    } else if (st == VT_OK) {
        st = cli_lines_read(input, args, n_args, &lines);
    }
    const vt_bert_config *c = model ? vt_bert_get_config(model) : NULL;
    size_t n = jsonl ? rows.n : lines.n, K = c ? (size_t)c->num_labels : 0;
    int32_t maxlen = c ? vt_bert_input_length(c, max_length, vt_tok_get_options(tok)->model_max_length) : 0;
    if (st == VT_OK && n) {
        probs = malloc(n * K * sizeof *probs);
        if (!probs) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu predictions", n);
    }
    if (st == VT_OK && n) {
        if (jsonl)
            st = cli_classify(model, tok, n, (const char *const *)rows.text, rows.text_len,
                              (const char *const *)rows.text_b, rows.text_b_len, (size_t)batch, maxlen, probs);
        else
            st = cli_classify(model, tok, n, (const char *const *)lines.text, lines.len, NULL, NULL, (size_t)batch,
                              maxlen, probs);
    }
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        const double *p = probs + i * K;
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (p[k] > p[best]) best = k;
        fputs("{\"label\": ", stdout);
        vt_print_json_string(stdout, c->id2label[best]);
        printf(", \"score\": %.8g, \"probs\": {", p[best]);
        for (size_t k = 0; k < K; k++) {
            if (k) fputs(", ", stdout);
            vt_print_json_string(stdout, c->id2label[k]);
            printf(": %.8g", p[k]);
        }
        fputs("}}\n", stdout);
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    free(probs);
    free(args);
    vt_labelled_free(&rows);
    cli_lines_free(&lines);
    vt_tok_free(tok);
    vt_bert_free(model);
    return rc;
}
