#include "text/wordpiece.h"

#include <stdlib.h>

vt_status vt_pieces_push(vt_pieces *p, int32_t id, int32_t start, int32_t end) {
    if (p->n == p->cap) {
        int64_t cap = p->cap ? (int64_t)p->cap * 2 : 64;
        if (cap > INT32_MAX) return vt_error(VT_ERR_NOMEM, "tokenizer: more than 2^31 tokens");
        int32_t **arrs[] = {&p->id, &p->start, &p->end, &p->word};
        for (size_t i = 0; i < sizeof arrs / sizeof *arrs; i++) {
            int32_t *a = realloc(*arrs[i], (size_t)cap * sizeof(int32_t));
            if (!a) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory for %lld tokens", (long long)cap);
            *arrs[i] = a;
        }
        p->cap = (int32_t)cap;
    }
    p->id[p->n] = id;
    p->start[p->n] = start;
    p->end[p->n] = end;
    p->word[p->n] = -1;
    p->n++;
    return VT_OK;
}

void vt_pieces_free(vt_pieces *p) {
    free(p->id);
    free(p->start);
    free(p->end);
    free(p->word);
    p->id = p->start = p->end = p->word = NULL;
    p->n = p->cap = 0;
}

vt_status vt_wp_cut(const vt_wp_vocab *v, int32_t unk_id, int32_t max_chars, const vt_word *w, vt_pieces *out) {
    const char *s = w->s;
    int32_t len = w->len, first = out->n;
    if (w->nchars <= max_chars) {
        int32_t start = 0;
        while (start < len) {
            bool cont = start > 0;
            /* no token is longer than the longest in the vocabulary */
            int32_t lim = cont ? v->max_cont_len : v->max_len;
            int32_t end = len - start > lim ? start + lim : len;
            while (end < len && end > start && ((unsigned char)s[end] & 0xC0) == 0x80) end--;
            int32_t id = -1;
            while (end > start) {
                id = vt_wp_vocab_lookup(v, cont, s + start, (size_t)(end - start));
                if (id >= 0) break;
                do end--; while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80);
            }
            if (id < 0) break;
            vt_status st = vt_pieces_push(out, id, w->ostart[start], w->oend[end - 1]);
            if (st != VT_OK) return st;
            start = end;
        }
        if (start == len) return VT_OK;
        out->n = first;
    }
    return vt_pieces_push(out, unk_id, w->ostart[0], w->oend[len - 1]);
}
