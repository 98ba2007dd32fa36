/* Reading text inputs (see text_input.h). */
#include "cli/text_input.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vt_status push(cli_lines *l, const char *text, size_t len, size_t *cap) {
    if (l->n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **t = realloc(l->text, c * sizeof *t);
        if (t) l->text = t;
        size_t *n = realloc(l->len, c * sizeof *n);
        if (n) l->len = n;
        if (!t || !n) return vt_error(VT_ERR_NOMEM, "out of memory reading input");
        *cap = c;
    }
    char *copy = malloc(len + 1);
    if (!copy) return vt_error(VT_ERR_NOMEM, "out of memory reading input");
    memcpy(copy, text, len);
    copy[len] = '\0';
    l->text[l->n] = copy;
    l->len[l->n++] = len;
    return VT_OK;
}

vt_status cli_lines_read(const char *path, char **args, int n_args, cli_lines *out) {
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    vt_status st = VT_OK;
    if (n_args > 0) {
        for (int i = 0; i < n_args && st == VT_OK; i++) st = push(out, args[i], strlen(args[i]), &cap);
        return st;
    }
    bool is_stdin = !path || !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return vt_error(VT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    while (st == VT_OK && (n = getline(&line, &line_cap, f)) >= 0) {
        if (n && line[n - 1] == '\n') n--;
        if (n && line[n - 1] == '\r') n--;
        st = push(out, line, (size_t)n, &cap);
    }
    if (st == VT_OK && ferror(f)) st = vt_error(VT_ERR_IO, "error reading %s: %s", is_stdin ? "stdin" : path, strerror(errno));
    free(line);
    if (!is_stdin) fclose(f);
    return st;
}

void cli_lines_free(cli_lines *l) {
    for (size_t i = 0; i < l->n; i++) free(l->text[i]);
    free(l->text);
    free(l->len);
    memset(l, 0, sizeof *l);
}

vt_text_input *cli_lines_inputs(const cli_lines *l) {
    vt_text_input *in = malloc((l->n ? l->n : 1) * sizeof *in);
    for (size_t i = 0; in && i < l->n; i++) in[i] = (vt_text_input){l->text[i], l->len[i], NULL, 0};
    return in;
}
