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

vt_status cli_inputs_read(const char *path, bool jsonl, const char *text_col, const char *text_b_col, char **args,
                          int n_args, cli_inputs *out) {
    memset(out, 0, sizeof *out);
    if (!jsonl) {
        vt_status st = cli_lines_read(path, args, n_args, &out->lines);
        if (st == VT_OK && (out->n = out->lines.n) && !(out->in = cli_lines_inputs(&out->lines)))
            st = vt_error(VT_ERR_NOMEM, "out of memory for %zu inputs", out->n);
        return st;
    }
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.format = VT_DATA_JSONL;
    o.unlabelled = true;
    o.text_column = text_col;
    o.text_b_column = text_b_col;
    vt_status st = vt_labelled_load(path ? path : "-", &o, &out->rows);
    const vt_labelled *r = &out->rows;
    if (st == VT_OK && (out->n = r->n) && !(out->in = malloc(r->n * sizeof *out->in)))
        st = vt_error(VT_ERR_NOMEM, "out of memory for %zu inputs", r->n);
    for (size_t i = 0; st == VT_OK && i < out->n; i++)
        out->in[i] = (vt_text_input){r->text[i], r->text_len[i], r->text_b ? r->text_b[i] : NULL,
                                     r->text_b ? r->text_b_len[i] : 0};
    return st;
}

void cli_inputs_free(cli_inputs *x) {
    free(x->in);
    cli_lines_free(&x->lines);
    vt_labelled_free(&x->rows);
    memset(x, 0, sizeof *x);
}
