/* verto predict on a question-answering model: one {"question", "context"}
 * JSON object per input line, one {"answer", "score", "start", "end"} per
 * output line (the question-answering pipeline's answer; start and end are
 * characters of the context). */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_dir.h"
#include "cli/qa_commands.h"
#include "cli/text_input.h"
#include "verto/task.h"

int cmd_predict_qa(int argc, char **argv) {
    const char *dir = NULL, *input = NULL, *precision = "fp32";
    bool jsonl = false;
    int64_t batch = 32, max_length = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a fine-tuned question-answering directory"},
        {"--input", CLI_STRING, &input, "FILE", "one {\"question\", \"context\"} JSON object per line (default: standard input)"},
        {"--jsonl", CLI_FLAG, &jsonl, NULL, "input lines are JSON objects (always so for question answering)"},
        {"--precision", CLI_STRING, &precision, "fp32|bf16|int8", CLI_PRECISION_HELP},
        {"--batch-size", CLI_INT, &batch, "N", "features per forward pass (default 32)", 1, 65536},
        {"--max-seq-length", CLI_INT, &max_length, "N", "tokens per feature (default: as fine-tuned)", 8, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto predict --model QA_DIR [--input FILE] --jsonl", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir) return cli_fail("predict needs --model DIR");
    vt_precision prec;
    if (cli_precision(precision, &prec)) return 1;
    const char *where = input && strcmp(input, "-") ? input : "stdin";
    vt_task *task = cli_load_task(dir, VT_TASK_QUESTION_ANSWERING, prec, max_length, batch);
    vt_status st = task ? VT_OK : vt_last_status();
    cli_lines lines = {0};
    if (st == VT_OK) st = cli_lines_read(input, NULL, 0, &lines);
    size_t n = lines.n;
    vt_qa_input *in = calloc(n ? n : 1, sizeof *in);
    vt_qa_answer *answers = calloc(n ? n : 1, sizeof *answers);
    if (st == VT_OK && (!in || !answers)) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu questions", n);
    for (size_t i = 0; st == VT_OK && i < n; i++) /* all checked first */
        st = vt_qa_input_parse_json(lines.text[i], lines.len[i], where, i + 1, &in[i]);
    if (st == VT_OK && n) st = vt_task_answer_questions(task, in, n, answers);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        char *json = NULL;
        if ((st = vt_task_qa_answer_json(&answers[i], &json)) == VT_OK) printf("{%s}\n", json);
        free(json);
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    for (size_t i = 0; answers && i < n; i++) vt_qa_answers_free(&answers[i], 1);
    for (size_t i = 0; in && i < n; i++) vt_qa_input_free(&in[i]);
    free(answers), free(in);
    cli_lines_free(&lines);
    vt_task_free(task);
    return rc;
}
