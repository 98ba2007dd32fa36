/* Reading text inputs: the lines of a file or standard input, or arguments. */
#ifndef VERTO_CLI_TEXT_INPUT_H
#define VERTO_CLI_TEXT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/dataset.h"
#include "verto/error.h"
#include "verto/task.h"

typedef struct cli_lines {
    char **text;   /* (n) NUL-terminated, owned */
    size_t *len;   /* (n) */
    size_t n;
} cli_lines;

/* Lines of `path` ("-" or NULL: stdin), or the `n_args` arguments when given.
 * Errors name the file. */
vt_status cli_lines_read(const char *path, char **args, int n_args, cli_lines *out);
void cli_lines_free(cli_lines *l);

/* The lines as task inputs (malloc'd, l->n of them; NULL when out of memory). */
vt_text_input *cli_lines_inputs(const cli_lines *l);

/* A command's inputs: the JSONL objects of `path` ({"text", "text_b"} or the
 * keys given; jsonl) or its lines / the arguments (cli_lines_read), all read
 * and checked before anything runs. */
typedef struct cli_inputs {
    vt_text_input *in; /* (n) views into lines or rows */
    size_t n;
    cli_lines lines;   /* the lines' form */
    vt_labelled rows;  /* the JSONL form */
} cli_inputs;
vt_status cli_inputs_read(const char *path, bool jsonl, const char *text_col, const char *text_b_col, char **args,
                          int n_args, cli_inputs *out);
void cli_inputs_free(cli_inputs *x);

#endif
