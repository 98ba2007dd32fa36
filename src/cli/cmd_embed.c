/* verto embed: one JSON array (a sentence embedding) per input line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/text_input.h"
#include "verto/serve.h"

#define BATCH 32

int cmd_embed(int argc, char **argv) {
    const char *dir = NULL, *pooling = "cls", *input = NULL;
    bool normalize = false;
    int64_t max_length = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a BERT model directory"},
        {"--pooling", CLI_STRING, &pooling, "cls|mean", "the [CLS] state or the mean of token states (default cls)"},
        {"--normalize", CLI_FLAG, &normalize, NULL, "scale each vector to unit length"},
        {"--input", CLI_STRING, &input, "FILE", "one text per line (default: standard input)"},
        {"--max-length", CLI_INT, &max_length, "N", "truncate to N tokens (default: the model's positions)", 2, 1e6},
        {0}};
    char **args;
    int n_args;
    int rc = cli_parse(argc, argv, opts, "verto embed --model DIR [--pooling cls|mean] [--normalize] [--input FILE | TEXT...]",
                       &args, &n_args);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    bool mean = !strcmp(pooling, "mean");
    if (!dir || (!mean && strcmp(pooling, "cls"))) {
        free(args);
        return cli_fail("embed needs --model DIR and --pooling cls or mean");
    }
    vt_bert *model = vt_bert_load(dir, VT_BERT_MODEL, 0, 0);
    vt_tokenizer *tok = model ? vt_tok_load(dir, NULL) : NULL;
    cli_lines lines = {0};
    cli_batch batch = {0};
    vt_status st = tok ? cli_lines_read(input, args, n_args, &lines) : vt_last_status();
    int64_t H = model ? vt_bert_get_config(model)->hidden_size : 0;
    int64_t positions = model ? vt_bert_get_config(model)->max_position_embeddings : 0;
    float *vec = malloc((size_t)(H ? H : 1) * sizeof(float));
    for (size_t start = 0; st == VT_OK && start < lines.n; start += BATCH) {
        size_t count = lines.n - start < BATCH ? lines.n - start : BATCH;
        vt_bert_outputs out;
        st = cli_batch_encode(&batch, tok, &lines, start, count, (int32_t)(max_length ? max_length : positions));
        vt_bert_batch view = cli_batch_view(&batch);
        if (st == VT_OK) st = vt_bert_forward(model, &view, false, 0, &out);
        for (int64_t i = 0; st == VT_OK && i < batch.B; i++) {
            vt_serve_pool(out.last_hidden_state + i * batch.T * H, batch.mask + i * batch.T, batch.T, H,
                          mean ? VT_SERVE_POOL_MEAN : VT_SERVE_POOL_CLS, normalize, vec);
            putchar('[');
            for (int64_t h = 0; h < H; h++) printf(h ? ", %.8g" : "%.8g", vec[h]);
            puts("]");
        }
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    free(vec);
    free(args);
    cli_batch_free(&batch);
    cli_lines_free(&lines);
    vt_tok_free(tok);
    vt_bert_free(model);
    return rc;
}
