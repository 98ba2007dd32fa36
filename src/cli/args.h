/* A small long-option parser for the verto subcommands.
 *
 *   static cli_option OPTS[] = {
 *       {"--config", CLI_STRING, &config, "NAME", "tiny|mini|small|medium|base"},
 *       {"--seed", CLI_INT, &seed, "N", "random seed", 0, 1e18},
 *       {0}};
 *   int rc = cli_parse(argc, argv, OPTS, "verto init [options] -o DIR", &pos, &n_pos);
 *   if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
 *
 * Numbers are parsed with strtoll/strtod and range-checked; errors print one
 * "error: ..." line. "--opt=value" and "--opt value" both work. */
#ifndef VERTO_CLI_ARGS_H
#define VERTO_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/bert.h"

typedef enum cli_kind { CLI_FLAG, CLI_STRING, CLI_INT, CLI_FLOAT } cli_kind;

typedef struct cli_option {
    const char *name;    /* "--seed"; a second spelling may follow after '|': "-o|--output" */
    cli_kind kind;
    void *dest;          /* bool*, const char**, int64_t*, double* */
    const char *metavar; /* shown in --help, NULL for flags */
    const char *help;
    double min, max;     /* CLI_INT / CLI_FLOAT range (both 0: unbounded) */
} cli_option;

enum { CLI_CONTINUE = -1, CLI_HELP = -2 };

/* Parses argv[1..argc) (argv[0] is the subcommand). Non-option arguments are
 * collected in *positional (a malloc'd array the caller frees; may be NULL if
 * none are allowed). Returns CLI_CONTINUE, CLI_HELP after printing usage, or
 * 1 after printing an error. */
int cli_parse(int argc, char **argv, const cli_option *opts, const char *usage, char ***positional, int *n_positional);

/* The value of option `name` in argv ("--name VALUE" or "--name=VALUE"), or
 * NULL: how a command picks a variant before parsing its options. */
const char *cli_option_value(int argc, char **argv, const char *name);

/* Parses --precision (fp32, bf16 or int8) into *out. Returns 0, or 1 after printing
 * an error. For bf16 on a CPU without bf16 matrix instructions it notes on
 * stderr that the products are emulated (same arithmetic, no speed-up). */
int cli_precision(const char *name, vt_precision *out);
/* The same for a training command: fp32 or bf16 (int8 is inference only). */
int cli_train_precision(const char *name, vt_precision *out);
/* --precision's help where int8 is offered (the inference commands). */
#define CLI_PRECISION_HELP \
    "matrix products in fp32 (default), bf16 with f32 accumulation, or int8 (dense layers quantized on load; a " \
    "directory from verto quantize is always int8)"

/* Reads a whole stream line by line, calling fn for each line (without its
 * newline); stops at the first non-zero return, which it returns. */
int cli_for_each_line(FILE *in, int (*fn)(const char *line, size_t len, void *ctx), void *ctx);

#endif
