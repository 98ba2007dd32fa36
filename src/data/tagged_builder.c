/* The builder the tagged-data row readers fill: sentences, tokens in one
 * block of bytes, tag ids in a label table; a bad row drops its sentence
 * (see data/tagged_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "data/tagged_internal.h"

static vt_status nomem(const tagged_builder *b) { return vt_error(VT_ERR_NOMEM, "out of memory reading %s", b->name); }

/* Grows *arr (elements of `size` bytes) to hold `need`; *cap counts elements. */
static bool reserve(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

int tb_bad(tagged_builder *b, int64_t line, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!b->o->skip_bad_rows) return (int)vt_error(VT_ERR_FORMAT, "%s:%lld: %s", b->name, (long long)line, msg);
    vt_tagged *d = b->d;
    if (!b->open_bad && d->n_notes < VT_TAGGED_NOTES)
        snprintf(d->notes[d->n_notes++], sizeof d->notes[0], "%s:%lld: %s", b->name, (long long)line, msg);
    b->open_bad = true;
    return TB_SKIPPED;
}

vt_status tb_begin(tagged_builder *b, int64_t line) {
    size_t c1 = b->sent_cap; /* the arrays grow in step: each from the same capacity */
    if (!reserve((void **)&b->start, &c1, b->n_sent + 2, sizeof *b->start) ||
        !reserve((void **)&b->line, &b->sent_cap, b->n_sent + 2, sizeof *b->line))
        return nomem(b);
    b->start[b->n_sent] = b->n_tok;
    b->open = true;
    b->open_bad = false;
    b->open_line = line;
    return VT_OK;
}

vt_status tb_end(tagged_builder *b) {
    if (!b->open) return VT_OK;
    b->open = false;
    if (b->open_bad) { /* drop the sentence's tokens */
        b->d->n_skipped++;
        b->n_tok = b->start[b->n_sent];
        b->text_len = b->n_tok ? b->tok_off[b->n_tok - 1] + b->tok_len[b->n_tok - 1] + 1 : 0;
        return VT_OK;
    }
    b->line[b->n_sent++] = b->open_line;
    b->start[b->n_sent] = b->n_tok;
    return VT_OK;
}

/* UTF-8 without NUL, not empty; else a bad row naming `what`. */
static int check_text(tagged_builder *b, int64_t line, const char *what, const char *s, size_t len) {
    if (!len) return tb_bad(b, line, "empty %s", what);
    const char *nul = memchr(s, '\0', len);
    size_t bad = vt_utf8_invalid_at(s, nul ? (size_t)(nul - s) : len);
    if (bad == len) return TB_OK;
    if (s[bad] == '\0') return tb_bad(b, line, "NUL byte in a %s", what);
    return tb_bad(b, line, "invalid UTF-8 in a %s (byte 0x%02X)", what, (unsigned)(unsigned char)s[bad]);
}

/* Appends the token with tag id `id` (-1 when unlabelled). */
static int push_token(tagged_builder *b, const char *tok, size_t len, int32_t id) {
    size_t c1 = b->tok_cap, c2 = b->tok_cap; /* the arrays grow in step: each from the same capacity */
    if (!reserve((void **)&b->text, &b->text_cap, b->text_len + len + 1, 1) ||
        !reserve((void **)&b->tok_off, &c1, b->n_tok + 1, sizeof *b->tok_off) ||
        !reserve((void **)&b->tok_len, &c2, b->n_tok + 1, sizeof *b->tok_len) ||
        !reserve((void **)&b->tag, &b->tok_cap, b->n_tok + 1, sizeof *b->tag))
        return (int)nomem(b);
    memcpy(b->text + b->text_len, tok, len);
    b->text[b->text_len + len] = '\0';
    b->tok_off[b->n_tok] = b->text_len;
    b->tok_len[b->n_tok] = len;
    b->tag[b->n_tok++] = id;
    b->text_len += len + 1;
    return TB_OK;
}

int tb_token(tagged_builder *b, int64_t line, const char *tok, size_t len, const char *tag, size_t tag_len) {
    if (b->open_bad) return TB_SKIPPED; /* the sentence is dropped anyway */
    int r = check_text(b, line, "token", tok, len);
    if (r != TB_OK) return r;
    int32_t id = -1;
    if (tag) {
        if ((r = check_text(b, line, "tag", tag, tag_len)) != TB_OK) return r;
        id = vt_label_table_find(&b->labels, tag, tag_len);
        if (id < 0) {
            char shown[64], copy[64];
            size_t n = tag_len < sizeof copy - 1 ? tag_len : sizeof copy - 1;
            memcpy(copy, tag, n);
            copy[n] = '\0';
            vt_utf8_printable(copy, shown, sizeof shown);
            if (b->follow)
                return tb_bad(b, line, "tag '%s' is not in the label map (%d labels)", shown, b->o->num_labels);
            if (b->o->max_labels > 0 && b->labels.n >= (size_t)b->o->max_labels)
                return (int)vt_error(VT_ERR_FORMAT, "%s:%lld: tag '%s' makes more than %d distinct tags", b->name,
                                     (long long)line, shown, b->o->max_labels);
            if ((id = vt_label_table_add(&b->labels, tag, tag_len)) < 0) return (int)vt_last_status();
        }
    }
    return push_token(b, tok, len, id);
}

int tb_token_id(tagged_builder *b, int64_t line, const char *tok, size_t len, double id) {
    if (b->open_bad) return TB_SKIPPED;
    if (!b->follow) return tb_bad(b, line, "an integer tag needs a label map (id2label) to name it");
    if (!(id >= 0 && id < b->o->num_labels && id == (double)(int32_t)id))
        return tb_bad(b, line, "tag %.17g is not an id of the label map (0 .. %d)", id, b->o->num_labels - 1);
    int r = check_text(b, line, "token", tok, len);
    return r != TB_OK ? r : push_token(b, tok, len, (int32_t)id);
}

