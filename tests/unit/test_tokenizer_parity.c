/* The tokenizer against Hugging Face BertTokenizerFast (tests/ref/gen_tokenizer.py)
 * and the tokenizer.json pipelines of tests/ref/gen_tok_pipelines.py (byte-level
 * BPE, sentencepiece Unigram, BPE with byte fallback, many normalizers and
 * pre-tokenizers): every line of ~1.3 MB of e-mails, mixed scripts, invalid
 * UTF-8 and random Unicode (and, for the pipelines, lines with added tokens in
 * odd places) must give the same ids and character offsets; pairs with
 * truncation and padding, a padded batch and decoding must match too; and
 * every code point must normalize and pre-tokenize as in tokenizers. The
 * directories of older files alone (vocab.json + merges.txt,
 * sentencepiece.bpe.model) read as transformers' RobertaTokenizer and
 * XLMRobertaTokenizer read them. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/pretok.h"
#include "text/utf8.h"
#include "verto/fileio.h"
#include "verto/tokenizer.h"
#include "vt_test.h"

#define DATA_DIR "tests/data/tokenizer/"

typedef struct lines {
    char *buf;
    const char **s;
    size_t *len;
    size_t n, bytes;
} lines;

static void read_lines(const char *path, lines *L) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    L->buf = malloc((size_t)size + 1);
    assert_non_null(L->buf);
    assert_int_equal(fread(L->buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    L->bytes = (size_t)size;
    size_t n = 0;
    for (long i = 0; i < size; i++) n += L->buf[i] == '\n';
    if (size && L->buf[size - 1] != '\n') n++;
    L->s = malloc((n + 1) * sizeof *L->s);
    L->len = malloc((n + 1) * sizeof *L->len);
    size_t pos = 0;
    L->n = 0;
    while (pos < (size_t)size) {
        char *nl = memchr(L->buf + pos, '\n', (size_t)size - pos);
        size_t end = nl ? (size_t)(nl - L->buf) : (size_t)size;
        L->s[L->n] = L->buf + pos;
        L->len[L->n++] = end - pos;
        pos = end + 1;
    }
}

static void free_lines(lines *L) {
    free(L->buf);
    free(L->s);
    free(L->len);
}

/* The tokenizer of a configuration: from its vocab.txt, or (from_json) from
 * the directory transformers' save_pretrained wrote, which holds only
 * tokenizer.json and tokenizer_config.json. */
static vt_tokenizer *load_config(const char *name, bool from_json) {
    char path[4096];
    const char *ref = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    if (from_json) {
        snprintf(path, sizeof path, "%s/tok_json_%s/vocab.txt", ref, name);
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            fail_msg("%s exists: the directory should hold tokenizer.json alone", path);
        }
        snprintf(path, sizeof path, "%s/tok_json_%s", ref, name);
        vt_tokenizer *t = vt_tok_load(path, NULL);
        if (!t) fail_msg("load %s: %s", path, vt_last_error());
        return t;
    }
    vt_tok_options o;
    if (!strcmp(name, "cased")) snprintf(path, sizeof path, "%s/tok_cased", ref);
    else snprintf(path, sizeof path, DATA_DIR "uncased");
    assert_int_equal(vt_tok_options_from_config(path, &o), VT_OK);
    if (!strcmp(name, "uncased_accents")) o.strip_accents = 0;
    vt_tokenizer *t = vt_tok_load(path, &o);
    if (!t) fail_msg("load %s: %s", path, vt_last_error());
    return t;
}

static void print_tokens(const vt_tokenizer *t, const char *what, const int32_t *ids, int64_t n) {
    printf("      %s:", what);
    for (int64_t i = 0; i < n && i < 40; i++) printf(" %s", vt_wp_vocab_token(vt_tok_vocab(t), ids[i]));
    printf("\n");
}

/* Single-sequence encodings of every line of one corpus. */
static void check_corpus(const vt_tokenizer *t, const vt_st_file *f, const char *corpus, const lines *L) {
    char name[128];
    int64_t nid, nsp, noff;
    snprintf(name, sizeof name, "%s.ids", corpus);
    int32_t *ids = ref_i32(f, name, &nid);
    snprintf(name, sizeof name, "%s.splits", corpus);
    int32_t *sp = ref_i32(f, name, &nsp);
    snprintf(name, sizeof name, "%s.offsets", corpus);
    int32_t *off = ref_i32(f, name, &noff);
    assert_int_equal(nsp, (int64_t)L->n + 1);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    size_t bad_ids = 0, bad_off = 0;
    for (size_t i = 0; i < L->n; i++) {
        assert_int_equal(vt_tok_encode(t, L->s[i], L->len[i], NULL, 0, NULL, &e), VT_OK);
        const int32_t *want = ids + sp[i];
        int32_t nw = sp[i + 1] - sp[i];
        bool ok = e.len == nw && !memcmp(e.ids, want, (size_t)nw * sizeof(int32_t));
        if (!ok) {
            if (bad_ids++ < 3) {
                printf("    %s line %zu: ids differ: %.*s\n", corpus, i, (int)(L->len[i] > 200 ? 200 : L->len[i]),
                       L->s[i]);
                print_tokens(t, "hf", want, nw);
                print_tokens(t, "vt", e.ids, e.len);
            }
            continue;
        }
        vt_tok_offsets_to_chars(L->s[i], L->len[i], e.offsets, (size_t)e.len * 2);
        if (memcmp(e.offsets, off + 2 * (int64_t)sp[i], (size_t)nw * 2 * sizeof(int32_t)) && bad_off++ < 3) {
            printf("    %s line %zu: offsets differ\n", corpus, i);
            for (int32_t k = 0; k < nw; k++)
                if (e.offsets[2 * k] != off[2 * (sp[i] + k)] || e.offsets[2 * k + 1] != off[2 * (sp[i] + k) + 1])
                    printf("      token %d %s: hf (%d, %d) vt (%d, %d)\n", k,
                           vt_wp_vocab_token(vt_tok_vocab(t), e.ids[k]), off[2 * (sp[i] + k)],
                           off[2 * (sp[i] + k) + 1], e.offsets[2 * k], e.offsets[2 * k + 1]);
        }
    }
    printf("    %-8s %6zu lines %8zu bytes %7lld tokens: %zu lines with other ids, %zu with other offsets\n", corpus,
           L->n, L->bytes, (long long)nid, bad_ids, bad_off);
    vt_tok_encoding_free(&e);
    free(ids);
    free(sp);
    free(off);
    if (bad_ids || bad_off) fail_msg("%s: %zu lines differ in ids, %zu in offsets", corpus, bad_ids, bad_off);
}

static void compare_rows(const char *what, size_t row, const int32_t *got, int32_t ngot, const int32_t *want,
                         int32_t nwant, size_t *bad) {
    if (ngot == nwant && !memcmp(got, want, (size_t)nwant * sizeof(int32_t))) return;
    if ((*bad)++ < 3) {
        printf("    %s row %zu differs (len %d vs %d):", what, row, ngot, nwant);
        for (int32_t k = 0; k < nwant && k < 24; k++) printf(" %d/%d", k < ngot ? got[k] : -1, want[k]);
        printf("\n");
    }
}

static void check_pairs(const vt_tokenizer *t, const vt_st_file *f, const lines *L) {
    int64_t np, n;
    int32_t *ai = ref_i32(f, "pairs.a", &np), *bi = ref_i32(f, "pairs.b", NULL);
    int32_t *ml = ref_i32(f, "pairs.max_length", NULL), *sp = ref_i32(f, "pairs.splits", NULL);
    int32_t *ids = ref_i32(f, "pairs.ids", &n), *ty = ref_i32(f, "pairs.type_ids", NULL);
    int32_t *mk = ref_i32(f, "pairs.mask", NULL);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    size_t bad = 0;
    for (int64_t k = 0; k < np; k++) {
        vt_tok_encode_opts o = {true, ml[k], ml[k]};
        const char *b = bi[k] >= 0 ? L->s[bi[k]] : NULL;
        size_t blen = bi[k] >= 0 ? L->len[bi[k]] : 0;
        assert_int_equal(vt_tok_encode(t, L->s[ai[k]], L->len[ai[k]], b, blen, &o, &e), VT_OK);
        int32_t nw = sp[k + 1] - sp[k];
        compare_rows("pair ids", (size_t)k, e.ids, e.len, ids + sp[k], nw, &bad);
        compare_rows("pair type_ids", (size_t)k, e.type_ids, e.len, ty + sp[k], nw, &bad);
        compare_rows("pair attention_mask", (size_t)k, e.attention_mask, e.len, mk + sp[k], nw, &bad);
    }
    printf("    pairs    %6lld encodings (truncation + padding to max_length): %zu differ\n", (long long)np, bad);

    /* a batch padded to its longest member */
    int64_t nb, nbi;
    int32_t *ba = ref_i32(f, "batch.a", &nb), *bb = ref_i32(f, "batch.b", NULL);
    int32_t *bids = ref_i32(f, "batch.ids", &nbi), *bty = ref_i32(f, "batch.type_ids", NULL);
    int32_t *bmk = ref_i32(f, "batch.mask", NULL);
    const char **as = malloc((size_t)nb * sizeof *as), **bs = malloc((size_t)nb * sizeof *bs);
    size_t *al = malloc((size_t)nb * sizeof *al), *bl = malloc((size_t)nb * sizeof *bl);
    vt_tok_encoding *be = calloc((size_t)nb, sizeof *be);
    for (int64_t k = 0; k < nb; k++) {
        as[k] = L->s[ba[k]], al[k] = L->len[ba[k]], bs[k] = L->s[bb[k]], bl[k] = L->len[bb[k]];
    }
    vt_tok_encode_opts o = {true, 96, 0};
    assert_int_equal(vt_tok_encode_batch(t, (size_t)nb, as, al, bs, bl, &o, be), VT_OK);
    int32_t width = (int32_t)(nbi / nb);
    size_t bad_batch = 0;
    for (int64_t k = 0; k < nb; k++) {
        compare_rows("batch ids", (size_t)k, be[k].ids, be[k].len, bids + k * width, width, &bad_batch);
        compare_rows("batch type_ids", (size_t)k, be[k].type_ids, be[k].len, bty + k * width, width, &bad_batch);
        compare_rows("batch mask", (size_t)k, be[k].attention_mask, be[k].len, bmk + k * width, width, &bad_batch);
        vt_tok_encoding_free(&be[k]);
    }
    printf("    batch    %6lld pairs padded to the longest (%d): %zu differ\n", (long long)nb, width, bad_batch);
    free(be), free(as), free(bs), free(al), free(bl), free(ba), free(bb), free(bids), free(bty), free(bmk);
    vt_tok_encoding_free(&e);
    free(ai), free(bi), free(ml), free(sp), free(ids), free(ty), free(mk);
    if (bad || bad_batch) fail_msg("%zu pair rows and %zu batch rows differ from HF", bad, bad_batch);
}

static void check_decode(const vt_tokenizer *t, const vt_st_file *f, const lines *L) {
    const vt_st_tensor *txt = vt_st_find(f, "decode.text");
    assert_non_null(txt);
    int64_t ns;
    int32_t *sp = ref_i32(f, "decode.splits", &ns);
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    size_t bad = 0;
    for (int64_t i = 0; i + 1 < ns; i++) {
        assert_int_equal(vt_tok_encode(t, L->s[i], L->len[i], NULL, 0, NULL, &e), VT_OK);
        char *s;
        size_t n;
        assert_int_equal(vt_tok_decode(t, e.ids, (size_t)e.len, true, false, &s, &n), VT_OK);
        const char *want = (const char *)txt->data + sp[i];
        size_t nw = (size_t)(sp[i + 1] - sp[i]);
        if ((n != nw || memcmp(s, want, n)) && bad++ < 3) printf("    decode %lld: '%s' vs '%.*s'\n", (long long)i, s, (int)nw, want);
        free(s);
    }
    printf("    decode   %6lld lines: %zu differ\n", (long long)ns - 1, bad);
    vt_tok_encoding_free(&e);
    free(sp);
    if (bad) fail_msg("%zu decoded lines differ", bad);
}

/* Every check of one tokenizer against its reference file f (pipe: the
 * corpus with added tokens in odd places too). */
static void check_all(const vt_tokenizer *t, const vt_st_file *f, bool pipe) {
    const char *ref = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    char path[4096];
    lines em, mixed, inv, rnd, lng, added;
    read_lines(DATA_DIR "spamassassin_sample.txt", &em);
    read_lines(DATA_DIR "mixed.txt", &mixed);
    read_lines(DATA_DIR "invalid_utf8.txt", &inv);
    snprintf(path, sizeof path, "%s/tokenizer_random.txt", ref);
    read_lines(path, &rnd);
    snprintf(path, sizeof path, "%s/tokenizer_long.txt", ref);
    read_lines(path, &lng);
    check_corpus(t, f, "emails", &em);
    check_corpus(t, f, "mixed", &mixed);
    check_corpus(t, f, "invalid", &inv);
    check_corpus(t, f, "random", &rnd);
    if (pipe) {
        snprintf(path, sizeof path, "%s/tokenizer_added.txt", ref);
        read_lines(path, &added);
        check_corpus(t, f, "added", &added);
        free_lines(&added);
    }
    check_pairs(t, f, &lng);
    check_decode(t, f, &em);
    free_lines(&em), free_lines(&mixed), free_lines(&inv), free_lines(&rnd), free_lines(&lng);
}

static void check_vocab_size(const vt_tokenizer *t, const vt_st_file *f) {
    const char *vs = vt_st_metadata(f, "vocab_size");
    assert_non_null(vs);
    assert_int_equal(vt_wp_vocab_size(vt_tok_vocab(t)), (int32_t)strtol(vs, NULL, 10));
}

static void check_config(const char *config, bool from_json) {
    char file[256];
    snprintf(file, sizeof file, "tokenizer_%s.safetensors", config);
    vt_st_file *f = ref_open(file);
    vt_tokenizer *t = load_config(config, from_json);
    check_vocab_size(t, f);
    printf("  %s%s (vocabulary %s tokens)\n", config, from_json ? " from tokenizer.json" : "",
           vt_st_metadata(f, "vocab_size"));
    check_all(t, f, false);
    vt_tok_free(t);
    vt_st_close(f);
}

static void test_uncased(void **state) { check_config("uncased", false); }
static void test_cased(void **state) { check_config("cased", false); }
static void test_uncased_keep_accents(void **state) { check_config("uncased_accents", false); }
static void test_uncased_json(void **state) { check_config("uncased", true); }
static void test_cased_json(void **state) { check_config("cased", true); }
static void test_uncased_keep_accents_json(void **state) { check_config("uncased_accents", true); }

/* A pipeline of tests/ref/gen_tok_pipelines.py, from the directory transformers saved. */
static void check_pipeline(const char *name) {
    char file[256], dir[4096];
    const char *ref = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    snprintf(file, sizeof file, "tokenizer_pipe_%s.safetensors", name);
    snprintf(dir, sizeof dir, "%s/tok_pipe_%s", ref, name);
    vt_st_file *f = ref_open(file);
    vt_tokenizer *t = vt_tok_load(dir, NULL);
    if (!t) fail_msg("load %s: %s", dir, vt_last_error());
    check_vocab_size(t, f);
    printf("  %s from tokenizer.json (vocabulary %s tokens)\n", name, vt_st_metadata(f, "vocab_size"));
    check_all(t, f, true);
    vt_tok_free(t);
    vt_st_close(f);
}

/* A directory of vocab.json + merges.txt alone reads as RobertaTokenizer reads it. */
static void test_pipe_bpe_files(void **state) {
    const char *ref = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s/tok_pipe_raw_bpe", ref);
    vt_st_file *f = ref_open("tokenizer_pipe_raw_bpe.safetensors");
    vt_tokenizer *t = vt_tok_load(dir, NULL);
    if (!t) fail_msg("load %s: %s", dir, vt_last_error());
    check_vocab_size(t, f);
    printf("  vocab.json + merges.txt (vocabulary %s tokens)\n", vt_st_metadata(f, "vocab_size"));
    lines em, rnd;
    read_lines(DATA_DIR "spamassassin_sample.txt", &em);
    snprintf(path, sizeof path, "%s/tokenizer_random.txt", ref);
    read_lines(path, &rnd);
    check_corpus(t, f, "emails", &em);
    check_corpus(t, f, "random", &rnd);
    free_lines(&em), free_lines(&rnd);
    vt_tok_free(t);
    vt_st_close(f);
}

/* Fails unless dir holds `name` and nothing else. */
static void holds_only(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot open %s", dir);
    int found = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (strcmp(e->d_name, name)) fail_msg("%s holds %s: it should hold %s alone", dir, e->d_name, name);
        found = 1;
    }
    closedir(d);
    if (!found) fail_msg("%s has no %s", dir, name);
}

static cJSON *read_json(const char *path) {
    char *data = NULL;
    size_t len = 0;
    if (vt_read_file(path, (size_t)1 << 30, &data, &len) != VT_OK) fail_msg("%s", vt_last_error());
    cJSON *j = cJSON_ParseWithLength(data, len);
    free(data);
    if (!j) fail_msg("%s: not JSON", path);
    return j;
}

/* The tokenizer.json vt_tok_complete_dir writes beside a model directory's
 * sentencepiece.bpe.model is the one transformers builds (Unigram scores
 * compared exactly: cJSON_Compare allows an epsilon), and loads. */
static void check_written_json(const char *model_dir, const char *want_file) {
    const char *ref = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    char *tmp = test_tmpdir(), src[8192], dst[4096], path[4096];
    snprintf(src, sizeof src, "%s/sentencepiece.bpe.model", model_dir);
    snprintf(dst, sizeof dst, "%s/sentencepiece.bpe.model", tmp);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(vt_read_file(src, (size_t)1 << 30, &data, &len), VT_OK);
    assert_int_equal(vt_write_file_atomic(dst, data, len), VT_OK);
    free(data);
    if (vt_tok_complete_dir(tmp) != VT_OK) fail_msg("complete %s: %s", tmp, vt_last_error());
    snprintf(path, sizeof path, "%s/tokenizer.json", tmp);
    cJSON *got = read_json(path);
    snprintf(path, sizeof path, "%s/%s", ref, want_file);
    cJSON *want = read_json(path);
    bool same = cJSON_Compare(got, want, true);
    const cJSON *gv = cJSON_GetObjectItem(cJSON_GetObjectItem(got, "model"), "vocab");
    const cJSON *wv = cJSON_GetObjectItem(cJSON_GetObjectItem(want, "model"), "vocab");
    size_t scores = 0, bad = 0;
    for (const cJSON *g = gv ? gv->child : NULL, *w = wv ? wv->child : NULL; g && w; g = g->next, w = w->next, scores++)
        bad += cJSON_GetArrayItem(g, 1)->valuedouble != cJSON_GetArrayItem(w, 1)->valuedouble;
    printf("    tokenizer.json written beside it: %s transformers' (%zu scores, %zu differ)\n",
           same ? "the same as" : "NOT the same as", scores, bad);
    if (!same || bad || !scores) fail_msg("%s/tokenizer.json differs from %s", tmp, path);
    vt_tokenizer *back = vt_tok_load(tmp, NULL); /* now from tokenizer.json */
    if (!back) fail_msg("%s", vt_last_error());
    assert_int_equal(vt_wp_vocab_size(vt_tok_vocab(back)), cJSON_GetArraySize(wv));
    vt_tok_free(back);
    cJSON_Delete(got);
    cJSON_Delete(want);
    test_remove_dir(tmp);
}

/* A directory of sentencepiece.bpe.model alone reads as XLMRobertaTokenizer reads it. */
static void test_pipe_spm_file(void **state) {
    const char *ref = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tok_pipe_raw_spm", ref);
    holds_only(dir, "sentencepiece.bpe.model");
    vt_st_file *f = ref_open("tokenizer_pipe_raw_spm.safetensors");
    vt_tokenizer *t = vt_tok_load(dir, NULL);
    if (!t) fail_msg("load %s: %s", dir, vt_last_error());
    check_vocab_size(t, f);
    printf("  sentencepiece.bpe.model (vocabulary %s tokens)\n", vt_st_metadata(f, "vocab_size"));
    check_all(t, f, true);
    vt_tok_free(t);
    vt_st_close(f);
    holds_only(dir, "sentencepiece.bpe.model"); /* loading wrote nothing */
    check_written_json(dir, "tokenizer_pipe_raw_spm.json");
}

static void test_pipe_roberta(void **state) { check_pipeline("roberta"); }
static void test_pipe_gpt2(void **state) { check_pipeline("gpt2"); }
static void test_pipe_xlmr(void **state) { check_pipeline("xlmr"); }
static void test_pipe_xlmr_hub(void **state) { check_pipeline("xlmr_hub"); }
static void test_pipe_char_bpe(void **state) { check_pipeline("char_bpe"); }
static void test_pipe_sp_bpe(void **state) { check_pipeline("sp_bpe"); }
static void test_pipe_steps(void **state) { check_pipeline("steps"); }

typedef struct join_ctx {
    int32_t out[64];
    int n;
} join_ctx;

static vt_status on_word(void *ud, const vt_word *w) {
    join_ctx *c = ud;
    if (c->n > 0 && c->n < 64) c->out[c->n++] = ' ';
    for (int32_t i = 0; i < w->len;) {
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)w->s + i, (size_t)(w->len - i), &adv);
        if (c->n < 64) c->out[c->n++] = cp;
        i += adv;
    }
    return VT_OK;
}

/* "a" c "a" for every code point c, normalized and pre-tokenized. */
static void check_codepoints(const char *config, bool lower) {
    vt_st_file *f = ref_open("tokenizer_codepoints.safetensors");
    char name[64];
    int64_t ncp;
    snprintf(name, sizeof name, "%s.cp", config);
    int32_t *cps = ref_i32(f, name, &ncp);
    snprintf(name, sizeof name, "%s.out", config);
    int32_t *outs = ref_i32(f, name, NULL);
    snprintf(name, sizeof name, "%s.splits", config);
    int32_t *sp = ref_i32(f, name, NULL);
    vt_pretok_cfg cfg = {lower, lower, true};
    vt_pretok_buf b = {0};
    int64_t k = 0;
    size_t bad = 0, checked = 0;
    for (int32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        char text[8];
        text[0] = 'a';
        int n = vt_utf8_encode(c, text + 1);
        text[1 + n] = 'a';
        join_ctx j = {.n = 0};
        assert_int_equal(vt_pretok_run(&cfg, text, (size_t)n + 2, 0, &b, on_word, &j), VT_OK);
        int32_t ident[3] = {'a', c, 'a'};
        const int32_t *want = ident;
        int32_t nw = 3;
        if (k < ncp && cps[k] == c) {
            want = outs + sp[k];
            nw = sp[k + 1] - sp[k];
            k++;
        }
        checked++;
        if ((j.n != nw || memcmp(j.out, want, (size_t)nw * sizeof(int32_t))) && bad++ < 5) {
            printf("    U+%04X: hf", c);
            for (int32_t i = 0; i < nw; i++) printf(" %04X", want[i]);
            printf(" vt");
            for (int i = 0; i < j.n; i++) printf(" %04X", j.out[i]);
            printf("\n");
        }
    }
    printf("  %s: %zu code points, %zu normalize or split differently\n", config, checked, bad);
    vt_pretok_buf_free(&b);
    free(cps), free(outs), free(sp);
    vt_st_close(f);
    if (bad) fail_msg("%zu code points differ", bad);
}

static void test_codepoints_uncased(void **state) { check_codepoints("uncased", true); }
static void test_codepoints_cased(void **state) { check_codepoints("cased", false); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codepoints_uncased),
        cmocka_unit_test(test_codepoints_cased),
        cmocka_unit_test(test_uncased),
        cmocka_unit_test(test_cased),
        cmocka_unit_test(test_uncased_keep_accents),
        cmocka_unit_test(test_uncased_json),
        cmocka_unit_test(test_cased_json),
        cmocka_unit_test(test_uncased_keep_accents_json),
        cmocka_unit_test(test_pipe_roberta),
        cmocka_unit_test(test_pipe_bpe_files),
        cmocka_unit_test(test_pipe_gpt2),
        cmocka_unit_test(test_pipe_xlmr),
        cmocka_unit_test(test_pipe_xlmr_hub),
        cmocka_unit_test(test_pipe_spm_file),
        cmocka_unit_test(test_pipe_char_bpe),
        cmocka_unit_test(test_pipe_sp_bpe),
        cmocka_unit_test(test_pipe_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
