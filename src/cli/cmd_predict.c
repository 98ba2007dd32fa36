/* verto predict: one JSON line per input line, as the model's task answers:
 * {"label", "score", "probs"}, {"labels", "probs"} or {"score"}
 * (vt_task_answer_json), or a token classifier's entities, [{"entity_group",
 * "score", "word", "start", "end"}, ...] (vt_task_entities_json; per token with --aggregation none). */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/qa_commands.h"
#include "cli/model_dir.h"
#include "cli/text_input.h"
#include "core/format.h"
#include "verto/dataset.h"
#include "verto/task.h"

/* A token classifier's entities of each input, one JSON array per line. */
static vt_status print_entities(vt_task *task, const vt_text_input *in, size_t n, vt_ner_aggregation agg) {
    vt_ner_group **groups = calloc(n, sizeof *groups);
    size_t *counts = calloc(n, sizeof *counts);
    vt_status st = groups && counts ? vt_task_entities(task, in, n, agg, groups, counts)
                                    : vt_error(VT_ERR_NOMEM, "out of memory for %zu inputs", n);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        char *json = NULL;
        if ((st = vt_task_entities_json(groups[i], counts[i], agg, &json)) == VT_OK) puts(json);
        free(json);
    }
    for (size_t i = 0; groups && i < n; i++) vt_ner_groups_free(groups[i], counts[i]);
    free(groups);
    free(counts);
    return st;
}

int cmd_predict(int argc, char **argv) {
    if (cli_is_qa_model(argc, argv)) return cmd_predict_qa(argc, argv); /* SQuAD: its own options */
    const char *dir = NULL, *input = NULL, *text_col = NULL, *text_b_col = NULL, *precision = "fp32",
               *aggregation = NULL;
    bool jsonl = false;
    int64_t batch = 32, max_length = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned classifier (single- or multi-label) or regression directory"},
        {"--input", CLI_STRING, &input, "FILE", "one input per line (default: standard input, or the TEXT arguments)"},
        {"--jsonl", CLI_FLAG, &jsonl, NULL, "input lines are JSON objects with \"text\" and optionally \"text_b\""},
        {"--text-column", CLI_STRING, &text_col, "KEY", "with --jsonl: the text's key (default text)"},
        {"--text-b-column", CLI_STRING, &text_b_col, "KEY", "with --jsonl: the second text's key (default text_b)"},
        {"--precision", CLI_STRING, &precision, "fp32|bf16|int8", CLI_PRECISION_HELP},
        {"--batch-size", CLI_INT, &batch, "N", "inputs per forward pass (default 32)", 1, 65536},
        {"--aggregation", CLI_STRING, &aggregation, "S", "a token classifier's entities as the pipeline's aggregation_strategy: simple (default), none, first, average or max"},
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
    vt_ner_aggregation agg;
    if (!vt_ner_aggregation_parse(aggregation ? aggregation : "simple", &agg)) {
        free(args);
        return cli_fail("--aggregation: \"%s\" is none of simple, none, first, average, max", aggregation);
    }
    if (jsonl && n_args) {
        free(args);
        return cli_fail("--jsonl reads --input or standard input, not TEXT arguments");
    }
    vt_task_kind kind;
    bool known = vt_task_kind_of_dir(dir, &kind) == VT_OK, tokens = known && kind == VT_TASK_TOKEN_CLASSIFICATION;
    if (aggregation && known && !tokens) {
        free(args);
        return cli_fail("--aggregation is for a token classifier; %s is not one", dir);
    }
    vt_task *task = tokens ? cli_load_task(dir, kind, prec, max_length, batch)
                           : cli_load_sequence_task(dir, prec, max_length, batch);
    vt_status st = task ? VT_OK : vt_last_status();
    cli_inputs x = {0}; /* all input is read (and checked) before anything is printed */
    if (st == VT_OK) st = cli_inputs_read(input, jsonl, text_col, text_b_col, args, n_args, &x);
    const vt_bert_config *c = task ? vt_task_config(task) : NULL;
    const vt_text_input *in = x.in;
    size_t n = x.n, K = c ? (size_t)c->num_labels : 0;
    double *probs = NULL;
    if (st == VT_OK && n && !(probs = malloc(n * K * sizeof *probs)))
        st = vt_error(VT_ERR_NOMEM, "out of memory for %zu predictions", n);
    if (st == VT_OK && n && tokens) st = print_entities(task, in, n, agg);
    else if (st == VT_OK && n) st = vt_task_classify(task, in, n, probs, NULL);
    for (size_t i = 0; st == VT_OK && !tokens && i < n; i++) {
        char *answer = NULL;
        if ((st = vt_task_answer_json(task, probs + i * K, &answer)) == VT_OK) printf("{%s}\n", answer);
        free(answer);
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    free(probs);
    free(args);
    cli_inputs_free(&x);
    vt_task_free(task);
    return rc;
}
