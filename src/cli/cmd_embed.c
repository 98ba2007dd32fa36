/* verto embed: one JSON array (a sentence embedding) per input line. */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_dir.h"
#include "cli/text_input.h"
#include "verto/task.h"

int cmd_embed(int argc, char **argv) {
    const char *dir = NULL, *pooling = "cls", *input = NULL, *precision = "fp32";
    bool normalize = false;
    int64_t max_length = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a model directory (BERT, RoBERTa, XLM-RoBERTa or DistilBERT)"},
        {"--pooling", CLI_STRING, &pooling, "cls|mean", "the [CLS] state or the mean of token states (default cls)"},
        {"--normalize", CLI_FLAG, &normalize, NULL, "scale each vector to unit length"},
        {"--input", CLI_STRING, &input, "FILE", "one text per line (default: standard input)"},
        {"--max-length", CLI_INT, &max_length, "N", "truncate to N tokens (default: the model's positions)", 2, 1e6},
        {"--precision", CLI_STRING, &precision, "fp32|bf16|int8", CLI_PRECISION_HELP},
        {0}};
    char **args;
    int n_args;
    int rc = cli_parse(argc, argv, opts, "verto embed --model DIR [--pooling cls|mean] [--normalize] [--precision fp32|bf16|int8] "
                       "[--input FILE | TEXT...]",
                       &args, &n_args);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    bool mean = !strcmp(pooling, "mean");
    if (!dir || (!mean && strcmp(pooling, "cls"))) {
        free(args);
        return cli_fail("embed needs --model DIR and --pooling cls or mean");
    }
    vt_precision prec;
    if (cli_precision(precision, &prec)) {
        free(args);
        return 1;
    }
    vt_task *task = cli_load_task(dir, VT_TASK_FEATURES, prec, max_length, 0);
    cli_lines lines = {0};
    vt_status st = task ? cli_lines_read(input, args, n_args, &lines) : vt_last_status();
    int64_t H = task ? vt_task_config(task)->hidden_size : 0;
    vt_text_input *in = cli_lines_inputs(&lines);
    float *vec = malloc((lines.n ? lines.n : 1) * (size_t)(H ? H : 1) * sizeof(float));
    if (st == VT_OK && (!in || !vec)) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu embeddings", lines.n);
    if (st == VT_OK) st = vt_task_embed(task, in, lines.n, mean ? VT_POOL_MEAN : VT_POOL_CLS, normalize, vec, NULL);
    for (size_t i = 0; st == VT_OK && i < lines.n; i++) {
        putchar('[');
        for (int64_t h = 0; h < H; h++) printf(h ? ", %.8g" : "%.8g", vec[i * (size_t)H + (size_t)h]);
        puts("]");
    }
    rc = st == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    free(vec);
    free(in);
    free(args);
    cli_lines_free(&lines);
    vt_task_free(task);
    return rc;
}
