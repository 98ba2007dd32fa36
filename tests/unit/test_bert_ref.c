/* BERT against transformers: model directories written by save_pretrained
 * (tests/ref/gen_bert.py) load in verto and give the same outputs, losses and
 * gradients; directories verto writes load in transformers with no missing or
 * unexpected keys and the same outputs.
 *
 * Tolerances. The reference is computed in float64 from the float32 weights,
 * so it is the exact value verto's float32 code approximates. Outputs (hidden
 * states, pooled, logits): max |verto - ref| <= 1e-4, the float32 rounding of
 * a few layers of GEMMs summed in a different order (O(1) values, errors of a
 * few ulp times sqrt(H) per layer). Gradients: for each parameter tensor,
 * ||g_verto - g_ref||_inf / ||g_ref||_2 <= 1e-3: gradients of different
 * tensors differ by orders of magnitude, so each is measured against its own
 * scale, and the inf-norm of the error against the 2-norm of the whole tensor
 * does not blow up on the many near-zero entries. Losses: |diff| <= 1e-4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "vt_test.h"
#include "verto/bert.h"
#include "verto/error.h"
#include "verto/safetensors.h"

#define OUT_TOL 1e-4
#define GRAD_TOL 1e-3
#define LOSS_TOL 1e-4

static const char *ref_dir(void) {
    const char *d = getenv("VT_REF_DIR");
    return d ? d : "build/ref";
}

static void model_path(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", ref_dir(), name); }

static vt_bert *load(const char *name, int arch, int num_labels, vt_bert_load_info *info) {
    char path[4096];
    model_path(path, sizeof path, name);
    vt_bert *b = vt_bert_load_ex(path, arch, num_labels, 7, info);
    if (!b) fail_msg("vt_bert_load(%s): %s", path, vt_last_error());
    return b;
}

/* The batch of a reference file (owning its arrays). */
typedef struct ref_batch {
    vt_bert_batch batch;
    int32_t *ids, *mask, *types, *mlm, *nsp, *labels;
    float *targets;
} ref_batch;

static void batch_from(const vt_st_file *f, ref_batch *rb) {
    memset(rb, 0, sizeof *rb);
    const vt_st_tensor *t = vt_st_find(f, "input_ids");
    assert_non_null(t);
    rb->batch.batch = t->shape[0];
    rb->batch.seq_len = t->shape[1];
    rb->batch.input_ids = rb->ids = ref_i32(f, "input_ids", NULL);
    rb->batch.attention_mask = rb->mask = ref_i32(f, "attention_mask", NULL);
    rb->batch.token_type_ids = rb->types = ref_i32(f, "token_type_ids", NULL);
    rb->mlm = ref_i32(f, "mlm_labels", NULL);
    rb->nsp = ref_i32(f, "nsp_labels", NULL);
    const vt_st_tensor *l = vt_st_find(f, "labels");
    if (l && (l->dtype == VT_ST_F32)) rb->targets = ref_f32(f, "labels", NULL);
    else if (l) rb->labels = ref_i32(f, "labels", NULL);
}

static void batch_free(ref_batch *rb) {
    free(rb->ids), free(rb->mask), free(rb->types), free(rb->mlm), free(rb->nsp), free(rb->labels), free(rb->targets);
}

static void compare_out(const vt_st_file *f, const char *name, const char *what, const float *got, int64_t n) {
    int64_t numel = 0;
    float *want = ref_f32(f, name, &numel);
    if (numel != n) fail_msg("%s: verto has %lld values, the reference %lld", what, (long long)n, (long long)numel);
    assert_non_null(got);
    assert_close_abs(what, got, want, n, OUT_TOL);
    free(want);
}

static double ref_scalar(const vt_st_file *f, const char *name) {
    float *v = ref_f32(f, name, NULL);
    double x = v[0];
    free(v);
    return x;
}

/* ||g||_2 of a reference gradient. */
static double ref_grad_norm(const vt_st_file *f, const char *param) {
    char key[200];
    snprintf(key, sizeof key, "grad.%s", param);
    int64_t n = 0;
    float *g = ref_f32(f, key, &n);
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += (double)g[j] * g[j];
    free(g);
    return sqrt(s);
}

/* Every parameter gradient against grad.<name>; prints the worst one. The
 * key bias's gradient is zero in exact arithmetic (softmax is invariant to
 * adding q.b_k to every score of a query), so the reference holds ~1e-20 and
 * verto float32 round-off: it is measured against the scale of the same
 * layer's key weight gradient instead of its own. */
static void compare_grads(vt_bert *b, const vt_st_file *f, const char *model) {
    double worst = 0;
    const char *worst_name = "";
    int failures = 0;
    for (size_t i = 0; i < vt_bert_param_count(b); i++) {
        const vt_bert_param *p = vt_bert_param_at(b, i);
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        int64_t n = 0, want_n = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
        float *want = ref_f32(f, key, &n);
        assert_int_equal(n, want_n);
        double norm = 0, err = 0;
        for (int64_t j = 0; j < n; j++) {
            norm += (double)want[j] * want[j];
            double d = fabs((double)p->grad[j] - want[j]);
            if (!(d <= err)) err = d;
        }
        norm = sqrt(norm);
        const char *kb = strstr(p->name, "attention.self.key.bias");
        if (kb) {
            char weight[160];
            snprintf(weight, sizeof weight, "%.*sattention.self.key.weight", (int)(kb - p->name), p->name);
            norm = ref_grad_norm(f, weight);
            printf("    %-40s %s (zero in exact arithmetic): ||diff||_inf / ||grad key.weight||_2 = %.3g\n", model,
                   p->name, norm > 0 ? err / norm : err);
        }
        double rel = norm > 0 ? err / norm : err;
        if (!(rel <= worst)) worst = rel, worst_name = p->name;
        if (!(rel <= GRAD_TOL)) {
            printf("    %s: gradient of %s: ||diff||_inf / ||ref||_2 = %.3g (||ref||_2 %.3g) exceeds %g\n", model,
                   p->name, rel, norm, GRAD_TOL);
            failures++;
        }
        free(want);
    }
    printf("    %-40s worst gradient %s: %.3g (tol %.0e)\n", model, worst_name, worst, GRAD_TOL);
    if (failures) fail_msg("%s: %d parameter gradients differ from transformers'", model, failures);
}

/* Forward without labels (outputs at every position) against the reference. */
static void check_outputs(vt_bert *b, const vt_st_file *f, const ref_batch *rb, const char *model) {
    const vt_bert_config *c = vt_bert_get_config(b);
    int64_t B = rb->batch.batch, T = rb->batch.seq_len, H = c->hidden_size;
    vt_bert_outputs out;
    vt_bert_batch in = rb->batch;
    if (vt_bert_forward(b, &in, false, 0, &out) != VT_OK) fail_msg("%s forward: %s", model, vt_last_error());
    char what[128];
    snprintf(what, sizeof what, "%s last_hidden_state", model);
    compare_out(f, "last_hidden_state", what, out.last_hidden_state, B * T * H);
    if (vt_st_find(f, "pooled")) {
        snprintf(what, sizeof what, "%s pooled", model);
        compare_out(f, "pooled", what, out.pooled, B * H);
    }
    if (vt_st_find(f, "mlm_logits")) {
        assert_int_equal(out.mlm_rows, B * T);
        snprintf(what, sizeof what, "%s mlm_logits (all positions)", model);
        compare_out(f, "mlm_logits", what, out.mlm_logits, B * T * c->vocab_size);
    }
    if (vt_st_find(f, "nsp_logits")) {
        snprintf(what, sizeof what, "%s nsp_logits", model);
        compare_out(f, "nsp_logits", what, out.nsp_logits, B * 2);
    }
    if (vt_st_find(f, "logits")) {
        int64_t rows = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? B * T : B;
        snprintf(what, sizeof what, "%s logits", model);
        compare_out(f, "logits", what, out.logits, rows * c->num_labels);
    }
}

static void check_loss(const char *what, double got, double want) {
    printf("    %-40s %.9g vs transformers %.9g (diff %.3g, tol %.0e)\n", what, got, want, fabs(got - want), LOSS_TOL);
    if (!(fabs(got - want) <= LOSS_TOL)) fail_msg("%s: %.9g differs from transformers' %.9g", what, got, want);
}

/* Forward with labels in training mode (dropout 0 in these configs), the
 * losses, then the backward and every gradient. */
static void check_training(vt_bert *b, const vt_st_file *f, const ref_batch *rb, const char *model) {
    const vt_bert_config *c = vt_bert_get_config(b);
    vt_bert_batch in = rb->batch;
    if (c->arch == VT_BERT_FOR_PRETRAINING) {
        in.mlm_labels = rb->mlm;
        in.nsp_labels = rb->nsp;
    } else if (rb->targets) {
        in.regression_targets = rb->targets;
    } else {
        in.labels = rb->labels;
    }
    vt_bert_outputs out;
    if (vt_bert_forward(b, &in, true, 1234, &out) != VT_OK) fail_msg("%s forward: %s", model, vt_last_error());
    char what[128];
    if (c->arch == VT_BERT_FOR_PRETRAINING) {
        /* The MLM head ran at the labelled positions only: those rows of the reference. */
        int64_t B = in.batch, T = in.seq_len, V = c->vocab_size, P = 0;
        float *all = ref_f32(f, "mlm_logits", NULL);
        float *rows = malloc((size_t)(B * T * V) * sizeof(float));
        for (int64_t r = 0; r < B * T; r++)
            if (rb->mlm[r] != -100) memcpy(rows + P++ * V, all + r * V, (size_t)V * sizeof(float));
        assert_int_equal(out.mlm_rows, P);
        snprintf(what, sizeof what, "%s mlm_logits (labelled positions)", model);
        assert_close_abs(what, out.mlm_logits, rows, P * V, OUT_TOL);
        free(all);
        free(rows);
        snprintf(what, sizeof what, "%s mlm_loss", model);
        check_loss(what, out.mlm_loss, ref_scalar(f, "mlm_loss"));
        snprintf(what, sizeof what, "%s nsp_loss", model);
        check_loss(what, out.nsp_loss, ref_scalar(f, "nsp_loss"));
    }
    snprintf(what, sizeof what, "%s loss", model);
    check_loss(what, out.loss, ref_scalar(f, "loss"));
    if (vt_bert_backward(b, false) != VT_OK) fail_msg("%s backward: %s", model, vt_last_error());
    compare_grads(b, f, model);
}

static void check_model(const char *dir, const char *io, int arch, bool training) {
    vt_bert *b = load(dir, arch, 0, NULL);
    vt_st_file *f = ref_open(io);
    ref_batch rb;
    batch_from(f, &rb);
    check_outputs(b, f, &rb, dir);
    if (training) check_training(b, f, &rb, dir);
    batch_free(&rb);
    vt_st_close(f);
    vt_bert_free(b);
}

static void test_tiny_pretraining(void **state) { check_model("bert_tiny", "bert_tiny_io.safetensors", -1, true); }
static void test_odd_pretraining(void **state) { check_model("bert_odd", "bert_odd_io.safetensors", -1, true); }
static void test_seqcls(void **state) { check_model("bert_tiny_seqcls", "bert_tiny_seqcls_io.safetensors", -1, true); }
static void test_regression(void **state) {
    check_model("bert_tiny_regress", "bert_tiny_regress_io.safetensors", -1, true);
}
static void test_tokcls(void **state) { check_model("bert_tiny_tokcls", "bert_tiny_tokcls_io.safetensors", -1, true); }

static void test_config_from_transformers(void **state) {
    vt_bert *b = load("bert_odd", -1, 0, NULL);
    const vt_bert_config *c = vt_bert_get_config(b);
    assert_int_equal(c->arch, VT_BERT_FOR_PRETRAINING);
    assert_int_equal(c->hidden_size, 96);
    assert_int_equal(c->num_attention_heads, 3);
    assert_int_equal(c->intermediate_size, 200);
    assert_int_equal(c->type_vocab_size, 1);
    assert_int_equal(c->max_position_embeddings, 64);
    assert_int_equal(c->hidden_act, VT_ACT_GELU_TANH);
    vt_bert_free(b);
    b = load("bert_tiny_seqcls", -1, 0, NULL);
    c = vt_bert_get_config(b);
    assert_int_equal(c->arch, VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    assert_int_equal(c->num_labels, 3);
    assert_string_equal(c->id2label[0], "negative");
    assert_string_equal(c->id2label[2], "positive");
    vt_bert_free(b);
    b = load("bert_tiny_tokcls", -1, 0, NULL);
    c = vt_bert_get_config(b);
    assert_int_equal(c->num_labels, 5);
    assert_string_equal(c->id2label[3], "B-LOC");
    assert_null(vt_bert_param_find(b, "pooler.dense.weight"));
    vt_bert_free(b);
}

/* Name variants of bert_tiny's weights load to exactly the same parameters. */
static void check_same_params(const char *variant) {
    vt_bert_load_info info;
    vt_bert *a = load("bert_tiny", -1, 0, NULL), *b = load(variant, -1, 0, &info);
    int64_t na, nb;
    const float *pa = vt_bert_params(a, &na), *pb = vt_bert_params(b, &nb);
    assert_int_equal(na, nb);
    if (memcmp(pa, pb, (size_t)na * sizeof(float))) fail_msg("%s loads different parameters from bert_tiny", variant);
    assert_int_equal(info.n_new, 0);
    assert_int_equal(info.n_unused, 0);
    printf("    %-40s parameters identical to bert_tiny's\n", variant);
    vt_bert_free(a);
    vt_bert_free(b);
}

static void test_variant_gamma_beta_no_prefix(void **state) { check_same_params("bert_tiny_gamma"); }
static void test_variant_position_ids(void **state) { check_same_params("bert_tiny_posids"); }
static void test_variant_tied_decoder(void **state) { check_same_params("bert_tiny_tied"); }

/* F16 / BF16 files convert to the reference's float32 values exactly, and
 * the outputs match those of the rounded weights. */
static void check_converted(const char *dir, const char *io) {
    vt_bert *b = load(dir, -1, 0, NULL);
    vt_st_file *f = ref_open(io);
    for (size_t i = 0; i < vt_bert_param_count(b); i++) {
        const vt_bert_param *p = vt_bert_param_at(b, i);
        char key[160];
        snprintf(key, sizeof key, "param.%s", p->name);
        int64_t n;
        float *want = ref_f32(f, key, &n);
        assert_int_equal(n, p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1));
        if (memcmp(want, p->data, (size_t)n * sizeof(float))) fail_msg("%s: %s converts differently", dir, p->name);
        free(want);
    }
    printf("    %-40s every parameter converts exactly\n", dir);
    ref_batch rb;
    batch_from(f, &rb);
    check_outputs(b, f, &rb, dir);
    batch_free(&rb);
    vt_st_close(f);
    vt_bert_free(b);
}

static void test_variant_f16(void **state) { check_converted("bert_tiny_f16", "bert_tiny_f16_io.safetensors"); }
static void test_variant_bf16(void **state) { check_converted("bert_tiny_bf16", "bert_tiny_bf16_io.safetensors"); }

/* ---- round trip through transformers ---- */

/* The repository root, from this file's path as the Makefile compiles it. */
static void repo_path(char *buf, size_t size, const char *rel) {
    const char *root = getenv("VT_SRC_DIR");
    if (root) {
        snprintf(buf, size, "%s/%s", root, rel);
        return;
    }
    const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_bert_ref.c");
    snprintf(buf, size, "%.*s%s", tail ? (int)(tail - me) : 0, me, rel);
}

/* Round trips are run by one Python process (importing transformers takes
 * seconds): each case adds its directory, verto's outputs and the reference
 * to the command line. */
typedef struct roundtrips {
    char cmd[65536];
    char *tmp[16];
    int n;
} roundtrips;

/* Saves b, writes its outputs on the reference batch, and queues the check
 * that transformers loads the directory cleanly and agrees. */
static void add_roundtrip(roundtrips *rt, vt_bert *b, const char *io, bool same_weights, const char *what) {
    char *tmp = test_tmpdir();
    rt->tmp[rt->n++] = tmp;
    char dir[4096], outs[4096], ref[4096];
    snprintf(dir, sizeof dir, "%s/model", tmp);
    snprintf(outs, sizeof outs, "%s/verto_outputs.safetensors", tmp);
    if (vt_bert_save(b, dir) != VT_OK) fail_msg("vt_bert_save(%s): %s", dir, vt_last_error());

    vt_st_file *f = ref_open(io);
    ref_batch rb;
    batch_from(f, &rb);
    vt_bert_outputs out;
    if (vt_bert_forward(b, &rb.batch, false, 0, &out) != VT_OK) fail_msg("%s forward: %s", what, vt_last_error());
    const vt_bert_config *c = vt_bert_get_config(b);
    int64_t B = rb.batch.batch, T = rb.batch.seq_len, H = c->hidden_size;
    int64_t bt[2] = {B, T}, bth[3] = {B, T, H}, bh[2] = {B, H}, btv[3] = {B, T, c->vocab_size}, b2[2] = {B, 2};
    int64_t lg[3] = {B, T, c->num_labels}, lg2[2] = {B, c->num_labels};
    vt_st_entry e[10];
    size_t n = 0;
    e[n++] = (vt_st_entry){"input_ids", VT_ST_I32, 2, bt, rb.ids};
    e[n++] = (vt_st_entry){"attention_mask", VT_ST_I32, 2, bt, rb.mask};
    e[n++] = (vt_st_entry){"token_type_ids", VT_ST_I32, 2, bt, rb.types};
    e[n++] = (vt_st_entry){"last_hidden_state", VT_ST_F32, 3, bth, out.last_hidden_state};
    if (out.pooled) e[n++] = (vt_st_entry){"pooled", VT_ST_F32, 2, bh, out.pooled};
    if (out.mlm_logits) e[n++] = (vt_st_entry){"mlm_logits", VT_ST_F32, 3, btv, out.mlm_logits};
    if (out.nsp_logits) e[n++] = (vt_st_entry){"nsp_logits", VT_ST_F32, 2, b2, out.nsp_logits};
    if (out.logits && c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION)
        e[n++] = (vt_st_entry){"logits", VT_ST_F32, 3, lg, out.logits};
    else if (out.logits)
        e[n++] = (vt_st_entry){"logits", VT_ST_F32, 2, lg2, out.logits};
    if (vt_st_write(outs, e, n, NULL, 0) != VT_OK) fail_msg("writing %s: %s", outs, vt_last_error());
    batch_free(&rb);
    vt_st_close(f);

    model_path(ref, sizeof ref, io);
    size_t used = strlen(rt->cmd);
    snprintf(rt->cmd + used, sizeof rt->cmd - used, " '%s' '%s' '%s'", dir, outs, same_weights ? ref : "-");
    printf("    queued %s: %s\n", what, dir);
}

static void run_roundtrips(roundtrips *rt) {
    char script[4096], cmd[70000];
    repo_path(script, sizeof script, "tests/ref/gen_bert.py");
    const char *python = getenv("PYTHON");
    snprintf(cmd, sizeof cmd, "'%s' '%s' --roundtrip%s", python ? python : "python3", script, rt->cmd);
    fflush(stdout);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        fail_msg("transformers did not load verto's directories cleanly or disagreed (status %d): %s", rc, cmd);
    for (int i = 0; i < rt->n; i++) {
        char rm[4200];
        snprintf(rm, sizeof rm, "rm -rf '%s'", rt->tmp[i]);
        if (system(rm) != 0) printf("    (could not remove %s)\n", rt->tmp[i]);
        free(rt->tmp[i]);
    }
}

/* verto saves what it loaded from transformers (every architecture), the
 * encoder alone (no "bert." prefix in the file), a pretraining checkpoint
 * turned into a new 4-way classifier (fresh head, MLM/NSP dropped) and into a
 * masked LM (pooler and NSP dropped); transformers loads each with no missing
 * or unexpected keys and agrees with verto's outputs, and where the weights
 * are the original ones, reproduces the original outputs bit for bit. */
static void test_roundtrip_through_transformers(void **state) {
    static roundtrips rt;
    memset(&rt, 0, sizeof rt);
    static const struct {
        const char *dir, *io, *what;
    } same[] = {
        {"bert_tiny", "bert_tiny_io.safetensors", "BertForPreTraining"},
        {"bert_odd", "bert_odd_io.safetensors", "BertForPreTraining (odd)"},
        {"bert_tiny_seqcls", "bert_tiny_seqcls_io.safetensors", "BertForSequenceClassification"},
        {"bert_tiny_tokcls", "bert_tiny_tokcls_io.safetensors", "BertForTokenClassification"},
        {"bert_tiny_regress", "bert_tiny_regress_io.safetensors", "BertForSequenceClassification (regression)"},
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        vt_bert *b = load(same[i].dir, -1, 0, NULL);
        add_roundtrip(&rt, b, same[i].io, true, same[i].what);
        vt_bert_free(b);
    }

    vt_bert_load_info info;
    vt_bert *b = load("bert_tiny", VT_BERT_MODEL, 0, &info);
    assert_int_equal(info.n_new, 0);
    assert_int_equal(info.n_unused, 7); /* cls.predictions.* (5) + cls.seq_relationship.* (2) */
    add_roundtrip(&rt, b, "bert_tiny_io.safetensors", true, "BertModel");
    vt_bert_free(b);

    b = load("bert_tiny", VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 4, &info);
    assert_int_equal(info.n_new, 2);
    assert_string_equal(info.new_params[0], "classifier.weight");
    assert_string_equal(info.new_params[1], "classifier.bias");
    assert_int_equal(vt_bert_get_config(b)->num_labels, 4);
    assert_string_equal(vt_bert_get_config(b)->id2label[3], "LABEL_3");
    add_roundtrip(&rt, b, "bert_tiny_io.safetensors", false, "BertForSequenceClassification (new head)");
    vt_bert_free(b);

    b = load("bert_tiny", VT_BERT_FOR_MASKED_LM, 0, &info);
    assert_int_equal(info.n_new, 0);
    assert_int_equal(info.n_unused, 4); /* pooler (2) + NSP (2) */
    add_roundtrip(&rt, b, "bert_tiny_io.safetensors", false, "BertForMaskedLM");
    vt_bert_free(b);

    run_roundtrips(&rt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_from_transformers),
        cmocka_unit_test(test_tiny_pretraining),
        cmocka_unit_test(test_odd_pretraining),
        cmocka_unit_test(test_seqcls),
        cmocka_unit_test(test_regression),
        cmocka_unit_test(test_tokcls),
        cmocka_unit_test(test_variant_gamma_beta_no_prefix),
        cmocka_unit_test(test_variant_position_ids),
        cmocka_unit_test(test_variant_tied_decoder),
        cmocka_unit_test(test_variant_f16),
        cmocka_unit_test(test_variant_bf16),
        cmocka_unit_test(test_roundtrip_through_transformers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
