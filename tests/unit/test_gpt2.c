/* GPT-2 against transformers (tests/ref/gen_gpt2.py: two random
 * configurations saved by save_pretrained, dropout 0) and against itself.
 *
 * Tolerances (the reference is float64 from the float32 weights; verto
 * computes in float32): logits max |verto - ref| <= 1e-4 at every position of
 * a right-padded batch; the labels= loss within 1e-5; each parameter's
 * gradient max |g - ref| / max |ref| <= 1e-3. KV-cache decoding: each step's
 * logits within 1e-4 of a full recomputation of the whole sequence (the same
 * float32 arithmetic in another order). Greedy decoding: token-identical to
 * generate(do_sample=False). Directories verto writes (`verto init --config
 * gpt2-tiny`, and a reference model saved again) load in transformers'
 * GPT2LMHeadModel with no missing or unexpected keys and give verto's logits
 * within 1e-4 (tests/ref/gen_gpt2.py --check). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "verto/error.h"
#include "verto/fileio.h"
#include "verto/gpt2.h"
#include "verto/safetensors.h"
#include "vt_test.h"

#define LOGIT_TOL 1e-4
#define LOSS_TOL 1e-5
#define GRAD_TOL 1e-3
#define CACHE_TOL 1e-4

static const char *const CONFIGS[] = {"gpt2_a", "gpt2_b"};

static vt_gpt2 *load(const char *name) {
    char path[4096];
    ref_file_path(name, path, sizeof path);
    vt_gpt2 *m = vt_gpt2_load(path);
    if (!m) fail_msg("vt_gpt2_load(%s): %s", path, vt_last_error());
    return m;
}

typedef struct ref_io {
    vt_st_file *f;
    int32_t *ids, *mask, *labels, *prompts, *prompt_lengths, *greedy;
    int64_t B, T, P, Tp, N;
} ref_io;

static void io_open(const char *name, ref_io *r) {
    char file[256];
    snprintf(file, sizeof file, "%s_io.safetensors", name);
    r->f = ref_open(file);
    int64_t n;
    r->ids = ref_i32(r->f, "input_ids", &n);
    r->B = vt_st_find(r->f, "input_ids")->shape[0];
    r->T = n / r->B;
    r->mask = ref_i32(r->f, "attention_mask", NULL);
    r->labels = ref_i32(r->f, "labels", NULL);
    r->prompts = ref_i32(r->f, "prompt_ids", &n);
    r->P = vt_st_find(r->f, "prompt_ids")->shape[0];
    r->Tp = n / r->P;
    r->prompt_lengths = ref_i32(r->f, "prompt_lengths", NULL);
    r->greedy = ref_i32(r->f, "greedy", &n);
    r->N = n / r->P;
}

static void io_close(ref_io *r) {
    free(r->ids);
    free(r->mask);
    free(r->labels);
    free(r->prompts);
    free(r->prompt_lengths);
    free(r->greedy);
    vt_st_close(r->f);
}

/* Every parameter gradient of m against the reference's; returns the worst relative difference. */
static double check_grads(vt_gpt2 *m, const ref_io *r, const char *config, const char *path) {
    double worst = 0;
    for (size_t i = 0; i < vt_gpt2_param_count(m); i++) {
        vt_gpt2_param *p = vt_gpt2_param_at(m, i);
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        int64_t n = 0;
        float *want = ref_f32(r->f, key, &n), *got = p->grad, *tmp = NULL;
        assert_int_equal(n, p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1));
        if (vt_gpt2_param_is_conv1d(m, i)) { /* verto (out, in), transformers (in, out) */
            tmp = malloc((size_t)n * sizeof *tmp);
            for (int64_t o = 0; o < p->shape[0]; o++)
                for (int64_t c = 0; c < p->shape[1]; c++) tmp[c * p->shape[0] + o] = got[o * p->shape[1] + c];
            got = tmp;
        }
        double d = rel_max_diff(got, want, n);
        if (d > worst) worst = d;
        if (d > GRAD_TOL) fail_msg("%s (%s): gradient of %s off by %.3g (relative)", config, path, p->name, d);
        free(tmp);
        free(want);
    }
    printf("%s (%s): worst parameter gradient %.3g (relative, tolerance %g)\n", config, path, worst, GRAD_TOL);
    return worst;
}

/* Logits, loss and every gradient of a right-padded batch; then the same loss
 * and gradients through vt_gpt2_train_step's chunked head, with chunks of 5
 * rows (36 rows: seven full chunks and one of a row; some chunks all padding,
 * whose labels are -100), of all the rows at once, and accumulated over two
 * steps (twice the reference). */
static void test_forward_backward(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof CONFIGS / sizeof *CONFIGS; k++) {
        vt_gpt2 *m = load(CONFIGS[k]);
        ref_io r;
        io_open(CONFIGS[k], &r);
        int64_t V = vt_gpt2_get_config(m)->vocab_size;
        vt_gpt2_batch in = {.batch = r.B, .seq_len = r.T, .input_ids = r.ids, .attention_mask = r.mask,
                            .labels = r.labels};
        vt_gpt2_outputs out;
        assert_int_equal(vt_gpt2_forward(m, &in, true, 1, &out), VT_OK);
        float *logits = ref_f32(r.f, "logits", NULL);
        printf("%s: ", CONFIGS[k]);
        assert_close_abs("logits", out.logits, logits, r.B * r.T * V, LOGIT_TOL);
        float *loss = ref_f32(r.f, "loss", NULL);
        printf("%s: loss verto %.9f transformers %.9f\n", CONFIGS[k], out.loss, loss[0]);
        assert_true(fabs(out.loss - loss[0]) <= LOSS_TOL);
        assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
        check_grads(m, &r, CONFIGS[k], "forward + backward");
        static const int64_t CHUNKS[] = {5, 0};
        for (size_t c = 0; c < sizeof CHUNKS / sizeof *CHUNKS; c++) {
            assert_int_equal(vt_gpt2_set_head_chunk(m, CHUNKS[c]), VT_OK);
            vt_gpt2_outputs step;
            assert_int_equal(vt_gpt2_train_step(m, &in, 1, false, &step), VT_OK);
            printf("%s: chunked head (%lld rows): loss %.9f, %lld labels (forward: %lld)\n", CONFIGS[k],
                   (long long)CHUNKS[c], step.loss, (long long)step.counted, (long long)out.counted);
            assert_null(step.logits);
            assert_int_equal(step.counted, out.counted);
            assert_true(fabs(step.loss - loss[0]) <= LOSS_TOL);
            check_grads(m, &r, CONFIGS[k], CHUNKS[c] ? "train_step, chunks of 5 rows" : "train_step, one chunk");
        }
        /* the evaluation loss through the chunked head */
        assert_int_equal(vt_gpt2_set_head_chunk(m, 5), VT_OK);
        vt_gpt2_outputs eval;
        assert_int_equal(vt_gpt2_loss(m, &in, &eval), VT_OK);
        printf("%s: vt_gpt2_loss %.9f (chunks of 5 rows), %lld labels\n", CONFIGS[k], eval.loss, (long long)eval.counted);
        assert_null(eval.logits);
        assert_int_equal(eval.counted, out.counted);
        assert_true(fabs(eval.loss - loss[0]) <= LOSS_TOL);
        /* accumulation: a second step adds the same gradients again; halved, they are the reference's */
        assert_int_equal(vt_gpt2_train_step(m, &in, 1, true, &out), VT_OK);
        int64_t n;
        float *g = vt_gpt2_grads(m, &n);
        for (int64_t i = 0; i < n; i++) g[i] *= 0.5f;
        check_grads(m, &r, CONFIGS[k], "train_step accumulated over two steps, halved");
        free(logits);
        free(loss);
        io_close(&r);
        vt_gpt2_free(m);
    }
}

/* Each prompt alone, fed token by token through the cache, against a full
 * forward of the sequence so far; then the batch's greedy decoding against
 * generate(). */
static void test_cache_and_greedy(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof CONFIGS / sizeof *CONFIGS; k++) {
        vt_gpt2 *m = load(CONFIGS[k]);
        ref_io r;
        io_open(CONFIGS[k], &r);
        int64_t V = vt_gpt2_get_config(m)->vocab_size, steps = 20;
        int64_t max_len = r.Tp + steps;
        /* all prompts in one cache: different lengths */
        vt_gpt2_cache *c = vt_gpt2_cache_new(m, r.P, max_len);
        assert_non_null(c);
        float *logits = malloc((size_t)(r.P * V) * sizeof *logits);
        int32_t *seq = calloc((size_t)(r.P * max_len), sizeof *seq), *next = malloc((size_t)r.P * sizeof *next);
        for (int64_t b = 0; b < r.P; b++)
            memcpy(seq + b * max_len, r.prompts + b * r.Tp, (size_t)r.prompt_lengths[b] * sizeof *seq);
        assert_int_equal(vt_gpt2_prefill(m, c, r.prompts, r.Tp, r.prompt_lengths, logits), VT_OK);
        double worst = 0;
        for (int64_t s = 0; s <= steps; s++) {
            for (int64_t b = 0; b < r.P; b++) {
                int64_t n = vt_gpt2_cache_lengths(c)[b];
                vt_gpt2_batch in = {.batch = 1, .seq_len = n, .input_ids = seq + b * max_len};
                vt_gpt2_outputs out;
                assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_OK);
                const float *full = out.logits + (n - 1) * V, *inc = logits + b * V;
                for (int64_t v = 0; v < V; v++) worst = fmax(worst, fabs((double)full[v] - inc[v]));
                /* feed a token that is not the argmax, to leave greedy's path */
                next[b] = (int32_t)((seq[b * max_len + n - 1] * 31 + 7 * s + b) % V);
                if (s < steps) seq[b * max_len + n] = next[b];
            }
            if (s < steps) assert_int_equal(vt_gpt2_step(m, c, next, logits), VT_OK);
        }
        printf("%s: KV cache vs full recomputation over %lld steps: max |diff| %.3g (tolerance %g)\n", CONFIGS[k],
               (long long)steps, worst, CACHE_TOL);
        assert_true(worst <= CACHE_TOL);
        /* a full cache refuses another token, and says so */
        assert_int_equal(vt_gpt2_step(m, c, next, logits), VT_ERR_INVALID_ARG);
        vt_gpt2_cache_free(c);

        int32_t *gen = malloc((size_t)(r.P * r.N) * sizeof *gen);
        int64_t *n_new = malloc((size_t)r.P * sizeof *n_new);
        int32_t eos = (int32_t)vt_gpt2_get_config(m)->eos_token_id;
        assert_int_equal(vt_gpt2_greedy(m, r.prompts, r.P, r.Tp, r.prompt_lengths, r.N, eos, gen, n_new), VT_OK);
        for (int64_t b = 0; b < r.P; b++) {
            int64_t same = 0;
            while (same < r.N && gen[b * r.N + same] == r.greedy[b * r.N + same]) same++;
            printf("%s: prompt %lld (%d tokens): %lld new tokens, %lld of %lld equal to generate()\n", CONFIGS[k],
                   (long long)b, r.prompt_lengths[b], (long long)n_new[b], (long long)same, (long long)r.N);
            assert_int_equal(same, r.N);
        }
        free(gen);
        free(n_new);
        free(logits);
        free(seq);
        free(next);
        io_close(&r);
        vt_gpt2_free(m);
    }
}

/* GPT2Model's names, a stored lm_head, and broken files. */
static void test_loader_variants(void **state) {
    (void)state;
    vt_gpt2 *a = load("gpt2_a");
    int64_t n = vt_gpt2_num_parameters(a);
    const float *want = vt_gpt2_params(a, NULL);
    static const char *const SAME[] = {"gpt2_a_base", "gpt2_a_lmhead"};
    for (size_t i = 0; i < 2; i++) {
        vt_gpt2 *m = load(SAME[i]);
        assert_int_equal(vt_gpt2_num_parameters(m), n);
        assert_int_equal(memcmp(vt_gpt2_params(m, NULL), want, (size_t)n * sizeof(float)), 0);
        vt_gpt2_free(m);
    }
    static const struct {
        const char *dir, *tensor;
    } BAD[] = {{"gpt2_a_badshape", "transformer.h.1.mlp.c_fc.weight"}, {"gpt2_a_missing", "transformer.h.0.attn.c_proj.bias"}};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        ref_file_path(BAD[i].dir, path, sizeof path);
        assert_null(vt_gpt2_load(path));
        printf("%s: %s\n", BAD[i].dir, vt_last_error());
        assert_non_null(strstr(vt_last_error(), "model.safetensors"));
        assert_non_null(strstr(vt_last_error(), BAD[i].tensor));
    }
    vt_gpt2_free(a);
}

/* verto's own directory loads back to the same parameters and config. */
static void test_save_roundtrip(void **state) {
    (void)state;
    vt_gpt2 *a = load("gpt2_b");
    char *dir = test_tmpdir();
    assert_int_equal(vt_gpt2_save(a, dir), VT_OK);
    vt_gpt2 *b = vt_gpt2_load(dir);
    if (!b) fail_msg("reload: %s", vt_last_error());
    int64_t n = vt_gpt2_num_parameters(a);
    assert_int_equal(vt_gpt2_num_parameters(b), n);
    assert_int_equal(memcmp(vt_gpt2_params(a, NULL), vt_gpt2_params(b, NULL), (size_t)n * sizeof(float)), 0);
    assert_int_equal(memcmp(vt_gpt2_get_config(a), vt_gpt2_get_config(b), sizeof(vt_gpt2_config)), 0);
    assert_int_equal(vt_gpt2_get_config(b)->n_inner, 0); /* null stays null */
    vt_gpt2_free(a);
    vt_gpt2_free(b);
    test_remove_dir(dir);
}

/* model's forward on a small right-padded batch into FILE, for gen_gpt2.py --check. */
static void write_outputs(vt_gpt2 *m, const char *file) {
    enum { B = 2, T = 6 };
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    int32_t ids[B * T], mask[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)((i * 7919 + 13) % V);
        mask[i] = i / T == 0 || i % T < 4;
    }
    vt_gpt2_batch in = {.batch = B, .seq_len = T, .input_ids = ids, .attention_mask = mask};
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_OK);
    int64_t bt[2] = {B, T}, btv[3] = {B, T, V}, one[1] = {1}, n_params = vt_gpt2_num_parameters(m);
    vt_st_entry e[] = {{"input_ids", VT_ST_I32, 2, bt, ids}, {"attention_mask", VT_ST_I32, 2, bt, mask},
                       {"logits", VT_ST_F32, 3, btv, out.logits}, {"n_params", VT_ST_I64, 1, one, &n_params}};
    if (vt_st_write(file, e, 4, NULL, 0) != VT_OK) fail_msg("writing %s: %s", file, vt_last_error());
}

static void test_directories_in_transformers(void **state) {
    (void)state;
    const char *build = getenv("VT_BUILD"), *python = getenv("PYTHON"), *src = getenv("VT_SRC_DIR");
    char *tmp = test_tmpdir(), cmd[20000], tiny[1024], saved[1024], out1[1024], out2[1024];
    snprintf(tiny, sizeof tiny, "%s/tiny", tmp);
    snprintf(saved, sizeof saved, "%s/saved", tmp);
    snprintf(out1, sizeof out1, "%s/tiny.safetensors", tmp);
    snprintf(out2, sizeof out2, "%s/saved.safetensors", tmp);
    snprintf(cmd, sizeof cmd, "'%s/verto' init --config gpt2-tiny --seed 5 -o '%s'", build ? build : "build", tiny);
    fflush(stdout);
    assert_int_equal(system(cmd), 0);
    vt_gpt2 *m = vt_gpt2_load(tiny);
    if (!m) fail_msg("%s", vt_last_error());
    write_outputs(m, out1);
    vt_gpt2_free(m);
    m = load("gpt2_b");
    assert_int_equal(vt_gpt2_save(m, saved), VT_OK);
    write_outputs(m, out2);
    vt_gpt2_free(m);
    snprintf(cmd, sizeof cmd, "'%s' '%s%stests/ref/gen_gpt2.py' --check '%s' '%s' '%s' '%s'", python ? python : "python3",
             src ? src : "", src ? "/" : "", tiny, out1, saved, out2);
    fflush(stdout);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) fail_msg("transformers disagreed with verto (status %d)", rc);
    test_remove_dir(tmp);
}

static void expect_config_error(const char *json, const char *needle) {
    vt_gpt2_config c;
    vt_status st = vt_gpt2_config_parse(json, strlen(json), "cfg.json", &c);
    printf("config error: %s\n", vt_last_error());
    assert_int_not_equal(st, VT_OK);
    assert_non_null(strstr(vt_last_error(), "cfg.json"));
    assert_non_null(strstr(vt_last_error(), needle));
}

static void test_config_errors(void **state) {
    (void)state;
    expect_config_error("{\"n_embd\": 24}", "model_type");
    expect_config_error("{\"model_type\": \"bert\"}", "model_type");
    expect_config_error("{\"model_type\": \"gpt2\", \"n_embd\": \"wide\"}", "n_embd");
    expect_config_error("{\"model_type\": \"gpt2\", \"n_layer\": 2.5}", "n_layer");
    expect_config_error("{\"model_type\": \"gpt2\", \"n_embd\": 25, \"n_head\": 2}", "n_head");
    expect_config_error("{\"model_type\": \"gpt2\", \"resid_pdrop\": 1.5}", "resid_pdrop");
    expect_config_error("{\"model_type\": \"gpt2\", \"activation_function\": \"swish\"}", "activation_function");
    expect_config_error("{\"model_type\": \"gpt2\", \"scale_attn_by_inverse_layer_idx\": true}",
                        "scale_attn_by_inverse_layer_idx");
    expect_config_error("{\"model_type\": \"gpt2\", \"tie_word_embeddings\": false}", "tie_word_embeddings");
    expect_config_error("{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"bos_token_id\": 1, \"eos_token_id\": 50256}", "eos_token_id");
    expect_config_error("{\"model_type\": \"gpt2\",", "not valid JSON");
    vt_gpt2_config c;
    const char *ok = "{\"model_type\": \"gpt2\", \"n_inner\": null, \"n_embd\": 64, \"n_head\": 4}";
    assert_int_equal(vt_gpt2_config_parse(ok, strlen(ok), "ok", &c), VT_OK);
    assert_int_equal(vt_gpt2_inner(&c), 256);
    assert_true(vt_gpt2_is_config(ok, strlen(ok)));
    assert_false(vt_gpt2_is_config("{\"model_type\": \"bert\"}", 23));
}

/* Bad inputs to the step functions fail with a message, nothing crashes. */
static void test_bad_calls(void **state) {
    (void)state;
    vt_gpt2 *m = load("gpt2_a");
    int32_t ids[4] = {1, 2, 3, 0}, lengths[1] = {3}, bad_ids[4] = {1, 200, 3, 0};
    float logits[77];
    vt_gpt2_batch in = {.batch = 1, .seq_len = 4, .input_ids = bad_ids};
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_ERR_INVALID_ARG);
    int32_t labels[4] = {1, 2, 77, -100};
    in = (vt_gpt2_batch){.batch = 1, .seq_len = 4, .input_ids = ids, .labels = labels};
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gpt2_train_step(m, &in, 0, false, &out), VT_ERR_INVALID_ARG); /* label 77 */
    in.seq_len = 41;
    assert_int_equal(vt_gpt2_forward(m, &in, false, 0, &out), VT_ERR_INVALID_ARG);
    /* the training step needs labels, and leaves nothing for vt_gpt2_backward */
    in = (vt_gpt2_batch){.batch = 1, .seq_len = 4, .input_ids = ids};
    assert_int_equal(vt_gpt2_train_step(m, &in, 0, false, &out), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gpt2_loss(m, &in, &out), VT_ERR_INVALID_ARG);
    labels[2] = 3;
    in.labels = labels;
    assert_int_equal(vt_gpt2_train_step(m, &in, 0, false, &out), VT_OK);
    assert_true(isfinite(out.loss) && out.counted == 2);
    assert_int_equal(vt_gpt2_backward(m, false), VT_ERR_STATE);
    assert_int_equal(vt_gpt2_set_head_chunk(m, -1), VT_ERR_INVALID_ARG);
    assert_null(vt_gpt2_cache_new(m, 1, 41));
    vt_gpt2_cache *c = vt_gpt2_cache_new(m, 1, 8);
    int32_t tok[1] = {5};
    assert_int_equal(vt_gpt2_step(m, c, tok, logits), VT_ERR_STATE); /* no prefill yet */
    lengths[0] = 5;
    assert_int_equal(vt_gpt2_prefill(m, c, ids, 4, lengths, logits), VT_ERR_INVALID_ARG);
    lengths[0] = 3;
    assert_int_equal(vt_gpt2_prefill(m, c, ids, 4, lengths, logits), VT_OK);
    tok[0] = 77;
    assert_int_equal(vt_gpt2_step(m, c, tok, logits), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gpt2_cache_lengths(c)[0], 3);
    vt_gpt2_cache_free(c);
    vt_gpt2_free(m);
}

/* bf16 products: the same loss to bf16's precision, and gradients pointing the same way. */
static void test_bf16(void **state) {
    (void)state;
    vt_gpt2 *m = load("gpt2_b");
    ref_io r;
    io_open("gpt2_b", &r);
    vt_gpt2_batch in = {.batch = r.B, .seq_len = r.T, .input_ids = r.ids, .attention_mask = r.mask, .labels = r.labels};
    vt_gpt2_outputs out;
    assert_int_equal(vt_gpt2_forward(m, &in, true, 1, &out), VT_OK);
    double loss32 = out.loss;
    assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
    int64_t n = vt_gpt2_num_parameters(m);
    float *g32 = malloc((size_t)n * sizeof *g32);
    memcpy(g32, vt_gpt2_grads(m, NULL), (size_t)n * sizeof *g32);
    assert_int_equal(vt_gpt2_set_precision(m, VT_PRECISION_BF16), VT_OK);
    assert_int_equal(vt_gpt2_get_precision(m), VT_PRECISION_BF16);
    assert_int_equal(vt_gpt2_forward(m, &in, true, 1, &out), VT_OK);
    assert_int_equal(vt_gpt2_backward(m, false), VT_OK);
    float *g16 = vt_gpt2_grads(m, NULL);
    /* the chunked training step in bf16: the same bf16 roundings, summed in another order */
    double loss16 = out.loss, dot16 = 0, n16a = 0, n16b = 0;
    float *g16_full = malloc((size_t)n * sizeof *g16_full);
    memcpy(g16_full, g16, (size_t)n * sizeof *g16_full);
    assert_int_equal(vt_gpt2_set_head_chunk(m, 5), VT_OK);
    assert_int_equal(vt_gpt2_train_step(m, &in, 1, false, &out), VT_OK);
    for (int64_t i = 0; i < n; i++)
        dot16 += (double)g16_full[i] * g16[i], n16a += (double)g16_full[i] * g16_full[i], n16b += (double)g16[i] * g16[i];
    printf("bf16: chunked step loss %.6f vs forward %.6f; gradient cosine %.7f\n", out.loss, loss16, dot16 / sqrt(n16a * n16b));
    assert_true(fabs(out.loss - loss16) <= 1e-5 * fabs(loss16));
    assert_true(dot16 / sqrt(n16a * n16b) >= 0.99999);
    memcpy(g16, g16_full, (size_t)n * sizeof *g16_full); /* the comparison below is the forward's */
    free(g16_full);
    out.loss = loss16;
    double dot = 0, a2 = 0, b2 = 0;
    for (int64_t i = 0; i < n; i++) dot += (double)g32[i] * g16[i], a2 += (double)g32[i] * g32[i], b2 += (double)g16[i] * g16[i];
    double cosine = dot / sqrt(a2 * b2);
    printf("bf16: loss %.6f vs fp32 %.6f; gradient cosine %.5f\n", out.loss, loss32, cosine);
    /* bf16 keeps 8 bits of mantissa: about 0.4% per rounding */
    assert_true(fabs(out.loss - loss32) <= 0.02 * fabs(loss32));
    assert_true(cosine >= 0.99);
    /* bf16 decoding: a step's logits against the bf16 full forward (whose
     * attention products are bf16 too, the step's f32): within 2% of their scale */
    int64_t V = vt_gpt2_get_config(m)->vocab_size;
    int32_t seq[8] = {3, 14, 15, 92, 65, 35, 89, 79}, len[1] = {5};
    float *step_logits = malloc((size_t)V * sizeof *step_logits);
    vt_gpt2_cache *c = vt_gpt2_cache_new(m, 1, 8);
    assert_int_equal(vt_gpt2_prefill(m, c, seq, 5, len, step_logits), VT_OK);
    double worst = 0;
    for (int t = 5; t < 8; t++) {
        assert_int_equal(vt_gpt2_step(m, c, seq + t, step_logits), VT_OK);
        vt_gpt2_batch full = {.batch = 1, .seq_len = t + 1, .input_ids = seq};
        assert_int_equal(vt_gpt2_forward(m, &full, false, 0, &out), VT_OK);
        worst = fmax(worst, rel_max_diff(step_logits, out.logits + t * V, V));
    }
    printf("bf16: KV-cache steps vs full forward: %.3g of the logits' scale\n", worst);
    assert_true(worst <= 0.02);
    vt_gpt2_cache_free(c);
    free(step_logits);
    free(g32);
    io_close(&r);
    vt_gpt2_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_backward), cmocka_unit_test(test_cache_and_greedy),
        cmocka_unit_test(test_loader_variants),  cmocka_unit_test(test_save_roundtrip),
        cmocka_unit_test(test_config_errors),    cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_bf16),             cmocka_unit_test(test_directories_in_transformers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
