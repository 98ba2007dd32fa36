/* verto fill-mask: for each input line, the top-k tokens for every [MASK],
 * shaped as Hugging Face's fill-mask pipeline reports them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_dir.h"
#include "cli/text_input.h"

#define BATCH 16

/* Indices of the k largest of x (n), best first, into top (k). */
static void top_k(const float *x, int64_t n, int64_t k, int64_t *top) {
    for (int64_t j = 0; j < k; j++) top[j] = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = k;
        while (j > 0 && (top[j - 1] < 0 || x[i] > x[top[j - 1]])) j--;
        if (j == k) continue;
        memmove(top + j + 1, top + j, (size_t)(k - j - 1) * sizeof *top);
        top[j] = i;
    }
}

/* One JSON list of k {"score", "token", "token_str"} for logits (V). */
static cJSON *predictions(const vt_tokenizer *tok, const float *logits, int64_t V, int64_t k, int64_t *top) {
    double max = logits[0], sum = 0;
    for (int64_t v = 1; v < V; v++) max = fmax(max, logits[v]);
    for (int64_t v = 0; v < V; v++) sum += exp(logits[v] - max);
    top_k(logits, V, k, top);
    cJSON *list = cJSON_CreateArray();
    for (int64_t j = 0; j < k && top[j] >= 0; j++) {
        int32_t id = (int32_t)top[j];
        char *text = NULL;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "score", exp(logits[id] - max) / sum);
        cJSON_AddNumberToObject(item, "token", id);
        if (vt_tok_decode(tok, &id, 1, false, true, &text, NULL) == VT_OK) cJSON_AddStringToObject(item, "token_str", text);
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
    char path[4096];
    vt_bert_config cfg;
    vt_status st = vt_bert_config_read(cli_path(path, sizeof path, dir, "config.json"), &cfg);
    if (st == VT_OK && cfg.arch != VT_BERT_FOR_PRETRAINING && cfg.arch != VT_BERT_FOR_MASKED_LM)
        st = vt_error(VT_ERR_INVALID_ARG, "%s is a %s, which has no masked-LM head", dir, vt_bert_arch_name(cfg.arch));
    vt_bert *model = st == VT_OK ? vt_bert_load(dir, VT_BERT_FOR_MASKED_LM, 0, 0) : NULL;
    vt_tokenizer *tok = model ? vt_tok_load(dir, NULL) : NULL;
    cli_lines lines = {0};
    cli_batch batch = {0};
    if (st == VT_OK) st = tok ? cli_lines_read(input, args, n_args, &lines) : vt_last_status();
    int32_t mask_id = tok ? vt_tok_special_ids(tok).mask : -1;
    if (st == VT_OK && mask_id < 0) st = vt_error(VT_ERR_FORMAT, "%s: the vocabulary has no [MASK] token", dir);
    int64_t V = model ? vt_bert_get_config(model)->vocab_size : 0;
    int64_t *top = calloc((size_t)k, sizeof *top);
    int32_t *select = NULL;
    for (size_t start = 0; st == VT_OK && start < lines.n; start += BATCH) {
        size_t count = lines.n - start < BATCH ? lines.n - start : BATCH;
        st = cli_batch_encode(&batch, tok, &lines, start, count, (int32_t)cfg.max_position_embeddings);
        if (st != VT_OK) break;
        free(select);
        select = calloc((size_t)(batch.B * batch.T), sizeof *select);
        bool any = false;
        for (int64_t i = 0; i < batch.B * batch.T; i++) any |= (select[i] = batch.ids[i] == mask_id);
        vt_bert_batch view = cli_batch_view(&batch);
        view.mlm_select = select;
        vt_bert_outputs out = {0};
        if (any && (st = vt_bert_forward(model, &view, false, 0, &out)) != VT_OK) break;
        int64_t row = 0;
        for (int64_t i = 0; i < batch.B; i++) {
            cJSON *line = cJSON_CreateArray();
            for (int64_t t = 0; t < batch.T; t++)
                if (select[i * batch.T + t]) cJSON_AddItemToArray(line, predictions(tok, out.mlm_logits + row++ * V, V, k, top));
            char *text = cJSON_PrintUnformatted(line);
            puts(text ? text : "[]");
            free(text);
            cJSON_Delete(line);
        }
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    free(select);
    free(top);
    free(args);
    cli_batch_free(&batch);
    cli_lines_free(&lines);
    vt_tok_free(tok);
    vt_bert_free(model);
    return rc;
}
