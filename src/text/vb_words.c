/* Vocabulary builder, part 1: counting the normalized words of a corpus. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/vb_internal.h"
#include "core/hash.h"

void vt_vb_options_default(vt_vb_options *o) {
    o->vocab_size = 30522;
    o->min_frequency = 2;
    o->limit_alphabet = 1000;
    vt_tok_options_default(&o->text);
    o->kind = VT_VB_WORDPIECE;
    o->special_tokens = NULL;
    o->n_special_tokens = 0;
}

/* Byte-level BPE's own checks, and its special tokens copied into b. */
static vt_status take_specials(vt_vocab_builder *b, const vt_vb_options *o) {
    if (o->kind != VT_VB_WORDPIECE && o->kind != VT_VB_BYTE_LEVEL_BPE)
        return vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: unknown kind %d", (int)o->kind);
    if (o->kind == VT_VB_WORDPIECE) return VT_OK;
    if (o->n_special_tokens < 0 || (o->n_special_tokens > 0 && !o->special_tokens))
        return vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: bad special token list");
    int64_t need = 256 + (int64_t)o->n_special_tokens;
    if (o->vocab_size < need)
        return vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: vocab_size %d is below the 256 byte characters "
                        "plus %d special token%s (%lld)", o->vocab_size, o->n_special_tokens,
                        o->n_special_tokens == 1 ? "" : "s", (long long)need);
    b->specials = calloc((size_t)o->n_special_tokens + 1, sizeof *b->specials);
    if (!b->specials) return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
    for (int32_t i = 0; i < o->n_special_tokens; i++) {
        if (!o->special_tokens[i] || !o->special_tokens[i][0])
            return vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: special token %d is empty", i + 1);
        if (!(b->specials[i] = strdup(o->special_tokens[i])))
            return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
    }
    b->opt.special_tokens = (const char *const *)b->specials;
    return VT_OK;
}

vt_vocab_builder *vt_vb_create(const vt_vb_options *o) {
    vt_vb_options def;
    if (!o) {
        vt_vb_options_default(&def);
        o = &def;
    }
    if (o->vocab_size < VT_VB_N_SPECIAL || o->min_frequency < 0 || o->limit_alphabet < 0) {
        vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: vocab_size must be >= %d, min_frequency and "
                                     "limit_alphabet >= 0", VT_VB_N_SPECIAL);
        return NULL;
    }
    vt_vocab_builder *b = calloc(1, sizeof *b);
    if (!b) {
        vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
        return NULL;
    }
    b->opt = *o;
    b->opt.special_tokens = NULL;
    b->opt.n_special_tokens = o->kind == VT_VB_BYTE_LEVEL_BPE ? o->n_special_tokens : 0;
    if (take_specials(b, o) != VT_OK) {
        vt_vb_free(b);
        return NULL;
    }
    b->cfg.lowercase = o->text.lowercase;
    b->cfg.strip_accents = o->text.strip_accents < 0 ? o->text.lowercase : o->text.strip_accents != 0;
    b->cfg.chinese = o->text.tokenize_chinese_chars;
    return b;
}

void vt_vb_free(vt_vocab_builder *b) {
    if (!b) return;
    free(b->arena);
    free(b->w_off);
    free(b->w_len);
    free(b->w_count);
    free(b->slot);
    vt_pretok_buf_free(&b->pb);
    for (int32_t i = 0; b->specials && i < b->opt.n_special_tokens; i++) free(b->specials[i]);
    free(b->specials);
    free(b);
}

static uint64_t hash_bytes(const char *s, size_t n) { return vt_fnv1a64(VT_FNV64_INIT, s, n); }

static vt_status rehash(vt_vocab_builder *b) {
    size_t cap = b->slot_cap ? b->slot_cap * 2 : 1024;
    int64_t *slot = malloc(cap * sizeof *slot);
    if (!slot) return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
    memset(slot, 0xFF, cap * sizeof *slot);
    for (size_t w = 0; w < b->n_words; w++) {
        size_t i = hash_bytes(b->arena + b->w_off[w], b->w_len[w]) & (cap - 1);
        while (slot[i] >= 0) i = (i + 1) & (cap - 1);
        slot[i] = (int64_t)w;
    }
    free(b->slot);
    b->slot = slot;
    b->slot_cap = cap;
    return VT_OK;
}

vt_status vt_vb_count_word(void *ud, const vt_word *w) {
    vt_vocab_builder *b = ud;
    if ((b->n_words + 1) * 2 > b->slot_cap && rehash(b) != VT_OK) return VT_ERR_NOMEM;
    size_t mask = b->slot_cap - 1, i = hash_bytes(w->s, (size_t)w->len) & mask;
    for (; b->slot[i] >= 0; i = (i + 1) & mask) {
        size_t k = (size_t)b->slot[i];
        if (b->w_len[k] == w->len && !memcmp(b->arena + b->w_off[k], w->s, (size_t)w->len)) {
            b->w_count[k]++;
            b->total++;
            return VT_OK;
        }
    }
    if (b->n_words == b->w_cap) {
        size_t cap = b->w_cap ? b->w_cap * 2 : 1024;
        size_t *off = realloc(b->w_off, cap * sizeof *off);
        if (off) b->w_off = off;
        int32_t *len = off ? realloc(b->w_len, cap * sizeof *len) : NULL;
        if (len) b->w_len = len;
        int64_t *cnt = len ? realloc(b->w_count, cap * sizeof *cnt) : NULL;
        if (!cnt) return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory for %zu words", cap);
        b->w_count = cnt;
        b->w_cap = cap;
    }
    if (b->arena_len + (size_t)w->len > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap * 2 : 1 << 16;
        while (cap < b->arena_len + (size_t)w->len) cap *= 2;
        char *a = realloc(b->arena, cap);
        if (!a) return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory for words");
        b->arena = a;
        b->arena_cap = cap;
    }
    memcpy(b->arena + b->arena_len, w->s, (size_t)w->len);
    b->w_off[b->n_words] = b->arena_len;
    b->w_len[b->n_words] = w->len;
    b->w_count[b->n_words] = 1;
    b->slot[i] = (int64_t)b->n_words;
    b->arena_len += (size_t)w->len;
    b->n_words++;
    b->total++;
    return VT_OK;
}

vt_status vt_vb_add_text(vt_vocab_builder *b, const char *text, size_t len) {
    if (!b || (!text && len)) return vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: NULL argument");
    if (b->opt.kind == VT_VB_BYTE_LEVEL_BPE) {
        if (!b->label) b->line = 0; /* lines of this text alone */
        return vt_vb_add_lines_bpe(b, text, len);
    }
    /* pieces below 2 GiB (offsets are int32); split at a line break when possible */
    while (len > 0) {
        size_t n = len;
        if (n > ((size_t)1 << 30)) {
            n = (size_t)1 << 30;
            const char *nl = memrchr(text, '\n', n);
            if (nl) n = (size_t)(nl - text) + 1;
        }
        vt_status st = vt_pretok_run(&b->cfg, text, n, 0, &b->pb, vt_vb_count_word, b);
        if (st != VT_OK) return st;
        text += n;
        len -= n;
    }
    return VT_OK;
}

vt_status vt_vb_add_file(vt_vocab_builder *b, const char *path) {
    if (!b || !path) return vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return vt_error(VT_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 20, have = 0;
    char *buf = malloc(cap);
    b->label = path, b->line = 0;
    vt_status st = buf ? VT_OK : vt_error(VT_ERR_NOMEM, "%s: out of memory", path);
    while (st == VT_OK) {
        if (have == cap) { /* a line longer than the buffer */
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = vt_error(VT_ERR_NOMEM, "%s: out of memory for a long line", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + have, 1, cap - have, f);
        if (got == 0) {
            if (ferror(f)) st = vt_error(VT_ERR_IO, "%s: read error", path);
            else st = vt_vb_add_text(b, buf, have);
            break;
        }
        have += got;
        const char *nl = memrchr(buf, '\n', have);
        if (!nl) continue;
        size_t n = (size_t)(nl - buf) + 1;
        st = vt_vb_add_text(b, buf, n);
        memmove(buf, buf + n, have - n);
        have -= n;
    }
    free(buf);
    fclose(f);
    b->label = NULL;
    return st;
}

size_t vt_vb_distinct_words(const vt_vocab_builder *b) { return b ? b->n_words : 0; }
int64_t vt_vb_total_words(const vt_vocab_builder *b) { return b ? b->total : 0; }
