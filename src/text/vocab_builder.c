/* Vocabulary builder, part 2: alphabet and BPE merges with the "##" prefix
 * (tokenizers' BpeTrainer as WordPieceTrainer drives it). */
#include <stdlib.h>
#include <string.h>

#include "text/utf8.h"
#include "text/vb_internal.h"
#include "text/vb_map.h"
#include "text/vb_tokens.h"
#include "text/vocab_internal.h"
#include "core/hash.h"

static const char *const SPECIALS[VT_VB_N_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

/* ---- training state ----------------------------------------------------- */

typedef struct pair_info {
    int32_t a, b;
    int64_t count;
    uint32_t *where; /* words that contained the pair (may repeat) */
    uint32_t nwhere, capwhere;
    uint32_t stamp;
} pair_info;

typedef struct heap_item {
    int64_t count;
    int32_t a, b;
} heap_item;

typedef struct trainer {
    vb_tokens tk; /* tokens by id */
    /* words as symbol ids */
    int32_t *sym;
    size_t *w_start;
    int32_t *w_n;
    int64_t *w_count;
    uint32_t *w_stamp;
    size_t nw;
    /* pairs */
    map64 pair_idx; /* (a << 32 | b) -> index into pairs */
    pair_info *pairs;
    size_t npairs, cappairs;
    heap_item *heap;
    size_t nheap, capheap;
} trainer;

static void trainer_free(trainer *t) {
    vb_tokens_free(&t->tk);
    free(t->sym);
    free(t->w_start);
    free(t->w_n);
    free(t->w_stamp);
    map_free(&t->pair_idx);
    for (size_t i = 0; i < t->npairs; i++) free(t->pairs[i].where);
    free(t->pairs);
    free(t->heap);
}

/* heap order: larger count first, then the smaller pair of ids */
static bool heap_before(const heap_item *x, const heap_item *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static bool heap_push(trainer *t, heap_item it) {
    if (t->nheap == t->capheap) {
        size_t cap = t->capheap ? t->capheap * 2 : 4096;
        heap_item *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return false;
        t->heap = h;
        t->capheap = cap;
    }
    size_t i = t->nheap++;
    while (i > 0 && heap_before(&it, &t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = it;
    return true;
}

static heap_item heap_pop(trainer *t) {
    heap_item top = t->heap[0], last = t->heap[--t->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->nheap) break;
        if (c + 1 < t->nheap && heap_before(&t->heap[c + 1], &t->heap[c])) c++;
        if (!heap_before(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (t->nheap) t->heap[i] = last;
    return top;
}

/* The pair (a, b), created with count 0 when new; NULL on no memory. */
static pair_info *pair_get(trainer *t, int32_t a, int32_t b) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    int64_t slot = map_slot(&t->pair_idx, key, -1);
    if (slot < 0) return NULL;
    if (t->pair_idx.val[slot] < 0) {
        if (t->npairs == t->cappairs) {
            size_t cap = t->cappairs ? t->cappairs * 2 : 4096;
            pair_info *p = realloc(t->pairs, cap * sizeof *p);
            if (!p) return NULL;
            t->pairs = p;
            t->cappairs = cap;
        }
        t->pairs[t->npairs] = (pair_info){.a = a, .b = b};
        t->pair_idx.val[slot] = (int64_t)t->npairs++;
    }
    return &t->pairs[t->pair_idx.val[slot]];
}

static bool where_add(pair_info *p, uint32_t w) {
    if (p->nwhere && p->where[p->nwhere - 1] == w) return true;
    if (p->nwhere == p->capwhere) {
        uint32_t cap = p->capwhere ? p->capwhere * 2 : 4;
        uint32_t *x = realloc(p->where, cap * sizeof *x);
        if (!x) return false;
        p->where = x;
        p->capwhere = cap;
    }
    p->where[p->nwhere++] = w;
    return true;
}

/* ---- alphabet ------------------------------------------------------------- */

typedef struct cp_count {
    int32_t cp;
    int64_t count;
} cp_count;

static int by_count_then_cp(const void *x, const void *y) {
    const cp_count *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return (a->cp > b->cp) - (a->cp < b->cp);
}

static int by_cp(const void *x, const void *y) {
    const cp_count *a = x, *b = y;
    return (a->cp > b->cp) - (a->cp < b->cp);
}

/* Alphabet, "##" forms and the words as symbol sequences. */
static vt_status build_initial(trainer *t, const vt_vocab_builder *b) {
    map64 cps = {0};
    for (size_t w = 0; w < b->n_words; w++) {
        const unsigned char *s = (const unsigned char *)b->arena + b->w_off[w];
        for (int32_t i = 0; i < b->w_len[w];) {
            int adv;
            int32_t cp = vt_utf8_decode(s + i, (size_t)(b->w_len[w] - i), &adv);
            int64_t slot = map_slot(&cps, (uint64_t)cp, 0);
            if (slot < 0) goto nomem;
            cps.val[slot] += b->w_count[w];
            i += adv;
        }
    }
    cp_count *al = malloc((cps.n + 1) * sizeof *al);
    if (!al) goto nomem;
    size_t na = 0;
    for (size_t i = 0; i < cps.cap; i++)
        if (cps.used[i]) al[na++] = (cp_count){(int32_t)cps.key[i], cps.val[i]};
    qsort(al, na, sizeof *al, by_count_then_cp);
    if (b->opt.limit_alphabet > 0 && na > (size_t)b->opt.limit_alphabet) na = (size_t)b->opt.limit_alphabet;
    qsort(al, na, sizeof *al, by_cp);
    map_free(&cps);

    /* cp -> id of the plain form; the "##" form's id is found by string */
    map64 plain = {0};
    for (size_t i = 0; i < na; i++) {
        char u[4];
        int n = vt_utf8_encode(al[i].cp, u);
        int32_t id = vb_tok_add(&t->tk, u, (size_t)n);
        int64_t slot = id < 0 ? -1 : map_slot(&plain, (uint64_t)al[i].cp, id);
        if (slot < 0) {
            free(al);
            map_free(&plain);
            goto nomem;
        }
    }
    /* "##" forms of the characters seen after a word's first character */
    bool *cont = calloc(na + 1, 1);
    size_t total_syms = 0;
    for (size_t w = 0; cont && w < b->n_words; w++) {
        const unsigned char *s = (const unsigned char *)b->arena + b->w_off[w];
        for (int32_t i = 0; i < b->w_len[w];) {
            int adv;
            int32_t cp = vt_utf8_decode(s + i, (size_t)(b->w_len[w] - i), &adv);
            int64_t id = map_get(&plain, (uint64_t)cp, -1);
            if (id >= 0) {
                total_syms++;
                if (i > 0) cont[id - VT_VB_N_SPECIAL] = true;
            }
            i += adv;
        }
    }
    bool ok = cont != NULL;
    for (size_t i = 0; ok && i < na; i++) {
        if (!cont[i]) continue;
        char u[6] = "##";
        int n = vt_utf8_encode(al[i].cp, u + 2);
        ok = vb_tok_add(&t->tk, u, (size_t)n + 2) >= 0;
    }
    free(cont);
    free(al);
    t->sym = malloc((total_syms + 1) * sizeof *t->sym);
    t->w_start = malloc((b->n_words + 1) * sizeof *t->w_start);
    t->w_n = malloc((b->n_words + 1) * sizeof *t->w_n);
    t->w_stamp = calloc(b->n_words + 1, sizeof *t->w_stamp);
    if (!ok || !t->sym || !t->w_start || !t->w_n || !t->w_stamp) {
        map_free(&plain);
        goto nomem;
    }
    size_t at = 0;
    for (size_t w = 0; w < b->n_words; w++) {
        const unsigned char *s = (const unsigned char *)b->arena + b->w_off[w];
        t->w_start[w] = at;
        for (int32_t i = 0; i < b->w_len[w];) {
            int adv;
            int32_t cp = vt_utf8_decode(s + i, (size_t)(b->w_len[w] - i), &adv);
            int64_t id = map_get(&plain, (uint64_t)cp, -1);
            if (id >= 0 && i > 0) {
                char u[6] = "##";
                int n = vt_utf8_encode(cp, u + 2);
                id = vb_tok_find(&t->tk, u, (size_t)n + 2);
            }
            if (id >= 0) t->sym[at++] = (int32_t)id;
            i += adv;
        }
        t->w_n[w] = (int32_t)(at - t->w_start[w]);
    }
    t->nw = b->n_words;
    t->w_count = b->w_count;
    map_free(&plain);
    return VT_OK;
nomem:
    map_free(&cps);
    return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
}

/* ---- merges ---------------------------------------------------------------- */

static vt_status count_pairs(trainer *t) {
    for (size_t w = 0; w < t->nw; w++) {
        const int32_t *s = t->sym + t->w_start[w];
        for (int32_t i = 0; i + 1 < t->w_n[w]; i++) {
            pair_info *p = pair_get(t, s[i], s[i + 1]);
            if (!p || !where_add(p, (uint32_t)w)) return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
            p->count += t->w_count[w];
        }
    }
    for (size_t i = 0; i < t->npairs; i++)
        if (t->pairs[i].count > 0 && !heap_push(t, (heap_item){t->pairs[i].count, t->pairs[i].a, t->pairs[i].b}))
            return vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
    return VT_OK;
}

/* Replaces (a, b) by id in every word that has it, keeping pair counts exact. */
static vt_status apply_merge(trainer *t, int32_t a, int32_t b, int32_t id, uint32_t stamp, size_t **changed,
                             size_t *nchanged, size_t *capchanged) {
    pair_info *p = pair_get(t, a, b);
    uint32_t *where = p->where, nwhere = p->nwhere;
    p->where = NULL, p->nwhere = p->capwhere = 0; /* no word has it after this */
    vt_status st = VT_OK;
    for (uint32_t k = 0; k < nwhere && st == VT_OK; k++) {
        uint32_t w = where[k];
        if (t->w_stamp[w] == stamp) continue;
        t->w_stamp[w] = stamp;
        int32_t *s = t->sym + t->w_start[w];
        int32_t n = t->w_n[w];
        int64_t c = t->w_count[w];
        bool has = false;
        for (int32_t i = 0; i + 1 < n && !has; i++) has = s[i] == a && s[i + 1] == b;
        if (!has) continue;
        for (int32_t i = 0; i + 1 < n; i++) pair_get(t, s[i], s[i + 1])->count -= c;
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                s[m++] = id;
                i++;
            } else {
                s[m++] = s[i];
            }
        }
        t->w_n[w] = m;
        for (int32_t i = 0; i + 1 < m; i++) {
            pair_info *q = pair_get(t, s[i], s[i + 1]);
            if (!q) {
                st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
                break;
            }
            q->count += c;
            if (s[i] == id || s[i + 1] == id) {
                if (!where_add(q, w)) st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
                if (q->stamp != stamp) { /* queued below, once its count is final */
                    q->stamp = stamp;
                    if (*nchanged == *capchanged) {
                        size_t cap = *capchanged ? *capchanged * 2 : 256;
                        size_t *x = realloc(*changed, cap * sizeof *x);
                        if (!x) {
                            st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
                            break;
                        }
                        *changed = x;
                        *capchanged = cap;
                    }
                    (*changed)[(*nchanged)++] = (size_t)(q - t->pairs);
                }
            }
        }
    }
    free(where);
    return st;
}

vt_wp_vocab *vt_vb_train(vt_vocab_builder *b) {
    if (!b || b->opt.kind != VT_VB_WORDPIECE) {
        vt_error(VT_ERR_INVALID_ARG, "vocabulary builder: %s", b ? "a byte-level BPE builder trains with vt_vb_train_bpe" : "NULL");
        return NULL;
    }
    trainer t = {0};
    vt_wp_vocab *v = NULL;
    vt_status st = VT_OK;
    for (int i = 0; i < VT_VB_N_SPECIAL && st == VT_OK; i++)
        if (vb_tok_add(&t.tk, SPECIALS[i], strlen(SPECIALS[i])) < 0) st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
    if (st == VT_OK) st = build_initial(&t, b);
    if (st == VT_OK) st = count_pairs(&t);
    uint32_t stamp = 0;
    char *buf = NULL;
    size_t bufcap = 0, *changed = NULL, nchanged = 0, capchanged = 0;
    while (st == VT_OK && t.tk.n < b->opt.vocab_size && t.nheap > 0) {
        heap_item top = heap_pop(&t);
        pair_info *p = pair_get(&t, top.a, top.b);
        if (top.count != p->count) { /* stale: requeue with the current count */
            if (p->count > 0 && !heap_push(&t, (heap_item){p->count, p->a, p->b}))
                st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
            continue;
        }
        if (top.count < 1 || top.count < b->opt.min_frequency) break;
        const char *sa = t.tk.s[top.a], *sb = t.tk.s[top.b];
        size_t la = t.tk.len[top.a], lb = t.tk.len[top.b];
        if (lb >= 2 && sb[0] == '#' && sb[1] == '#') sb += 2, lb -= 2;
        if (la + lb + 1 > bufcap) {
            bufcap = (la + lb + 1) * 2;
            char *nb = realloc(buf, bufcap);
            if (!nb) {
                st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
                break;
            }
            buf = nb;
        }
        memcpy(buf, sa, la);
        memcpy(buf + la, sb, lb);
        int32_t id = vb_tok_find(&t.tk, buf, la + lb);
        if (id < 0 && (id = vb_tok_add(&t.tk, buf, la + lb)) < 0) {
            st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
            break;
        }
        nchanged = 0;
        st = apply_merge(&t, top.a, top.b, id, ++stamp, &changed, &nchanged, &capchanged);
        for (size_t i = 0; st == VT_OK && i < nchanged; i++) {
            const pair_info *q = &t.pairs[changed[i]];
            if (q->count > 0 && !heap_push(&t, (heap_item){q->count, q->a, q->b}))
                st = vt_error(VT_ERR_NOMEM, "vocabulary builder: out of memory");
        }
    }
    free(buf);
    free(changed);
    if (st == VT_OK) v = vt_wp_vocab_from_tokens((const char *const *)t.tk.s, t.tk.len, t.tk.n);
    trainer_free(&t);
    return v;
}
