/* tokenizers' BPE model (models/bpe/model.rs merge_word, word.rs merge_all):
 * one symbol per character, then merges applied from a min-heap ordered by
 * (rank, position); a popped entry is skipped when its left symbol is gone,
 * has nothing to its right, or the pair there now merges into another id. */
#include "text/bpe.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

/* One merge: the pair (left id, right id) packed in key, its rank and result. */
typedef struct merge_slot {
    uint64_t key; /* EMPTY_KEY: unused */
    uint32_t rank;
    int32_t new_id;
} merge_slot;

#define EMPTY_KEY UINT64_MAX

struct vt_bpe {
    const vt_wp_vocab *vocab;
    vt_bpe_options o;
    char *prefix, *suffix; /* "" when absent */
    int32_t prefix_len, suffix_len;
    int32_t byte_id[256];  /* id of "<0xXX>", -1 if absent */
    merge_slot *merges;
    uint32_t mask, shift;
    int32_t *rank_new_id;  /* (n_merges) what merge rank r makes */
    uint32_t n_merges;
};

static inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static inline uint32_t slot_of(const vt_bpe *m, uint64_t key) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> m->shift);
}

static inline const merge_slot *find_merge(const vt_bpe *m, int32_t a, int32_t b) {
    uint64_t key = pair_key(a, b);
    for (uint32_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        const merge_slot *s = &m->merges[i];
        if (s->key == key) return s;
        if (s->key == EMPTY_KEY) return NULL;
    }
}

void vt_bpe_free(vt_bpe *m) {
    if (!m) return;
    free(m->prefix);
    free(m->suffix);
    free(m->merges);
    free(m->rank_new_id);
    free(m);
}

static char *dup_or_empty(const char *s, int32_t *len) {
    size_t n = s ? strlen(s) : 0;
    char *d = n < INT32_MAX ? malloc(n + 1) : NULL;
    if (d) {
        memcpy(d, s ? s : "", n);
        d[n] = '\0';
        *len = (int32_t)n;
    }
    return d;
}

/* The merge map, as the builder makes it: merge i of (a, b) maps the pair of
 * their ids to (i, id of a followed by b without the prefix's length of
 * bytes); a later duplicate of a pair replaces the earlier. */
static vt_status build_merges(vt_bpe *m, const char *const *left, const char *const *right, size_t n,
                              const char *label) {
    if (n > INT32_MAX) return vt_error(VT_ERR_FORMAT, "%s: model.merges: more than %d merges", label, INT32_MAX);
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2) cap *= 2;
    int bits = 0;
    while ((1ull << bits) < cap) bits++;
    m->mask = (uint32_t)(cap - 1);
    m->shift = (uint32_t)(64 - bits);
    m->merges = malloc(cap * sizeof *m->merges);
    m->rank_new_id = malloc((n ? n : 1) * sizeof(int32_t));
    if (!m->merges || !m->rank_new_id) return vt_error(VT_ERR_NOMEM, "%s: out of memory for %zu merges", label, n);
    for (uint64_t i = 0; i < cap; i++) m->merges[i].key = EMPTY_KEY;
    char *buf = NULL;
    size_t buf_cap = 0;
    vt_status st = VT_OK;
    for (size_t i = 0; i < n && st == VT_OK; i++) {
        if (!left || !right || !left[i] || !right[i]) {
            st = vt_error(VT_ERR_FORMAT, "%s: model.merges[%zu]: missing side", label, i);
            break;
        }
        size_t la = strlen(left[i]), lb = strlen(right[i]);
        int32_t a = vt_wp_vocab_id(m->vocab, left[i], la), b = vt_wp_vocab_id(m->vocab, right[i], lb);
        if (a < 0 || b < 0) {
            st = vt_error(VT_ERR_FORMAT, "%s: model.merges[%zu]: token \"%s\" is not in the vocabulary", label, i,
                          a < 0 ? left[i] : right[i]);
            break;
        }
        /* tokenizers drops the prefix's length from the right side whether it is there or not */
        if (lb < (size_t)m->prefix_len) {
            st = vt_error(VT_ERR_FORMAT, "%s: model.merges[%zu]: \"%s\" is shorter than the continuing_subword_prefix",
                          label, i, right[i]);
            break;
        }
        size_t len = la + lb - (size_t)m->prefix_len;
        if (len + 1 > buf_cap) {
            buf_cap = (len + 1) * 2;
            char *nb = realloc(buf, buf_cap);
            if (!nb) {
                st = vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
                break;
            }
            buf = nb;
        }
        memcpy(buf, left[i], la);
        memcpy(buf + la, right[i] + m->prefix_len, lb - (size_t)m->prefix_len);
        buf[len] = '\0';
        int32_t id = vt_wp_vocab_id(m->vocab, buf, len);
        if (id < 0) {
            st = vt_error(VT_ERR_FORMAT, "%s: model.merges[%zu]: the merged token \"%s\" is not in the vocabulary",
                          label, i, buf);
            break;
        }
        uint64_t key = pair_key(a, b);
        uint32_t s = slot_of(m, key);
        while (m->merges[s].key != EMPTY_KEY && m->merges[s].key != key) s = (s + 1) & m->mask;
        m->merges[s] = (merge_slot){key, (uint32_t)i, id};
        m->rank_new_id[i] = id;
    }
    free(buf);
    m->n_merges = (uint32_t)n;
    return st;
}

vt_bpe *vt_bpe_new(const vt_wp_vocab *vocab, const char *const *left, const char *const *right, size_t n,
                   const vt_bpe_options *o, const char *label) {
    if (!label) label = "bpe";
    if (!vocab || !o) {
        vt_error(VT_ERR_INVALID_ARG, "%s: NULL vocabulary or options", label);
        return NULL;
    }
    if (o->unk_id < -1 || o->unk_id >= vocab->n) {
        vt_error(VT_ERR_FORMAT, "%s: model.unk_token: id %d is not in the vocabulary (%d tokens)", label, o->unk_id,
                 vocab->n);
        return NULL;
    }
    vt_bpe *m = calloc(1, sizeof *m);
    if (!m || !(m->prefix = dup_or_empty(o->continuing_subword_prefix, &m->prefix_len)) ||
        !(m->suffix = dup_or_empty(o->end_of_word_suffix, &m->suffix_len))) {
        vt_bpe_free(m);
        vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
        return NULL;
    }
    m->vocab = vocab;
    m->o = *o;
    m->o.continuing_subword_prefix = m->prefix;
    m->o.end_of_word_suffix = m->suffix;
    for (int b = 0; b < 256; b++) {
        static const char hex[] = "0123456789ABCDEF";
        char t[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        m->byte_id[b] = vt_wp_vocab_id(vocab, t, 6);
    }
    if (build_merges(m, left, right, n, label) != VT_OK) {
        vt_bpe_free(m);
        return NULL;
    }
    return m;
}

/* ---- one word ---- */

typedef struct sym {
    int32_t id, prev, next, len; /* len 0: merged into its left neighbour */
} sym;

/* Scratch for one word: on the stack for ordinary words, else malloc'd. */
#define STACK_SYMS 256
typedef struct scratch {
    sym *s;
    uint64_t *heap; /* (rank << 32 | position), a min-heap */
    char *buf;      /* prefix + character + suffix */
    int32_t n, nheap;
    sym s_stack[STACK_SYMS];
    uint64_t heap_stack[3 * STACK_SYMS];
    char buf_stack[256];
    void *owned;
} scratch;

static void add_sym(scratch *w, int32_t id, int32_t len) {
    sym *s = &w->s[w->n];
    s->id = id;
    s->len = len;
    s->prev = w->n - 1;
    s->next = -1;
    if (w->n > 0) w->s[w->n - 1].next = w->n;
    w->n++;
}

static void heap_push(scratch *w, uint64_t v) {
    uint64_t *h = w->heap;
    int32_t i = w->nheap++;
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(scratch *w) {
    uint64_t *h = w->heap;
    uint64_t top = h[0], v = h[--w->nheap];
    int32_t n = w->nheap, i = 0;
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (v <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0) h[i] = v;
    return top;
}

static void push_pair(const vt_bpe *m, scratch *w, int32_t pos) {
    const merge_slot *g = find_merge(m, w->s[pos].id, w->s[w->s[pos].next].id);
    if (g) heap_push(w, (uint64_t)g->rank << 32 | (uint32_t)pos);
}

static void merge_all(const vt_bpe *m, scratch *w) {
    sym *s = w->s;
    w->nheap = 0;
    for (int32_t i = 0; i + 1 < w->n; i++) push_pair(m, w, i);
    while (w->nheap > 0) {
        uint64_t top = heap_pop(w);
        int32_t pos = (int32_t)(uint32_t)top, new_id = m->rank_new_id[top >> 32];
        if (s[pos].len == 0 || s[pos].next < 0) continue;
        int32_t nx = s[pos].next;
        /* an entry whose pair has changed since: only the resulting id is compared, as tokenizers does */
        const merge_slot *g = find_merge(m, s[pos].id, s[nx].id);
        if (!g || g->new_id != new_id) continue;
        s[pos].id = new_id;
        s[pos].len += s[nx].len;
        s[pos].next = s[nx].next;
        s[nx].len = 0;
        if (s[pos].next >= 0) s[s[pos].next].prev = pos;
        if (s[pos].prev >= 0) push_pair(m, w, s[pos].prev);
        if (s[pos].next >= 0) push_pair(m, w, pos);
    }
}

/* The id of (prefix unless first) + text[0..n) + (suffix if last), or -1. */
static int32_t char_id(const vt_bpe *m, scratch *w, const char *text, int32_t n, bool first, bool last,
                       int32_t *bytes) {
    bool pre = !first && m->prefix_len > 0, suf = last && m->suffix_len > 0;
    if (!pre && !suf) {
        *bytes = n;
        return vt_wp_vocab_id(m->vocab, text, (size_t)n);
    }
    int32_t k = 0;
    if (pre) memcpy(w->buf, m->prefix, (size_t)m->prefix_len), k = m->prefix_len;
    memcpy(w->buf + k, text, (size_t)n);
    k += n;
    if (suf) memcpy(w->buf + k, m->suffix, (size_t)m->suffix_len), k += m->suffix_len;
    *bytes = k;
    return vt_wp_vocab_id(m->vocab, w->buf, (size_t)k);
}

/* merge_word's first part: the word's initial symbols. */
static void initial_symbols(const vt_bpe *m, const vt_word *wd, scratch *w) {
    const char *t = wd->s;
    int32_t len = wd->len;
    bool unk = false;
    int32_t unk_len = 0;
    for (int32_t i = 0; i < len;) {
        int32_t e = i + 1; /* one character: a byte and its continuation bytes */
        while (e < len && ((unsigned char)t[e] & 0xC0) == 0x80) e++;
        int32_t byte_len = e - i, slen;
        int32_t id = char_id(m, w, t + i, byte_len, i == 0, e == len, &slen);
        if (id >= 0) {
            if (unk) add_sym(w, m->o.unk_id, unk_len), unk = false;
            add_sym(w, id, byte_len);
        } else {
            const char *sb = slen == byte_len ? t + i : w->buf;
            bool fell_back = m->o.byte_fallback;
            for (int32_t k = 0; k < slen && fell_back; k++) fell_back = m->byte_id[(unsigned char)sb[k]] >= 0;
            if (fell_back) {
                /* a pending unk stays pending: tokenizers adds it after these */
                for (int32_t k = 0; k < slen; k++) add_sym(w, m->byte_id[(unsigned char)sb[k]], 1);
            } else if (m->o.unk_id >= 0) {
                if (unk && m->o.fuse_unk) {
                    unk_len += byte_len;
                } else {
                    if (unk) add_sym(w, m->o.unk_id, unk_len);
                    unk = true;
                    unk_len = byte_len;
                }
            }
        }
        i = e;
    }
    if (unk) add_sym(w, m->o.unk_id, unk_len);
}

static vt_status scratch_init(const vt_bpe *m, const vt_word *wd, scratch *w) {
    /* byte fallback of a prefixed character yields a symbol per byte of the prefix too */
    int64_t max_syms = (int64_t)wd->len * (1 + m->prefix_len) + m->suffix_len + 1;
    int64_t buf_len = (int64_t)wd->len + m->prefix_len + m->suffix_len + 1;
    w->n = w->nheap = 0;
    w->owned = NULL;
    w->s = w->s_stack;
    w->heap = w->heap_stack;
    w->buf = w->buf_stack;
    if (max_syms <= STACK_SYMS && buf_len <= (int64_t)sizeof w->buf_stack) return VT_OK;
    if (max_syms > INT32_MAX / 4) return vt_error(VT_ERR_NOMEM, "bpe: word of %d bytes too long", wd->len);
    size_t bytes = (size_t)max_syms * (sizeof(sym) + 3 * sizeof(uint64_t)) + (size_t)buf_len;
    char *p = malloc(bytes);
    if (!p) return vt_error(VT_ERR_NOMEM, "bpe: out of memory for a word of %d bytes", wd->len);
    w->owned = p;
    w->heap = (uint64_t *)p;
    w->s = (sym *)(p + (size_t)max_syms * 3 * sizeof(uint64_t));
    w->buf = (char *)(w->s + max_syms);
    return VT_OK;
}

vt_status vt_bpe_tokenize(const vt_bpe *m, const vt_word *w, vt_word_cache *cache, vt_pieces *out) {
    if (w->len <= 0) return VT_OK;
    if (m->o.ignore_merges) {
        int32_t id = vt_wp_vocab_id(m->vocab, w->s, (size_t)w->len);
        if (id >= 0) return vt_pieces_push(out, id, w->ostart[0], w->oend[w->len - 1]);
    }
    if (vt_word_cache_get(cache, w, out)) return VT_OK;
    scratch sc;
    vt_status st = scratch_init(m, w, &sc);
    if (st != VT_OK) return st;
    initial_symbols(m, w, &sc);
    merge_all(m, &sc);
    int32_t first = out->n, at = 0;
    for (int32_t i = 0; i < sc.n && st == VT_OK; i++) {
        if (sc.s[i].len == 0) continue;
        st = vt_pieces_push(out, sc.s[i].id, at, at + sc.s[i].len);
        at += sc.s[i].len;
    }
    free(sc.owned);
    if (st != VT_OK) {
        out->n = first;
        return st;
    }
    vt_word_cache_put(cache, w, out, first);
    vt_word_pieces_to_original(w, out, first);
    return VT_OK;
}

const char *vt_bpe_continuing_prefix(const vt_bpe *m) { return m->prefix_len > 0 ? m->prefix : NULL; }
