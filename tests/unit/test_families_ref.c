/* BERT, RoBERTa, XLM-RoBERTa and DistilBERT against transformers: directories
 * written by save_pretrained (tests/ref/gen_families.py: two random
 * configurations per family with odd sizes, each as the base model,
 * ForMaskedLM, ForSequenceClassification (single-label), ForTokenClassification
 * (-100 labels at padding and the first token), ForQuestionAnswering (start
 * and end positions past the input or negative, which transformers clamps and
 * ignores), ForSequenceClassification multi-label (BCE) and regression (MSE, 1
 * or 3 outputs)) load in verto and give the same outputs, losses and gradients
 * on a padded batch of sequences of different lengths; directories verto
 * writes load in transformers' Auto classes with no missing or unexpected keys,
 * the same outputs and losses, and the problem_type verto's loss used.
 *
 * Tolerances as test_bert_ref.c's (the reference is float64 from the
 * float32 weights): outputs max |verto - ref| <= 1e-4; each parameter's
 * gradient ||g_verto - g_ref||_inf / ||g_ref||_2 <= 1e-3; losses 1e-4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/format.h"
#include "verto/bert.h"
#include "verto/error.h"
#include "verto/safetensors.h"
#include "vt_test.h"

#define OUT_TOL 1e-4
#define GRAD_TOL 1e-3
#define LOSS_TOL 1e-4

static const char *const CONFIGS[] = {"bert_a", "bert_b", "roberta_a", "roberta_b",
                                      "xlmr_a", "xlmr_b", "distilbert_a", "distilbert_b"};
#define N_CONFIGS (sizeof CONFIGS / sizeof *CONFIGS)
static const char *const KINDS[] = {"model", "mlm", "seqcls", "tokcls", "qa", "multilabel", "regress"};
#define N_KINDS (sizeof KINDS / sizeof *KINDS)

/* The worst figures over all models, per family and output, printed at the end. */
typedef struct worst {
    char what[96];
    double value;
} worst;
#define MAX_WORST 160
static worst g_worst[MAX_WORST];
static int g_n_worst;

static void note_worst(const char *config, const char *output, double value) {
    char what[96];
    /* "xlmr_b_qa" -> "xlmr qa <output>": per family and head */
    const char *head = strchr(config, '_');
    head = head ? strchr(head + 1, '_') : NULL;
    snprintf(what, sizeof what, "%.*s %s %s", (int)strcspn(config, "_"), config, head ? head + 1 : "", output);
    for (int i = 0; i < g_n_worst; i++)
        if (!strcmp(g_worst[i].what, what)) {
            if (value > g_worst[i].value) g_worst[i].value = value;
            return;
        }
    if (g_n_worst < MAX_WORST) {
        snprintf(g_worst[g_n_worst].what, sizeof g_worst[g_n_worst].what, "%s", what);
        g_worst[g_n_worst++].value = value;
    }
}

static const char *ref_dir(void) {
    const char *d = getenv("VT_REF_DIR");
    return d ? d : "build/ref";
}

static vt_bert *load(const char *name, int arch, int num_labels, vt_bert_load_info *info) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ref_dir(), name);
    vt_bert *b = vt_bert_load_ex(path, arch, num_labels, 7, info);
    if (!b) fail_msg("vt_bert_load(%s): %s", path, vt_last_error());
    return b;
}

typedef struct ref_batch {
    vt_bert_batch batch;
    int32_t *ids, *mask, *types, *mlm, *labels, *start, *end;
    float *targets, *multi;
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
    const vt_st_tensor *l = vt_st_find(f, "labels");
    if (l && l->dtype == VT_ST_F32) rb->targets = ref_f32(f, "labels", NULL);
    else if (l) rb->labels = ref_i32(f, "labels", NULL);
    if (vt_st_find(f, "multi_labels")) rb->multi = ref_f32(f, "multi_labels", NULL);
    if (vt_st_find(f, "start_positions")) {
        rb->start = ref_i32(f, "start_positions", NULL);
        rb->end = ref_i32(f, "end_positions", NULL);
    }
}

/* The batch with the labels of its head's loss. */
static vt_bert_batch labelled(const ref_batch *rb, const vt_bert_config *c) {
    vt_bert_batch in = rb->batch;
    if (c->arch == VT_BERT_FOR_MASKED_LM) in.mlm_labels = rb->mlm;
    else if (c->arch == VT_BERT_FOR_QUESTION_ANSWERING) in.start_positions = rb->start, in.end_positions = rb->end;
    else if (rb->targets) in.regression_targets = rb->targets;
    else if (rb->multi) in.multi_labels = rb->multi;
    else in.labels = rb->labels;
    return in;
}

static void batch_free(ref_batch *rb) {
    free(rb->ids), free(rb->mask), free(rb->types), free(rb->mlm), free(rb->labels), free(rb->targets);
    free(rb->multi), free(rb->start), free(rb->end);
}

static double max_abs_diff(const float *got, const float *want, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= d)) d = e; /* NaN wins */
    }
    return d;
}

static void compare_out(const vt_st_file *f, const char *key, const char *model, const float *got, int64_t n) {
    int64_t numel = 0;
    float *want = ref_f32(f, key, &numel);
    if (numel != n) fail_msg("%s %s: verto has %lld values, the reference %lld", model, key, (long long)n, (long long)numel);
    assert_non_null(got);
    double d = max_abs_diff(got, want, n);
    printf("    %-22s %-18s max |verto - transformers| = %.3g (tol %.0e)\n", model, key, d, OUT_TOL);
    note_worst(model, key, d);
    free(want);
    if (!(d <= OUT_TOL)) fail_msg("%s %s differs from transformers' by %.3g", model, key, d);
}

static double ref_scalar(const vt_st_file *f, const char *key) {
    float *v = ref_f32(f, key, NULL);
    double x = v[0];
    free(v);
    return x;
}

/* ||grad.<param>||_2 of the reference. */
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

/* Gradients that are zero in exact arithmetic are measured against a
 * companion's norm (scale, its name) instead of their own: a key bias's
 * (softmax ignores a constant added to a query's scores) against its layer's
 * key weight; in question answering, qa_outputs.bias's and the last layer's
 * output LayerNorm bias's (each shifts all positions' start, and end, logits
 * alike, which the softmax over positions ignores) against qa_outputs.weight
 * and that LayerNorm's weight. */
static bool zero_in_theory(const vt_bert_config *c, const char *name, char *scale, size_t size) {
    const char *kb = strstr(name, "key.bias");
    if (!kb) kb = strstr(name, "k_lin.bias");
    if (kb) {
        snprintf(scale, size, "%.*s%s", (int)(kb - name), name, strstr(name, "k_lin") ? "k_lin.weight" : "key.weight");
        return true;
    }
    if (c->arch != VT_BERT_FOR_QUESTION_ANSWERING) return false;
    if (!strcmp(name, "qa_outputs.bias")) {
        snprintf(scale, size, "qa_outputs.weight");
        return true;
    }
    char last_ln[128];
    long long last = (long long)c->num_hidden_layers - 1;
    if (c->family == VT_FAMILY_DISTILBERT) snprintf(last_ln, sizeof last_ln, "transformer.layer.%lld.output_layer_norm.", last);
    else snprintf(last_ln, sizeof last_ln, "encoder.layer.%lld.output.LayerNorm.", last);
    size_t n = strlen(last_ln);
    if (strncmp(name, last_ln, n) || strcmp(name + n, "bias")) return false;
    snprintf(scale, size, "%sweight", last_ln);
    return true;
}

/* Every parameter gradient against the reference's, relative to its norm
 * (or its companion's, where it is zero in theory). */
static void compare_grads(vt_bert *b, const vt_st_file *f, const char *model) {
    double worst_rel = 0;
    const char *worst_name = "";
    int failures = 0;
    for (size_t i = 0; i < vt_bert_param_count(b); i++) {
        const vt_bert_param *p = vt_bert_param_at(b, i);
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        if (!vt_st_find(f, key)) fail_msg("%s: the reference has no gradient of %s", model, p->name);
        int64_t n = 0, want_n = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
        float *want = ref_f32(f, key, &n);
        assert_int_equal(n, want_n);
        double norm = 0, err = max_abs_diff(p->grad, want, n);
        for (int64_t j = 0; j < n; j++) norm += (double)want[j] * want[j];
        norm = sqrt(norm);
        char scale[160];
        if (zero_in_theory(vt_bert_get_config(b), p->name, scale, sizeof scale)) norm = ref_grad_norm(f, scale);
        double rel = norm > 0 ? err / norm : err;
        if (!(rel <= worst_rel)) worst_rel = rel, worst_name = p->name;
        if (!(rel <= GRAD_TOL)) {
            printf("    %s: gradient of %s: ||diff||_inf / ||ref||_2 = %.3g exceeds %g\n", model, p->name, rel, GRAD_TOL);
            failures++;
        }
        free(want);
    }
    printf("    %-22s worst gradient %s: %.3g (tol %.0e)\n", model, worst_name, worst_rel, GRAD_TOL);
    note_worst(model, "gradients (relative)", worst_rel);
    if (failures) fail_msg("%s: %d parameter gradients differ from transformers'", model, failures);
}

static void check_loss(const char *model, double got, double want) {
    double d = fabs(got - want);
    printf("    %-22s loss %.9g vs transformers %.9g (diff %.3g)\n", model, got, want, d);
    note_worst(model, "loss", d);
    if (!(d <= LOSS_TOL)) fail_msg("%s: loss %.9g differs from transformers' %.9g", model, got, want);
}

/* Forward without labels, every output against the reference's. */
static void check_outputs(vt_bert *b, const vt_st_file *f, const ref_batch *rb, const char *model) {
    const vt_bert_config *c = vt_bert_get_config(b);
    int64_t B = rb->batch.batch, T = rb->batch.seq_len, H = c->hidden_size;
    vt_bert_outputs out;
    if (vt_bert_forward(b, &rb->batch, false, 0, &out) != VT_OK) fail_msg("%s forward: %s", model, vt_last_error());
    compare_out(f, "last_hidden_state", model, out.last_hidden_state, B * T * H);
    bool ref_pooled = vt_st_find(f, "pooled") != NULL;
    if (ref_pooled != (out.pooled != NULL))
        fail_msg("%s: transformers %s a pooled output, verto %s", model, ref_pooled ? "has" : "has no",
                 out.pooled ? "has one" : "has none");
    if (ref_pooled) compare_out(f, "pooled", model, out.pooled, B * H);
    if (vt_st_find(f, "mlm_logits")) {
        assert_int_equal(out.mlm_rows, B * T);
        compare_out(f, "mlm_logits", model, out.mlm_logits, B * T * c->vocab_size);
    }
    if (vt_st_find(f, "logits")) {
        int64_t rows = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? B * T : B;
        compare_out(f, "logits", model, out.logits, rows * c->num_labels);
    }
    bool ref_qa = vt_st_find(f, "start_logits") != NULL;
    if (ref_qa != (c->arch == VT_BERT_FOR_QUESTION_ANSWERING))
        fail_msg("%s: transformers %s start and end logits", model, ref_qa ? "has" : "has no");
    if (ref_qa) {
        compare_out(f, "start_logits", model, out.start_logits, B * T);
        compare_out(f, "end_logits", model, out.end_logits, B * T);
        for (int64_t r = 0; r < B * T; r++) /* the (B, T, 2) logits hold the same, interleaved */
            if (out.logits[2 * r] != out.start_logits[r] || out.logits[2 * r + 1] != out.end_logits[r])
                fail_msg("%s: logits and start/end logits disagree at row %lld", model, (long long)r);
    }
}

/* Forward with labels in training mode (dropout 0), the loss, the backward and every gradient. */
static void check_training(vt_bert *b, const vt_st_file *f, const ref_batch *rb, const char *model) {
    const vt_bert_config *c = vt_bert_get_config(b);
    vt_bert_batch in = labelled(rb, c);
    vt_bert_outputs out;
    if (vt_bert_forward(b, &in, true, 1234, &out) != VT_OK) fail_msg("%s forward: %s", model, vt_last_error());
    if (c->arch == VT_BERT_FOR_MASKED_LM) { /* the head ran at the labelled positions: those rows */
        int64_t BT = in.batch * in.seq_len, V = c->vocab_size, P = 0;
        float *all = ref_f32(f, "mlm_logits", NULL), *rows = malloc((size_t)(BT * V) * sizeof(float));
        for (int64_t r = 0; r < BT; r++)
            if (rb->mlm[r] != -100) memcpy(rows + P++ * V, all + r * V, (size_t)V * sizeof(float));
        assert_int_equal(out.mlm_rows, P);
        double d = max_abs_diff(out.mlm_logits, rows, P * V);
        if (!(d <= OUT_TOL)) fail_msg("%s: labelled positions' mlm_logits differ by %.3g", model, d);
        free(all);
        free(rows);
    }
    check_loss(model, out.loss, ref_scalar(f, "loss"));
    if (vt_bert_backward(b, false) != VT_OK) fail_msg("%s backward: %s", model, vt_last_error());
    compare_grads(b, f, model);
}

/* The parameter count PyTorch reports, in verto's table and in its summary. */
static void check_param_count(vt_bert *b, const vt_st_file *f, const char *model) {
    int64_t want = (int64_t)ref_scalar(f, "n_params"), got = 0;
    for (size_t i = 0; i < vt_bert_param_count(b); i++) {
        const vt_bert_param *p = vt_bert_param_at(b, i);
        got += p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
    }
    if (got != want) fail_msg("%s: verto has %lld parameters, PyTorch %lld", model, (long long)got, (long long)want);
    char *text = NULL, line[64], count[32];
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    vt_bert_summary(b, mem);
    fclose(mem);
    snprintf(line, sizeof line, "Total params: %s\n", vt_format_count(want, count, sizeof count));
    if (!strstr(text, line)) fail_msg("%s: the summary does not say \"%s\":\n%s", model, line, text);
    free(text);
}

static void check_config(const char *config) {
    for (size_t k = 0; k < N_KINDS; k++) {
        char dir[128], io[160];
        snprintf(dir, sizeof dir, "%s_%s", config, KINDS[k]);
        snprintf(io, sizeof io, "%s_io.safetensors", dir);
        vt_bert *b = load(dir, -1, 0, NULL);
        vt_st_file *f = ref_open(io);
        ref_batch rb;
        batch_from(f, &rb);
        check_param_count(b, f, dir);
        check_outputs(b, f, &rb, dir);
        if (vt_bert_get_config(b)->arch != VT_BERT_MODEL) check_training(b, f, &rb, dir);
        batch_free(&rb);
        vt_st_close(f);
        vt_bert_free(b);
    }
}

static void test_roberta_a(void **state) { check_config("roberta_a"); }
static void test_roberta_b(void **state) { check_config("roberta_b"); }
static void test_xlmr_a(void **state) { check_config("xlmr_a"); }
static void test_xlmr_b(void **state) { check_config("xlmr_b"); }
static void test_distilbert_a(void **state) { check_config("distilbert_a"); }
static void test_distilbert_b(void **state) { check_config("distilbert_b"); }
static void test_bert_a(void **state) { check_config("bert_a"); }
static void test_bert_b(void **state) { check_config("bert_b"); }

/* What config.json said, as verto reads it. */
static void test_configs_from_transformers(void **state) {
    vt_bert *b = load("roberta_a_mlm", -1, 0, NULL);
    const vt_bert_config *c = vt_bert_get_config(b);
    assert_int_equal(c->family, VT_FAMILY_ROBERTA);
    assert_int_equal(c->arch, VT_BERT_FOR_MASKED_LM);
    assert_string_equal(vt_bert_config_arch_name(c), "RobertaForMaskedLM");
    assert_int_equal(c->hidden_size, 72);
    assert_int_equal(c->pad_token_id, 1);
    assert_int_equal(c->max_position_embeddings, 40);
    assert_int_equal(vt_bert_max_length(c), 38);
    assert_int_equal(vt_bert_input_length(c, 0, 512), 38);
    assert_int_equal(c->hidden_act, VT_ACT_GELU_TANH);
    assert_true(c->layer_norm_eps == 1e-5f);
    assert_non_null(vt_bert_param_find(b, "lm_head.layer_norm.weight"));
    vt_bert_free(b);

    b = load("roberta_b_seqcls", -1, 0, NULL);
    c = vt_bert_get_config(b);
    assert_int_equal(c->num_labels, 1);
    assert_int_equal(c->pad_token_id, 3);
    assert_int_equal(vt_bert_max_length(c), 26);
    assert_int_equal(c->type_vocab_size, 2);
    assert_true(c->classifier_dropout == 0.0f);
    assert_non_null(vt_bert_param_find(b, "classifier.out_proj.weight"));
    assert_null(vt_bert_param_find(b, "pooler.dense.weight"));
    vt_bert_free(b);

    b = load("xlmr_b_tokcls", -1, 0, NULL);
    c = vt_bert_get_config(b);
    assert_int_equal(c->family, VT_FAMILY_XLM_ROBERTA);
    assert_string_equal(vt_bert_config_arch_name(c), "XLMRobertaForTokenClassification");
    assert_int_equal(c->num_attention_heads, 7);
    vt_bert_free(b);

    b = load("distilbert_b_seqcls", -1, 0, NULL);
    c = vt_bert_get_config(b);
    assert_int_equal(c->family, VT_FAMILY_DISTILBERT);
    assert_string_equal(vt_bert_config_arch_name(c), "DistilBertForSequenceClassification");
    assert_int_equal(c->hidden_size, 90);
    assert_int_equal(c->num_hidden_layers, 3);
    assert_int_equal(c->num_attention_heads, 5);
    assert_int_equal(c->intermediate_size, 110);
    assert_int_equal(c->type_vocab_size, 0);
    assert_int_equal(c->pad_token_id, 2);
    assert_int_equal(c->hidden_act, VT_ACT_RELU);
    assert_true(c->sinusoidal_pos_embds);
    assert_true(c->layer_norm_eps == 1e-12f);
    assert_int_equal(vt_bert_max_length(c), 28);
    assert_string_equal(c->id2label[2], "class_2");
    assert_non_null(vt_bert_param_find(b, "pre_classifier.weight"));
    assert_non_null(vt_bert_param_find(b, "transformer.layer.2.ffn.lin2.bias"));
    assert_null(vt_bert_param_find(b, "embeddings.token_type_embeddings.weight"));
    vt_bert_free(b);

    /* problem_type as transformers recorded it at the first loss, or as the config set it. */
    static const struct {
        const char *dir;
        vt_bert_problem problem;
        int labels;
    } problems[] = {{"bert_b_seqcls", VT_PROBLEM_SINGLE_LABEL, 2}, {"xlmr_b_multilabel", VT_PROBLEM_MULTI_LABEL, 5},
                    {"roberta_b_regress", VT_PROBLEM_REGRESSION, 3}, {"distilbert_a_regress", VT_PROBLEM_REGRESSION, 1},
                    {"xlmr_a_tokcls", VT_PROBLEM_UNSET, 4}, {"bert_a_qa", VT_PROBLEM_UNSET, 2}};
    for (size_t i = 0; i < sizeof problems / sizeof *problems; i++) {
        b = load(problems[i].dir, -1, 0, NULL);
        assert_int_equal(vt_bert_get_config(b)->problem_type, problems[i].problem);
        assert_int_equal(vt_bert_get_config(b)->num_labels, problems[i].labels);
        vt_bert_free(b);
    }

    b = load("distilbert_a_qa", -1, 0, NULL);
    c = vt_bert_get_config(b);
    assert_int_equal(c->arch, VT_BERT_FOR_QUESTION_ANSWERING);
    assert_string_equal(vt_bert_config_arch_name(c), "DistilBertForQuestionAnswering");
    assert_true(c->qa_dropout == 0.0f);
    const vt_bert_param *qa = vt_bert_param_find(b, "qa_outputs.weight");
    assert_non_null(qa);
    assert_int_equal(qa->shape[0], 2);
    assert_int_equal(qa->shape[1], 64);
    assert_null(vt_bert_param_find(b, "pre_classifier.weight"));
    vt_bert_free(b);
    b = load("bert_a_qa", -1, 0, NULL);
    assert_string_equal(vt_bert_config_arch_name(vt_bert_get_config(b)), "BertForQuestionAnswering");
    assert_null(vt_bert_param_find(b, "pooler.dense.weight")); /* BertModel(add_pooling_layer=False) */
    assert_non_null(vt_bert_param_find(b, "qa_outputs.bias"));
    vt_bert_free(b);
}

/* Older checkpoints' extras (the tied decoder stored, the buffers) load to the same parameters. */
static void check_same_params(const char *dir, const char *variant) {
    vt_bert_load_info info;
    vt_bert *a = load(dir, -1, 0, NULL), *b = load(variant, -1, 0, &info);
    int64_t na, nb;
    const float *pa = vt_bert_params(a, &na), *pb = vt_bert_params(b, &nb);
    assert_int_equal(na, nb);
    if (memcmp(pa, pb, (size_t)na * sizeof(float))) fail_msg("%s loads different parameters from %s", variant, dir);
    assert_int_equal(info.n_new, 0);
    assert_int_equal(info.n_unused, 0);
    printf("    %-22s parameters identical to %s's\n", variant, dir);
    vt_bert_free(a);
    vt_bert_free(b);
}

static void test_variants_tied_decoder(void **state) {
    check_same_params("roberta_a_mlm", "roberta_a_mlm_tied");
    check_same_params("distilbert_a_mlm", "distilbert_a_mlm_tied");
}

/* ---- round trip through transformers ---- */

static void repo_path(char *buf, size_t size, const char *rel) {
    const char *root = getenv("VT_SRC_DIR");
    if (root) {
        snprintf(buf, size, "%s/%s", root, rel);
        return;
    }
    const char *me = __FILE__, *tail = strstr(me, "tests/unit/test_families_ref.c");
    snprintf(buf, size, "%.*s%s", tail ? (int)(tail - me) : 0, me, rel);
}

#define MAX_ROUNDTRIPS 80
typedef struct roundtrips {
    char cmd[131072];
    char *tmp[MAX_ROUNDTRIPS];
    int n;
} roundtrips;

/* Runs b on the reference batch (with its labels, when `with_labels`: that
 * records a sequence classifier's problem_type), saves it, writes its outputs
 * (and the labels, the loss and its problem_type), and queues the check that
 * transformers loads the directory cleanly and agrees. */
static void add_roundtrip(roundtrips *rt, vt_bert *b, const char *io, bool same_weights, bool with_labels,
                          const char *what) {
    assert_true(rt->n < MAX_ROUNDTRIPS);
    char *tmp = test_tmpdir();
    rt->tmp[rt->n++] = tmp;
    char dir[4096], outs[4096], ref[4096];
    snprintf(dir, sizeof dir, "%s/model", tmp);
    snprintf(outs, sizeof outs, "%s/verto_outputs.safetensors", tmp);
    vt_st_file *f = ref_open(io);
    ref_batch rb;
    batch_from(f, &rb);
    const vt_bert_config *c = vt_bert_get_config(b);
    vt_bert_batch in = with_labels ? labelled(&rb, c) : rb.batch;
    if (c->arch == VT_BERT_MODEL || (c->arch == VT_BERT_FOR_MASKED_LM && with_labels))
        in = rb.batch; /* (every position's MLM logits; no loss to compare) */
    vt_bert_outputs out;
    if (vt_bert_forward(b, &in, false, 0, &out) != VT_OK) fail_msg("%s forward: %s", what, vt_last_error());
    if (vt_bert_save(b, dir) != VT_OK) fail_msg("vt_bert_save(%s): %s", dir, vt_last_error());
    int64_t B = rb.batch.batch, T = rb.batch.seq_len, H = c->hidden_size, L = c->num_labels;
    int64_t bt[2] = {B, T}, bth[3] = {B, T, H}, bh[2] = {B, H}, btv[3] = {B, T, c->vocab_size};
    int64_t lg3[3] = {B, T, L}, lg2[2] = {B, L}, b1[1] = {B}, one[1] = {1};
    float loss = (float)out.loss;
    vt_st_entry e[16];
    size_t n = 0;
    e[n++] = (vt_st_entry){"input_ids", VT_ST_I32, 2, bt, rb.ids};
    e[n++] = (vt_st_entry){"attention_mask", VT_ST_I32, 2, bt, rb.mask};
    e[n++] = (vt_st_entry){"token_type_ids", VT_ST_I32, 2, bt, rb.types};
    e[n++] = (vt_st_entry){"last_hidden_state", VT_ST_F32, 3, bth, out.last_hidden_state};
    if (out.pooled) e[n++] = (vt_st_entry){"pooled", VT_ST_F32, 2, bh, out.pooled};
    if (out.mlm_logits) e[n++] = (vt_st_entry){"mlm_logits", VT_ST_F32, 3, btv, out.mlm_logits};
    if (out.start_logits) {
        e[n++] = (vt_st_entry){"start_logits", VT_ST_F32, 2, bt, out.start_logits};
        e[n++] = (vt_st_entry){"end_logits", VT_ST_F32, 2, bt, out.end_logits};
    } else if (out.logits && c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION) {
        e[n++] = (vt_st_entry){"logits", VT_ST_F32, 3, lg3, out.logits};
    } else if (out.logits) {
        e[n++] = (vt_st_entry){"logits", VT_ST_F32, 2, lg2, out.logits};
    }
    if (in.labels) e[n++] = (vt_st_entry){"labels", VT_ST_I32, c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? 2 : 1,
                                          c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? bt : b1, in.labels};
    if (in.multi_labels) e[n++] = (vt_st_entry){"multi_labels", VT_ST_F32, 2, lg2, in.multi_labels};
    if (in.regression_targets)
        e[n++] = (vt_st_entry){"regression_targets", VT_ST_F32, L == 1 ? 1 : 2, L == 1 ? b1 : lg2,
                               in.regression_targets};
    if (in.start_positions) {
        e[n++] = (vt_st_entry){"start_positions", VT_ST_I32, 1, b1, in.start_positions};
        e[n++] = (vt_st_entry){"end_positions", VT_ST_I32, 1, b1, in.end_positions};
    }
    if (!isnan(out.loss)) e[n++] = (vt_st_entry){"loss", VT_ST_F32, 1, one, &loss};
    const char *problem = vt_bert_problem_name(c->problem_type);
    const char *meta[] = {"problem_type", problem ? problem : "null"};
    if (vt_st_write(outs, e, n, meta, 1) != VT_OK) fail_msg("writing %s: %s", outs, vt_last_error());
    batch_free(&rb);
    vt_st_close(f);
    snprintf(ref, sizeof ref, "%s/%s", ref_dir(), io);
    size_t used = strlen(rt->cmd);
    snprintf(rt->cmd + used, sizeof rt->cmd - used, " '%s' '%s' '%s'", dir, outs, same_weights ? ref : "-");
    printf("    queued %s: %s\n", what, dir);
}

static void run_roundtrips(roundtrips *rt) {
    char script[4096];
    static char cmd[140000];
    repo_path(script, sizeof script, "tests/ref/gen_families.py");
    const char *python = getenv("PYTHON");
    snprintf(cmd, sizeof cmd, "'%s' '%s' --roundtrip%s", python ? python : "python3", script, rt->cmd);
    fflush(stdout);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        fail_msg("transformers did not load verto's directories cleanly or disagreed (status %d)", rc);
    for (int i = 0; i < rt->n; i++) test_remove_dir(rt->tmp[i]);
}

/* verto saves every directory it loaded from transformers, and conversions
 * between the heads (a masked LM as a new classifier, as its encoder alone,
 * a base model with its pooler as a token classifier); transformers loads
 * each with no missing or unexpected keys, agrees with verto's outputs and,
 * where the weights are the original ones, reproduces the original outputs
 * bit for bit. */
static void test_roundtrip_through_transformers(void **state) {
    static roundtrips rt;
    memset(&rt, 0, sizeof rt);
    for (size_t i = 0; i < N_CONFIGS; i++)
        for (size_t k = 0; k < N_KINDS; k++) {
            char dir[128], io[160];
            snprintf(dir, sizeof dir, "%s_%s", CONFIGS[i], KINDS[k]);
            snprintf(io, sizeof io, "%s_io.safetensors", dir);
            vt_bert *b = load(dir, -1, 0, NULL);
            add_roundtrip(&rt, b, io, true, true, dir);
            vt_bert_free(b);
        }
    vt_bert_load_info info;
    vt_bert *b = load("roberta_a_mlm", VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 5, &info);
    assert_int_equal(info.n_new, 4); /* classifier.dense and classifier.out_proj, weight and bias */
    assert_int_equal(info.n_unused, 5); /* lm_head.dense (2), lm_head.layer_norm (2), lm_head.bias */
    add_roundtrip(&rt, b, "roberta_a_mlm_io.safetensors", false, false, "RoBERTa MLM as a new sequence classifier");
    assert_int_equal(vt_bert_get_config(b)->problem_type, VT_PROBLEM_UNSET); /* saved as null: no loss yet */
    vt_bert_free(b);
    b = load("distilbert_a_mlm", VT_BERT_MODEL, 0, &info);
    assert_int_equal(info.n_new, 0);
    assert_int_equal(info.n_unused, 5); /* vocab_transform (2), vocab_layer_norm (2), vocab_projector.bias */
    add_roundtrip(&rt, b, "distilbert_a_mlm_io.safetensors", true, false, "DistilBERT MLM's encoder alone");
    vt_bert_free(b);
    b = load("xlmr_a_model", VT_BERT_FOR_TOKEN_CLASSIFICATION, 2, &info);
    assert_int_equal(info.n_new, 2);
    assert_int_equal(info.n_unused, 2); /* the pooler */
    add_roundtrip(&rt, b, "xlmr_a_model_io.safetensors", false, false, "XLM-R base model as a new token classifier");
    vt_bert_free(b);
    b = load("distilbert_b_tokcls", VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 4, &info);
    assert_int_equal(info.n_new, 2); /* pre_classifier (the classifier's names are the token classifier's) */
    add_roundtrip(&rt, b, "distilbert_b_tokcls_io.safetensors", false, false,
                  "DistilBERT token -> sequence classifier");
    vt_bert_free(b);
    b = load("bert_a_mlm", VT_BERT_FOR_QUESTION_ANSWERING, 0, &info);
    assert_int_equal(info.n_new, 2);    /* qa_outputs */
    assert_int_equal(info.n_unused, 5); /* cls.predictions.transform.dense (2), .LayerNorm (2), cls.predictions.bias */
    add_roundtrip(&rt, b, "bert_a_qa_io.safetensors", false, true, "BERT MLM as a new question answering model");
    vt_bert_free(b);
    b = load("distilbert_b_seqcls", VT_BERT_FOR_QUESTION_ANSWERING, 0, &info);
    assert_int_equal(vt_bert_get_config(b)->num_labels, 2); /* 3 in the file */
    assert_int_equal(info.n_new, 2);
    assert_int_equal(info.n_unused, 4); /* pre_classifier, classifier */
    add_roundtrip(&rt, b, "distilbert_b_qa_io.safetensors", false, true, "DistilBERT classifier -> question answering");
    vt_bert_free(b);
    /* A new classifier without a problem_type: its first loss (multi_labels) records multi-label, as
     * transformers' does. */
    b = load("xlmr_a_qa", VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 5, &info);
    assert_int_equal(info.n_new, 4);    /* classifier.dense, classifier.out_proj */
    assert_int_equal(info.n_unused, 2); /* qa_outputs */
    assert_int_equal(vt_bert_get_config(b)->problem_type, VT_PROBLEM_UNSET);
    add_roundtrip(&rt, b, "xlmr_a_multilabel_io.safetensors", false, true, "XLM-R question answering -> multi-label");
    assert_int_equal(vt_bert_get_config(b)->problem_type, VT_PROBLEM_MULTI_LABEL);
    vt_bert_free(b);
    run_roundtrips(&rt);
}

static int print_worst(void **state) {
    printf("largest differences from transformers, per family and output:\n");
    for (int i = 0; i < g_n_worst; i++) printf("    %-40s %.3g\n", g_worst[i].what, g_worst[i].value);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configs_from_transformers),
        cmocka_unit_test(test_roberta_a),
        cmocka_unit_test(test_roberta_b),
        cmocka_unit_test(test_xlmr_a),
        cmocka_unit_test(test_xlmr_b),
        cmocka_unit_test(test_distilbert_a),
        cmocka_unit_test(test_distilbert_b),
        cmocka_unit_test(test_bert_a),
        cmocka_unit_test(test_bert_b),
        cmocka_unit_test(test_variants_tied_decoder),
        cmocka_unit_test(test_roundtrip_through_transformers),
    };
    return cmocka_run_group_tests(tests, NULL, print_worst);
}
