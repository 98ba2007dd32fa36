/* LoRA on GPT-2 against PEFT (tests/ref/gen_lora.py: a random base and
 * adapters made by get_peft_model with fan_in_fan_out, dropout 0) and against
 * finite differences.
 *
 * Tolerances (the reference runs in float64 from the float32 weights; verto
 * in float32): logits max |verto - PEFT| <= 1e-4 at every position of a
 * right-padded batch; the loss (labels -100 on padding and on the prompt's
 * first tokens) within 1e-5; each LoRA gradient max |g - ref| / max |ref| <=
 * 1e-3. Merging: every merged weight within 1e-6 of merge_and_unload()'s
 * (both float32; sums of r products in another order). Finite differences:
 * central, step 1e-3 on a float32 loss: |fd - grad| <= 2e-3 + 2e-2 |grad|
 * (float32 rounding of the loss, ~1e-7, divided by the step). An adapter
 * verto trains and saves loads in peft.PeftModel.from_pretrained with PEFT's
 * exact key set and gives verto's logits within 1e-4 (gen_lora.py --check). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "verto/error.h"
#include "verto/gpt2.h"
#include "verto/gpt2_lora.h"
#include "verto/safetensors.h"
#include "vt_test.h"

#define LOGIT_TOL 1e-4
#define LOSS_TOL 1e-5
#define GRAD_TOL 1e-3
#define MERGE_TOL 1e-6

static vt_gpt2 *load(const char *name) {
    char path[4096];
    ref_file_path(name, path, sizeof path);
    vt_gpt2 *m = vt_gpt2_load(path);
    if (!m) fail_msg("vt_gpt2_load(%s): %s", path, vt_last_error());
    return m;
}

static vt_status load_adapter(vt_gpt2 *m, const char *name) {
    char path[4096];
    ref_file_path(name, path, sizeof path);
    vt_status st = vt_gpt2_lora_load(m, path);
    printf("vt_gpt2_lora_load(%s): %s\n", name, st == VT_OK ? "ok" : vt_last_error());
    return st;
}

typedef struct ref_batch {
    vt_st_file *f;
    int32_t *ids, *mask, *labels;
    int64_t B, T;
} ref_batch;

static void batch_open(ref_batch *r) {
    int64_t n;
    r->f = ref_open("lora_io.safetensors");
    r->ids = ref_i32(r->f, "input_ids", &n);
    r->B = vt_st_find(r->f, "input_ids")->shape[0];
    r->T = n / r->B;
    r->mask = ref_i32(r->f, "attention_mask", NULL);
    r->labels = ref_i32(r->f, "labels", NULL);
}

static void batch_close(ref_batch *r) {
    free(r->ids);
    free(r->mask);
    free(r->labels);
    vt_st_close(r->f);
}

static void test_targets(void **state) {
    (void)state;
    unsigned t;
    assert_int_equal(vt_gpt2_lora_parse_targets("c_attn,c_proj,c_fc", &t), VT_OK);
    assert_int_equal(t, VT_GPT2_LORA_C_ATTN | VT_GPT2_LORA_ATTN_C_PROJ | VT_GPT2_LORA_MLP_C_PROJ | VT_GPT2_LORA_C_FC);
    assert_int_equal(vt_gpt2_lora_parse_targets("attn.c_proj", &t), VT_OK);
    assert_int_equal(t, VT_GPT2_LORA_ATTN_C_PROJ);
    assert_int_equal(vt_gpt2_lora_parse_targets("mlp.c_proj,c_attn", &t), VT_OK);
    assert_int_equal(t, VT_GPT2_LORA_MLP_C_PROJ | VT_GPT2_LORA_C_ATTN);
    assert_int_not_equal(vt_gpt2_lora_parse_targets("q_proj", &t), VT_OK);
    assert_non_null(strstr(vt_last_error(), "q_proj"));
    assert_int_not_equal(vt_gpt2_lora_parse_targets("c_attn,,c_fc", &t), VT_OK);
    assert_int_not_equal(vt_gpt2_lora_parse_targets("proj", &t), VT_OK); /* suffix only at a dot */
}

/* Logits, loss and every LoRA gradient against PeftModel; the base gets none. */
static void test_forward_backward(void **state) {
    (void)state;
    vt_gpt2 *m = load("lora_base");
    assert_int_equal(load_adapter(m, "lora_adapter"), VT_OK);
    ref_batch r;
    batch_open(&r);
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    vt_gpt2_batch in = {.batch = r.B, .seq_len = r.T, .input_ids = r.ids, .attention_mask = r.mask, .labels = r.labels};
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, &in, true, 3, &out), VT_OK);
    float *logits = ref_f32(r.f, "logits", NULL), *loss = ref_f32(r.f, "loss", NULL);
    assert_close_abs("logits with lora_adapter", out.logits, logits, r.B * r.T * V, LOGIT_TOL);
    printf("loss (completion tokens only) verto %.9f PEFT %.9f\n", out.loss, loss[0]);
    assert_true(fabs(out.loss - loss[0]) <= LOSS_TOL);
    int64_t n_base;
    float *base_grads = vt_gpt2_grads(m, &n_base);
    base_grads[0] = 12345.0f; /* wte's first gradient: the frozen base must not write it */
    assert_int_equal(vt_gpt2_backward(m, true), VT_OK);
    assert_true(base_grads[0] == 12345.0f);
    assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
    size_t n_infos;
    const vt_param_info *infos = vt_gpt2_lora_param_infos(m, &n_infos);
    float *grads = vt_gpt2_lora_grads(m, NULL);
    assert_int_equal(n_infos, 16); /* 2 layers x 4 modules x (A, B): "c_proj" is both */
    double worst = 0;
    for (size_t i = 0; i < n_infos; i++) {
        char key[160];
        snprintf(key, sizeof key, "grad.%s", infos[i].name);
        int64_t n;
        float *want = ref_f32(r.f, key, &n);
        assert_int_equal(n, infos[i].numel);
        double d = rel_max_diff(grads + infos[i].offset, want, n);
        if (d > worst) worst = d;
        if (d > GRAD_TOL) fail_msg("gradient of %s off by %.3g (relative)", infos[i].name, d);
        free(want);
    }
    printf("worst LoRA gradient %.3g (relative, tolerance %g)\n", worst, GRAD_TOL);
    free(logits);
    /* a second adapter (r 2, c_attn only) replaces the first */
    assert_int_equal(load_adapter(m, "lora_adapter_q"), VT_OK);
    assert_int_equal(vt_gpt2_lora_get_config(m)->rank, 2);
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_OK);
    logits = ref_f32(r.f, "logits_q", NULL);
    assert_close_abs("logits with lora_adapter_q", out.logits, logits, r.B * r.T * V, LOGIT_TOL);
    free(logits);
    free(loss);
    batch_close(&r);
    vt_gpt2_free(m);
}

static void test_merge(void **state) {
    (void)state;
    vt_gpt2 *m = load("lora_base"), *want = load("lora_merged");
    assert_int_equal(load_adapter(m, "lora_adapter"), VT_OK);
    assert_int_equal(vt_gpt2_lora_merge(m), VT_OK);
    assert_null(vt_gpt2_lora_get_config(m));
    int64_t n, n2;
    float *got = vt_gpt2_params(m, &n), *ref = vt_gpt2_params(want, &n2);
    assert_int_equal(n, n2);
    assert_close_abs("merged weights vs merge_and_unload", got, ref, n, MERGE_TOL);
    vt_gpt2_free(m);
    vt_gpt2_free(want);
}

/* Each broken directory fails with its file and what is wrong, and leaves the attached adapter. */
static void test_bad_adapters(void **state) {
    (void)state;
    static const char *const cases[][3] = {
        {"lora_bad_missing", "adapter_model.safetensors", "h.1.mlp.c_fc.lora_B.weight\" is missing"},
        {"lora_bad_shape", "adapter_model.safetensors", "h.0.attn.c_attn.lora_A.weight\" has shape [3, 23]"},
        {"lora_bad_rank", "adapter_model.safetensors", "r 4"},
        {"lora_bad_type", "adapter_config.json", "peft_type"},
        {"lora_bad_extra", "adapter_model.safetensors", "h.5.attn.c_attn.lora_A.weight"},
        {"lora_no_such_dir", "adapter_config.json", ""},
    };
    vt_gpt2 *m = load("lora_base");
    assert_int_equal(load_adapter(m, "lora_adapter_q"), VT_OK);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_not_equal(load_adapter(m, cases[i][0]), VT_OK);
        assert_non_null(strstr(vt_last_error(), cases[i][1]));
        assert_non_null(strstr(vt_last_error(), cases[i][2]));
        assert_int_equal(vt_gpt2_lora_get_config(m)->rank, 2);
    }
    vt_gpt2_free(m);
}

static double loss_at(vt_gpt2 *m, const vt_gpt2_batch *in) {
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, in, true, 9, &out), VT_OK); /* the same dropout masks every time */
    return out.loss;
}

/* The backward through the adapter (with its dropout, in training) against
 * central differences of the loss, on A, B, and through the branch's input
 * (A of layer 0 only sees the input through later layers' branches). */
static void test_finite_differences(void **state) {
    (void)state;
    vt_gpt2 *m = load("lora_base");
    unsigned targets;
    assert_int_equal(vt_gpt2_lora_parse_targets("c_attn,c_proj,c_fc", &targets), VT_OK);
    vt_gpt2_lora_config c = {.rank = 2, .alpha = 3, .dropout = 0.25f, .targets = targets};
    assert_int_equal(vt_gpt2_lora_add(m, &c, 4), VT_OK);
    int64_t n;
    float *p = vt_gpt2_lora_params(m, &n), *g = vt_gpt2_lora_grads(m, NULL);
    for (int64_t i = 0; i < n; i++) p[i] = 0.3f * sinf((float)(i * 37 % 101)); /* B away from 0 */
    ref_batch r;
    batch_open(&r);
    vt_gpt2_batch in = {.batch = r.B, .seq_len = r.T, .input_ids = r.ids, .attention_mask = r.mask, .labels = r.labels};
    /* the base has no dropout: a training loss apart from the evaluation one is the branches' dropout,
     * which one product over the batch outside training must not apply */
    vt_gpt2_outputs eval, eval_one;
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &eval), VT_OK);
    double eval_loss = eval.loss;
    in.one_product = true;
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &eval_one), VT_OK);
    in.one_product = false;
    double train_loss = loss_at(m, &in);
    printf("LoRA dropout 0.25: training loss %.6f, evaluation %.6f (one product: %.6f)\n", train_loss, eval_loss,
           eval_one.loss);
    assert_true(fabs(train_loss - eval_loss) > 1e-3 && fabs(eval_one.loss - eval_loss) < 1e-5);
    assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
    float *grad = malloc((size_t)n * sizeof *grad);
    memcpy(grad, g, (size_t)n * sizeof *grad);
    double worst = 0;
    const float h = 1e-3f;
    for (int64_t i = 0; i < n; i += 7) {
        float keep = p[i];
        p[i] = keep + h;
        double up = loss_at(m, &in);
        p[i] = keep - h;
        double down = loss_at(m, &in);
        p[i] = keep;
        double fd = (up - down) / (2 * h), err = fabs(fd - grad[i]);
        double bound = 2e-3 + 2e-2 * fabs(grad[i]);
        if (err / bound > worst) worst = err / bound;
        if (err > bound) fail_msg("LoRA parameter %lld: finite difference %.6g, backward %.6g", (long long)i, fd, grad[i]);
    }
    printf("finite differences: worst error %.3g of the bound (|fd - g| <= 2e-3 + 2e-2 |g|)\n", worst);
    free(grad);
    batch_close(&r);
    vt_gpt2_free(m);
}

/* An adapter verto trains a few steps and saves: verto reads it back exactly,
 * and PEFT loads it and agrees with verto's logits. */
static void test_trained_adapter_in_peft(void **state) {
    (void)state;
    vt_gpt2 *m = load("lora_base");
    unsigned targets;
    assert_int_equal(vt_gpt2_lora_parse_targets("c_attn,attn.c_proj,c_fc", &targets), VT_OK);
    vt_gpt2_lora_config c = {.rank = 4, .alpha = 8, .dropout = 0.1f, .targets = targets};
    assert_int_equal(vt_gpt2_lora_add(m, &c, 11), VT_OK);
    ref_batch r;
    batch_open(&r);
    vt_gpt2_batch in = {.batch = r.B, .seq_len = r.T, .input_ids = r.ids, .attention_mask = r.mask, .labels = r.labels};
    int64_t n;
    float *p = vt_gpt2_lora_params(m, &n), *g = vt_gpt2_lora_grads(m, NULL);
    double first = 0, last = 0;
    for (int step = 0; step < 5; step++) { /* plain SGD: enough to move B off zero */
        vt_gpt2_outputs out;
        assert_int_equal(vt_gpt2_forward(m, &in, true, (uint64_t)step, &out), VT_OK);
        if (step == 0) first = out.loss;
        last = out.loss;
        assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
        for (int64_t i = 0; i < n; i++) p[i] -= 0.5f * g[i];
    }
    printf("5 SGD steps: loss %.4f -> %.4f\n", first, last);
    assert_true(last < first);
    char *tmp = test_tmpdir(), dir[1024], file[1024], base[4096], cmd[16384];
    snprintf(dir, sizeof dir, "%s/adapter", tmp);
    snprintf(file, sizeof file, "%s/outputs.safetensors", tmp);
    ref_file_path("lora_base", base, sizeof base);
    assert_int_equal(vt_gpt2_lora_save(m, dir, base), VT_OK);
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_OK);
    int64_t V = vt_gpt2_get_config(m)->vocab_size, bt[2] = {r.B, r.T}, btv[3] = {r.B, r.T, V};
    vt_st_entry e[] = {{"input_ids", VT_ST_I32, 2, bt, r.ids}, {"attention_mask", VT_ST_I32, 2, bt, r.mask},
                       {"logits", VT_ST_F32, 3, btv, out.logits}};
    assert_int_equal(vt_st_write(file, e, 3, NULL, 0), VT_OK);
    /* verto reads back the same numbers */
    vt_gpt2 *again = load("lora_base");
    assert_int_equal(vt_gpt2_lora_load(again, dir), VT_OK);
    int64_t n2;
    float *p2 = vt_gpt2_lora_params(again, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(p, p2, (size_t)n * sizeof *p);
    assert_true(vt_gpt2_lora_get_config(again)->targets == targets);
    vt_gpt2_free(again);
    const char *python = getenv("PYTHON"), *src = getenv("VT_SRC_DIR");
    snprintf(cmd, sizeof cmd, "'%s' '%s%stests/ref/gen_lora.py' --check '%s' '%s' '%s'", python ? python : "python3",
             src ? src : "", src ? "/" : "", base, dir, file);
    fflush(stdout);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) fail_msg("PEFT disagreed with verto (status %d)", rc);
    test_remove_dir(tmp);
    batch_close(&r);
    vt_gpt2_free(m);
}

/* The base's products in bf16 (--base-precision bf16), the adapter in f32:
 * the loss within 2% and the LoRA gradients' cosine >= 0.99 of fp32's (bf16
 * keeps 8 bits of mantissa: about 0.4% per rounding). */
static void test_bf16_base(void **state) {
    (void)state;
    vt_gpt2 *m = load("lora_base");
    assert_int_equal(load_adapter(m, "lora_adapter"), VT_OK);
    ref_batch r;
    batch_open(&r);
    vt_gpt2_batch in = {.batch = r.B, .seq_len = r.T, .input_ids = r.ids, .attention_mask = r.mask, .labels = r.labels};
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, &in, true, 1, &out), VT_OK);
    double loss32 = out.loss;
    assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
    int64_t n;
    float *g = vt_gpt2_lora_grads(m, &n), *g32 = malloc((size_t)n * sizeof *g32);
    memcpy(g32, g, (size_t)n * sizeof *g32);
    assert_int_equal(vt_gpt2_set_precision(m, VT_PRECISION_BF16), VT_OK);
    assert_int_equal(vt_gpt2_forward(m, &in, true, 1, &out), VT_OK);
    assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
    double dot = 0, a2 = 0, b2 = 0;
    for (int64_t i = 0; i < n; i++) dot += (double)g32[i] * g[i], a2 += (double)g32[i] * g32[i], b2 += (double)g[i] * g[i];
    double cosine = dot / sqrt(a2 * b2);
    printf("bf16 base: loss %.6f vs fp32 %.6f; LoRA gradient cosine %.5f\n", out.loss, loss32, cosine);
    assert_true(fabs(out.loss - loss32) <= 0.02 * fabs(loss32));
    assert_true(cosine >= 0.99);
    free(g32);
    batch_close(&r);
    vt_gpt2_free(m);
}

/* Decoding with an attached adapter: a cached step's logits equal a full
 * forward's at that position (1e-4, the same f32 arithmetic in another order). */
static void test_decode_with_adapter(void **state) {
    (void)state;
    vt_gpt2 *m = load("lora_base");
    assert_int_equal(load_adapter(m, "lora_adapter"), VT_OK);
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    int32_t seq[6] = {3, 14, 15, 9, 26, 53}, len[1] = {5};
    float *step = malloc((size_t)V * sizeof *step);
    vt_gpt2_cache *c = vt_gpt2_cache_new(m, 1, 8);
    assert_non_null(c);
    assert_int_equal(vt_gpt2_prefill(m, c, seq, 5, len, step), VT_OK);
    assert_int_equal(vt_gpt2_step(m, c, seq + 5, step), VT_OK);
    vt_gpt2_batch in = {.batch = 1, .seq_len = 6, .input_ids = seq};
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_OK);
    assert_close_abs("cached step vs full forward, with the adapter", step, out.logits + 5 * V, V, 1e-4);
    vt_gpt2_cache_free(c);
    free(step);
    vt_gpt2_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),       cmocka_unit_test(test_forward_backward),
        cmocka_unit_test(test_merge),         cmocka_unit_test(test_bad_adapters),
        cmocka_unit_test(test_finite_differences), cmocka_unit_test(test_trained_adapter_in_peft),
        cmocka_unit_test(test_bf16_base),     cmocka_unit_test(test_decode_with_adapter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
