/* verto fill-mask: for each input line, the top-k tokens for every [MASK],
 * shaped as Hugging Face's fill-mask pipeline reports them. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_dir.h"
#include "cli/text_input.h"
#include "verto/task.h"

/* One JSON list of {"score", "token", "token_str"} for a [MASK]'s k predictions. */
static cJSON *predictions(const vt_tokenizer *tok, const vt_mask_prediction *p, int64_t k) {
    cJSON *list = cJSON_CreateArray();
    for (int64_t j = 0; j < k && p[j].token_id >= 0; j++) {
        char *text = NULL;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "score", p[j].score);
        cJSON_AddNumberToObject(item, "token", p[j].token_id);
        if (vt_tok_decode(tok, &p[j].token_id, 1, false, true, &text, NULL) == VT_OK)
            cJSON_AddStringToObject(item, "token_str", text);
        free(text);
        cJSON_AddItemToArray(list, item);
    }
    return list;
}

int cmd_fill_mask(int argc, char **argv) {
    const char *dir = NULL, *input = NULL;
    int64_t k = 5;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a model directory with a masked-LM head"},
        {"--top-k", CLI_INT, &k, "K", "predictions per [MASK] (default 5)", 1, 1000},
        {"--input", CLI_STRING, &input, "FILE", "one text per line (default: the TEXT arguments or standard input)"},
        {0}};
    char **args;
    int n_args;
    int rc = cli_parse(argc, argv, opts, "verto fill-mask --model DIR [--top-k K] [--input FILE | TEXT...]", &args, &n_args);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir) {
        free(args);
        return cli_fail("fill-mask needs --model DIR");
    }
    vt_task *task = cli_load_task(dir, VT_TASK_FILL_MASK, VT_PRECISION_FP32, 0, 0);
    cli_lines lines = {0};
    vt_status st = task ? cli_lines_read(input, args, n_args, &lines) : vt_last_status();
    vt_text_input *in = cli_lines_inputs(&lines);
    vt_mask_prediction **preds = calloc(lines.n ? lines.n : 1, sizeof *preds);
    int32_t *n_masks = calloc(lines.n ? lines.n : 1, sizeof *n_masks);
    if (st == VT_OK && (!in || !preds || !n_masks)) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu inputs", lines.n);
    if (st == VT_OK) st = vt_task_fill_mask(task, in, lines.n, (int)k, preds, n_masks);
    for (size_t i = 0; st == VT_OK && i < lines.n; i++) {
        cJSON *line = cJSON_CreateArray();
        for (int32_t m = 0; m < n_masks[i]; m++)
            cJSON_AddItemToArray(line, predictions(vt_task_tokenizer(task), preds[i] + (size_t)m * (size_t)k, k));
        char *text = cJSON_PrintUnformatted(line);
        puts(text ? text : "[]");
        free(text);
        cJSON_Delete(line);
    }
    for (size_t i = 0; preds && i < lines.n; i++) free(preds[i]);
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    free(preds);
    free(n_masks);
    free(in);
    free(args);
    cli_lines_free(&lines);
    vt_task_free(task);
    return rc;
}
