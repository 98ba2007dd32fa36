/* verto: the command-line tool. Dispatches to one subcommand per file. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "verto/platform.h"

/* One line per subcommand; each lives in src/cli/cmd_<name>.c. */
static const vt_cli_command COMMANDS[] = {
    {"init", "a randomly initialised BERT-family or GPT-2 model directory", cmd_init},
    {"summary", "the layers and parameter counts of a model directory", cmd_summary},
    {"embed", "sentence embeddings, one JSON array per input line", cmd_embed},
    {"fill-mask", "top predictions for each [MASK], one JSON line per input line", cmd_fill_mask},
    {"prepare-pretraining", "BERT pretraining instances (masked LM + next sentence) from raw text", cmd_prepare_pretraining},
    {"eval", "accuracy, per-class P/R/F1, confusion matrix and ROC-AUC of a classifier on labelled data", cmd_eval},
    {"explain", "which words moved the prediction (integrated gradients, rollout), one JSON line per input", cmd_explain},
    {"predict", "label and class probabilities, one JSON line per input line", cmd_predict},
    {"generate", "text continuations of prompts from a GPT-2 model (sampling, stop strings, streaming)", cmd_generate},
    {"serve", "an HTTP inference service (classify, embed, health, metrics) with dynamic batching", cmd_serve},
    {"pretrain", "masked-LM + next-sentence pretraining from prepared shards", cmd_pretrain},
    {"plot", "training and dev curves of runs' metrics.jsonl as an SVG or HTML file", cmd_plot},
    {"finetune", "sequence classification from labelled TSV, CSV or JSONL", cmd_finetune},
    {"merge-lora", "a GPT-2 directory with a PEFT LoRA adapter merged into its weights", cmd_merge_lora},
    {"baseline", "TF-IDF + logistic regression, C chosen on dev (scikit-learn's numbers)", cmd_baseline},
    {"auto", "the best model a time budget allows: baseline, pretraining, a search on dev, a report", cmd_auto},
    {"tokenize", "WordPiece ids (or tokens) of each input line, as BertTokenizerFast", cmd_tokenize},
    {"vocab", "train a WordPiece vocab.txt from text files", cmd_vocab},
    {"perplexity", "perplexity of a GPT-2 model on a text file (strided sliding window)", cmd_perplexity},
    {"privacy", "epsilon spent by DP-SGD (or the noise multiplier for a budget), as Opacus' RDP accountant", cmd_privacy},
    {NULL, NULL, NULL},
};

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void usage(FILE *out) {
    fprintf(out, "usage: verto <command> [options]   (verto <command> --help for its options)\n"
                 "       verto --version                  (versions, CPU and instruction sets in use)\n\ncommands:\n");
    for (const vt_cli_command *c = COMMANDS; c->name; c++) fprintf(out, "  %-22s %s\n", c->name, c->summary);
}

int main(int argc, char **argv) {
    if (!vt_cpu_supported())
        return cli_fail("this CPU lacks AVX2 or FMA, which this build of verto needs (x86-64 from 2013 on: Intel Haswell, "
                        "AMD Excavator or newer)");
    if (vt_isa_check_env() != VT_OK) return cli_fail("%s", vt_last_error());
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (const vt_cli_command *c = COMMANDS; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
    return cli_fail("unknown command '%s' (see verto --help)", argv[1]);
}
