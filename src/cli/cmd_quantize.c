/* verto quantize: a model directory's int8 twin (verto/int8.h's scheme). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/bert.h"

int cmd_quantize(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a model directory (BERT, RoBERTa, XLM-RoBERTa or DistilBERT)"},
        {"-o|--output", CLI_STRING, &out, "DIR", "the int8 model directory to write"},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto quantize --model DIR -o OUT", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir || !out) return cli_fail("quantize needs --model DIR and -o OUT");
    if (vt_bert_quantize_dir(dir, out) != VT_OK) return cli_fail("%s", vt_last_error());
    printf("wrote %s: dense weights in int8 (one scale per output channel), the rest in f32\n", out);
    return 0;
}
