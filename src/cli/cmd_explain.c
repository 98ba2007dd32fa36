/* verto explain: one JSON line per input (vt_explanation_json): each word
 * piece's and each word's attribution to the model's answer, by integrated
 * gradients or attention rollout; --html writes a page that shows them. */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/explain_html.h"
#include "cli/model_dir.h"
#include "cli/text_input.h"
#include "verto/dataset.h"
#include "verto/explain.h"

/* --target: a label's name, or its id. */
static int parse_target(const vt_bert_config *c, const char *name, int32_t *out) {
    for (int k = 0; k < c->num_labels; k++)
        if (strcmp(c->id2label[k], name) == 0) return *out = k, 0;
    char *end;
    long id = strtol(name, &end, 10);
    if (*name && !*end && id >= 0 && id < c->num_labels) return *out = (int32_t)id, 0;
    return cli_fail("--target %s is neither a label of this model nor a label id below %d", name, c->num_labels);
}

static int parse_choices(const char *method, const char *rule, const char *of, vt_explain_options *o) {
    if (!vt_explain_method_parse(method, &o->method))
        return cli_fail("--method must be integrated-gradients or rollout, not %s", method);
    if (!vt_ig_rule_parse(rule, &o->rule))
        return cli_fail("--rule must be gausslegendre, riemann_left, riemann_right, riemann_middle or "
                        "riemann_trapezoid, not %s", rule);
    if (strcmp(of, "logit") == 0) o->of = VT_EXPLAIN_LOGIT;
    else if (strcmp(of, "probability") == 0) o->of = VT_EXPLAIN_PROBABILITY;
    else return cli_fail("--of must be logit or probability, not %s", of);
    return 0;
}

static vt_status explain_entities_line(vt_task *task, const vt_text_input *in, const vt_explain_options *o) {
    char *json = NULL;
    vt_status st = vt_task_explain_entities_json(task, in, o, &json);
    if (st == VT_OK) puts(json);
    free(json);
    return st;
}

/* A question-answering line {"question", "context"}: the answer, and its start's and end's explanations. */
static vt_status explain_answer(vt_task *task, const char *line, size_t len, const char *file, size_t lineno,
                                const vt_explain_options *o) {
    vt_qa_input q;
    vt_status st = vt_qa_input_parse_json(line, len, file, lineno, &q);
    char *json = NULL;
    if (st == VT_OK && (st = vt_task_explain_answer_json(task, &q, o, &json)) == VT_OK) puts(json);
    free(json);
    vt_qa_input_free(&q);
    return st;
}

int cmd_explain(int argc, char **argv) {
    const char *dir = NULL, *input = NULL, *method = "integrated-gradients", *rule = "gausslegendre", *of = "logit",
               *target = NULL, *html = NULL;
    bool jsonl = false;
    int64_t steps = 50, internal_batch = 16, max_length = 0;
    double tolerance = 0.05;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned classifier (single- or multi-label) or regression directory"},
        {"--input", CLI_STRING, &input, "FILE", "one input per line (default: standard input, or the TEXT arguments)"},
        {"--jsonl", CLI_FLAG, &jsonl, NULL, "input lines are JSON objects with \"text\" and optionally \"text_b\""},
        {"--method", CLI_STRING, &method, "NAME", "integrated-gradients (default) or rollout"},
        {"--steps", CLI_INT, &steps, "N", "integrated gradients: points on the path (default 50)", 1, 100000},
        {"--rule", CLI_STRING, &rule, "NAME", "gausslegendre (default), riemann_left|right|middle|trapezoid"},
        {"--of", CLI_STRING, &of, "WHAT", "explain the target's logit (default) or its probability"},
        {"--target", CLI_STRING, &target, "LABEL", "the label explained, by name or id (default: the predicted one)"},
        {"--internal-batch-size", CLI_INT, &internal_batch, "N", "path points per pass (default 16)", 1, 100000},
        {"--delta-tolerance", CLI_FLOAT, &tolerance, "X",
         "flag an explanation whose |delta| exceeds X times |F(input) - F(baseline)| (default 0.05)", 0, 1e9},
        {"--max-seq-length", CLI_INT, &max_length, "N", "truncate to N tokens (default: as fine-tuned)", 2, 1e6},
        {"--html", CLI_STRING, &html, "FILE", "also write a page showing each input's words by attribution"},
        {0}};
    char **args;
    int n_args;
    int rc = cli_parse(argc, argv, opts, "verto explain --model DIR [--input FILE] [--jsonl] [TEXT...]", &args, &n_args);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    vt_explain_options o;
    vt_explain_options_default(&o);
    o.steps = (int32_t)steps;
    o.internal_batch = (int32_t)internal_batch;
    o.delta_tolerance = tolerance;
    if (!dir) rc = cli_fail("explain needs --model DIR");
    else if (jsonl && n_args) rc = cli_fail("--jsonl reads --input or standard input, not TEXT arguments");
    else rc = parse_choices(method, rule, of, &o);
    vt_task_kind kind = VT_TASK_SEQUENCE_CLASSIFICATION;
    if (!rc && vt_task_kind_of_dir(dir, &kind) != VT_OK) rc = cli_fail("%s", vt_last_error());
    bool entities = kind == VT_TASK_TOKEN_CLASSIFICATION, answers = kind == VT_TASK_QUESTION_ANSWERING;
    if (!rc && (entities || answers) && html)
        rc = cli_fail("--html draws the explanations of sequence tasks (a label or a score), not %s", vt_task_kind_name(kind));
    if (!rc && answers && (jsonl || n_args))
        rc = cli_fail("a question-answering model reads {\"question\", \"context\"} JSON lines from --input or "
                      "standard input");
    vt_task *task = rc                      ? NULL
                    : entities || answers ? cli_load_task(dir, kind, VT_PRECISION_FP32, max_length, 1)
                                          : cli_load_sequence_task(dir, VT_PRECISION_FP32, max_length, 1);
    if (!rc && !task) rc = cli_fail("%s", vt_last_error());
    if (!rc && target) rc = parse_target(vt_task_config(task), target, &o.target);
    cli_inputs x = {0}; /* all input is read (and checked) before anything is printed */
    vt_status st = rc ? VT_OK : cli_inputs_read(input, jsonl, NULL, NULL, args, n_args, &x);
    const vt_text_input *in = x.in;
    size_t n = x.n;
    vt_explanation *e = NULL;
    if (!rc && st == VT_OK && n && !(e = calloc(n, sizeof *e))) st = vt_error(VT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && st == VT_OK && (entities || answers) && i < n; i++) {
        st = answers ? explain_answer(task, x.lines.text[i], x.lines.len[i], input ? input : "<stdin>", i + 1, &o)
                     : explain_entities_line(task, &in[i], &o);
        if (st != VT_OK) vt_error(st, "input %zu: %s", i + 1, vt_last_error());
    }
    for (size_t i = 0; !rc && st == VT_OK && !entities && !answers && i < n; i++) {
        char *json = NULL;
        if ((st = vt_task_explain(task, &in[i], &o, &e[i])) != VT_OK) {
            vt_error(st, "input %zu: %s", i + 1, vt_last_error());
            break;
        }
        if ((st = vt_explanation_json(task, &in[i], &o, &e[i], &json)) == VT_OK) puts(json);
        free(json);
        if (e[i].delta_flagged)
            fprintf(stderr, "warning: input %zu: the attributions miss F(input) - F(baseline) by %.3g; "
                            "more --steps would tighten them\n", i + 1, e[i].delta);
    }
    if (!rc && st == VT_OK && html) st = cli_explain_html(html, task, in, e, n, &o);
    if (!rc && st != VT_OK) rc = cli_fail("%s", vt_last_error());
    for (size_t i = 0; e && i < n; i++) vt_explanation_free(&e[i]);
    free(e);
    free(args);
    cli_inputs_free(&x);
    vt_task_free(task);
    return rc;
}
