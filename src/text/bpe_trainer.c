/* Byte-level BPE training (vt_vb_train_bpe), step for step as tokenizers'
 * BpeTrainer::do_train (tokenizers/src/models/bpe/trainer.rs, word.rs), so
 * that the vocabulary and the merges come out the same, order included:
 *
 * - ids: the special tokens (duplicates once), then the alphabet in code point
 *   order (here the 256 byte characters, ByteLevel.alphabet()), then each
 *   merge's result unless that text is already a token;
 * - a queue of entries (count, pair, the words to merge in), largest count
 *   first, ties to the smaller (left id, right id); an entry whose count is
 *   no longer the pair's is pushed back with the current count;
 * - a merge rewrites only the words its entry lists, left to right, and
 *   reports for each occurrence -1 for (prev, left) and (right, next) and +1
 *   for (prev, new) and (new, next); the merged pair's own count is left as
 *   it was. Each pair that gained gets a new entry with the words where it
 *   gained. (When a merge's text already exists, a pair can thus sit in the
 *   queue twice with different words, and merge twice: the merges list keeps
 *   its last rank, as the BPE model's map does when tokenizers saves it.)
 * - training stops at vocab_size tokens, an empty queue, or a current top
 *   count below max(1, min_frequency).
 * Only a tie between two entries of the same pair and count can pop in
 * another order than tokenizers' (whose own order there depends on hashing). */
#include <stdlib.h>
#include <string.h>

#include "text/byte_level.h"
#include "text/utf8.h"
#include "text/vb_internal.h"
#include "text/vb_map.h"
#include "text/vb_tokens.h"

#define NOMEM() vt_error(VT_ERR_NOMEM, "byte-level BPE trainer: out of memory")

typedef struct pos_list { /* word indices, each once */
    uint32_t *w;
    uint32_t n, cap;
} pos_list;

typedef struct pair_rec {
    int32_t a, b;
    int64_t count;
    pos_list gained; /* words where the pair gained during the current step */
    uint32_t stamp;  /* the step `gained` belongs to */
} pair_rec;

typedef struct entry { /* one queue entry */
    int64_t count;
    int32_t a, b;
    pos_list pos;
} entry;

typedef struct trainer {
    vb_tokens tk;
    int32_t *sym;      /* the words' symbols, back to back */
    size_t *w_start;   /* (nw) */
    int32_t *w_n;      /* (nw) symbols now */
    const int64_t *w_count;
    size_t nw;
    map64 pair_idx;    /* (a << 32 | b) -> index into pairs */
    pair_rec *pairs;
    size_t npairs, cappairs;
    entry *heap;
    size_t nheap, capheap;
    size_t *touched;   /* pairs that gained in this step */
    size_t ntouched, captouched;
    uint32_t stamp;
    int32_t n_special; /* distinct special tokens */
    int32_t *merge;    /* (n_merges, 3) left, right, result */
    size_t n_merges, capmerges;
} trainer;

static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static bool pos_add(pos_list *p, uint32_t w) {
    if (p->n && p->w[p->n - 1] == w) return true; /* one word's changes come together */
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 4;
        uint32_t *x = realloc(p->w, cap * sizeof *x);
        if (!x) return false;
        p->w = x;
        p->cap = cap;
    }
    p->w[p->n++] = w;
    return true;
}

/* Index of the pair (a, b), created with count 0 when new; -1 on no memory. */
static int64_t pair_index(trainer *t, int32_t a, int32_t b) {
    int64_t slot = map_slot(&t->pair_idx, pair_key(a, b), -1);
    if (slot < 0) return -1;
    if (t->pair_idx.val[slot] < 0) {
        if (t->npairs == t->cappairs) {
            size_t cap = t->cappairs ? t->cappairs * 2 : 4096;
            pair_rec *p = realloc(t->pairs, cap * sizeof *p);
            if (!p) return -1;
            t->pairs = p;
            t->cappairs = cap;
        }
        t->pairs[t->npairs] = (pair_rec){.a = a, .b = b};
        t->pair_idx.val[slot] = (int64_t)t->npairs++;
    }
    return t->pair_idx.val[slot];
}

/* heap order: larger count first, then the smaller pair */
static bool before(const entry *x, const entry *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static bool heap_push(trainer *t, entry e) {
    if (t->nheap == t->capheap) {
        size_t cap = t->capheap ? t->capheap * 2 : 4096;
        entry *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return false;
        t->heap = h;
        t->capheap = cap;
    }
    size_t i = t->nheap++;
    while (i > 0 && before(&e, &t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = e;
    return true;
}

static entry heap_pop(trainer *t) {
    entry top = t->heap[0], last = t->heap[--t->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->nheap) break;
        if (c + 1 < t->nheap && before(&t->heap[c + 1], &t->heap[c])) c++;
        if (!before(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (t->nheap) t->heap[i] = last;
    return top;
}

/* The pair (a, b) changes by delta occurrences in word w. */
static vt_status change(trainer *t, int32_t a, int32_t b, int delta, uint32_t w) {
    int64_t k = pair_index(t, a, b);
    if (k < 0) return NOMEM();
    pair_rec *p = &t->pairs[k];
    p->count += delta * t->w_count[w];
    if (delta < 0) return VT_OK;
    if (p->stamp != t->stamp) {
        p->stamp = t->stamp;
        p->gained = (pos_list){0};
        if (t->ntouched == t->captouched) {
            size_t cap = t->captouched ? t->captouched * 2 : 1024;
            size_t *x = realloc(t->touched, cap * sizeof *x);
            if (!x) return NOMEM();
            t->touched = x;
            t->captouched = cap;
        }
        t->touched[t->ntouched++] = (size_t)k;
    }
    return pos_add(&p->gained, w) ? VT_OK : NOMEM();
}

/* Queues each pair that gained in this step (if its count is positive) with
 * the words where it gained. */
static vt_status queue_gained(trainer *t) {
    vt_status st = VT_OK;
    for (size_t i = 0; i < t->ntouched; i++) {
        pair_rec *p = &t->pairs[t->touched[i]];
        entry e = {p->count, p->a, p->b, p->gained};
        p->gained = (pos_list){0};
        if (st == VT_OK && e.count > 0 && heap_push(t, e)) continue;
        if (st == VT_OK && e.count > 0) st = NOMEM();
        free(e.pos.w);
    }
    t->ntouched = 0;
    t->stamp++;
    return st;
}

/* Word w with every (a, b) replaced by id from the left, as Word::merge. */
static vt_status merge_word(trainer *t, uint32_t w, int32_t a, int32_t b, int32_t id) {
    int32_t *s = t->sym + t->w_start[w];
    int32_t n = t->w_n[w], m = 0;
    vt_status st = VT_OK;
    for (int32_t r = 0; r < n && st == VT_OK;) {
        if (s[r] != a || r + 1 >= n || s[r + 1] != b) {
            s[m++] = s[r++];
            continue;
        }
        if (m > 0) { /* s[m - 1] is the symbol before, merged already */
            st = change(t, s[m - 1], a, -1, w);
            if (st == VT_OK) st = change(t, s[m - 1], id, +1, w);
        }
        s[m++] = id;
        r += 2;
        if (r < n && st == VT_OK) {
            st = change(t, b, s[r], -1, w);
            if (st == VT_OK) st = change(t, id, s[r], +1, w);
        }
    }
    if (st == VT_OK) t->w_n[w] = m;
    return st;
}

static void trainer_free(trainer *t) {
    vb_tokens_free(&t->tk);
    free(t->sym);
    free(t->w_start);
    free(t->w_n);
    map_free(&t->pair_idx);
    for (size_t i = 0; i < t->npairs; i++) free(t->pairs[i].gained.w);
    free(t->pairs);
    for (size_t i = 0; i < t->nheap; i++) free(t->heap[i].pos.w);
    free(t->heap);
    free(t->touched);
    free(t->merge);
}

/* Special tokens, the alphabet, the words as symbols, the first queue. */
static vt_status start(trainer *t, const vt_vocab_builder *b) {
    for (int32_t i = 0; i < b->opt.n_special_tokens; i++) {
        const char *s = b->opt.special_tokens[i];
        if (vb_tok_find(&t->tk, s, strlen(s)) < 0 && vb_tok_add(&t->tk, s, strlen(s)) < 0) return NOMEM();
    }
    t->n_special = t->tk.n;
    /* byte characters in code point order: bytes_to_unicode is increasing
     * within its three ranges, so sort the 256 (char, byte) pairs */
    int32_t by_cp[256];
    for (int i = 0; i < 256; i++) by_cp[i] = vt_byte_level_char((unsigned char)i) << 8 | i;
    for (int i = 1; i < 256; i++) /* insertion sort of 256 */
        for (int j = i; j > 0 && by_cp[j - 1] > by_cp[j]; j--) {
            int32_t x = by_cp[j];
            by_cp[j] = by_cp[j - 1];
            by_cp[j - 1] = x;
        }
    int32_t byte_id[256];
    for (int i = 0; i < 256; i++) {
        char u[4];
        int n = vt_utf8_encode(by_cp[i] >> 8, u);
        int32_t id = vb_tok_find(&t->tk, u, (size_t)n);
        if (id < 0 && (id = vb_tok_add(&t->tk, u, (size_t)n)) < 0) return NOMEM();
        byte_id[by_cp[i] & 255] = id;
    }
    size_t total = 0;
    for (size_t w = 0; w < b->n_words; w++) total += (size_t)b->w_len[w];
    t->nw = b->n_words;
    t->w_count = b->w_count;
    t->sym = malloc((total + 1) * sizeof *t->sym);
    t->w_start = malloc((t->nw + 1) * sizeof *t->w_start);
    t->w_n = malloc((t->nw + 1) * sizeof *t->w_n);
    if (!t->sym || !t->w_start || !t->w_n) return NOMEM();
    if (t->nw > UINT32_MAX) return vt_error(VT_ERR_NOMEM, "byte-level BPE trainer: more than 2^32 distinct words");
    size_t at = 0;
    t->stamp = 1;
    for (size_t w = 0; w < t->nw; w++) {
        const unsigned char *s = (const unsigned char *)b->arena + b->w_off[w];
        t->w_start[w] = at;
        t->w_n[w] = b->w_len[w];
        for (int32_t i = 0; i < b->w_len[w]; i++) {
            t->sym[at + (size_t)i] = byte_id[s[i]];
            if (i > 0) {
                vt_status st = change(t, t->sym[at + (size_t)i - 1], t->sym[at + (size_t)i], +1, (uint32_t)w);
                if (st != VT_OK) return st;
            }
        }
        at += (size_t)b->w_len[w];
    }
    return queue_gained(t);
}

static vt_status add_merge(trainer *t, int32_t a, int32_t b, int32_t id) {
    if (t->n_merges == t->capmerges) {
        size_t cap = t->capmerges ? t->capmerges * 2 : 1024;
        int32_t *x = realloc(t->merge, cap * 3 * sizeof *x);
        if (!x) return NOMEM();
        t->merge = x;
        t->capmerges = cap;
    }
    int32_t *m = t->merge + 3 * t->n_merges++;
    m[0] = a, m[1] = b, m[2] = id;
    return VT_OK;
}

/* One merge of the top entry; its words are rewritten. */
static vt_status do_merge(trainer *t, const entry *top, char **buf, size_t *bufcap) {
    size_t la = t->tk.len[top->a], lb = t->tk.len[top->b];
    if (la + lb + 1 > *bufcap) {
        size_t cap = (la + lb + 1) * 2;
        char *nb = realloc(*buf, cap);
        if (!nb) return NOMEM();
        *buf = nb;
        *bufcap = cap;
    }
    memcpy(*buf, t->tk.s[top->a], la);
    memcpy(*buf + la, t->tk.s[top->b], lb);
    int32_t id = vb_tok_find(&t->tk, *buf, la + lb);
    if (id < 0 && (id = vb_tok_add(&t->tk, *buf, la + lb)) < 0) return NOMEM();
    vt_status st = add_merge(t, top->a, top->b, id);
    for (uint32_t k = 0; k < top->pos.n && st == VT_OK; k++) st = merge_word(t, top->pos.w[k], top->a, top->b, id);
    vt_status q = queue_gained(t);
    return st != VT_OK ? st : q;
}

/* The result: tokens taken from t, merges by their last rank. */
static vt_bpe_vocab *result(trainer *t, int32_t n_special) {
    vt_bpe_vocab *v = calloc(1, sizeof *v);
    map64 last = {0};
    if (v) v->merge = malloc((t->n_merges + 1) * 2 * sizeof *v->merge);
    bool ok = v && v->merge;
    for (size_t i = 0; ok && i < t->n_merges; i++) {
        int64_t slot = map_slot(&last, pair_key(t->merge[3 * i], t->merge[3 * i + 1]), 0);
        if (slot < 0) ok = false;
        else last.val[slot] = (int64_t)i;
    }
    for (size_t i = 0; ok && i < t->n_merges; i++) {
        if (map_get(&last, pair_key(t->merge[3 * i], t->merge[3 * i + 1]), -1) != (int64_t)i) continue;
        v->merge[2 * v->n_merges] = t->merge[3 * i];
        v->merge[2 * v->n_merges + 1] = t->merge[3 * i + 1];
        v->n_merges++;
    }
    map_free(&last);
    if (!ok) {
        vt_bpe_vocab_free(v);
        NOMEM();
        return NULL;
    }
    v->tok = t->tk.s;
    v->n_tok = t->tk.n;
    v->n_special = n_special;
    t->tk.s = NULL;
    t->tk.n = 0;
    return v;
}

vt_bpe_vocab *vt_vb_train_bpe(vt_vocab_builder *b) {
    if (!b || b->opt.kind != VT_VB_BYTE_LEVEL_BPE) {
        vt_error(VT_ERR_INVALID_ARG, "byte-level BPE trainer: %s", b ? "the builder is not of kind byte-level BPE" : "NULL");
        return NULL;
    }
    trainer t = {0};
    vt_status st = start(&t, b);
    char *buf = NULL;
    size_t bufcap = 0;
    int64_t min_count = b->opt.min_frequency > 1 ? b->opt.min_frequency : 1;
    while (st == VT_OK && t.tk.n < b->opt.vocab_size && t.nheap > 0) {
        entry top = heap_pop(&t);
        int64_t now = t.pairs[map_get(&t.pair_idx, pair_key(top.a, top.b), 0)].count;
        if (top.count != now) { /* stale: back with the current count, words kept */
            top.count = now;
            if (!heap_push(&t, top)) {
                free(top.pos.w);
                st = NOMEM();
            }
            continue;
        }
        if (top.count < min_count) {
            free(top.pos.w);
            break;
        }
        st = do_merge(&t, &top, &buf, &bufcap);
        free(top.pos.w);
    }
    free(buf);
    vt_bpe_vocab *v = st == VT_OK ? result(&t, t.n_special) : NULL;
    trainer_free(&t);
    return v;
}

void vt_bpe_vocab_free(vt_bpe_vocab *v) {
    if (!v) return;
    for (int32_t i = 0; i < v->n_tok; i++) free(v->tok[i]);
    free(v->tok);
    free(v->merge);
    free(v);
}

int32_t vt_bpe_vocab_size(const vt_bpe_vocab *v) { return v ? v->n_tok : 0; }
int32_t vt_bpe_vocab_n_special(const vt_bpe_vocab *v) { return v ? v->n_special : 0; }
int32_t vt_bpe_vocab_n_merges(const vt_bpe_vocab *v) { return v ? v->n_merges : 0; }

const char *vt_bpe_vocab_token(const vt_bpe_vocab *v, int32_t id) {
    return v && id >= 0 && id < v->n_tok ? v->tok[id] : NULL;
}

vt_status vt_bpe_vocab_merge(const vt_bpe_vocab *v, int32_t i, int32_t *left, int32_t *right) {
    if (!v || i < 0 || i >= v->n_merges || !left || !right)
        return vt_error(VT_ERR_INVALID_ARG, "byte-level BPE vocabulary: no merge %d", i);
    *left = v->merge[2 * i];
    *right = v->merge[2 * i + 1];
    return VT_OK;
}
