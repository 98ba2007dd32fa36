/* vt_pt_prepare: raw text -> pretraining instances -> shards + manifest, as
 * Google's create_pretraining_data does, in bounded memory (windows of
 * documents, a shuffle buffer of instances; see pretrain_data.h). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/pretrain_internal.h"
#include "verto/fileio.h"

const char *vt_pt_objective_name(vt_pt_objective o) {
    return o == VT_PT_MLM ? "mlm" : o == VT_PT_MLM_NSP ? "mlm+nsp" : o == VT_PT_CLM ? "clm" : "unknown";
}

bool vt_pt_objective_parse(const char *name, vt_pt_objective *out) {
    vt_pt_objective o;
    if (name && !strcmp(name, "mlm+nsp")) o = VT_PT_MLM_NSP;
    else if (name && !strcmp(name, "mlm")) o = VT_PT_MLM;
    else if (name && !strcmp(name, "clm")) o = VT_PT_CLM;
    else return false;
    if (out) *out = o;
    return true;
}

void vt_pt_options_default(vt_pt_options *o) {
    memset(o, 0, sizeof *o);
    o->objective = VT_PT_MLM_NSP;
    o->max_seq_length = 128;
    o->short_seq_prob = 0.1;
    vt_pt_mask_options_default(&o->mask);
    o->dynamic_masking = false;
    o->dupe_factor = 10;
    o->seed = 12345;
    o->instances_per_shard = 100000;
    o->window_tokens = (int64_t)1 << 23;
    o->shuffle_buffer = 100000;
    o->jsonl = false;
    o->text_field = "text";
}

/* A growable array of `elem`-byte items. */
typedef struct vec {
    void *p;
    size_t n, cap, elem;
} vec;

static bool vec_reserve(vec *v, size_t more) {
    if (v->cap - v->n >= more) return true;
    size_t cap = v->cap ? v->cap : 1024;
    while (cap - v->n < more) cap *= 2;
    void *p = realloc(v->p, cap * v->elem);
    if (!p) return false;
    v->p = p;
    v->cap = cap;
    return true;
}
#define VEC_AT(v, T) ((T *)(v).p)

typedef struct prep {
    const vt_tokenizer *tok;
    const vt_pt_options *o;
    vt_rng rng;
    vt_pt_masker *masker; /* NULL for clm */
    vt_pt__clm *clm;      /* clm only: the block cutter */
    int32_t eos;          /* clm only */
    vt_tok_encoding enc;
    int32_t cls, sep, vocab_size, max_pred;
    /* the window: tokens, segments (lines), documents */
    vec tokens;   /* int32 */
    vec seg_off;  /* int64: segment s = tokens[seg_off[s] .. seg_off[s + 1]) */
    vec doc_seg;  /* int64: document d = segments [doc_seg[d] .. doc_seg[d + 1]) */
    int64_t open_doc_tokens;
    vec order;    /* int64: shuffled documents */
    vec a, b;     /* int32: the pair being built */
    /* one instance being built */
    int32_t *i_tok, *i_pos, *i_lab;
    uint8_t *i_seg;
    /* shuffle buffer: fixed-size slots */
    int64_t slots, slots_cap;
    int32_t *s_tok, *s_pos, *s_lab, *s_meta; /* meta: (n_tokens, n_masked, is_random_next) */
    uint8_t *s_seg;
    /* output */
    char *staging;
    vt_pt_shard_writer *w;
    int64_t in_shard;
    vec shard_count; /* int64 */
    vec shard_sum;   /* uint64 */
    vt_pt_stats st;
} prep;

/* ---- output ------------------------------------------------------------ */

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static vt_status finish_shard(prep *P) {
    if (!P->w) return VT_OK;
    uint64_t sum;
    vt_pt_shard_writer *w = P->w;
    P->w = NULL;
    vt_status st = vt_pt_shard_writer_commit(w, &sum);
    if (st != VT_OK) return st;
    if (!vec_reserve(&P->shard_count, 1) || !vec_reserve(&P->shard_sum, 1))
        return vt_error(VT_ERR_NOMEM, "out of memory");
    VEC_AT(P->shard_count, int64_t)[P->shard_count.n++] = P->in_shard;
    VEC_AT(P->shard_sum, uint64_t)[P->shard_sum.n++] = sum;
    P->in_shard = 0;
    return VT_OK;
}

static vt_status emit(prep *P, const vt_pt_instance *in) {
    if (!P->w) {
        char name[32];
        vt_pt_shard_name(name, sizeof name, (int32_t)P->shard_count.n);
        char *path = path_join(P->staging, name);
        if (!path) return vt_error(VT_ERR_NOMEM, "out of memory");
        uint32_t flags = (P->max_pred == 0 ? 0 : VT_PT_FLAG_MASKED) |
                         (P->o->mask.whole_word_mask ? VT_PT_FLAG_WHOLE_WORD : 0);
        P->w = vt_pt_shard_writer_open(path, flags, P->o->max_seq_length, P->vocab_size, P->max_pred);
        free(path);
        if (!P->w) return vt_last_status();
    }
    vt_status st = vt_pt_shard_writer_add(P->w, in);
    if (st != VT_OK) return st;
    P->st.instances++;
    P->st.tokens += in->n_tokens;
    P->st.random_next += in->is_random_next;
    P->st.masked += in->n_masked;
    if (++P->in_shard >= P->o->instances_per_shard) return finish_shard(P);
    return VT_OK;
}

static vt_pt_instance slot_view(const prep *P, int64_t j) {
    size_t S = (size_t)P->o->max_seq_length, M = (size_t)P->max_pred;
    const int32_t *meta = P->s_meta + 3 * j;
    return (vt_pt_instance){meta[0], P->s_tok + S * j, P->s_seg + S * j, meta[2], meta[1], P->s_pos + M * j,
                            P->s_lab + M * j};
}

static void slot_store(prep *P, int64_t j, const vt_pt_instance *in) {
    size_t S = (size_t)P->o->max_seq_length, M = (size_t)P->max_pred;
    memcpy(P->s_tok + S * j, in->tokens, (size_t)in->n_tokens * sizeof(int32_t));
    memcpy(P->s_seg + S * j, in->segment_ids, (size_t)in->n_tokens);
    memcpy(P->s_pos + M * j, in->positions, (size_t)in->n_masked * sizeof(int32_t));
    memcpy(P->s_lab + M * j, in->labels, (size_t)in->n_masked * sizeof(int32_t));
    int32_t *meta = P->s_meta + 3 * j;
    meta[0] = in->n_tokens, meta[1] = in->n_masked, meta[2] = in->is_random_next;
}

static bool slots_grow(prep *P) {
    int64_t cap = P->slots_cap ? P->slots_cap * 2 : 1024;
    if (cap > P->o->shuffle_buffer) cap = P->o->shuffle_buffer;
    size_t S = (size_t)P->o->max_seq_length, M = (size_t)(P->max_pred ? P->max_pred : 1), c = (size_t)cap;
    int32_t *t = realloc(P->s_tok, c * S * sizeof *t);
    if (t) P->s_tok = t;
    uint8_t *g = realloc(P->s_seg, c * S);
    if (g) P->s_seg = g;
    int32_t *p = realloc(P->s_pos, c * M * sizeof *p);
    if (p) P->s_pos = p;
    int32_t *l = realloc(P->s_lab, c * M * sizeof *l);
    if (l) P->s_lab = l;
    int32_t *m = realloc(P->s_meta, c * 3 * sizeof *m);
    if (m) P->s_meta = m;
    if (!t || !g || !p || !l || !m) return false;
    P->slots_cap = cap;
    return true;
}

/* Into the shuffle buffer; when it is full, a random resident goes out. */
static vt_status push_instance(prep *P, const vt_pt_instance *in) {
    if (P->slots == P->slots_cap && P->slots_cap < P->o->shuffle_buffer && !slots_grow(P))
        return vt_error(VT_ERR_NOMEM, "out of memory for the shuffle buffer");
    if (P->slots < P->slots_cap) {
        slot_store(P, P->slots++, in);
        return VT_OK;
    }
    int64_t j = (int64_t)vt_rng_below(&P->rng, (uint64_t)P->slots);
    vt_pt_instance out = slot_view(P, j);
    vt_status st = emit(P, &out);
    if (st == VT_OK) slot_store(P, j, in);
    return st;
}

static vt_status drain(prep *P) {
    /* what is left goes out in a random order */
    P->order.n = 0;
    if (!vec_reserve(&P->order, (size_t)P->slots + 1)) return vt_error(VT_ERR_NOMEM, "out of memory");
    int64_t *order = P->order.p;
    for (int64_t i = 0; i < P->slots; i++) order[i] = i;
    vt_rng_shuffle_i64(&P->rng, order, P->slots);
    for (int64_t i = 0; i < P->slots; i++) {
        vt_pt_instance in = slot_view(P, order[i]);
        vt_status st = emit(P, &in);
        if (st != VT_OK) return st;
    }
    P->slots = 0;
    return finish_shard(P);
}

/* ---- the algorithm ----------------------------------------------------- */

static inline int64_t seg_len(const prep *P, int64_t s) {
    const int64_t *off = P->seg_off.p;
    return off[s + 1] - off[s];
}

static bool append_segs(prep *P, vec *dst, int64_t s0, int64_t s1) {
    const int64_t *off = P->seg_off.p;
    size_t n = (size_t)(off[s1] - off[s0]);
    if (!vec_reserve(dst, n)) return false;
    memcpy(VEC_AT(*dst, int32_t) + dst->n, VEC_AT(P->tokens, int32_t) + off[s0], n * sizeof(int32_t));
    dst->n += n;
    return true;
}

/* The n tokens in i_tok / i_seg as an instance, masked unless dynamic, into the shuffle buffer. */
static vt_status finish_instance(prep *P, int32_t n, int32_t random_next) {
    vt_pt_instance in = {n, P->i_tok, P->i_seg, random_next, 0, P->i_pos, P->i_lab};
    if (!P->o->dynamic_masking) {
        vt_status st = vt_pt_mask(P->masker, &P->rng, P->i_tok, n, P->i_tok, P->i_pos, P->i_lab, &in.n_masked);
        if (st != VT_OK) return st;
    }
    return push_instance(P, &in);
}

/* A causal-LM block as an instance: segment ids 0 (i_seg stays zeroed), no masks. */
static vt_status clm_block(void *ctx, const int32_t *ids, int32_t n) {
    prep *P = ctx;
    vt_pt_instance in = {n, ids, P->i_seg, 0, 0, P->i_pos, P->i_lab};
    return push_instance(P, &in);
}

/* The instance [CLS] a[alo, ahi) [SEP] b[blo, bhi) [SEP], masked unless dynamic. */
static vt_status make_instance(prep *P, size_t alo, size_t ahi, size_t blo, size_t bhi, int32_t random_next) {
    const int32_t *a = P->a.p, *b = P->b.p;
    int32_t n = 0;
    P->i_tok[n] = P->cls, P->i_seg[n++] = 0;
    for (size_t k = alo; k < ahi; k++) P->i_tok[n] = a[k], P->i_seg[n++] = 0;
    P->i_tok[n] = P->sep, P->i_seg[n++] = 0;
    for (size_t k = blo; k < bhi; k++) P->i_tok[n] = b[k], P->i_seg[n++] = 1;
    P->i_tok[n] = P->sep, P->i_seg[n++] = 1;
    return finish_instance(P, n, random_next);
}

/* ---- MLM-only instances: lines packed into full-length sequences ---- */

/* [CLS] a [SEP] as an instance (nothing when a is empty); a is emptied. */
static vt_status flush_packed(prep *P) {
    if (P->a.n == 0) return VT_OK;
    const int32_t *a = P->a.p;
    int32_t n = 0;
    P->i_tok[n] = P->cls, P->i_seg[n++] = 0;
    for (size_t k = 0; k < P->a.n; k++) P->i_tok[n] = a[k], P->i_seg[n++] = 0;
    P->i_tok[n] = P->sep, P->i_seg[n++] = 0;
    P->a.n = 0;
    return finish_instance(P, n, 0);
}

static bool append_tokens(vec *dst, const int32_t *src, size_t n) {
    if (!vec_reserve(dst, n)) return false;
    memcpy(VEC_AT(*dst, int32_t) + dst->n, src, n * sizeof(int32_t));
    dst->n += n;
    return true;
}

/* One pass over the window's documents in `order`, their lines packed into
 * instances of up to max_seq_length tokens (see pretrain_data.h). What does
 * not fill an instance stays in P->a for the next pass or window. */
static vt_status packed_instances(prep *P, int64_t n_docs) {
    const int64_t *order = P->order.p, *doc_seg = P->doc_seg.p, *off = P->seg_off.p;
    const int32_t *tokens = P->tokens.p;
    size_t max_num = (size_t)P->o->max_seq_length - 2; /* room between [CLS] and [SEP] */
    vt_status st = VT_OK;
    for (int64_t di = 0; di < n_docs && st == VT_OK; di++) {
        int64_t d = order[di];
        bool pending_sep = P->a.n > 0; /* a [SEP] between documents, written before the next line */
        P->st.doc_passes++;
        for (int64_t s = doc_seg[d]; s < doc_seg[d + 1] && st == VT_OK; s++) {
            const int32_t *line = tokens + off[s];
            size_t len = (size_t)(off[s + 1] - off[s]);
            /* A line that does not fit starts the next instance, unless this one would be shorter than a
             * shard's least (5 tokens): then the line is cut to fill it. */
            if (P->a.n >= 3 && P->a.n + pending_sep + len > max_num) {
                if ((st = flush_packed(P)) != VT_OK) break;
                pending_sep = false;
            }
            if (pending_sep && !append_tokens(&P->a, &P->sep, 1)) return vt_error(VT_ERR_NOMEM, "out of memory");
            pending_sep = false;
            while (st == VT_OK && P->a.n + len > max_num) { /* a line longer than an instance: cut */
                size_t take = max_num - P->a.n;
                if (!append_tokens(&P->a, line, take)) return vt_error(VT_ERR_NOMEM, "out of memory");
                st = flush_packed(P);
                line += take, len -= take;
            }
            if (st == VT_OK && !append_tokens(&P->a, line, len)) return vt_error(VT_ERR_NOMEM, "out of memory");
        }
    }
    return st;
}

/* The corpus's last packed instance, unless it is too short for a shard (fewer than 5 tokens). */
static vt_status flush_last_packed(prep *P) {
    if (P->a.n + 2 < 5) {
        P->a.n = 0;
        return VT_OK;
    }
    return flush_packed(P);
}

static vt_status document_instances(prep *P, int64_t di, int64_t n_docs) {
    const int64_t *order = P->order.p, *doc_seg = P->doc_seg.p;
    int64_t d = order[di], s0 = doc_seg[d], nseg = doc_seg[d + 1] - s0;
    int64_t max_num = P->o->max_seq_length - 3, target = max_num;
    P->st.doc_passes++;
    if (vt_rng_uniform(&P->rng) < P->o->short_seq_prob) {
        target = vt_pt__randint(&P->rng, 2, max_num);
        P->st.short_target_passes++;
    }
    int64_t cstart = 0, cur_len = 0;
    for (int64_t i = 0; i < nseg; i++) {
        cur_len += seg_len(P, s0 + i);
        if (i != nseg - 1 && cur_len < target) continue;
        int64_t nch = i - cstart + 1;
        int64_t a_end = nch >= 2 ? vt_pt__randint(&P->rng, 1, nch - 1) : 1;
        P->a.n = P->b.n = 0;
        if (!append_segs(P, &P->a, s0 + cstart, s0 + cstart + a_end)) return vt_error(VT_ERR_NOMEM, "out of memory");
        int32_t random_next = 0;
        if (nch == 1 || vt_rng_uniform(&P->rng) < 0.5) {
            random_next = 1;
            if (nch == 1) P->st.forced_random_next++;
            int64_t target_b = target - (int64_t)P->a.n, r = 0;
            for (int t = 0; t < 10; t++) {
                r = vt_pt__randint(&P->rng, 0, n_docs - 1);
                if (r != di) break;
            }
            int64_t rd = order[r], r0 = doc_seg[rd], rn = doc_seg[rd + 1] - r0;
            for (int64_t j = vt_pt__randint(&P->rng, 0, rn - 1); j < rn; j++) {
                if (!append_segs(P, &P->b, r0 + j, r0 + j + 1)) return vt_error(VT_ERR_NOMEM, "out of memory");
                if ((int64_t)P->b.n >= target_b) break;
            }
            i -= nch - a_end; /* the unused lines go back */
        } else if (!append_segs(P, &P->b, s0 + cstart + a_end, s0 + i + 1)) {
            return vt_error(VT_ERR_NOMEM, "out of memory");
        }
        /* truncate_seq_pair: trim the longer side, front or back at random */
        size_t alo = 0, ahi = P->a.n, blo = 0, bhi = P->b.n;
        while ((ahi - alo) + (bhi - blo) > (size_t)max_num) {
            bool on_a = ahi - alo > bhi - blo;
            bool front = vt_rng_uniform(&P->rng) < 0.5;
            if (on_a && front) alo++;
            else if (on_a) ahi--;
            else if (front) blo++;
            else bhi--;
        }
        vt_status st = make_instance(P, alo, ahi, blo, bhi, random_next);
        if (st != VT_OK) return st;
        cstart = i + 1;
        cur_len = 0;
    }
    return VT_OK;
}

static vt_status process_window(prep *P) {
    int64_t n_docs = (int64_t)P->doc_seg.n - 1;
    if (n_docs <= 0) return VT_OK;
    P->st.documents += n_docs;
    P->order.n = 0;
    if (!vec_reserve(&P->order, (size_t)n_docs)) return vt_error(VT_ERR_NOMEM, "out of memory");
    int64_t *order = P->order.p;
    for (int64_t d = 0; d < n_docs; d++) order[d] = d;
    vt_rng_shuffle_i64(&P->rng, order, n_docs);
    for (int32_t dupe = 0; dupe < P->o->dupe_factor; dupe++) {
        if (P->o->objective == VT_PT_MLM) {
            if (dupe > 0) vt_rng_shuffle_i64(&P->rng, order, n_docs); /* each pass packs another order */
            vt_status st = packed_instances(P, n_docs);
            if (st != VT_OK) return st;
            continue;
        }
        for (int64_t di = 0; di < n_docs; di++) {
            vt_status st = document_instances(P, di, n_docs);
            if (st != VT_OK) return st;
        }
    }
    /* empty the window, keeping its memory */
    P->tokens.n = 0;
    P->seg_off.n = 1;
    P->doc_seg.n = 1;
    VEC_AT(P->seg_off, int64_t)[0] = 0;
    VEC_AT(P->doc_seg, int64_t)[0] = 0;
    return VT_OK;
}

static vt_status end_document(prep *P) {
    int64_t n_seg = (int64_t)P->seg_off.n - 1, last = VEC_AT(P->doc_seg, int64_t)[P->doc_seg.n - 1];
    P->open_doc_tokens = 0;
    if (n_seg > last) {
        if (!vec_reserve(&P->doc_seg, 1)) return vt_error(VT_ERR_NOMEM, "out of memory");
        VEC_AT(P->doc_seg, int64_t)[P->doc_seg.n++] = n_seg;
    }
    if ((int64_t)P->tokens.n >= P->o->window_tokens) return process_window(P);
    return VT_OK;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Is the line made only of what Python's str.strip() removes (Unicode
 * whitespace)? Then Google's script reads it as a blank line. */
bool vt_pt__blank_line(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n;
        if (p[i] < 0x80) c = p[i], n = 1;
        else if ((p[i] & 0xE0) == 0xC0 && i + 1 < len) c = (uint32_t)(p[i] & 0x1F) << 6 | (p[i + 1] & 0x3F), n = 2;
        else if ((p[i] & 0xF0) == 0xE0 && i + 2 < len)
            c = (uint32_t)(p[i] & 0x0F) << 12 | (uint32_t)(p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3F), n = 3;
        else return false;
        bool space = (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
                     (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
                     c == 0x3000;
        if (!space) return false;
        i += n;
    }
    return true;
}

/* One line of text: a blank line ends the document, others become a segment. */
static vt_status text_line(prep *P, const char *s, size_t len) {
    P->st.lines++;
    while (len && is_space(*s)) s++, len--;
    while (len && is_space(s[len - 1])) len--;
    if (!len) return end_document(P);
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.add_special_tokens = false;
    vt_status st = vt_tok_encode(P->tok, s, len, NULL, 0, &eo, &P->enc);
    if (st != VT_OK) return st;
    if (P->enc.len == 0) /* a line without tokens is skipped, unless it is blank to Python */
        return vt_pt__blank_line(s, len) ? end_document(P) : VT_OK;
    if (!vec_reserve(&P->tokens, (size_t)P->enc.len) || !vec_reserve(&P->seg_off, 1))
        return vt_error(VT_ERR_NOMEM, "out of memory");
    memcpy(VEC_AT(P->tokens, int32_t) + P->tokens.n, P->enc.ids, (size_t)P->enc.len * sizeof(int32_t));
    P->tokens.n += (size_t)P->enc.len;
    VEC_AT(P->seg_off, int64_t)[P->seg_off.n++] = (int64_t)P->tokens.n;
    P->open_doc_tokens += P->enc.len;
    if (P->open_doc_tokens >= P->o->window_tokens) return end_document(P); /* a document longer than a window */
    return VT_OK;
}

static vt_status jsonl_line(prep *P, const char *path, int64_t line_no, const char *s, size_t len) {
    size_t k = 0;
    while (k < len && is_space(s[k])) k++;
    if (k == len) return VT_OK; /* blank lines between records are fine */
    cJSON *j = cJSON_ParseWithLength(s, len);
    if (!j) return vt_error(VT_ERR_FORMAT, "%s:%lld: malformed JSON", path, (long long)line_no);
    const cJSON *f = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, P->o->text_field) : NULL;
    vt_status st = VT_OK;
    if (!cJSON_IsObject(j)) st = vt_error(VT_ERR_FORMAT, "%s:%lld: a JSON object was expected", path, (long long)line_no);
    else if (!f) st = vt_error(VT_ERR_FORMAT, "%s:%lld: no \"%s\" field", path, (long long)line_no, P->o->text_field);
    else if (!cJSON_IsString(f))
        st = vt_error(VT_ERR_FORMAT, "%s:%lld: field \"%s\" is not a string", path, (long long)line_no, P->o->text_field);
    else if (P->clm)
        st = vt_pt__clm_document(P->clm, path, line_no, P->o->text_field, f->valuestring, strlen(f->valuestring));
    else {
        const char *t = f->valuestring;
        for (;;) {
            const char *nl = strchr(t, '\n');
            size_t n = nl ? (size_t)(nl - t) : strlen(t);
            st = text_line(P, t, n);
            if (st != VT_OK || !nl) break;
            t = nl + 1;
        }
        if (st == VT_OK) st = end_document(P); /* a record is (at least) one document */
    }
    cJSON_Delete(j);
    return st;
}

static vt_status read_file(prep *P, const char *path, vt_pt_progress_fn progress, void *ctx) {
    FILE *f = fopen(path, "rb");
    if (!f) return vt_error(VT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t line_no = 0, last_report = P->st.bytes_read;
    vt_status st = VT_OK;
    errno = 0;
    while (st == VT_OK && (n = getline(&line, &cap, f)) >= 0) {
        line_no++;
        P->st.bytes_read += n;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        st = P->o->jsonl ? jsonl_line(P, path, line_no, line, len)
             : P->clm   ? vt_pt__clm_line(P->clm, path, line_no, line, len)
                        : text_line(P, line, len);
        if (st == VT_OK && progress && P->st.bytes_read - last_report >= (1 << 16)) {
            progress(P->st.bytes_read, ctx);
            last_report = P->st.bytes_read;
        }
    }
    if (st == VT_OK && ferror(f)) st = vt_error(VT_ERR_IO, "error reading %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (st == VT_OK) st = P->clm ? vt_pt__clm_end_document(P->clm) : end_document(P); /* the end of a file ends a document */
    if (st == VT_OK && progress) progress(P->st.bytes_read, ctx);
    return st;
}

/* ---- the output directory ---------------------------------------------- */

static char *hex64(char *buf, uint64_t v) {
    snprintf(buf, 17, "%016" PRIx64, v);
    return buf;
}

static vt_status write_manifest(prep *P, const char *out_dir) {
    const vt_pt_options *o = P->o;
    char hex[17];
    cJSON *j = cJSON_CreateObject(), *shards = NULL;
    bool ok = j != NULL;
    ok = ok && cJSON_AddStringToObject(j, "format", "verto-pretraining");
    ok = ok && cJSON_AddNumberToObject(j, "version", VT_PT_VERSION);
    ok = ok && cJSON_AddNumberToObject(j, "vocab_size", P->vocab_size);
    ok = ok && cJSON_AddStringToObject(j, "vocab_hash", hex64(hex, vt_pt_vocab_hash(vt_tok_vocab(P->tok))));
    ok = ok && cJSON_AddNumberToObject(j, "max_seq_length", o->max_seq_length);
    ok = ok && cJSON_AddStringToObject(j, "objective", vt_pt_objective_name(o->objective));
    bool clm = o->objective == VT_PT_CLM;
    ok = ok && cJSON_AddStringToObject(j, "masking", clm ? "none" : o->dynamic_masking ? "dynamic" : "static");
    if (clm) ok = ok && cJSON_AddNumberToObject(j, "eos_id", P->eos);
    ok = ok && cJSON_AddBoolToObject(j, "whole_word_mask", o->mask.whole_word_mask);
    ok = ok && cJSON_AddNumberToObject(j, "masked_lm_prob", o->mask.masked_lm_prob);
    /* for dynamic masking: what the masker at load time should use */
    int32_t max_pred = o->mask.max_predictions < o->max_seq_length ? o->mask.max_predictions : o->max_seq_length;
    ok = ok && cJSON_AddNumberToObject(j, "max_predictions", max_pred);
    ok = ok && cJSON_AddNumberToObject(j, "short_seq_prob", o->short_seq_prob);
    ok = ok && cJSON_AddNumberToObject(j, "dupe_factor", clm ? 1 : o->dupe_factor);
    ok = ok && cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    ok = ok && cJSON_AddBoolToObject(j, "lowercase", vt_tok_get_options(P->tok)->lowercase);
    ok = ok && cJSON_AddNumberToObject(j, "documents", (double)P->st.documents);
    ok = ok && cJSON_AddNumberToObject(j, "instances", (double)P->st.instances);
    ok = ok && cJSON_AddNumberToObject(j, "tokens", (double)P->st.tokens);
    ok = ok && (shards = cJSON_AddArrayToObject(j, "shards")) != NULL;
    for (size_t s = 0; ok && s < P->shard_count.n; s++) {
        char name[32];
        vt_pt_shard_name(name, sizeof name, (int32_t)s);
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToArray(shards, e);
        ok = ok && cJSON_AddStringToObject(e, "file", name);
        ok = ok && cJSON_AddNumberToObject(e, "instances", (double)VEC_AT(P->shard_count, int64_t)[s]);
        ok = ok && cJSON_AddStringToObject(e, "checksum", hex64(hex, VEC_AT(P->shard_sum, uint64_t)[s]));
    }
    char *text = ok ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) return vt_error(VT_ERR_NOMEM, "out of memory writing the manifest");
    char *path = path_join(out_dir, "manifest.json");
    size_t len = strlen(text);
    text[len] = '\n'; /* cJSON_Print's buffer has room for its NUL, which becomes a newline */
    vt_status st = path ? vt_write_file_atomic(path, text, len + 1) : vt_error(VT_ERR_NOMEM, "out of memory");
    free(path);
    free(text);
    return st;
}

/* Removes the staging folder and whatever is in it. */
static void remove_staging(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = path_join(dir, e->d_name);
            if (p) unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Moves the staged shards to their final names, writes the manifest, then
 * removes shards of an earlier, larger run. */
static vt_status publish(prep *P, const char *out_dir) {
    size_t n = P->shard_count.n;
    for (size_t s = 0; s < n; s++) {
        char name[32];
        vt_pt_shard_name(name, sizeof name, (int32_t)s);
        char *from = path_join(P->staging, name), *to = path_join(out_dir, name);
        int rc = from && to ? rename(from, to) : -1;
        int err = errno;
        free(from);
        free(to);
        if (rc) return vt_error(VT_ERR_IO, "cannot move %s into %s: %s", name, out_dir, strerror(err));
    }
    vt_status st = write_manifest(P, out_dir);
    if (st != VT_OK) return st;
    for (int32_t s = (int32_t)n;; s++) {
        char name[32];
        vt_pt_shard_name(name, sizeof name, s);
        char *p = path_join(out_dir, name);
        int rc = p ? unlink(p) : -1;
        free(p);
        if (rc) break;
    }
    return VT_OK;
}

/* ---- entry point ------------------------------------------------------- */

static vt_status check_options(const vt_pt_options *o) {
    if (o->objective != VT_PT_MLM_NSP && o->objective != VT_PT_MLM && o->objective != VT_PT_CLM)
        return vt_error(VT_ERR_INVALID_ARG, "unknown pretraining objective %d", (int)o->objective);
    if (o->max_seq_length < 5 || o->max_seq_length > VT_PT_MAX_SEQ_LENGTH_LIMIT)
        return vt_error(VT_ERR_INVALID_ARG, "max_seq_length must be in [5, %d], got %d", VT_PT_MAX_SEQ_LENGTH_LIMIT,
                        (int)o->max_seq_length);
    if (!(o->short_seq_prob >= 0 && o->short_seq_prob <= 1))
        return vt_error(VT_ERR_INVALID_ARG, "short_seq_prob must be in [0, 1], got %g", o->short_seq_prob);
    if (!(o->mask.masked_lm_prob > 0 && o->mask.masked_lm_prob <= 1))
        return vt_error(VT_ERR_INVALID_ARG, "masked_lm_prob must be in (0, 1], got %g", o->mask.masked_lm_prob);
    if (o->mask.max_predictions < 1)
        return vt_error(VT_ERR_INVALID_ARG, "max_predictions must be >= 1, got %d", (int)o->mask.max_predictions);
    if (o->dupe_factor < 1) return vt_error(VT_ERR_INVALID_ARG, "dupe_factor must be >= 1, got %d", (int)o->dupe_factor);
    if (o->instances_per_shard < 1 || o->window_tokens < 1 || o->shuffle_buffer < 1)
        return vt_error(VT_ERR_INVALID_ARG, "instances_per_shard, window_tokens and shuffle_buffer must be >= 1");
    if (o->jsonl && (!o->text_field || !*o->text_field))
        return vt_error(VT_ERR_INVALID_ARG, "JSONL input needs a text field name");
    return VT_OK;
}

static void prep_free(prep *P) {
    vt_pt_masker_free(P->masker);
    vt_pt__clm_free(P->clm);
    vt_tok_encoding_free(&P->enc);
    free(P->tokens.p), free(P->seg_off.p), free(P->doc_seg.p), free(P->order.p), free(P->a.p), free(P->b.p);
    free(P->i_tok), free(P->i_pos), free(P->i_lab), free(P->i_seg);
    free(P->s_tok), free(P->s_pos), free(P->s_lab), free(P->s_meta), free(P->s_seg);
    vt_pt_shard_writer_abort(P->w);
    free(P->shard_count.p), free(P->shard_sum.p);
    if (P->staging) remove_staging(P->staging);
    free(P->staging);
}

vt_status vt_pt_prepare(const vt_tokenizer *tok, const char *const *files, int n_files, const char *out_dir,
                        const vt_pt_options *o, vt_pt_progress_fn progress, void *progress_ctx, vt_pt_stats *stats) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (!tok || !files || n_files < 1 || !out_dir || !o)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_prepare: a tokenizer, input files, an output directory and options are needed");
    vt_status st = check_options(o);
    if (st != VT_OK) return st;
    for (int i = 0; i < n_files; i++) { /* every input readable before anything is written */
        struct stat sb;
        FILE *f = files[i] ? fopen(files[i], "rb") : NULL;
        int err = errno;
        if (f && fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) err = EISDIR;
        else if (f) err = 0;
        if (f) fclose(f);
        if (err || !files[i])
            return vt_error(VT_ERR_IO, "cannot read %s: %s", files[i] ? files[i] : "(null)", strerror(err ? err : EINVAL));
    }

    prep P = {0};
    P.tok = tok;
    P.o = o;
    const vt_wp_vocab *vocab = vt_tok_vocab(tok);
    P.vocab_size = vt_wp_vocab_size(vocab);
    vt_tok_special sp = vt_tok_special_ids(tok);
    P.cls = sp.cls, P.sep = sp.sep;
    bool clm = o->objective == VT_PT_CLM;
    P.max_pred = o->dynamic_masking || clm ? 0 : o->mask.max_predictions;
    if (P.max_pred > o->max_seq_length) P.max_pred = o->max_seq_length;
    if (clm) {
        st = vt_pt__clm_eos(tok, o->eos_token, &P.eos);
        if (st != VT_OK) return st;
        if (!(P.clm = vt_pt__clm_new(tok, P.eos, o->max_seq_length, clm_block, &P))) return vt_last_status();
    } else {
        vt_pt_mask_options mo = o->mask;
        mo.max_predictions = P.max_pred ? P.max_pred : 1;
        P.masker = vt_pt_masker_new(tok, &mo, o->max_seq_length); /* also checks [MASK] exists for dynamic shards */
        if (!P.masker) return vt_last_status();
    }
    vt_rng_seed(&P.rng, o->seed);
    vt_tok_encoding_init(&P.enc);
    P.tokens.elem = sizeof(int32_t), P.seg_off.elem = P.doc_seg.elem = P.order.elem = sizeof(int64_t);
    P.a.elem = P.b.elem = sizeof(int32_t);
    P.shard_count.elem = sizeof(int64_t), P.shard_sum.elem = sizeof(uint64_t);
    size_t S = (size_t)o->max_seq_length;
    P.i_tok = malloc(S * sizeof *P.i_tok);
    P.i_seg = calloc(S, 1);
    P.i_pos = malloc(S * sizeof *P.i_pos);
    P.i_lab = malloc(S * sizeof *P.i_lab);
    if (!P.i_tok || !P.i_seg || !P.i_pos || !P.i_lab || !vec_reserve(&P.seg_off, 1) || !vec_reserve(&P.doc_seg, 1)) {
        prep_free(&P);
        return vt_error(VT_ERR_NOMEM, "out of memory");
    }
    VEC_AT(P.seg_off, int64_t)[P.seg_off.n++] = 0;
    VEC_AT(P.doc_seg, int64_t)[P.doc_seg.n++] = 0;

    st = vt_mkdir_p(out_dir);
    if (st == VT_OK) {
        char *tmpl = path_join(out_dir, ".staging-XXXXXX");
        if (!tmpl) st = vt_error(VT_ERR_NOMEM, "out of memory");
        else if (!mkdtemp(tmpl)) {
            st = vt_error(VT_ERR_IO, "cannot write into %s: %s", out_dir, strerror(errno));
            free(tmpl);
        } else P.staging = tmpl;
    }
    for (int i = 0; st == VT_OK && i < n_files; i++) st = read_file(&P, files[i], progress, progress_ctx);
    if (st == VT_OK) st = process_window(&P);
    if (st == VT_OK && o->objective == VT_PT_MLM) st = flush_last_packed(&P);
    if (st == VT_OK && clm) {
        vt_pt__clm_counts c = vt_pt__clm_counts_of(P.clm);
        P.st.documents = c.documents, P.st.dropped_tokens = c.dropped;
        if (c.documents > 0 && c.tokens < o->max_seq_length)
            st = vt_error(VT_ERR_FORMAT, "%s%s: %lld tokens, fewer than one block of %d (--max-seq-length)", files[0],
                          n_files > 1 ? " and the other inputs" : "", (long long)c.tokens, (int)o->max_seq_length);
    }
    if (st == VT_OK && P.st.documents == 0)
        st = vt_error(VT_ERR_FORMAT, "no text in %s%s: nothing to make instances from", files[0],
                      n_files > 1 ? " and the other inputs" : "");
    if (st == VT_OK) st = drain(&P);
    if (st == VT_OK) {
        if (P.masker) {
            vt_pt_mask_counts c = vt_pt__masker_counts(P.masker);
            P.st.masked_as_mask = c.as_mask, P.st.masked_as_keep = c.as_keep, P.st.masked_as_random = c.as_random;
        }
        P.st.shards = (int64_t)P.shard_count.n;
        st = publish(&P, out_dir);
    }
    if (stats) *stats = P.st;
    prep_free(&P);
    return st;
}
