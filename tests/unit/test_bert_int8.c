/* int8 models against transformers and PyTorch (tests/ref/gen_int8.py), their
 * directories' round trip, and bad int8 directories.
 *
 * For a BERT and a DistilBERT sequence classifier (random weights of std 0.1,
 * 5 padded sequences):
 * - int8 against verto's scheme emulated in PyTorch (float32, integer sums
 *   exact): logits within 2e-3. The integer sums are exact on both sides; what
 *   differs is the float32 rounding of LayerNorm, GELU, softmax in another
 *   order, which can move an activation across a rounding boundary to the
 *   next code (one step of one input in a 100-wide sum).
 * - int8 against fp32 transformers: logits within 0.12 (the emulation itself
 *   is 0.045 / 0.011 away: quantization's own error) and the same argmax on
 *   every sequence.
 * - against torch.ao.quantization.quantize_dynamic on the same modules (the
 *   classifier left f32 in both): PyTorch quantizes the activations per
 *   tensor with reduce_range (7 bits) and the weights in 8 bits, per tensor by
 *   default or per channel; verto per row in 8 bits and the weights in 7
 *   bits per channel. verto's largest logit error against fp32 must be at
 *   most 1.5x the larger of PyTorch's two (all three printed).
 * - each sequence alone gives the bits it gets in the batch (exact integer sums).
 * Round trip: an int8 model saved, loaded back (int8, the same codes), gives
 * the same logits bit for bit, and quantizing that directory again writes the
 * same model.safetensors. Bad directories (an I8 weight of the wrong shape,
 * without scales, scales of the wrong type, a code outside 7 bits, an I8
 * embedding, a stray scale, a dense weight left F32 among I8 ones): errors
 * naming the file and tensor. Training in int8 is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/bert.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

#define EMU_TOL 2e-3 /* observed 1.8e-7 here: the bound allows a few codes to move one step */
#define FP32_TOL 0.12
#define TORCH_REF_TOL 1e-4 /* verto fp32 vs transformers fp32 (float32 sums in another order) */

typedef struct io {
    vt_st_file *f;
    int32_t *ids, *mask, *types;
    int64_t B, T;
} io;

static void io_open(io *x, const char *name) {
    char file[96];
    snprintf(file, sizeof file, "int8_%s_io.safetensors", name);
    x->f = ref_open(file);
    int64_t n;
    x->ids = ref_i32(x->f, "input_ids", &n);
    x->mask = ref_i32(x->f, "attention_mask", NULL);
    x->types = ref_i32(x->f, "token_type_ids", NULL);
    x->B = vt_st_find(x->f, "input_ids")->shape[0];
    x->T = n / x->B;
}

static void io_close(io *x) {
    free(x->ids);
    free(x->mask);
    free(x->types);
    vt_st_close(x->f);
}

/* logits (rows b0 .. b0+nb-1 of the batch) into out (nb, L). */
static void run(vt_bert *b, const io *x, int64_t b0, int64_t nb, float *out) {
    vt_bert_batch in = {.batch = nb, .seq_len = x->T, .input_ids = x->ids + b0 * x->T,
                        .token_type_ids = x->types + b0 * x->T, .attention_mask = x->mask + b0 * x->T};
    vt_bert_outputs o;
    if (vt_bert_forward(b, &in, false, 0, &o) != VT_OK) fail_msg("forward: %s", vt_last_error());
    memcpy(out, o.logits, (size_t)(nb * vt_bert_get_config(b)->num_labels) * sizeof(float));
}

static double max_abs(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static int64_t argmax(const float *x, int64_t n) {
    int64_t k = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[k]) k = i;
    return k;
}

static vt_bert *load_ref_model(const char *name) {
    char dir[96], path[512];
    snprintf(dir, sizeof dir, "int8_%s", name);
    vt_bert *b = vt_bert_load(ref_file_path(dir, path, sizeof path), -1, 0, 0);
    if (!b) fail_msg("%s", vt_last_error());
    return b;
}

static void check_against_torch(const char *name) {
    io x;
    io_open(&x, name);
    vt_bert *b = load_ref_model(name);
    int64_t L = vt_bert_get_config(b)->num_labels, n = x.B * L;
    float *fp32 = ref_f32(x.f, "logits_fp32", NULL), *emu = ref_f32(x.f, "logits_emulated", NULL);
    float *qd_t = ref_f32(x.f, "logits_qd_tensor", NULL), *qd_c = ref_f32(x.f, "logits_qd_channel", NULL);
    float *got = calloc((size_t)n, sizeof *got), *one = calloc((size_t)L, sizeof *one);
    run(b, &x, 0, x.B, got);
    double e32 = max_abs(got, fp32, n);
    printf("    %s fp32: max |verto - transformers| %.2g (allowed %g)\n", name, e32, TORCH_REF_TOL);
    assert_true(e32 <= TORCH_REF_TOL);

    assert_int_equal(vt_bert_set_precision(b, VT_PRECISION_INT8), VT_OK);
    run(b, &x, 0, x.B, got);
    double e_emu = max_abs(got, emu, n), e_fp = max_abs(got, fp32, n);
    double e_qt = max_abs(qd_t, fp32, n), e_qc = max_abs(qd_c, fp32, n);
    printf("    %s int8: max |verto - emulated scheme| %.2g (allowed %g); against fp32: verto %.3g (allowed %g), "
           "PyTorch quantize_dynamic per tensor %.3g, per channel %.3g\n",
           name, e_emu, EMU_TOL, e_fp, FP32_TOL, e_qt, e_qc);
    assert_true(e_emu <= EMU_TOL);
    assert_true(e_fp <= FP32_TOL);
    assert_true(e_fp <= 1.5 * fmax(e_qt, e_qc));
    for (int64_t i = 0; i < x.B; i++) {
        assert_int_equal(argmax(got + i * L, L), argmax(fp32 + i * L, L));
        run(b, &x, i, 1, one); /* alone: the same bits */
        assert_memory_equal(one, got + i * L, (size_t)L * sizeof *one);
    }
    free(fp32);
    free(emu);
    free(qd_t);
    free(qd_c);
    free(got);
    free(one);
    vt_bert_free(b);
    io_close(&x);
}

static void test_bert_vs_torch(void **state) { check_against_torch("bert"); }
static void test_distilbert_vs_torch(void **state) { check_against_torch("distilbert"); }

static char *read_all(const char *path, size_t *len) {
    char *text = NULL;
    if (vt_read_file(path, 1u << 30, &text, len) != VT_OK) fail_msg("%s", vt_last_error());
    return text;
}

static void test_roundtrip(void **state) {
    io x;
    io_open(&x, "bert");
    vt_bert *b = load_ref_model("bert");
    int64_t n = x.B * vt_bert_get_config(b)->num_labels;
    float *before = calloc((size_t)n, sizeof *before), *after = calloc((size_t)n, sizeof *after);
    assert_int_equal(vt_bert_set_precision(b, VT_PRECISION_INT8), VT_OK);
    run(b, &x, 0, x.B, before);
    char *dir = test_tmpdir(), sub[600], again[600], path[700];
    snprintf(sub, sizeof sub, "%s/q", dir);
    snprintf(again, sizeof again, "%s/q2", dir);
    assert_int_equal(vt_bert_save(b, sub), VT_OK);
    vt_bert_free(b);

    b = vt_bert_load(sub, -1, 0, 0);
    if (!b) fail_msg("%s", vt_last_error());
    assert_int_equal(vt_bert_get_precision(b), VT_PRECISION_INT8);
    run(b, &x, 0, x.B, after);
    assert_memory_equal(before, after, (size_t)n * sizeof *before);
    /* setting int8 again keeps the loaded codes */
    assert_int_equal(vt_bert_set_precision(b, VT_PRECISION_INT8), VT_OK);
    run(b, &x, 0, x.B, after);
    assert_memory_equal(before, after, (size_t)n * sizeof *before);
    vt_bert_free(b);

    snprintf(path, sizeof path, "%s/model.safetensors", sub);
    vt_st_file *f = vt_st_open(path);
    assert_non_null(f);
    const vt_st_tensor *w = vt_st_find(f, "bert.encoder.layer.1.intermediate.dense.weight");
    const vt_st_tensor *s = vt_st_find(f, "bert.encoder.layer.1.intermediate.dense.weight_scale");
    assert_non_null(w);
    assert_non_null(s);
    assert_int_equal(w->dtype, VT_ST_I8);
    assert_int_equal(s->dtype, VT_ST_F32);
    assert_int_equal(s->shape[0], 256);
    assert_int_equal(vt_st_find(f, "classifier.weight")->dtype, VT_ST_F32);
    assert_int_equal(vt_st_find(f, "bert.pooler.dense.weight")->dtype, VT_ST_F32);
    assert_int_equal(vt_st_find(f, "bert.embeddings.word_embeddings.weight")->dtype, VT_ST_F32);
    vt_st_close(f);
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", sub);
    char *cfg = read_all(path, &len);
    assert_non_null(strstr(cfg, "\"quantization_config\""));
    assert_non_null(strstr(cfg, "\"verto_int8\""));
    free(cfg);

    assert_int_equal(vt_bert_quantize_dir(sub, again), VT_OK); /* int8 in, the same int8 out */
    size_t l1, l2;
    snprintf(path, sizeof path, "%s/model.safetensors", sub);
    char *a = read_all(path, &l1);
    snprintf(path, sizeof path, "%s/model.safetensors", again);
    char *c = read_all(path, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(a, c, l1);
    free(a);
    free(c);
    vt_clear_error();
    assert_int_not_equal(vt_bert_quantize_dir(sub, sub), VT_OK);
    assert_non_null(strstr(vt_last_error(), "model's own"));
    free(before);
    free(after);
    test_remove_dir(dir);
    io_close(&x);
}

/* ---- bad int8 directories ---- */

typedef enum edit { WRONG_SHAPE, NO_SCALE, SCALE_SHAPE, CODE_64, I8_EMBEDDING, STRAY_SCALE, ONE_LEFT_F32 } edit;

#define DENSE "bert.encoder.layer.0.intermediate.dense.weight"

/* Rewrites dir/model.safetensors from the good one with one edit. */
static void write_edited(const char *good, const char *dir, edit e) {
    vt_st_file *f = vt_st_open(good);
    assert_non_null(f);
    size_t n = vt_st_count(f), m = 0;
    vt_st_entry *ent = calloc(n + 2, sizeof *ent);
    int64_t (*shapes)[2] = calloc(n + 2, sizeof *shapes);
    void **bufs = calloc(n + 2, sizeof *bufs);
    for (size_t i = 0; i < n; i++) {
        const vt_st_tensor *t = vt_st_at(f, i);
        bool dense = !strcmp(t->name, DENSE), scale = !strcmp(t->name, DENSE "_scale");
        if (e == NO_SCALE && scale) continue;
        shapes[m][0] = t->shape[0];
        shapes[m][1] = t->ndim > 1 ? t->shape[1] : 0;
        ent[m] = (vt_st_entry){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .shape = shapes[m], .data = t->data};
        if (e == WRONG_SHAPE && dense) { /* (I, H) stored as (H, I) */
            shapes[m][0] = t->shape[1];
            shapes[m][1] = t->shape[0];
        }
        if (e == SCALE_SHAPE && scale) shapes[m][0] = t->shape[0] / 2;
        if (e == CODE_64 && dense) {
            bufs[m] = malloc(t->nbytes);
            memcpy(bufs[m], t->data, t->nbytes);
            ((int8_t *)bufs[m])[5] = 64;
            ent[m].data = bufs[m];
        }
        if (e == I8_EMBEDDING && !strcmp(t->name, "bert.embeddings.token_type_embeddings.weight")) {
            bufs[m] = calloc((size_t)t->numel, 1);
            ent[m].dtype = VT_ST_I8;
            ent[m].data = bufs[m];
        }
        if (e == ONE_LEFT_F32 && (dense || scale)) {
            if (scale) continue;
            bufs[m] = calloc((size_t)t->numel, sizeof(float));
            ent[m].dtype = VT_ST_F32;
            ent[m].data = bufs[m];
        }
        m++;
    }
    static const int64_t two[1] = {2};
    static const float ones[2] = {1, 1};
    if (e == STRAY_SCALE) ent[m++] = (vt_st_entry){.name = "classifier.weight_scale", .dtype = VT_ST_F32, .ndim = 1,
                                                   .shape = two, .data = ones};
    char path[700];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(vt_st_write(path, ent, m, NULL, 0), VT_OK);
    for (size_t i = 0; i < n + 2; i++) free(bufs[i]);
    free(bufs);
    free(shapes);
    free(ent);
    vt_st_close(f);
}

static void expect_load_error(const char *dir, const char *what, const char *needle) {
    vt_clear_error();
    vt_bert *b = vt_bert_load(dir, -1, 0, 0);
    if (b) fail_msg("%s: loaded", what);
    printf("    %s: %s\n", what, vt_last_error());
    assert_non_null(strstr(vt_last_error(), "model.safetensors"));
    if (!strstr(vt_last_error(), needle)) fail_msg("%s: the error does not say \"%s\"", what, needle);
}

static void test_bad_directories(void **state) {
    vt_bert *b = load_ref_model("bert");
    assert_int_equal(vt_bert_set_precision(b, VT_PRECISION_INT8), VT_OK);
    char *dir = test_tmpdir(), good[600], bad[600], path[700], cfg[700];
    snprintf(good, sizeof good, "%s/good", dir);
    snprintf(bad, sizeof bad, "%s/bad", dir);
    assert_int_equal(vt_bert_save(b, good), VT_OK);
    assert_int_equal(vt_bert_save(b, bad), VT_OK); /* its config.json */
    vt_bert_free(b);
    snprintf(path, sizeof path, "%s/model.safetensors", good);
    snprintf(cfg, sizeof cfg, "%s/config.json", bad);
    static const struct {
        edit e;
        const char *what, *needle;
    } cases[] = {
        {WRONG_SHAPE, "I8 weight of the wrong shape", DENSE},
        {NO_SCALE, "I8 weight without scales", "has no scales"},
        {SCALE_SHAPE, "scales of the wrong shape", DENSE "_scale"},
        {CODE_64, "a code outside 7 bits", "outside [-63, 63]"},
        {I8_EMBEDDING, "an I8 embedding", "token_type_embeddings"},
        {STRAY_SCALE, "scales of an F32 weight", "classifier.weight_scale"},
        {ONE_LEFT_F32, "a dense weight left F32", "layer.0.intermediate.dense.weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_edited(path, bad, cases[i].e);
        expect_load_error(bad, cases[i].what, cases[i].needle);
    }
    test_remove_dir(dir);
}

static void test_training_refused(void **state) {
    io x;
    io_open(&x, "bert");
    vt_bert *b = load_ref_model("bert");
    assert_int_equal(vt_bert_set_precision(b, VT_PRECISION_INT8), VT_OK);
    vt_bert_batch in = {.batch = x.B, .seq_len = x.T, .input_ids = x.ids, .attention_mask = x.mask};
    vt_bert_outputs o;
    vt_clear_error();
    assert_int_equal(vt_bert_forward(b, &in, true, 0, &o), VT_ERR_UNSUPPORTED);
    assert_non_null(strstr(vt_last_error(), "inference"));
    vt_precision p;
    assert_true(vt_precision_parse("int8", &p));
    assert_int_equal(p, VT_PRECISION_INT8);
    assert_string_equal(vt_precision_name(p), "int8");
    vt_bert_free(b);
    io_close(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bert_vs_torch),    cmocka_unit_test(test_distilbert_vs_torch),
        cmocka_unit_test(test_roundtrip),        cmocka_unit_test(test_bad_directories),
        cmocka_unit_test(test_training_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
