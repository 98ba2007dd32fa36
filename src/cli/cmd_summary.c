/* verto summary: the Keras-style table of a model directory. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/gpt2_commands.h"
#include "verto/bert.h"

int cmd_summary(int argc, char **argv) {
    const char *dir = NULL;
    const cli_option opts[] = {{"--model", CLI_STRING, &dir, "DIR", "a model directory (BERT, RoBERTa, XLM-RoBERTa, DistilBERT or GPT-2)"}, {0}};
    int rc = cli_parse(argc, argv, opts, "verto summary --model DIR", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir) return cli_fail("summary needs --model DIR");
    if (cli_is_gpt2_dir(dir)) return cli_summary_gpt2(dir);
    vt_bert *b = vt_bert_load(dir, -1, 0, 0);
    if (!b) return cli_fail("%s", vt_last_error());
    vt_bert_summary(b, stdout);
    vt_bert_free(b);
    return 0;
}
