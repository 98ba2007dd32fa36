#include "vt_test.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/error.h"

vt_st_file *ref_open(const char *file) {
    const char *dir = getenv("VT_REF_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "build/ref", file);
    vt_st_file *f = vt_st_open(path);
    if (!f) fail_msg("cannot open reference %s: %s (run `make test`, which generates it)", path, vt_last_error());
    return f;
}

const char *ref_file_path(const char *file, char *buf, size_t size) {
    const char *dir = getenv("VT_REF_DIR");
    snprintf(buf, size, "%s/%s", dir ? dir : "build/ref", file);
    return buf;
}

struct cJSON *ref_json(const char *file) {
    char path[4096];
    ref_file_path(file, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open reference %s (run `make test`, which generates it)", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[got] = '\0';
    cJSON *j = cJSON_ParseWithLength(buf, got);
    free(buf);
    if (!j) fail_msg("reference %s is not JSON", path);
    return j;
}

float *ref_f32(const vt_st_file *f, const char *name, int64_t *numel) {
    const vt_st_tensor *t = vt_st_find(f, name);
    if (!t) fail_msg("reference tensor %s missing", name);
    float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    assert_non_null(out);
    if (vt_st_to_f32(t, out) != VT_OK) fail_msg("reference tensor %s: %s", name, vt_last_error());
    if (numel) *numel = t->numel;
    return out;
}

int32_t *ref_i32(const vt_st_file *f, const char *name, int64_t *numel) {
    const vt_st_tensor *t = vt_st_find(f, name);
    if (!t) fail_msg("reference tensor %s missing", name);
    int32_t *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(int32_t));
    assert_non_null(out);
    for (int64_t i = 0; i < t->numel; i++) {
        if (t->dtype == VT_ST_I64) {
            int64_t v;
            memcpy(&v, (const char *)t->data + i * 8, 8);
            out[i] = (int32_t)v;
        } else if (t->dtype == VT_ST_I32) {
            memcpy(&out[i], (const char *)t->data + i * 4, 4);
        } else {
            fail_msg("reference tensor %s is not an integer tensor", name);
        }
    }
    if (numel) *numel = t->numel;
    return out;
}

double rel_max_diff(const float *got, const float *want, int64_t n) {
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= diff)) diff = d; /* NaN propagates */
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    }
    return diff / (scale > 1e-12 ? scale : 1e-12);
}

void assert_close_rel(const char *what, const float *got, const float *want, int64_t n, double tol) {
    double r = rel_max_diff(got, want, n);
    printf("    %-40s rel max diff %.3g (tol %.1g)\n", what, r, tol);
    if (!(r <= tol)) fail_msg("%s: relative max difference %g exceeds %g", what, r, tol);
}

void assert_close_abs(const char *what, const float *got, const float *want, int64_t n, double tol) {
    double diff = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= diff)) diff = d;
    }
    printf("    %-40s max abs diff %.3g (tol %.1g)\n", what, diff, tol);
    if (!(diff <= tol)) fail_msg("%s: max abs difference %g exceeds %g", what, diff, tol);
}

char *test_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/verto-test-XXXXXX", base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d) fail_msg("mkdtemp failed");
    return strdup(d);
}

const char *const TEST_TINY_WORDS[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "free", "money",
                                       "offer", "meeting", "tomorrow", "project", "report", "click", "now", "win",
                                       "lunch", "##s", "##ing", ".", "!", ","};
const int TEST_TINY_N_WORDS = (int)(sizeof TEST_TINY_WORDS / sizeof *TEST_TINY_WORDS);

char *test_tiny_model(int arch, int layers) {
    char *dir = test_tmpdir();
    vt_bert_config c;
    vt_bert_config_default(&c, (vt_bert_arch)arch);
    c.vocab_size = TEST_TINY_N_WORDS;
    c.hidden_size = 16;
    c.num_hidden_layers = layers;
    c.num_attention_heads = 2;
    c.intermediate_size = 32;
    c.max_position_embeddings = 24;
    c.num_labels = arch == VT_BERT_FOR_QUESTION_ANSWERING ? 2 : 3; /* (start and end) */
    c.initializer_range = 0.5f;
    vt_bert *b = vt_bert_new(&c, 5);
    assert_non_null(b);
    if (arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION) {
        const char *labels[3] = {"neg", "neutral", "pos"};
        assert_int_equal(vt_bert_set_labels(b, labels, 3), VT_OK);
    }
    assert_int_equal(vt_bert_save(b, dir), VT_OK);
    vt_bert_free(b);
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < TEST_TINY_N_WORDS; i++) fprintf(f, "%s\n", TEST_TINY_WORDS[i]);
    fclose(f);
    return dir;
}

void test_remove_dir(char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

float *test_floats(int64_t n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    assert_non_null(p);
    return p;
}

void test_fill_uniform(vt_rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(2 * vt_rng_uniform(r) - 1);
}

void ref_matmul(const float *A, const float *B, const float *bias, const float *C0, float *want, int64_t M, int64_t N,
                int64_t K, bool ta, bool tb, float beta) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
            if (bias) s += bias[j];
            if (beta != 0) s += (double)beta * C0[i * N + j];
            want[i * N + j] = (float)s;
        }
}
