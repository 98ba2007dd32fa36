/* The VTPT shard format (see include/verto/pretrain_data.h): writing through
 * an in-memory buffer committed atomically, and a validating parser. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/pretrain_internal.h"
#include "verto/fileio.h"
#include "core/hash.h"

uint64_t vt_pt_vocab_hash(const vt_wp_vocab *v) {
    uint64_t h = VT_FNV64_INIT;
    int32_t n = v ? vt_wp_vocab_size(v) : 0;
    for (int32_t id = 0; id < n; id++) {
        const char *t = vt_wp_vocab_token(v, id);
        if (t) h = vt_fnv1a64(h, t, strlen(t));
        h = vt_fnv1a64(h, "\n", 1);
    }
    return h;
}

void vt_pt_shard_name(char *buf, size_t size, int32_t index) { snprintf(buf, size, "shard-%05d.vtpt", (int)index); }

/* ---- writing ----------------------------------------------------------- */

struct vt_pt_shard_writer {
    char *path;
    uint32_t flags;
    int32_t max_seq_length, vocab_size, max_predictions;
    uint64_t count;
    uint8_t *buf;
    size_t len, cap;
};

static bool wbuf_reserve(vt_pt_shard_writer *w, size_t more) {
    if (w->cap - w->len >= more) return true;
    size_t cap = w->cap ? w->cap : 1 << 16;
    while (cap - w->len < more) cap *= 2;
    uint8_t *p = realloc(w->buf, cap);
    if (!p) return false;
    w->buf = p;
    w->cap = cap;
    return true;
}

vt_pt_shard_writer *vt_pt_shard_writer_open(const char *path, uint32_t flags, int32_t max_seq_length,
                                            int32_t vocab_size, int32_t max_predictions) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_shard_writer_open: NULL path"), NULL;
    if (flags & ~(uint32_t)(VT_PT_FLAG_MASKED | VT_PT_FLAG_WHOLE_WORD))
        return vt_error(VT_ERR_INVALID_ARG, "%s: unknown shard flags 0x%x", path, (unsigned)flags), NULL;
    if (max_seq_length < 5 || max_seq_length > VT_PT_MAX_SEQ_LENGTH_LIMIT || vocab_size < 1 || max_predictions < 0 ||
        max_predictions > max_seq_length)
        return vt_error(VT_ERR_INVALID_ARG, "%s: bad shard header (max_seq_length %d, vocab_size %d, max_predictions %d)",
                        path, (int)max_seq_length, (int)vocab_size, (int)max_predictions),
               NULL;
    vt_pt_shard_writer *w = calloc(1, sizeof *w);
    if (w) w->path = strdup(path);
    if (!w || !w->path || !wbuf_reserve(w, VT_PT_HEADER_BYTES)) {
        vt_pt_shard_writer_abort(w);
        return vt_error(VT_ERR_NOMEM, "out of memory for shard %s", path), NULL;
    }
    w->flags = flags;
    w->max_seq_length = max_seq_length;
    w->vocab_size = vocab_size;
    w->max_predictions = max_predictions;
    w->len = VT_PT_HEADER_BYTES; /* filled at commit */
    return w;
}

vt_status vt_pt_shard_writer_add(vt_pt_shard_writer *w, const vt_pt_instance *in) {
    if (!w || !in) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_shard_writer_add: NULL argument");
    int32_t n = in->n_tokens, m = in->n_masked;
    bool masked = w->flags & VT_PT_FLAG_MASKED;
    if (n < 5 || n > w->max_seq_length || m < 0 || m > n || m > w->max_predictions || (masked ? m < 1 : m != 0) ||
        (in->is_random_next != 0 && in->is_random_next != 1) || !in->tokens || !in->segment_ids ||
        (m && (!in->positions || !in->labels)))
        return vt_error(VT_ERR_INVALID_ARG, "%s: instance %" PRIu64 " does not fit the shard (%d tokens, %d masked)",
                        w->path, w->count, (int)n, (int)m);
    for (int32_t i = 0; i < n; i++)
        if (in->tokens[i] < 0 || in->tokens[i] >= w->vocab_size || in->segment_ids[i] > 1)
            return vt_error(VT_ERR_INVALID_ARG, "%s: instance %" PRIu64 " token %d: id %d / segment %d out of range",
                            w->path, w->count, (int)i, (int)in->tokens[i], (int)in->segment_ids[i]);
    for (int32_t k = 0; k < m; k++)
        if (in->positions[k] < 0 || in->positions[k] >= n || (k && in->positions[k] <= in->positions[k - 1]) ||
            in->labels[k] < 0 || in->labels[k] >= w->vocab_size)
            return vt_error(VT_ERR_INVALID_ARG, "%s: instance %" PRIu64 " label %d out of range or out of order",
                            w->path, w->count, (int)k);
    size_t bytes = 12 + (size_t)n * 5 + (size_t)m * 8;
    if (!wbuf_reserve(w, bytes)) return vt_error(VT_ERR_NOMEM, "out of memory writing %s", w->path);
    uint8_t *p = w->buf + w->len;
    vt_pt__put_u32(p, (uint32_t)n);
    vt_pt__put_u32(p + 4, (uint32_t)m);
    vt_pt__put_u32(p + 8, (uint32_t)in->is_random_next);
    p += 12;
    for (int32_t i = 0; i < n; i++, p += 4) vt_pt__put_u32(p, (uint32_t)in->tokens[i]);
    memcpy(p, in->segment_ids, (size_t)n);
    p += n;
    for (int32_t k = 0; k < m; k++, p += 4) vt_pt__put_u32(p, (uint32_t)in->positions[k]);
    for (int32_t k = 0; k < m; k++, p += 4) vt_pt__put_u32(p, (uint32_t)in->labels[k]);
    w->len += bytes;
    w->count++;
    return VT_OK;
}

vt_status vt_pt_shard_writer_commit(vt_pt_shard_writer *w, uint64_t *checksum) {
    if (!w) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_shard_writer_commit: NULL writer");
    if (!wbuf_reserve(w, VT_PT_CHECKSUM_BYTES)) {
        vt_pt_shard_writer_abort(w);
        return vt_error(VT_ERR_NOMEM, "out of memory writing %s", w->path);
    }
    uint8_t *h = w->buf;
    memcpy(h, VT_PT_MAGIC, 4);
    vt_pt__put_u32(h + 4, VT_PT_VERSION);
    vt_pt__put_u32(h + 8, w->flags);
    vt_pt__put_u32(h + 12, (uint32_t)w->max_seq_length);
    vt_pt__put_u32(h + 16, (uint32_t)w->vocab_size);
    vt_pt__put_u32(h + 20, (uint32_t)w->max_predictions);
    vt_pt__put_u64(h + 24, w->count);
    uint64_t sum = vt_fnv1a64(VT_FNV64_INIT, w->buf, w->len);
    vt_pt__put_u64(w->buf + w->len, sum);
    w->len += VT_PT_CHECKSUM_BYTES;
    vt_status st = vt_write_file_atomic(w->path, w->buf, w->len);
    if (st == VT_OK && checksum) *checksum = sum;
    vt_pt_shard_writer_abort(w);
    return st;
}

void vt_pt_shard_writer_abort(vt_pt_shard_writer *w) {
    if (!w) return;
    free(w->buf);
    free(w->path);
    free(w);
}

/* ---- reading ----------------------------------------------------------- */

struct vt_pt_shard {
    uint32_t flags;
    int32_t max_seq_length, vocab_size, max_predictions;
    int64_t count;
    uint64_t checksum;
    int64_t *tok_off;   /* (count + 1) into tokens / segments */
    int64_t *mask_off;  /* (count + 1) into positions / labels */
    uint8_t *random_next; /* (count) */
    int32_t *tokens;    /* (total tokens) */
    uint8_t *segments;  /* (total tokens) */
    int32_t *positions; /* (total masked) */
    int32_t *labels;    /* (total masked) */
};

void vt_pt_shard_free(vt_pt_shard *s) {
    if (!s) return;
    free(s->tok_off);
    free(s->mask_off);
    free(s->random_next);
    free(s->tokens);
    free(s->segments);
    free(s->positions);
    free(s->labels);
    free(s);
}

#define BAD(...) (vt_error(VT_ERR_FORMAT, __VA_ARGS__), vt_pt_shard_free(s), (vt_pt_shard *)NULL)

vt_pt_shard *vt_pt_shard_parse(const void *data, size_t len, const char *label, int32_t vocab_size) {
    const uint8_t *b = data;
    vt_pt_shard *s = NULL;
    if (!label) label = "shard";
    if (!data && len) return BAD("%s: no data", label);
    const size_t min_len = VT_PT_HEADER_BYTES + VT_PT_CHECKSUM_BYTES;
    if (len < 4) return BAD("%s: truncated: %zu bytes, a shard has at least %zu", label, len, min_len);
    if (memcmp(b, VT_PT_MAGIC, 4))
        return BAD("%s: not a verto pretraining shard (bad magic at offset 0; expected \"VTPT\")", label);
    if (len < min_len) return BAD("%s: truncated: %zu bytes, a shard has at least %zu", label, len, min_len);
    uint32_t version = vt_pt__get_u32(b + 4), flags = vt_pt__get_u32(b + 8);
    uint32_t msl = vt_pt__get_u32(b + 12), vs = vt_pt__get_u32(b + 16), maxp = vt_pt__get_u32(b + 20);
    uint64_t count = vt_pt__get_u64(b + 24);
    if (version != VT_PT_VERSION)
        return BAD("%s: unsupported shard version %u at offset 4 (this build reads version %d)", label, (unsigned)version,
                   VT_PT_VERSION);
    if (flags & ~(uint32_t)(VT_PT_FLAG_MASKED | VT_PT_FLAG_WHOLE_WORD))
        return BAD("%s: unknown flags 0x%x at offset 8", label, (unsigned)flags);
    if (msl < 5 || msl > VT_PT_MAX_SEQ_LENGTH_LIMIT)
        return BAD("%s: max_seq_length %u at offset 12 is outside [5, %d]", label, (unsigned)msl,
                   VT_PT_MAX_SEQ_LENGTH_LIMIT);
    if (vs < 1 || vs > INT32_MAX) return BAD("%s: vocab_size %u at offset 16 is invalid", label, (unsigned)vs);
    if (vocab_size > 0 && (int64_t)vs != vocab_size)
        return BAD("%s: written for a vocabulary of %u tokens (offset 16), but this vocabulary has %d", label,
                   (unsigned)vs, (int)vocab_size);
    if (maxp > msl) return BAD("%s: max_predictions %u at offset 20 exceeds max_seq_length %u", label, (unsigned)maxp,
                               (unsigned)msl);
    const size_t min_inst = 12 + 5 * 5; /* smallest instance record */
    if (count > (len - min_len) / min_inst)
        return BAD("%s: instance count %" PRIu64 " at offset 24 cannot fit in %zu bytes", label, count, len);
    bool masked = flags & VT_PT_FLAG_MASKED;

    /* Pass 1: structure, counts, bounds. */
    size_t off = VT_PT_HEADER_BYTES, end = len - VT_PT_CHECKSUM_BYTES;
    uint64_t total_tok = 0, total_mask = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (end - off < 12)
            return BAD("%s: truncated: instance %" PRIu64 " at offset %zu needs a 12-byte head, %zu bytes left", label, i,
                       off, end - off);
        uint32_t n = vt_pt__get_u32(b + off), m = vt_pt__get_u32(b + off + 4), rn = vt_pt__get_u32(b + off + 8);
        if (n < 5 || n > msl)
            return BAD("%s: instance %" PRIu64 " at offset %zu: %u tokens, outside [5, %u]", label, i, off, (unsigned)n,
                       (unsigned)msl);
        if (m > n || m > maxp || (masked ? m < 1 : m != 0))
            return BAD("%s: instance %" PRIu64 " at offset %zu: %u masked positions (of %u tokens, max_predictions %u, %s)",
                       label, i, off + 4, (unsigned)m, (unsigned)n, (unsigned)maxp, masked ? "masked" : "unmasked");
        if (rn > 1)
            return BAD("%s: instance %" PRIu64 " at offset %zu: is_random_next %u is not 0 or 1", label, i, off + 8,
                       (unsigned)rn);
        size_t need = (size_t)n * 5 + (size_t)m * 8;
        if (end - off - 12 < need)
            return BAD("%s: truncated: instance %" PRIu64 " at offset %zu needs %zu bytes, %zu left", label, i, off,
                       need + 12, end - off);
        const uint8_t *p = b + off + 12;
        for (uint32_t t = 0; t < n; t++) {
            uint32_t id = vt_pt__get_u32(p + 4 * (size_t)t);
            if (id >= vs)
                return BAD("%s: instance %" PRIu64 " token %u at offset %zu: id %u outside the vocabulary of %u", label, i,
                           (unsigned)t, (size_t)(p + 4 * (size_t)t - b), (unsigned)id, (unsigned)vs);
        }
        const uint8_t *seg = p + 4 * (size_t)n;
        for (uint32_t t = 0; t < n; t++)
            if (seg[t] > 1)
                return BAD("%s: instance %" PRIu64 " at offset %zu: segment id %u is not 0 or 1", label, i,
                           (size_t)(seg + t - b), (unsigned)seg[t]);
        const uint8_t *pos = seg + n, *lab = pos + 4 * (size_t)m;
        for (uint32_t k = 0; k < m; k++) {
            uint32_t q = vt_pt__get_u32(pos + 4 * (size_t)k), id = vt_pt__get_u32(lab + 4 * (size_t)k);
            if (q >= n || (k && q <= vt_pt__get_u32(pos + 4 * (size_t)(k - 1))))
                return BAD("%s: instance %" PRIu64 " at offset %zu: masked position %u out of range or order", label, i,
                           (size_t)(pos + 4 * (size_t)k - b), (unsigned)q);
            if (id >= vs)
                return BAD("%s: instance %" PRIu64 " at offset %zu: label id %u outside the vocabulary of %u", label, i,
                           (size_t)(lab + 4 * (size_t)k - b), (unsigned)id, (unsigned)vs);
        }
        off += 12 + need;
        total_tok += n;
        total_mask += m;
    }
    if (off != end)
        return BAD("%s: %zu unexpected bytes after instance %" PRIu64 " at offset %zu", label, end - off, count, off);
    uint64_t want = vt_pt__get_u64(b + end), got = vt_fnv1a64(VT_FNV64_INIT, b, end);
    if (want != got)
        return BAD("%s: checksum mismatch at offset %zu (stored %016" PRIx64 ", computed %016" PRIx64 "): the file is corrupt",
                   label, end, want, got);

    /* Pass 2: copy into aligned arrays. */
    s = calloc(1, sizeof *s);
    if (!s) return vt_error(VT_ERR_NOMEM, "out of memory loading %s", label), NULL;
    s->flags = flags;
    s->max_seq_length = (int32_t)msl;
    s->vocab_size = (int32_t)vs;
    s->max_predictions = (int32_t)maxp;
    s->count = (int64_t)count;
    s->checksum = got;
    s->tok_off = malloc((count + 1) * sizeof *s->tok_off);
    s->mask_off = malloc((count + 1) * sizeof *s->mask_off);
    s->random_next = malloc(count + 1);
    s->tokens = malloc((total_tok + 1) * sizeof *s->tokens);
    s->segments = malloc(total_tok + 1);
    s->positions = malloc((total_mask + 1) * sizeof *s->positions);
    s->labels = malloc((total_mask + 1) * sizeof *s->labels);
    if (!s->tok_off || !s->mask_off || !s->random_next || !s->tokens || !s->segments || !s->positions || !s->labels) {
        vt_pt_shard_free(s);
        return vt_error(VT_ERR_NOMEM, "out of memory loading %s", label), NULL;
    }
    off = VT_PT_HEADER_BYTES;
    int64_t tt = 0, tm = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint32_t n = vt_pt__get_u32(b + off), m = vt_pt__get_u32(b + off + 4);
        s->random_next[i] = (uint8_t)vt_pt__get_u32(b + off + 8);
        s->tok_off[i] = tt;
        s->mask_off[i] = tm;
        const uint8_t *p = b + off + 12;
        for (uint32_t t = 0; t < n; t++) s->tokens[tt + t] = (int32_t)vt_pt__get_u32(p + 4 * (size_t)t);
        memcpy(s->segments + tt, p + 4 * (size_t)n, n);
        p += 5 * (size_t)n;
        for (uint32_t k = 0; k < m; k++) {
            s->positions[tm + k] = (int32_t)vt_pt__get_u32(p + 4 * (size_t)k);
            s->labels[tm + k] = (int32_t)vt_pt__get_u32(p + 4 * ((size_t)m + k));
        }
        tt += n;
        tm += m;
        off += 12 + 5 * (size_t)n + 8 * (size_t)m;
    }
    s->tok_off[count] = tt;
    s->mask_off[count] = tm;
    return s;
}

vt_pt_shard *vt_pt_shard_load(const char *path, int32_t vocab_size) {
    char *data = NULL;
    size_t len = 0;
    if (vt_read_file(path, (size_t)1 << 40, &data, &len) != VT_OK) return NULL;
    vt_pt_shard *s = vt_pt_shard_parse(data, len, path, vocab_size);
    free(data);
    return s;
}

int64_t vt_pt_shard_count(const vt_pt_shard *s) { return s ? s->count : 0; }
uint32_t vt_pt_shard_flags(const vt_pt_shard *s) { return s ? s->flags : 0; }
int32_t vt_pt_shard_max_seq_length(const vt_pt_shard *s) { return s ? s->max_seq_length : 0; }
uint64_t vt_pt_shard_checksum(const vt_pt_shard *s) { return s ? s->checksum : 0; }

vt_status vt_pt_shard_get(const vt_pt_shard *s, int64_t i, vt_pt_instance *out) {
    if (!s || !out) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_shard_get: NULL argument");
    if (i < 0 || i >= s->count)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_shard_get: instance %lld of %lld", (long long)i, (long long)s->count);
    int64_t t0 = s->tok_off[i], m0 = s->mask_off[i];
    out->n_tokens = (int32_t)(s->tok_off[i + 1] - t0);
    out->tokens = s->tokens + t0;
    out->segment_ids = s->segments + t0;
    out->is_random_next = s->random_next[i];
    out->n_masked = (int32_t)(s->mask_off[i + 1] - m0);
    out->positions = s->positions + m0;
    out->labels = s->labels + m0;
    return VT_OK;
}
