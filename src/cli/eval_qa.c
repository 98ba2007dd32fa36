/* verto eval on a question-answering model: SQuAD data scored as run_qa and
 * the official script score them (exact match and F1; v2 also HasAns / NoAns). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_dir.h"
#include "cli/qa_commands.h"
#include "core/strbuf.h"
#include "verto/squad.h"
#include "verto/task.h"

static void print_scores(const vt_squad_scores *s, bool json) {
    const char *names[] = {"exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"};
    double values[] = {s->exact, s->f1, s->has_ans_exact, s->has_ans_f1, s->no_ans_exact, s->no_ans_f1};
    int64_t totals[] = {s->total, s->has_ans_total, s->no_ans_total};
    if (json) printf("{\"version\": %d", s->version);
    for (int i = 0; i < (s->version == 2 ? 6 : 2); i++) {
        if (i % 2 == 0 && totals[i / 2] == 0) { /* a v2 set without one kind of question */
            i++;
            continue;
        }
        if (json) printf(", \"%s\": %.17g", names[i], values[i]);
        else printf("%-13s %.4f\n", names[i], values[i]);
        if (i % 2 == 1) {
            const char *total = i == 1 ? "total" : i == 3 ? "HasAns_total" : "NoAns_total";
            if (json) printf(", \"%s\": %lld", total, (long long)totals[i / 2]);
            else printf("%-13s %lld\n", total, (long long)totals[i / 2]);
        }
    }
    if (json) printf("}\n");
}

/* {id: predicted text, ...} as run_qa's predictions.json. */
static vt_status write_predictions(const char *path, const vt_squad *d, const vt_qa_predictions *p) {
    vt_sb b = {0};
    vt_sb_str(&b, "{");
    for (size_t i = 0; i < d->n; i++) {
        vt_sb_str(&b, i ? ",\n  " : "\n  ");
        vt_sb_json_string(&b, d->ex[i].id);
        vt_sb_str(&b, ": ");
        vt_sb_json_string(&b, p->p[i].text);
    }
    vt_sb_str(&b, "\n}\n");
    size_t len = 0;
    char *text = vt_sb_take(&b, &len);
    if (!text) return vt_error(VT_ERR_NOMEM, "out of memory for the predictions");
    FILE *f = fopen(path, "wb");
    vt_status st = f && fwrite(text, 1, len, f) == len ? VT_OK : vt_error(VT_ERR_IO, "cannot write %s", path);
    if (f && fclose(f) != 0 && st == VT_OK) st = vt_error(VT_ERR_IO, "cannot write %s", path);
    free(text);
    return st;
}

int cmd_eval_qa(int argc, char **argv) {
    const char *dir = NULL, *data = NULL, *precision = "fp32", *predictions = NULL;
    bool json = false, skip_bad = false, v2 = false;
    int64_t batch = 32, max_length = 0, n_best = 20, max_answer = 0;
    double null_threshold = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned question-answering directory"},
        {"--data", CLI_STRING, &data, "FILE", "SQuAD data: v1.1 / v2.0 JSON or JSON Lines (\"-\": standard input)"},
        {"--version-2-with-negative", CLI_FLAG, &v2, NULL, "the data are SQuAD v2 (default: as the file says; JSON Lines v1)"},
        {"--n-best-size", CLI_INT, &n_best, "N", "start and end candidates per feature (default 20)", 1, 1e4},
        {"--max-answer-length", CLI_INT, &max_answer, "N", "longest answer in tokens (default: as fine-tuned)", 1, 1e6},
        {"--null-score-diff-threshold", CLI_FLOAT, &null_threshold, "X", "v2: no answer when the null score beats the best by more (default 0)", -1e6, 1e6},
        {"--predictions", CLI_STRING, &predictions, "FILE", "write {id: predicted answer} (run_qa's predictions.json)"},
        {"--skip-bad-rows", CLI_FLAG, &skip_bad, NULL, "leave out malformed questions (counted on stderr) instead of failing"},
        {"--json", CLI_FLAG, &json, NULL, "print one JSON object instead of the table"},
        {"--precision", CLI_STRING, &precision, "fp32|bf16|int8", CLI_PRECISION_HELP},
        {"--batch-size", CLI_INT, &batch, "N", "features per forward pass (default 32)", 1, 65536},
        {"--max-seq-length", CLI_INT, &max_length, "N", "tokens per feature (default: as fine-tuned)", 8, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto eval --model DIR --data SQUAD_FILE [--json]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir || !data) return cli_fail("eval needs --model DIR and --data FILE");
    vt_precision prec;
    if (cli_precision(precision, &prec)) return 1;
    vt_squad_options so;
    vt_squad_options_default(&so);
    so.version = v2 ? 2 : 0;
    so.skip_bad_rows = skip_bad;
    vt_task *task = cli_load_task(dir, VT_TASK_QUESTION_ANSWERING, prec, max_length, batch);
    vt_status st = task ? VT_OK : vt_last_status();
    vt_squad d = {0};
    if (st == VT_OK) st = vt_squad_load(data, &so, &d);
    if (st == VT_OK && d.n_skipped) {
        fprintf(stderr, "warning: skipped %zu malformed questions of %s\n", d.n_skipped, data);
        for (int i = 0; i < d.n_notes; i++) fprintf(stderr, "  %s\n", d.notes[i]);
    }
    vt_qa_eval_options eo;
    vt_qa_eval_options_default(&eo);
    eo.n_best_size = (int32_t)n_best;
    eo.max_answer_length = (int32_t)max_answer;
    eo.null_score_diff_threshold = null_threshold;
    vt_qa_predictions p = {0};
    vt_squad_scores s;
    if (st == VT_OK) st = vt_task_evaluate_qa(task, &d, &eo, &p, &s);
    if (st == VT_OK && predictions) st = write_predictions(predictions, &d, &p);
    if (st == VT_OK) {
        if (!json) printf("model: %s (question-answering)\ndata: %s (SQuAD v%d, %zu questions)\n", dir, data, d.version, d.n);
        print_scores(&s, json);
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    vt_qa_predictions_free(&p);
    vt_squad_free(&d);
    vt_task_free(task);
    return rc;
}
