/* The verto subcommands. Each takes the arguments after its name (argv[0] is
 * the subcommand name), prints its results, and returns the process exit
 * status: 0 on success, non-zero after printing one "error: ..." line. */
#ifndef VERTO_CLI_COMMANDS_H
#define VERTO_CLI_COMMANDS_H

#include <stdbool.h>

typedef int (*vt_cli_fn)(int argc, char **argv);

typedef struct vt_cli_command {
    const char *name;
    const char *summary; /* one line for `verto --help` */
    vt_cli_fn run;
} vt_cli_command;

int cmd_init(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_fill_mask(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
/* finetune --task causal-lm (finetune_causal_lm.c) and merge-lora. */
bool cli_wants_causal_lm(int argc, char **argv);
int cmd_finetune_causal_lm(int argc, char **argv);
int cmd_merge_lora(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_prepare_pretraining(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_auto(int argc, char **argv);
int cmd_privacy(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_generate(int argc, char **argv);
/* cmd_clm.c: GPT-2 pretraining (pretrain hands over when cli_pretrain_is_clm) and perplexity. */
bool cli_pretrain_is_clm(int argc, char **argv);
int cli_pretrain_clm(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);

/* Prints "error: <message>" to stderr and returns 1; for `return cli_fail(...)`. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
