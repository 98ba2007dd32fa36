/* tokenizers' Unigram model (models/unigram/model.rs): encode_optimized's
 * Viterbi pass (the path encode takes without sampling) and tokenize's
 * mapping of the resulting strings to ids. Ties keep the first candidate
 * found: positions are visited left to right, and a later candidate
 * replaces the best path into a position only when strictly better. */
#include "text/unigram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A byte trie over the vocabulary: nodes numbered from 1 (0 is the root),
 * edges in an open-addressing table keyed by (node, byte). */
typedef struct edge {
    uint64_t key; /* node << 8 | byte, EMPTY_KEY: unused */
    int32_t child;
} edge;

#define EMPTY_KEY UINT64_MAX
#define UNK_PENALTY 10.0 /* SentencePiece's kUnkPenalty */

struct vt_unigram {
    const vt_wp_vocab *vocab;
    double *scores;
    double unk_score;
    int32_t unk_id;
    bool byte_fallback;
    int32_t byte_id[256];
    int32_t *node_tok; /* (n_nodes) the token a node spells, or -1 */
    int32_t n_nodes;
    int32_t root[256]; /* the root's children, or -1 */
    edge *edges;
    uint32_t mask, shift;
};

static inline uint32_t edge_slot(const vt_unigram *m, uint64_t key) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> m->shift);
}

static inline int32_t child_of(const vt_unigram *m, int32_t node, unsigned char b) {
    if (node == 0) return m->root[b];
    uint64_t key = (uint64_t)node << 8 | b;
    for (uint32_t i = edge_slot(m, key);; i = (i + 1) & m->mask) {
        if (m->edges[i].key == key) return m->edges[i].child;
        if (m->edges[i].key == EMPTY_KEY) return -1;
    }
}

void vt_unigram_free(vt_unigram *m) {
    if (!m) return;
    free(m->scores);
    free(m->node_tok);
    free(m->edges);
    free(m);
}

static vt_status build_trie(vt_unigram *m, const char *label) {
    const vt_wp_vocab *v = m->vocab;
    uint64_t total = 1;
    for (int32_t id = 0; id < v->n; id++) total += (uint64_t)v->tok_len[id];
    if (total > INT32_MAX / 2) return vt_error(VT_ERR_FORMAT, "%s: vocabulary too large for a trie", label);
    uint64_t cap = 16;
    while (cap < total * 2) cap *= 2;
    int bits = 0;
    while ((1ull << bits) < cap) bits++;
    m->mask = (uint32_t)(cap - 1);
    m->shift = (uint32_t)(64 - bits);
    m->edges = malloc(cap * sizeof *m->edges);
    m->node_tok = malloc(total * sizeof(int32_t));
    if (!m->edges || !m->node_tok) return vt_error(VT_ERR_NOMEM, "%s: out of memory for the vocabulary trie", label);
    for (uint64_t i = 0; i < cap; i++) m->edges[i].key = EMPTY_KEY;
    for (int b = 0; b < 256; b++) m->root[b] = -1;
    m->node_tok[0] = -1;
    m->n_nodes = 1;
    for (int32_t id = 0; id < v->n; id++) {
        const unsigned char *t = (const unsigned char *)v->arena + v->tok_off[id];
        int32_t len = v->tok_len[id], node = 0;
        if (len == 0) continue; /* the empty token never matches (tokenizers' trie never yields it) */
        for (int32_t k = 0; k < len; k++) {
            int32_t c = child_of(m, node, t[k]);
            if (c < 0) {
                c = m->n_nodes++;
                m->node_tok[c] = -1;
                if (node == 0) {
                    m->root[t[k]] = c;
                } else {
                    uint64_t key = (uint64_t)node << 8 | t[k];
                    uint32_t i = edge_slot(m, key);
                    while (m->edges[i].key != EMPTY_KEY) i = (i + 1) & m->mask;
                    m->edges[i] = (edge){key, c};
                }
            }
            node = c;
        }
        /* the id tokenizers finds for this string: with duplicates, the vocabulary's choice */
        m->node_tok[node] = vt_wp_vocab_id(v, (const char *)t, (size_t)len);
    }
    return VT_OK;
}

vt_unigram *vt_unigram_new(const vt_wp_vocab *vocab, const double *scores, int32_t unk_id, bool byte_fallback,
                           const char *label) {
    if (!label) label = "unigram";
    if (!vocab || (!scores && vocab->n > 0)) {
        vt_error(VT_ERR_INVALID_ARG, "%s: NULL vocabulary or scores", label);
        return NULL;
    }
    if (vocab->n < 1) {
        vt_error(VT_ERR_FORMAT, "%s: model.vocab: empty, but a Unigram model needs at least its unk token", label);
        return NULL;
    }
    if (unk_id < 0 || unk_id >= vocab->n) {
        vt_error(VT_ERR_FORMAT, "%s: model.unk_id: %d is not an id of the vocabulary (%d tokens)", label, unk_id,
                 vocab->n);
        return NULL;
    }
    vt_unigram *m = calloc(1, sizeof *m);
    if (!m || !(m->scores = malloc((size_t)vocab->n * sizeof(double)))) {
        vt_unigram_free(m);
        vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
        return NULL;
    }
    m->vocab = vocab;
    m->unk_id = unk_id;
    m->byte_fallback = byte_fallback;
    double min_score = INFINITY;
    for (int32_t i = 0; i < vocab->n; i++) {
        m->scores[i] = scores[i];
        if (scores[i] < min_score) min_score = scores[i];
    }
    m->unk_score = min_score - UNK_PENALTY;
    for (int b = 0; b < 256; b++) {
        static const char hex[] = "0123456789ABCDEF";
        char t[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        m->byte_id[b] = vt_wp_vocab_id(vocab, t, 6);
    }
    if (build_trie(m, label) != VT_OK) {
        vt_unigram_free(m);
        return NULL;
    }
    return m;
}

/* The best path into each byte position: its score, where its last piece starts, and that piece's id. */
typedef struct best {
    double score;
    int32_t from, id; /* from -1: not reached */
} best;

#define STACK_POS 256

/* Appends a fused run of unknown characters [a, b) as tokenize does: the
 * string's own id if the vocabulary has it, else its bytes' <0xXX> tokens
 * (each spanning the whole run) with byte fallback, else unk. */
static vt_status push_unk_run(const vt_unigram *m, const vt_word *w, int32_t a, int32_t b, vt_pieces *out) {
    int32_t id = vt_wp_vocab_id(m->vocab, w->s + a, (size_t)(b - a));
    if (id >= 0) return vt_pieces_push(out, id, a, b);
    if (m->byte_fallback) {
        bool all = true;
        for (int32_t k = a; k < b && all; k++) all = m->byte_id[(unsigned char)w->s[k]] >= 0;
        if (all) {
            for (int32_t k = a; k < b; k++) {
                vt_status st = vt_pieces_push(out, m->byte_id[(unsigned char)w->s[k]], a, b);
                if (st != VT_OK) return st;
            }
            return VT_OK;
        }
    }
    return vt_pieces_push(out, m->unk_id, a, b);
}

/* Reverses pieces [from, to) of p in place. */
static void reverse_pieces(vt_pieces *p, int32_t from, int32_t to) {
    for (int32_t i = from, j = to - 1; i < j; i++, j--) {
        int32_t t = p->id[i]; p->id[i] = p->id[j]; p->id[j] = t;
        t = p->start[i]; p->start[i] = p->start[j]; p->start[j] = t;
        t = p->end[i]; p->end[i] = p->end[j]; p->end[j] = t;
    }
}

static void viterbi(const vt_unigram *m, const vt_word *w, best *bp) {
    const unsigned char *s = (const unsigned char *)w->s;
    int32_t size = w->len;
    for (int32_t i = 0; i <= size; i++) bp[i] = (best){0.0, -1, 0};
    for (int32_t at = 0; at < size;) {
        int32_t mblen = 1; /* one character: a byte and its continuation bytes */
        while (at + mblen < size && (s[at + mblen] & 0xC0) == 0x80) mblen++;
        double here = bp[at].score;
        bool single = false;
        int32_t node = 0;
        for (int32_t k = at; k < size; k++) {
            node = child_of(m, node, s[k]);
            if (node < 0) break;
            int32_t id = m->node_tok[node];
            if (id < 0) continue;
            best *t = &bp[k + 1];
            double cand = m->scores[id] + here;
            if (t->from < 0 || cand > t->score) *t = (best){cand, at, id};
            if (k + 1 - at == mblen) single = true;
        }
        if (!single) {
            best *t = &bp[at + mblen];
            double cand = m->unk_score + here;
            if (t->from < 0 || cand > t->score) *t = (best){cand, at, m->unk_id};
        }
        at += mblen;
    }
}

/* Walks the best path back from the end, fusing runs of unk, and appends
 * the pieces (byte ranges of w) in order. */
static vt_status backtrack(const vt_unigram *m, const vt_word *w, const best *bp, vt_pieces *out) {
    int32_t first = out->n, end = w->len, unk_end = -1;
    vt_status st = VT_OK;
    while (end > 0 && st == VT_OK) {
        const best *b = &bp[end];
        if (b->from < 0 || b->from >= end) return vt_error(VT_ERR_STATE, "unigram: no path through the word");
        if (b->id == m->unk_id) {
            if (unk_end < 0) unk_end = end;
        } else {
            if (unk_end >= 0) {
                int32_t n0 = out->n;
                st = push_unk_run(m, w, end, unk_end, out);
                reverse_pieces(out, n0, out->n); /* reversed again with the rest below */
                unk_end = -1;
            }
            if (st == VT_OK) st = vt_pieces_push(out, b->id, b->from, end);
        }
        end = b->from;
    }
    if (st == VT_OK && unk_end >= 0) {
        int32_t n0 = out->n;
        st = push_unk_run(m, w, 0, unk_end, out);
        reverse_pieces(out, n0, out->n);
    }
    if (st != VT_OK) {
        out->n = first;
        return st;
    }
    reverse_pieces(out, first, out->n);
    return VT_OK;
}

vt_status vt_unigram_tokenize(const vt_unigram *m, const vt_word *w, vt_word_cache *cache, vt_pieces *out) {
    if (w->len <= 0) return VT_OK;
    if (vt_word_cache_get(cache, w, out)) return VT_OK;
    best stack_bp[STACK_POS + 1], *bp = stack_bp;
    if (w->len > STACK_POS) {
        bp = malloc(((size_t)w->len + 1) * sizeof *bp);
        if (!bp) return vt_error(VT_ERR_NOMEM, "unigram: out of memory for a word of %d bytes", w->len);
    }
    viterbi(m, w, bp);
    int32_t first = out->n;
    vt_status st = backtrack(m, w, bp, out);
    if (bp != stack_bp) free(bp);
    if (st != VT_OK) return st;
    vt_word_cache_put(cache, w, out, first);
    vt_word_pieces_to_original(w, out, first);
    return VT_OK;
}
