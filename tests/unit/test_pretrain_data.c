/* Pretraining data: the shard format (round trip, every corruption), masking
 * rules, the dataset reader and batch builder, determinism, failure leaving
 * earlier outputs intact, and statistics parity with an independent Python
 * implementation of create_pretraining_data (tests/ref/gen_pretrain_stats.py). */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vt_test.h"
#include "verto/fileio.h"
#include "verto/pretrain_data.h"
#include "core/hash.h"

#define CORPUS "tests/data/pretrain/sotu_sample.txt"
#define VOCAB "tests/data/tokenizer/uncased/vocab.txt"

/* ---- helpers ----------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static void rm_rf(char *dir) {
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *join(const char *a, const char *b) {
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", a, b) > 0);
    return p;
}

static char *slurp(const char *path, size_t *len) {
    char *d = NULL;
    assert_int_equal(vt_read_file(path, (size_t)1 << 30, &d, len), VT_OK);
    return d;
}

static void write_text(const char *path, const char *text) {
    assert_int_equal(vt_write_file_atomic(path, text, strlen(text)), VT_OK);
}

static bool contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* A tiny vocabulary: specials, words and "##" pieces. */
static const char TINY_VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\non\nmat\n##s\n##ing\nrun\ndog\n.\n";
enum { T_PAD, T_UNK, T_CLS, T_SEP, T_MASK, T_THE, T_CAT, T_SAT, T_ON, T_MAT, T_S, T_ING, T_RUN, T_DOG, T_DOT, T_N };

static vt_tokenizer *load_tok(void) {
    vt_tok_options o;
    vt_tok_options_default(&o);
    o.split_special_tokens = true;
    vt_tokenizer *t = vt_tok_load(VOCAB, &o);
    if (!t) fail_msg("%s", vt_last_error());
    return t;
}

/* A two-instance shard in memory (static masking), from the writer. */
static char *tiny_shard(const char *dir, size_t *len, char **path_out) {
    char *path = join(dir, "tiny.vtpt");
    vt_pt_shard_writer *w = vt_pt_shard_writer_open(path, VT_PT_FLAG_MASKED, 16, T_N, 4);
    assert_non_null(w);
    int32_t t1[] = {T_CLS, T_THE, T_MASK, T_SEP, T_SAT, T_ON, T_SEP};
    uint8_t s1[] = {0, 0, 0, 0, 1, 1, 1};
    int32_t p1[] = {2, 5}, l1[] = {T_CAT, T_ON};
    int32_t t2[] = {T_CLS, T_DOG, T_S, T_SEP, T_RUN, T_ING, T_DOT, T_SEP};
    uint8_t s2[] = {0, 0, 0, 0, 1, 1, 1, 1};
    int32_t p2[] = {6}, l2[] = {T_DOT};
    vt_pt_instance a = {7, t1, s1, 0, 2, p1, l1}, b = {8, t2, s2, 1, 1, p2, l2};
    assert_int_equal(vt_pt_shard_writer_add(w, &a), VT_OK);
    assert_int_equal(vt_pt_shard_writer_add(w, &b), VT_OK);
    /* the writer refuses what the reader would refuse */
    int32_t bad_t[] = {T_CLS, T_THE, 99, T_SEP, T_SEP};
    vt_pt_instance bad = {5, bad_t, s1, 0, 1, p2, l2};
    assert_int_not_equal(vt_pt_shard_writer_add(w, &bad), VT_OK);
    vt_pt_instance unmasked = {7, t1, s1, 0, 0, NULL, NULL};
    assert_int_not_equal(vt_pt_shard_writer_add(w, &unmasked), VT_OK);
    uint64_t sum = 0;
    assert_int_equal(vt_pt_shard_writer_commit(w, &sum), VT_OK);
    char *d = slurp(path, len);
    assert_int_equal(*len, 32 + (12 + 7 * 5 + 2 * 8) + (12 + 8 * 5 + 8) + 8);
    if (path_out) *path_out = path;
    else free(path);
    return d;
}

static void put_u32(char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (char)(v >> (8 * k));
}
static void reseal(char *d, size_t len) { /* recompute the checksum after patching */
    uint64_t h = vt_fnv1a64(VT_FNV64_INIT, d, len - 8);
    for (int k = 0; k < 8; k++) d[len - 8 + k] = (char)(h >> (8 * k));
}

/* Expects parsing `d` to fail with a message holding every `want` string. */
static void expect_bad(const char *d, size_t len, int32_t vocab_size, const char *want1, const char *want2) {
    vt_pt_shard *s = vt_pt_shard_parse(d, len, "x.vtpt", vocab_size);
    if (s) fail_msg("a corrupt shard was accepted (expected '%s')", want1);
    const char *msg = vt_last_error();
    printf("  rejected: %s\n", msg);
    assert_int_equal(vt_last_status(), VT_ERR_FORMAT);
    assert_true(contains(msg, "x.vtpt"));
    if (want1) assert_true(contains(msg, want1));
    if (want2) assert_true(contains(msg, want2));
}

/* ---- shards ------------------------------------------------------------ */

static void test_shard_round_trip(void **state) {
    (void)state;
    char *dir = test_tmpdir(), *path;
    size_t len;
    char *d = tiny_shard(dir, &len, &path);
    vt_pt_shard *s = vt_pt_shard_load(path, T_N);
    assert_non_null(s);
    assert_int_equal(vt_pt_shard_count(s), 2);
    assert_int_equal(vt_pt_shard_flags(s), VT_PT_FLAG_MASKED);
    assert_int_equal(vt_pt_shard_max_seq_length(s), 16);
    vt_pt_instance x;
    assert_int_equal(vt_pt_shard_get(s, 1, &x), VT_OK);
    assert_int_equal(x.n_tokens, 8);
    assert_int_equal(x.tokens[2], T_S);
    assert_int_equal(x.segment_ids[3], 0);
    assert_int_equal(x.segment_ids[4], 1);
    assert_int_equal(x.is_random_next, 1);
    assert_int_equal(x.n_masked, 1);
    assert_int_equal(x.positions[0], 6);
    assert_int_equal(x.labels[0], T_DOT);
    assert_int_equal(vt_pt_shard_get(s, 0, &x), VT_OK);
    assert_int_equal(x.n_masked, 2);
    assert_int_equal(x.labels[1], T_ON);
    assert_int_not_equal(vt_pt_shard_get(s, 2, &x), VT_OK);
    vt_pt_shard_free(s);
    /* vocab_size <= 0: no comparison with the caller's vocabulary */
    s = vt_pt_shard_parse(d, len, "mem", 0);
    assert_non_null(s);
    vt_pt_shard_free(s);
    free(d);
    free(path);
    rm_rf(dir);
}

static void test_shard_corruptions(void **state) {
    (void)state;
    char *dir = test_tmpdir();
    size_t len;
    char *d = tiny_shard(dir, &len, NULL), *c = malloc(len);
    /* every truncation fails, naming the place */
    for (size_t n = 0; n < len; n++) {
        vt_pt_shard *s = vt_pt_shard_parse(d, n, "x.vtpt", T_N);
        assert_null(s);
        assert_true(contains(vt_last_error(), "x.vtpt"));
    }
    expect_bad(d, len - 1, T_N, "truncated", "offset");
    expect_bad(d, 32 + 12 + 7 * 5 + 2 * 8 + 20, T_N, "truncated: instance 1", "offset 95");
    /* magic */
    memcpy(c, d, len);
    c[0] = 'X';
    expect_bad(c, len, T_N, "bad magic", "offset 0");
    /* version */
    memcpy(c, d, len);
    put_u32(c + 4, 2);
    expect_bad(c, len, T_N, "version 2", "offset 4");
    /* checksum: a valid id changed */
    memcpy(c, d, len);
    put_u32(c + 32 + 12 + 4, T_DOG);
    expect_bad(c, len, T_N, "checksum mismatch", "offset");
    memcpy(c, d, len);
    c[len - 1] ^= 1;
    expect_bad(c, len, T_N, "checksum mismatch", NULL);
    /* out-of-range ids with a valid checksum: a token, then a label */
    memcpy(c, d, len);
    put_u32(c + 32 + 12 + 4 * 2, T_N + 5);
    reseal(c, len);
    expect_bad(c, len, T_N, "instance 0 token 2 at offset 52", "outside the vocabulary");
    memcpy(c, d, len);
    size_t inst1 = 32 + 12 + 7 * 5 + 2 * 8;
    put_u32(c + inst1 + 12 + 8 * 5 + 4, 1u << 31);
    reseal(c, len);
    expect_bad(c, len, T_N, "instance 1", "label id 2147483648 outside");
    /* a position out of range, out of order */
    memcpy(c, d, len);
    put_u32(c + 32 + 12 + 7 * 5, 9);
    reseal(c, len);
    expect_bad(c, len, T_N, "instance 0", "masked position 9");
    /* counts: instance count too large for the file, n_tokens too large, masked count */
    memcpy(c, d, len);
    put_u32(c + 24, 3);
    reseal(c, len);
    expect_bad(c, len, T_N, "truncated: instance 2", NULL);
    memcpy(c, d, len);
    put_u32(c + 24, 0xffffffffu);
    reseal(c, len);
    expect_bad(c, len, T_N, "instance count", "cannot fit");
    memcpy(c, d, len);
    put_u32(c + 32, 17);
    reseal(c, len);
    expect_bad(c, len, T_N, "instance 0 at offset 32", "17 tokens");
    memcpy(c, d, len);
    put_u32(c + 32 + 4, 0);
    reseal(c, len);
    expect_bad(c, len, T_N, "0 masked positions", NULL);
    /* a segment id, is_random_next, flags, header fields, trailing bytes */
    memcpy(c, d, len);
    c[32 + 12 + 7 * 4 + 1] = 2;
    reseal(c, len);
    expect_bad(c, len, T_N, "segment id 2", "offset 73");
    memcpy(c, d, len);
    put_u32(c + 32 + 8, 2);
    reseal(c, len);
    expect_bad(c, len, T_N, "is_random_next 2", NULL);
    memcpy(c, d, len);
    put_u32(c + 8, 4);
    reseal(c, len);
    expect_bad(c, len, T_N, "unknown flags", "offset 8");
    memcpy(c, d, len);
    put_u32(c + 12, 4);
    reseal(c, len);
    expect_bad(c, len, T_N, "max_seq_length 4", "offset 12");
    /* the caller's vocabulary is not the one the shard was written for */
    expect_bad(d, len, T_N + 1, "vocabulary of 15 tokens", "has 16");
    char *longer = malloc(len + 4);
    memcpy(longer, d, len - 8);
    memset(longer + len - 8, 0, 4);
    memcpy(longer + len - 4, d + len - 8, 8);
    reseal(longer, len + 4);
    expect_bad(longer, len + 4, T_N, "unexpected bytes after instance 2", NULL);
    free(longer);
    /* a file that does not exist */
    assert_null(vt_pt_shard_load("/nonexistent/x.vtpt", T_N));
    assert_true(contains(vt_last_error(), "/nonexistent/x.vtpt"));
    free(c);
    free(d);
    rm_rf(dir);
}

/* ---- masking ----------------------------------------------------------- */

static void test_masking_rules(void **state) {
    (void)state;
    vt_tokenizer *wp = vt_tok_create(vt_wp_vocab_from_buffer(TINY_VOCAB, strlen(TINY_VOCAB), "tiny"), NULL);
    assert_non_null(wp);
    vt_pt_mask_options mo;
    vt_pt_mask_options_default(&mo);
    mo.max_predictions = 5;
    vt_pt_masker *m = vt_pt_masker_new(wp, &mo, 64);
    assert_non_null(m);
    mo.whole_word_mask = true;
    mo.masked_lm_prob = 0.3;
    vt_pt_masker *ww = vt_pt_masker_new(wp, &mo, 64);
    assert_non_null(ww);
    vt_rng rng;
    vt_rng_seed(&rng, 7);
    int32_t tok[64], out[64], pos[64], lab[64], nm;
    int64_t counts[3] = {0}, total = 0;
    for (int it = 0; it < 4000; it++) {
        int32_t n = 5 + (int32_t)vt_rng_below(&rng, 60), a = 1 + (int32_t)vt_rng_below(&rng, (uint64_t)n - 4);
        tok[0] = T_CLS;
        for (int32_t i = 1; i < n; i++) tok[i] = T_THE + (int32_t)vt_rng_below(&rng, T_N - T_THE);
        tok[a + 1 > n - 2 ? n - 2 : a + 1] = T_SEP;
        tok[n - 1] = T_SEP;
        if (tok[1] == T_S || tok[1] == T_ING) tok[1] = T_THE;
        bool whole = it & 1;
        assert_int_equal(vt_pt_mask(whole ? ww : m, &rng, tok, n, out, pos, lab, &nm), VT_OK);
        int32_t cand = 0;
        for (int32_t i = 0; i < n; i++) cand += tok[i] != T_CLS && tok[i] != T_SEP;
        double p = whole ? 0.3 : 0.15;
        int32_t want = (int32_t)rint(n * p);
        want = want < 1 ? 1 : want > 5 ? 5 : want;
        if (!whole) assert_int_equal(nm, want < cand ? want : cand);
        else assert_true(nm <= want);
        bool chosen[64] = {false};
        for (int32_t k = 0; k < nm; k++) {
            assert_true(pos[k] > 0 && pos[k] < n);
            if (k) assert_true(pos[k] > pos[k - 1]);
            assert_int_not_equal(tok[pos[k]], T_CLS);
            assert_int_not_equal(tok[pos[k]], T_SEP);
            assert_int_equal(lab[k], tok[pos[k]]);
            chosen[pos[k]] = true;
            counts[out[pos[k]] == T_MASK ? 0 : out[pos[k]] == tok[pos[k]] ? 1 : 2]++;
            total++;
        }
        for (int32_t i = 0; i < n; i++)
            if (!chosen[i]) assert_int_equal(out[i], tok[i]);
        if (whole) /* a "##" piece is masked exactly when the piece or word before it is */
            for (int32_t i = 1; i < n; i++)
                if ((tok[i] == T_S || tok[i] == T_ING) && tok[i - 1] != T_SEP && tok[i - 1] != T_CLS)
                    assert_int_equal(chosen[i], chosen[i - 1]);
    }
    /* 80/10/10 (random ids that hit the same token count as kept: 1/15 of 10%) */
    double fm = (double)counts[0] / (double)total, fk = (double)counts[1] / (double)total;
    double pm = 0.8 + 0.1 / T_N, pk = 0.1 + 0.1 / T_N;
    double sm = 4 * sqrt(pm * (1 - pm) / (double)total), sk = 4 * sqrt(pk * (1 - pk) / (double)total);
    printf("  masked %lld: [MASK] %.4f (%.4f +- %.4f), kept %.4f (%.4f +- %.4f)\n", (long long)total, fm, pm, sm, fk, pk,
           sk);
    assert_true(fabs(fm - pm) <= sm);
    assert_true(fabs(fk - pk) <= sk);
    /* errors */
    tok[3] = 99;
    assert_int_equal(vt_pt_mask(m, &rng, tok, 10, out, pos, lab, &nm), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_pt_mask(m, &rng, tok, 65, out, pos, lab, &nm), VT_ERR_INVALID_ARG);
    vt_pt_masker_free(m);
    vt_pt_masker_free(ww);
    vt_tok_free(wp);
    /* a vocabulary without [MASK] */
    const char nomask[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n";
    wp = vt_tok_create(vt_wp_vocab_from_buffer(nomask, strlen(nomask), "nomask"), NULL);
    assert_null(vt_pt_masker_new(wp, &mo, 64));
    assert_true(contains(vt_last_error(), "[MASK]"));
    vt_tok_free(wp);
}

/* ---- preparing --------------------------------------------------------- */

static vt_status prepare(const vt_tokenizer *tok, const char *in, const char *out, const vt_pt_options *o,
                         vt_pt_stats *st) {
    const char *files[] = {in};
    return vt_pt_prepare(tok, files, 1, out, o, NULL, NULL, st);
}

static void test_determinism_and_layout(void **state) {
    (void)state;
    vt_tokenizer *tok = load_tok();
    char *dir = test_tmpdir(), *a = join(dir, "a"), *b = join(dir, "b"), *c = join(dir, "c");
    vt_pt_options o;
    vt_pt_options_default(&o);
    o.dupe_factor = 2;
    o.instances_per_shard = 300;
    o.window_tokens = 6000; /* several windows */
    o.shuffle_buffer = 100; /* and a small shuffle buffer */
    vt_pt_stats s1, s2, s3;
    assert_int_equal(prepare(tok, CORPUS, a, &o, &s1), VT_OK);
    assert_int_equal(prepare(tok, CORPUS, b, &o, &s2), VT_OK);
    o.seed = 12346;
    assert_int_equal(prepare(tok, CORPUS, c, &o, &s3), VT_OK);
    printf("  %lld documents, %lld instances in %lld shards\n", (long long)s1.documents, (long long)s1.instances,
           (long long)s1.shards);
    assert_true(s1.shards >= 2);
    assert_int_equal(s1.shards, (s1.instances + 299) / 300);
    bool differs = false;
    for (int32_t k = 0; k < s1.shards; k++) {
        char name[32];
        vt_pt_shard_name(name, sizeof name, k);
        char *pa = join(a, name), *pb = join(b, name), *pc = join(c, name);
        size_t la, lb, lc = 0;
        char *da = slurp(pa, &la), *db = slurp(pb, &lb), *dc = NULL;
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        if (k < s3.shards) dc = slurp(pc, &lc);
        differs |= !dc || lc != la || memcmp(da, dc, la);
        free(da), free(db), free(dc), free(pa), free(pb), free(pc);
    }
    assert_true(differs);
    /* no staging folder left; reading back: sizes, layout, reader position API */
    char *staging_probe = NULL;
    assert_true(asprintf(&staging_probe, "ls -a %s | grep -q staging", a) > 0);
    assert_int_not_equal(system(staging_probe), 0);
    free(staging_probe);
    vt_pt_dataset *ds = vt_pt_open(a, vt_tok_vocab(tok));
    assert_non_null(ds);
    const vt_pt_info *in = vt_pt_get_info(ds);
    assert_int_equal(vt_pt_size(ds), s1.instances);
    assert_int_equal(in->n_shards, s1.shards);
    assert_int_equal(in->documents, s1.documents);
    assert_true(in->masked);
    vt_tok_special sp = vt_tok_special_ids(tok);
    int64_t n = vt_pt_size(ds), tokens = 0;
    uint64_t *hash = malloc((size_t)n * sizeof *hash);
    assert_non_null(hash);
    for (int64_t i = 0; i < n; i++) {
        vt_pt_instance x;
        assert_int_equal(vt_pt_get(ds, i, &x), VT_OK);
        hash[i] = vt_fnv1a64(VT_FNV64_INIT, x.tokens, (size_t)x.n_tokens * 4);
        tokens += x.n_tokens;
        assert_true(x.n_tokens >= 5 && x.n_tokens <= 128);
        assert_int_equal(x.tokens[0], sp.cls);
        assert_int_equal(x.tokens[x.n_tokens - 1], sp.sep);
        int32_t first_sep = -1;
        for (int32_t t = 1; t < x.n_tokens - 1; t++)
            if (x.tokens[t] == sp.sep) {
                bool masked_here = false;
                for (int32_t k = 0; k < x.n_masked; k++) masked_here |= x.positions[k] == t;
                if (!masked_here && first_sep < 0) first_sep = t;
            }
        assert_true(first_sep >= 2 && first_sep <= x.n_tokens - 3); /* A and B each >= 1 token */
        for (int32_t t = 0; t < x.n_tokens; t++) assert_int_equal(x.segment_ids[t], t > first_sep);
    }
    assert_int_equal(tokens, s1.tokens);
    /* random access hopping between the shards (DP-SGD's samples: the reader keeps the 4 most recent loaded):
     * each instance the same as read in order, and one still readable after the others were loaded */
    assert_true(s1.shards <= 4); /* (so none of them is dropped) */
    vt_pt_instance kept;
    assert_int_equal(vt_pt_get(ds, 0, &kept), VT_OK);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = k % 2 ? n - 1 - k / 2 : k / 2;
        vt_pt_instance x;
        assert_int_equal(vt_pt_get(ds, i, &x), VT_OK);
        assert_true(vt_fnv1a64(VT_FNV64_INIT, x.tokens, (size_t)x.n_tokens * 4) == hash[i]);
    }
    assert_true(vt_fnv1a64(VT_FNV64_INIT, kept.tokens, (size_t)kept.n_tokens * 4) == hash[0]);
    free(hash);
    /* epoch order: a permutation, the same for the same (seed, epoch), resumable with seek */
    int64_t *seen = calloc((size_t)n, sizeof *seen), *first = malloc((size_t)n * sizeof *first);
    assert_int_equal(vt_pt_shuffle(ds, 5, 0), VT_OK);
    vt_pt_instance x;
    bool end = false;
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(vt_pt_next(ds, &x, &end), VT_OK);
        assert_false(end);
        first[i] = (int64_t)vt_fnv1a64(VT_FNV64_INIT, x.tokens, (size_t)x.n_tokens * 4);
    }
    assert_int_equal(vt_pt_next(ds, &x, &end), VT_OK);
    assert_true(end);
    assert_int_equal(vt_pt_tell(ds), n);
    assert_int_equal(vt_pt_seek(ds, n / 2 + 7), VT_OK);
    assert_int_equal(vt_pt_next(ds, &x, &end), VT_OK);
    assert_int_equal((int64_t)vt_fnv1a64(VT_FNV64_INIT, x.tokens, (size_t)x.n_tokens * 4), first[n / 2 + 7]);
    assert_int_equal(vt_pt_shuffle(ds, 5, 1), VT_OK);
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(vt_pt_next(ds, &x, &end), VT_OK);
        same += (int64_t)vt_fnv1a64(VT_FNV64_INIT, x.tokens, (size_t)x.n_tokens * 4) == first[i];
    }
    assert_true(same < n / 10);
    free(seen);
    free(first);
    vt_pt_close(ds);
    /* a different vocabulary is detected */
    const char other[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n";
    vt_wp_vocab *ov = vt_wp_vocab_from_buffer(other, strlen(other), "other");
    assert_null(vt_pt_open(a, ov));
    printf("  %s\n", vt_last_error());
    assert_true(contains(vt_last_error(), "different vocabulary"));
    vt_wp_vocab_free(ov);
    vt_tok_free(tok);
    free(a), free(b), free(c);
    rm_rf(dir);
}

static void test_batches(void **state) {
    (void)state;
    vt_tokenizer *tok = load_tok();
    char *dir = test_tmpdir(), *st_dir = join(dir, "static"), *dy_dir = join(dir, "dynamic");
    vt_pt_options o;
    vt_pt_options_default(&o);
    o.dupe_factor = 1;
    o.max_seq_length = 64;
    assert_int_equal(prepare(tok, CORPUS, st_dir, &o, NULL), VT_OK);
    o.dynamic_masking = true;
    o.mask.whole_word_mask = true;
    assert_int_equal(prepare(tok, CORPUS, dy_dir, &o, NULL), VT_OK);
    vt_tok_special sp = vt_tok_special_ids(tok);
    vt_pt_mask_options mo;
    vt_pt_mask_options_default(&mo);
    mo.whole_word_mask = true;
    vt_pt_masker *m = vt_pt_masker_new(tok, &mo, 64);
    vt_pt_batcher *b = vt_pt_batcher_new(8, 64, sp.pad, m);
    assert_non_null(b);
    for (int pass = 0; pass < 2; pass++) {
        vt_pt_dataset *ds = vt_pt_open(pass ? dy_dir : st_dir, vt_tok_vocab(tok));
        assert_non_null(ds);
        assert_int_equal(vt_pt_get_info(ds)->masked, !pass);
        assert_int_equal(vt_pt_get_info(ds)->whole_word_mask, pass);
        vt_rng rng;
        vt_rng_seed(&rng, 3);
        assert_int_equal(vt_pt_shuffle(ds, 1, 0), VT_OK);
        int64_t rows = 0, batches = 0, labelled = 0, real = 0;
        uint64_t h0 = 0;
        for (;;) {
            vt_bert_batch bb;
            assert_int_equal(vt_pt_next_batch(ds, b, 8, &rng, &bb), VT_OK);
            if (bb.batch == 0) break;
            batches++;
            rows += bb.batch;
            int64_t T = bb.seq_len, longest = 0;
            for (int64_t r = 0; r < bb.batch; r++) {
                int64_t len = 0;
                for (int64_t t = 0; t < T; t++) {
                    int32_t am = bb.attention_mask[r * T + t], lab = bb.mlm_labels[r * T + t];
                    if (t > 0 && am) assert_int_equal(bb.attention_mask[r * T + t - 1], 1);
                    len += am;
                    if (!am) {
                        assert_int_equal(bb.input_ids[r * T + t], sp.pad);
                        assert_int_equal(lab, VT_PT_IGNORE_INDEX);
                    }
                    if (lab != VT_PT_IGNORE_INDEX) {
                        labelled++;
                        assert_true(lab >= 0 && lab < 30522);
                        assert_int_not_equal(lab, sp.cls);
                        assert_int_not_equal(lab, sp.sep);
                    }
                }
                assert_int_equal(bb.input_ids[r * T], sp.cls);
                assert_true(bb.nsp_labels[r] == 0 || bb.nsp_labels[r] == 1);
                longest = len > longest ? len : longest;
                real += len;
            }
            assert_int_equal(longest, T); /* padded to the batch's own longest */
            if (batches == 1) h0 = vt_fnv1a64(VT_FNV64_INIT, bb.input_ids, (size_t)(bb.batch * T) * 4);
        }
        assert_int_equal(rows, vt_pt_size(ds));
        printf("  %s: %lld rows in %lld batches, %.4f of tokens labelled\n", pass ? "dynamic" : "static",
               (long long)rows, (long long)batches, (double)labelled / (double)real);
        assert_true(labelled > 0.1 * real && labelled < 0.16 * real);
        if (pass) { /* dynamic masking: the next epoch masks the same instances afresh */
            assert_int_equal(vt_pt_shuffle(ds, 1, 0), VT_OK);
            vt_bert_batch bb;
            assert_int_equal(vt_pt_next_batch(ds, b, 8, &rng, &bb), VT_OK);
            assert_int_not_equal(vt_fnv1a64(VT_FNV64_INIT, bb.input_ids, (size_t)(bb.batch * bb.seq_len) * 4), h0);
        }
        vt_pt_close(ds);
    }
    /* an unmasked instance without a masker, a full batch, a too-long instance */
    vt_pt_batcher *plain = vt_pt_batcher_new(1, 8, sp.pad, NULL);
    int32_t t[9] = {sp.cls, 2000, sp.sep, 2001, sp.sep, 5, 5, 5, 5};
    uint8_t g[9] = {0, 0, 0, 1, 1, 1, 1, 1, 1};
    vt_pt_instance x = {5, t, g, 0, 0, NULL, NULL};
    assert_int_equal(vt_pt_batcher_add(plain, &x, NULL), VT_ERR_INVALID_ARG);
    int32_t p[1] = {1}, l[1] = {2000};
    x.n_masked = 1, x.positions = p, x.labels = l;
    assert_int_equal(vt_pt_batcher_add(plain, &x, NULL), VT_OK);
    assert_int_equal(vt_pt_batcher_add(plain, &x, NULL), VT_ERR_INVALID_ARG);
    vt_pt_batcher_reset(plain);
    x.n_tokens = 9;
    assert_int_equal(vt_pt_batcher_add(plain, &x, NULL), VT_ERR_INVALID_ARG);
    vt_pt_batcher_free(plain);
    vt_pt_batcher_free(b);
    vt_pt_masker_free(m);
    vt_tok_free(tok);
    free(st_dir), free(dy_dir);
    rm_rf(dir);
}

/* A batch of a run as one hash (ids, labels, segments, NSP labels) and its padding. */
static uint64_t batch_hash(const vt_bert_batch *bb) {
    size_t cells = (size_t)(bb->batch * bb->seq_len) * 4;
    uint64_t h = vt_fnv1a64(VT_FNV64_INIT, bb->input_ids, cells);
    h = vt_fnv1a64(h, bb->mlm_labels, cells);
    h = vt_fnv1a64(h, bb->token_type_ids, cells);
    return vt_fnv1a64(h, bb->nsp_labels, (size_t)bb->batch * 4);
}

/* vt_pt_run: a batch depends on its first sample index and the options alone
 * (asked out of order, from a fresh run, it is the same: what --resume and
 * other ranks rely on); epochs reshuffle; masks follow the sample (dynamic
 * masking); length groups hold the same samples over a group and pad less. */
static void test_run_order(void **state) {
    (void)state;
    vt_tokenizer *tok = load_tok();
    char *dir = test_tmpdir(), *dy_dir = join(dir, "dynamic");
    vt_pt_options po;
    vt_pt_options_default(&po);
    po.dupe_factor = 1;
    po.max_seq_length = 64;
    po.short_seq_prob = 0.5; /* many short sequences: padding to group away */
    po.dynamic_masking = true;
    assert_int_equal(prepare(tok, CORPUS, dy_dir, &po, NULL), VT_OK);
    const vt_wp_vocab *v = vt_tok_vocab(tok);
    enum { B = 8, G = 4, STEPS = 16 };
    uint64_t h[2][STEPS];
    double padding[2];
    for (int grouped = 0; grouped < 2; grouped++) {
        vt_pt_run_options o = {.seed = 5, .batch_size = B, .group_by_length = grouped ? G : 0};
        vt_pt_dataset *ds = vt_pt_open(dy_dir, v);
        vt_pt_run *r = vt_pt_run_new(ds, NULL, tok, &o);
        assert_non_null(r);
        int64_t n = vt_pt_size(ds), tokens;
        assert_true(n > STEPS * B / 2); /* the steps cross an epoch boundary */
        vt_bert_batch bb;
        for (int i = 0; i < STEPS; i++) {
            assert_int_equal(vt_pt_run_batch(r, (int64_t)i * B, B, &bb, &tokens), VT_OK);
            h[grouped][i] = batch_hash(&bb);
        }
        padding[grouped] = vt_pt_run_padding(r);
        /* out of order, and from a fresh run: the same batches */
        vt_pt_run *fresh = vt_pt_run_new(ds, NULL, tok, &o);
        for (int i = STEPS - 1; i >= 0; i -= 3) {
            assert_int_equal(vt_pt_run_batch(fresh, (int64_t)i * B, B, &bb, &tokens), VT_OK);
            assert_true(batch_hash(&bb) == h[grouped][i]);
            assert_int_equal(vt_pt_run_batch(r, (int64_t)i * B, B, &bb, &tokens), VT_OK);
            assert_true(batch_hash(&bb) == h[grouped][i]);
        }
        /* a held-out evaluation needs held-out shards */
        vt_pt_eval ev;
        assert_int_equal(vt_pt_run_evaluate(r, NULL, 1, &ev), VT_ERR_STATE);
        vt_pt_run_free(fresh);
        vt_pt_run_free(r);
        vt_pt_close(ds);
    }
    for (int i = 1; i < STEPS; i++) assert_true(h[0][i] != h[0][0]);
    printf("  padding over %d batches of %d: %.1f%% in sample order, %.1f%% in groups of %d\n", STEPS, B,
           100 * padding[0], 100 * padding[1], G);
    assert_true(padding[1] < padding[0]);
    vt_pt_run_options bad = {.seed = 1, .batch_size = 0};
    vt_pt_dataset *ds = vt_pt_open(dy_dir, v);
    assert_null(vt_pt_run_new(ds, NULL, tok, &bad));
    vt_pt_close(ds);
    vt_tok_free(tok);
    free(dy_dir);
    rm_rf(dir);
}

static void test_failures_keep_earlier_outputs(void **state) {
    (void)state;
    vt_tokenizer *tok = load_tok();
    char *dir = test_tmpdir(), *out = join(dir, "out"), *bad = join(dir, "bad.jsonl"), *empty = join(dir, "empty.txt");
    char *good = join(dir, "good.jsonl"), *manifest = join(out, "manifest.json"), *shard = join(out, "shard-00000.vtpt");
    write_text(good, "{\"text\": \"The cat sat on the mat.\\nIt was happy.\\n\\nA second document.\\nWith two lines.\"}\n"
                     "\n{\"body\": \"x\", \"text\": \"Third document here.\\nAnd its last line.\"}\n");
    write_text(bad, "{\"text\": \"fine\"}\n{\"text\": \"broken\n");
    write_text(empty, "\n\n   \n\t\n");
    vt_pt_options o;
    vt_pt_options_default(&o);
    o.jsonl = true;
    vt_pt_stats s;
    assert_int_equal(prepare(tok, good, out, &o, &s), VT_OK);
    assert_int_equal(s.documents, 3);
    assert_true(s.instances >= 3 * 10);
    size_t lm, ls;
    char *m0 = slurp(manifest, &lm), *s0 = slurp(shard, &ls);
    /* malformed JSONL: file and line named */
    o.seed = 99;
    assert_int_equal(prepare(tok, bad, out, &o, NULL), VT_ERR_FORMAT);
    printf("  %s\n", vt_last_error());
    assert_true(contains(vt_last_error(), "bad.jsonl:2"));
    /* a record without the field, or with a non-string one */
    write_text(bad, "{\"title\": \"no text\"}\n");
    assert_int_equal(prepare(tok, bad, out, &o, NULL), VT_ERR_FORMAT);
    assert_true(contains(vt_last_error(), "bad.jsonl:1: no \"text\" field"));
    write_text(bad, "{\"text\": 5}\n");
    assert_int_equal(prepare(tok, bad, out, &o, NULL), VT_ERR_FORMAT);
    assert_true(contains(vt_last_error(), "not a string"));
    write_text(bad, "[1, 2]\n");
    assert_int_equal(prepare(tok, bad, out, &o, NULL), VT_ERR_FORMAT);
    assert_true(contains(vt_last_error(), "JSON object"));
    /* an empty corpus */
    o.jsonl = false;
    assert_int_equal(prepare(tok, empty, out, &o, NULL), VT_ERR_FORMAT);
    printf("  %s\n", vt_last_error());
    assert_true(contains(vt_last_error(), "no text in"));
    /* a missing input */
    assert_int_equal(prepare(tok, "/nonexistent/in.txt", out, &o, NULL), VT_ERR_IO);
    assert_true(contains(vt_last_error(), "/nonexistent/in.txt"));
    /* an output directory under a regular file */
    char *under_file = join(good, "sub");
    assert_int_not_equal(prepare(tok, CORPUS, under_file, &o, NULL), VT_OK);
    printf("  %s\n", vt_last_error());
    assert_true(contains(vt_last_error(), under_file));
    free(under_file);
    /* bad options */
    o.max_seq_length = 4;
    assert_int_equal(prepare(tok, CORPUS, out, &o, NULL), VT_ERR_INVALID_ARG);
    /* the first run's files are intact, and nothing else is in the directory */
    size_t lm2, ls2;
    char *m1 = slurp(manifest, &lm2), *s1 = slurp(shard, &ls2);
    assert_int_equal(lm, lm2);
    assert_int_equal(ls, ls2);
    assert_memory_equal(m0, m1, lm);
    assert_memory_equal(s0, s1, ls);
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "test $(ls -A %s | wc -l) -eq 2", out) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(m0), free(m1), free(s0), free(s1);
    vt_tok_free(tok);
    free(out), free(bad), free(empty), free(good), free(manifest), free(shard);
    rm_rf(dir);
}

/* ---- statistics parity ------------------------------------------------- */

static double jnum(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(x)) fail_msg("pretrain_stats.json: no number '%s'", k);
    return x->valuedouble;
}

static int stat_failures;
static void check_stat(const cJSON *ref, const char *key, double got, double n) {
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(ref, "mean"), *sd = cJSON_GetObjectItemCaseSensitive(ref, "sd");
    double runs = jnum(ref, "runs"), mu = jnum(mean, key), s = jnum(sd, key);
    double tol = 4 * s * sqrt(1 + 1 / runs);
    if (n > 0 && tol < 2 / n) tol = 2 / n; /* bins with a handful of instances */
    bool ok = fabs(got - mu) <= tol;
    printf("  %-22s verto %10.5f  python %10.5f +- %.5f (4 sd)  %s\n", key, got, mu, tol, ok ? "ok" : "OUT OF BOUNDS");
    stat_failures += !ok;
}

static void test_statistics_parity(void **state) {
    (void)state;
    const char *refdir = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    char *refpath = join(refdir, "pretrain_stats.json");
    size_t rl;
    char *rtext = slurp(refpath, &rl);
    cJSON *ref = cJSON_ParseWithLength(rtext, rl);
    assert_non_null(ref);
    vt_tokenizer *tok = load_tok();
    char *dir = test_tmpdir(), *out = join(dir, "out");
    vt_pt_options o;
    vt_pt_options_default(&o);
    assert_int_equal(jnum(ref, "max_seq_length"), o.max_seq_length);
    assert_int_equal(jnum(ref, "dupe_factor"), o.dupe_factor);
    assert_int_equal(jnum(ref, "max_predictions"), o.mask.max_predictions);
    vt_pt_stats s;
    assert_int_equal(prepare(tok, CORPUS, out, &o, &s), VT_OK);

    /* the same documents and tokens as the Python side */
    assert_int_equal(s.documents, (int64_t)jnum(ref, "documents"));
    {
        FILE *f = fopen(CORPUS, "r");
        assert_non_null(f);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int64_t corpus_tokens = 0;
        vt_tok_encoding e;
        vt_tok_encoding_init(&e);
        vt_tok_encode_opts eo;
        vt_tok_encode_opts_default(&eo);
        eo.add_special_tokens = false;
        while ((n = getline(&line, &cap, f)) >= 0) {
            assert_int_equal(vt_tok_encode(tok, line, (size_t)n, NULL, 0, &eo, &e), VT_OK);
            corpus_tokens += e.len;
        }
        vt_tok_encoding_free(&e);
        free(line);
        fclose(f);
        printf("  corpus: %lld documents, %lld tokens (python: %.0f)\n", (long long)s.documents,
               (long long)corpus_tokens, jnum(ref, "corpus_tokens"));
        assert_int_equal(corpus_tokens, (int64_t)jnum(ref, "corpus_tokens"));
    }

    /* read the shards back and measure */
    vt_pt_dataset *ds = vt_pt_open(out, vt_tok_vocab(tok));
    assert_non_null(ds);
    vt_tok_special sp = vt_tok_special_ids(tok);
    const cJSON *bins = cJSON_GetObjectItemCaseSensitive(ref, "bins");
    int nb = cJSON_GetArraySize(bins) - 1;
    int64_t hist[16] = {0}, n = vt_pt_size(ds), len_sum = 0, rnd = 0, masked = 0, cand = 0, split[3] = {0};
    assert_true(nb > 0 && nb < 16);
    for (int64_t i = 0; i < n; i++) {
        vt_pt_instance x;
        assert_int_equal(vt_pt_get(ds, i, &x), VT_OK);
        len_sum += x.n_tokens;
        rnd += x.is_random_next;
        masked += x.n_masked;
        cand += x.n_tokens - 3;
        for (int k = 0; k < nb; k++)
            if (x.n_tokens >= cJSON_GetArrayItem(bins, k)->valuedouble &&
                x.n_tokens < cJSON_GetArrayItem(bins, k + 1)->valuedouble)
                hist[k]++;
        /* exactly num_to_predict positions (no whole-word grouping here) */
        int32_t want = (int32_t)rint(x.n_tokens * 0.15);
        want = want < 1 ? 1 : want > 20 ? 20 : want;
        assert_int_equal(x.n_masked, want);
        for (int32_t k = 0; k < x.n_masked; k++) {
            int32_t got = x.tokens[x.positions[k]];
            split[got == sp.mask ? 0 : got == x.labels[k] ? 1 : 2]++;
        }
    }
    vt_pt_close(ds);
    double N = (double)n;
    printf("  verto: %lld instances; python mean over %.0f seeds given with 4-sd bounds of the difference\n",
           (long long)n, jnum(ref, "runs"));
    stat_failures = 0;
    check_stat(ref, "instances", N, 0);
    check_stat(ref, "mean_length", (double)len_sum / N, 0);
    for (int k = 0; k < nb; k++) {
        char key[32];
        snprintf(key, sizeof key, "hist_%d", k);
        check_stat(ref, key, (double)hist[k] / N, N);
    }
    check_stat(ref, "random_next", (double)rnd / N, N);
    check_stat(ref, "forced_random_next", (double)s.forced_random_next / N, N);
    check_stat(ref, "short_target_passes", (double)s.short_target_passes / (double)s.doc_passes, 0);
    check_stat(ref, "masked_fraction", (double)masked / (double)cand, 0);
    check_stat(ref, "masked_per_instance", (double)masked / N, 0);
    double M = (double)masked;
    check_stat(ref, "as_mask", (double)split[0] / M, 0);
    check_stat(ref, "as_keep", (double)split[1] / M, 0);
    check_stat(ref, "as_random", (double)split[2] / M, 0);
    assert_int_equal(stat_failures, 0);

    /* analytic bounds (binomial / multinomial, 4 sigma) */
    int64_t free_choice = s.instances - s.forced_random_next, free_random = s.random_next - s.forced_random_next;
    double f = (double)free_random / (double)free_choice, sf = 4 * sqrt(0.25 / (double)free_choice);
    printf("  random next among multi-line chunks: %.4f (0.5 +- %.4f); overall %.4f with %.4f forced\n", f, sf,
           (double)s.random_next / N, (double)s.forced_random_next / N);
    assert_true(fabs(f - 0.5) <= sf);
    double fs = (double)s.short_target_passes / (double)s.doc_passes, ss = 4 * sqrt(0.09 / (double)s.doc_passes);
    printf("  short targets: %.4f of %lld document passes (0.1 +- %.4f)\n", fs, (long long)s.doc_passes, ss);
    assert_true(fabs(fs - 0.1) <= ss);
    const double p[3] = {0.8, 0.1 + 0.1 / 30522, 0.1 - 0.1 / 30522};
    for (int k = 0; k < 3; k++) {
        double got = (double)split[k] / M, bound = 4 * sqrt(p[k] * (1 - p[k]) / M);
        printf("  %-7s %.4f (%.4f +- %.4f)\n", k == 0 ? "[MASK]" : k == 1 ? "kept" : "random", got, p[k], bound);
        assert_true(fabs(got - p[k]) <= bound);
    }
    assert_int_equal(s.masked_as_mask + s.masked_as_keep + s.masked_as_random, masked);
    printf("  masked: %.4f of non-special tokens (%.3f per instance, masked_lm_prob 0.15 capped at 20)\n",
           (double)masked / (double)cand, (double)masked / N);

    cJSON_Delete(ref);
    free(rtext);
    free(refpath);
    vt_tok_free(tok);
    free(out);
    rm_rf(dir);
}

/* Lines as Google's script reads them: a line of Unicode whitespace is blank
 * (a document boundary), a line without tokens is skipped, the end of a file
 * ends a document. */
static void test_document_boundaries(void **state) {
    (void)state;
    vt_tokenizer *tok = load_tok();
    char *dir = test_tmpdir(), *in1 = join(dir, "a.txt"), *in2 = join(dir, "b.txt"), *out = join(dir, "out");
    write_text(in1, "First document.\nIts second line.\n\xc2\xa0\xe3\x80\x80\r\nSecond document.\n\x01\nStill the second.");
    write_text(in2, "  \nThird document, in another file.\n\n\n");
    const char *files[] = {in1, in2};
    vt_pt_options o;
    vt_pt_options_default(&o);
    vt_pt_stats s;
    assert_int_equal(vt_pt_prepare(tok, files, 2, out, &o, NULL, NULL, &s), VT_OK);
    assert_int_equal(s.documents, 3);
    assert_int_equal(s.doc_passes, 30);
    vt_tok_free(tok);
    free(in1), free(in2), free(out);
    rm_rf(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_round_trip),
        cmocka_unit_test(test_shard_corruptions),
        cmocka_unit_test(test_masking_rules),
        cmocka_unit_test(test_determinism_and_layout),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_run_order),
        cmocka_unit_test(test_document_boundaries),
        cmocka_unit_test(test_failures_keep_earlier_outputs),
        cmocka_unit_test(test_statistics_parity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
