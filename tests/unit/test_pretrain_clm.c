/* Causal-LM pretraining data (objective "clm"): blocks against transformers'
 * run_clm group_texts over the same documents with a byte-level BPE
 * (tests/ref/gen_pretrain_clm.py; exact: integer ids), the batch reader's
 * epochs, seeds and ranks, and bad inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "verto/pretrain_data.h"
#include "vt_test.h"

#define CORPUS "tests/data/pretrain/sotu_sample.txt"

static vt_tokenizer *ref_tokenizer(void) {
    char path[512];
    vt_tokenizer *t = vt_tok_load(ref_file_path("clm/tokenizer.json", path, sizeof path), NULL);
    if (!t) fail_msg("%s", vt_last_error());
    return t;
}

/* The reference blocks of size T: (n, T) ids; *n their number. */
static int32_t *ref_blocks(int T, int64_t *n) {
    vt_st_file *f = ref_open("clm_blocks.safetensors");
    char key[32];
    snprintf(key, sizeof key, "blocks%d", T);
    int64_t numel;
    int32_t *b = ref_i32(f, key, &numel);
    vt_st_close(f);
    *n = numel / T;
    return b;
}

static vt_pt_options clm_options(int T) {
    vt_pt_options o;
    vt_pt_options_default(&o);
    o.objective = VT_PT_CLM;
    o.max_seq_length = T;
    o.instances_per_shard = 100; /* several shards */
    return o;
}

/* Every instance of `dir` in file order as (n, T) ids. */
static int32_t *read_all(const char *dir, const vt_tokenizer *tok, int T, int64_t *n) {
    vt_pt_dataset *ds = vt_pt_open(dir, vt_tok_vocab(tok));
    if (!ds) fail_msg("%s", vt_last_error());
    assert_int_equal(vt_pt_get_info(ds)->objective, VT_PT_CLM);
    assert_int_equal(vt_pt_get_info(ds)->max_seq_length, T);
    *n = vt_pt_size(ds);
    int32_t *out = malloc((size_t)*n * (size_t)T * sizeof *out);
    for (int64_t i = 0; i < *n; i++) {
        vt_pt_instance x;
        assert_int_equal(vt_pt_get(ds, i, &x), VT_OK);
        assert_int_equal(x.n_tokens, T);
        assert_int_equal(x.n_masked, 0);
        memcpy(out + i * T, x.tokens, (size_t)T * sizeof *out);
    }
    vt_pt_close(ds);
    return out;
}

static int cmp_rows_T;
static int cmp_rows(const void *a, const void *b) { return memcmp(a, b, (size_t)cmp_rows_T * sizeof(int32_t)); }

static void sort_rows(int32_t *rows, int64_t n, int T) {
    cmp_rows_T = T;
    qsort(rows, (size_t)n, (size_t)T * sizeof *rows, cmp_rows);
}

/* In corpus order (a shuffle buffer of one), text and JSONL inputs: the
 * reference's blocks exactly, for block sizes 64 and 128. */
static void test_blocks_match_group_texts(void **state) {
    (void)state;
    vt_tokenizer *tok = ref_tokenizer();
    char jsonl[512];
    ref_file_path("clm/docs.jsonl", jsonl, sizeof jsonl);
    for (int T = 64; T <= 128; T *= 2) {
        int64_t n_ref;
        int32_t *want = ref_blocks(T, &n_ref);
        for (int as_jsonl = 0; as_jsonl < 2; as_jsonl++) {
            char *dir = test_tmpdir();
            vt_pt_options o = clm_options(T);
            o.shuffle_buffer = 1;
            o.jsonl = as_jsonl;
            const char *files[] = {as_jsonl ? jsonl : CORPUS};
            vt_pt_stats st;
            if (vt_pt_prepare(tok, files, 1, dir, &o, NULL, NULL, &st) != VT_OK) fail_msg("%s", vt_last_error());
            int64_t n;
            int32_t *got = read_all(dir, tok, T, &n);
            printf("  T %3d %-5s: %lld blocks (reference %lld), %lld documents, %lld tokens dropped\n", T,
                   as_jsonl ? "jsonl" : "text", (long long)n, (long long)n_ref, (long long)st.documents,
                   (long long)st.dropped_tokens);
            assert_int_equal(n, n_ref);
            assert_int_equal(st.documents, 96);
            for (int64_t i = 0; i < n; i++)
                if (memcmp(got + i * T, want + i * T, (size_t)T * sizeof *got))
                    fail_msg("T %d %s: block %lld differs from group_texts'", T, as_jsonl ? "jsonl" : "text", (long long)i);
            free(got);
            test_remove_dir(dir);
        }
        free(want);
    }
    vt_tok_free(tok);
}

/* With the default shuffle buffer the shards hold the same blocks, shuffled;
 * the same seed gives byte-identical shards. */
static void test_shuffled_same_blocks(void **state) {
    (void)state;
    vt_tokenizer *tok = ref_tokenizer();
    int64_t n_ref, n, n2;
    int32_t *want = ref_blocks(64, &n_ref);
    char *dir = test_tmpdir(), *dir2 = test_tmpdir();
    vt_pt_options o = clm_options(64);
    const char *files[] = {CORPUS};
    assert_int_equal(vt_pt_prepare(tok, files, 1, dir, &o, NULL, NULL, NULL), VT_OK);
    assert_int_equal(vt_pt_prepare(tok, files, 1, dir2, &o, NULL, NULL, NULL), VT_OK);
    int32_t *got = read_all(dir, tok, 64, &n), *again = read_all(dir2, tok, 64, &n2);
    assert_int_equal(n, n_ref);
    assert_int_equal(n2, n);
    assert_memory_equal(got, again, (size_t)n * 64 * sizeof *got);
    assert_memory_not_equal(got, want, (size_t)n * 64 * sizeof *got); /* shuffled */
    sort_rows(got, n, 64);
    sort_rows(want, n, 64);
    assert_memory_equal(got, want, (size_t)n * 64 * sizeof *got);
    free(got), free(again), free(want);
    test_remove_dir(dir), test_remove_dir(dir2);
    vt_tok_free(tok);
}

/* One epoch of batches: every block exactly once; the same seed the same
 * order; another epoch (and another seed) another order; two ranks' batches
 * together are one process's. */
static void test_reader_epochs_and_ranks(void **state) {
    (void)state;
    enum { T = 64, B = 8 };
    vt_tokenizer *tok = ref_tokenizer();
    char *dir = test_tmpdir();
    vt_pt_options o = clm_options(T);
    o.shuffle_buffer = 1;
    const char *files[] = {CORPUS};
    assert_int_equal(vt_pt_prepare(tok, files, 1, dir, &o, NULL, NULL, NULL), VT_OK);
    int64_t n_ref;
    int32_t *want = ref_blocks(T, &n_ref);
    vt_pt_dataset *ds = vt_pt_open(dir, vt_tok_vocab(tok));
    assert_non_null(ds);
    int64_t N = vt_pt_size(ds), steps = (2 * N + B - 1) / B; /* two epochs and a bit */
    size_t row = T * sizeof(int32_t);
    int32_t *seq = malloc((size_t)steps * B * row), *seq2 = malloc((size_t)steps * B * row);
    vt_pt_clm_reader *r = vt_pt_clm_reader_new(ds, 42, B);
    assert_non_null(r);
    const int32_t *ids;
    for (int64_t s = 0; s < steps; s++) {
        assert_int_equal(vt_pt_clm_batch(r, s * B, B, &ids), VT_OK);
        memcpy(seq + s * B * T, ids, B * row);
    }
    vt_pt_clm_reader_free(r);
    /* epoch 0 and epoch 1: each every block once, in different orders */
    int32_t *e0 = malloc((size_t)N * row), *e1 = malloc((size_t)N * row);
    memcpy(e0, seq, (size_t)N * row);
    memcpy(e1, seq + N * T, (size_t)N * row);
    assert_memory_not_equal(e0, e1, (size_t)N * row);
    assert_memory_not_equal(e0, want, (size_t)N * row);
    sort_rows(e0, N, T), sort_rows(e1, N, T), sort_rows(want, N, T);
    assert_memory_equal(e0, want, (size_t)N * row);
    assert_memory_equal(e1, want, (size_t)N * row);

    /* the same seed, read again (out of order: a resumed run): the same batches */
    r = vt_pt_clm_reader_new(ds, 42, B);
    for (int64_t s = steps - 1; s >= 0; s--) {
        assert_int_equal(vt_pt_clm_batch(r, s * B, B, &ids), VT_OK);
        memcpy(seq2 + s * B * T, ids, B * row);
    }
    assert_memory_equal(seq, seq2, (size_t)steps * B * row);
    vt_pt_clm_reader_free(r);

    /* two ranks, micro-batches of B / 2: rank 0 then rank 1 of each step is the one-process batch */
    r = vt_pt_clm_reader_new(ds, 42, B);
    for (int64_t s = 0; s < steps; s++)
        for (int rank = 0; rank < 2; rank++) {
            assert_int_equal(vt_pt_clm_rank_batch(r, s, rank, 2, B / 2, &ids), VT_OK);
            memcpy(seq2 + (s * B + rank * (B / 2)) * T, ids, (B / 2) * row);
        }
    assert_memory_equal(seq, seq2, (size_t)steps * B * row);
    vt_pt_clm_reader_free(r);

    /* another seed: another order */
    r = vt_pt_clm_reader_new(ds, 43, B);
    assert_int_equal(vt_pt_clm_batch(r, 0, B, &ids), VT_OK);
    assert_memory_not_equal(ids, seq, B * row);
    assert_int_equal(vt_pt_clm_batch(r, 0, B + 1, &ids), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_pt_clm_rank_batch(r, 0, 2, 2, B, &ids), VT_ERR_INVALID_ARG);
    vt_pt_clm_reader_free(r);

    free(seq), free(seq2), free(e0), free(e1), free(want);
    vt_pt_close(ds);
    test_remove_dir(dir);
    vt_tok_free(tok);
}

static void write_text(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, len, f);
    fclose(f);
}

static void expect_error(const vt_tokenizer *tok, const char *file, const vt_pt_options *o, vt_status code,
                         const char *needle) {
    char *dir = test_tmpdir();
    const char *files[] = {file};
    vt_status st = vt_pt_prepare(tok, files, 1, dir, o, NULL, NULL, NULL);
    printf("  error: %s\n", vt_last_error());
    assert_int_equal(st, code);
    if (!strstr(vt_last_error(), needle)) fail_msg("\"%s\" lacks \"%s\"", vt_last_error(), needle);
    char manifest[600];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    FILE *f = fopen(manifest, "r");
    assert_null(f); /* nothing written */
    test_remove_dir(dir);
}

static void test_bad_inputs(void **state) {
    (void)state;
    vt_tokenizer *tok = ref_tokenizer();
    char *dir = test_tmpdir(), path[600];
    vt_pt_options o = clm_options(64);

    snprintf(path, sizeof path, "%s/bad.txt", dir);
    write_text(path, "fine line\nanother\n\nbad \xff\xfe here\n", 31);
    expect_error(tok, path, &o, VT_ERR_FORMAT, "bad.txt:4: invalid UTF-8");

    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    write_text(path, "{\"text\": \"ok\"}\n{\"text\": \"bad \xc3\x28\"}\n", 35);
    o.jsonl = true;
    expect_error(tok, path, &o, VT_ERR_FORMAT, "bad.jsonl:2: field \"text\" is not valid UTF-8");
    write_text(path, "{\"text\": \"ok\"}\n{\"txt\": 1}\n", 26);
    expect_error(tok, path, &o, VT_ERR_FORMAT, "bad.jsonl:2: no \"text\" field");
    o.jsonl = false;

    snprintf(path, sizeof path, "%s/short.txt", dir);
    write_text(path, "just a few words\n", 17);
    expect_error(tok, path, &o, VT_ERR_FORMAT, "fewer than one block of 64");

    o.eos_token = "<|nope|>";
    expect_error(tok, CORPUS, &o, VT_ERR_FORMAT, "no token \"<|nope|>\"");
    o.eos_token = NULL;

    /* a WordPiece vocabulary has neither <|endoftext|> nor </s> */
    vt_tokenizer *wp = vt_tok_load("tests/data/tokenizer/uncased/vocab.txt", NULL);
    assert_non_null(wp);
    expect_error(wp, CORPUS, &o, VT_ERR_FORMAT, "no end-of-text token");
    /* ... unless one is named */
    o.eos_token = "[SEP]";
    char *out = test_tmpdir();
    const char *files[] = {CORPUS};
    assert_int_equal(vt_pt_prepare(wp, files, 1, out, &o, NULL, NULL, NULL), VT_OK);
    vt_pt_dataset *ds = vt_pt_open(out, vt_tok_vocab(wp));
    assert_non_null(ds);
    assert_int_equal(vt_pt_get_info(ds)->eos_id, vt_tok_special_ids(wp).sep);
    /* a masked-LM run refuses causal-LM blocks ... */
    vt_pt_run_options ro = {.seed = 1, .batch_size = 4};
    assert_null(vt_pt_run_new(ds, NULL, wp, &ro));
    assert_non_null(strstr(vt_last_error(), "causal LM"));
    vt_pt_close(ds);
    /* ... and a causal-LM reader masked-LM instances */
    vt_pt_options mo;
    vt_pt_options_default(&mo);
    mo.objective = VT_PT_MLM;
    mo.dupe_factor = 1;
    test_remove_dir(out);
    out = test_tmpdir();
    assert_int_equal(vt_pt_prepare(wp, files, 1, out, &mo, NULL, NULL, NULL), VT_OK);
    ds = vt_pt_open(out, vt_tok_vocab(wp));
    assert_null(vt_pt_clm_reader_new(ds, 1, 4));
    assert_non_null(strstr(vt_last_error(), "not for a causal LM"));
    vt_pt_close(ds);
    vt_tok_free(wp);
    test_remove_dir(out);

    test_remove_dir(dir);
    vt_tok_free(tok);
}

/* A manifest that says "clm" must carry an eos_id inside the vocabulary, and
 * "masking": "none" goes with "clm" only. */
static void test_manifest_checks(void **state) {
    (void)state;
    vt_tokenizer *tok = ref_tokenizer();
    char *dir = test_tmpdir(), path[600];
    vt_pt_options o = clm_options(64);
    const char *files[] = {CORPUS};
    assert_int_equal(vt_pt_prepare(tok, files, 1, dir, &o, NULL, NULL, NULL), VT_OK);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "rb");
    char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    const char *edits[][2] = {{"\"eos_id\"", "\"eos_idx\""}, {"\"masking\":\t\"none\"", "\"masking\":\t\"dynamic\""},
                              {"\"eos_id\":\t0", "\"eos_id\":\t99999"}};
    const char *expect[] = {"\"eos_id\" is missing", "\"masking\" is \"none\" for the objective \"clm\"",
                            "outside the vocabulary"};
    for (size_t k = 0; k < 3; k++) {
        char *at = strstr(buf, edits[k][0]);
        if (!at) fail_msg("manifest lacks %s", edits[k][0]);
        char edited[8300];
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - buf), buf, edits[k][1], at + strlen(edits[k][0]));
        write_text(path, edited, strlen(edited));
        assert_null(vt_pt_open(dir, NULL));
        if (!strstr(vt_last_error(), expect[k])) fail_msg("\"%s\" lacks \"%s\"", vt_last_error(), expect[k]);
    }
    write_text(path, buf, len);
    vt_pt_dataset *ds = vt_pt_open(dir, NULL);
    assert_non_null(ds);
    vt_pt_close(ds);
    test_remove_dir(dir);
    vt_tok_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_match_group_texts), cmocka_unit_test(test_shuffled_same_blocks),
        cmocka_unit_test(test_reader_epochs_and_ranks),  cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_manifest_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
