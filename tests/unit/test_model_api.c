/* The Keras-style model API: summary parity with Keras, fit/evaluate/predict,
 * save/load, and bad input through the public API. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "verto/verto.h"
#include "vt_test.h"

/* The seed's Transformer; see examples/seed_transformer.c. */
static vt_model *seed_transformer(void) {
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_I32, 1, (int64_t[]){VT_DIM_ANY}, NULL);
    vt_node *e = vt_embedding(in, 10000, 512, NULL);
    vt_node *a = vt_multi_head_attention(e, e, NULL, NULL, &(vt_mha_config){.num_heads = 8, .key_dim = 64}, NULL);
    vt_node *out = vt_dense(vt_dense(a, 512, VT_ACT_LINEAR, NULL), 10000, VT_ACT_SOFTMAX, NULL);
    return vt_model_new(g, 1, &in, out, "seed_transformer");
}

static char *summary_text(const vt_model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vt_model_summary(m, f);
    fclose(f);
    return buf;
}

/* Keras reports 5,120,000 / 1,050,624 / 262,656 / 5,130,000, total 11,563,280
 * for these layers (Embedding 10000*512; MHA 4 * (512*512 + 512); Dense
 * 512*512 + 512; Dense 512*10000 + 10000). */
static void test_summary_matches_keras(void **state) {
    vt_model *m = seed_transformer();
    assert_non_null(m);
    char *text = summary_text(m);
    printf("%s", text);
    static const char *const EXPECTED[] = {
        "input_layer (InputLayer)", "(None, None)", "embedding (Embedding)", "(None, None, 512)", "5,120,000",
        "multi_head_attention (MultiHeadAttention)", "1,050,624", "dense (Dense)", "262,656", "dense_1 (Dense)",
        "(None, None, 10000)", "5,130,000", "Total params: 11,563,280 (44.11 MB)", "Trainable params: 11,563,280",
        "Non-trainable params: 0 (0.00 B)", "Layer (type)", "Output Shape", "Param #"};
    for (size_t i = 0; i < sizeof EXPECTED / sizeof *EXPECTED; i++)
        if (!strstr(text, EXPECTED[i])) fail_msg("summary lacks \"%s\"", EXPECTED[i]);
    assert_int_equal(vt_model_param_count(m, false), 11563280);
    assert_int_equal(vt_model_set_trainable(m, "embedding", false), VT_OK);
    assert_int_equal(vt_model_param_count(m, true), 11563280 - 5120000);
    free(text);
    text = summary_text(m);
    assert_non_null(strstr(text, "Non-trainable params: 5,120,000"));
    free(text);
    vt_model_free(m);
}

/* A tiny learnable problem: y = [x0 + x1 > 0] from 2 features. */
static vt_model *tiny_classifier(void) {
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_F32, 1, (int64_t[]){2}, "x");
    vt_node *h = vt_dense(in, 8, VT_ACT_TANH, NULL);
    vt_node *out = vt_dense(h, 2, VT_ACT_SOFTMAX, NULL);
    return vt_model_new(g, 1, &in, out, "tiny");
}

static void tiny_data(vt_tensor **x, vt_tensor **y, int64_t n, uint64_t seed) {
    vt_rng rng;
    vt_rng_seed(&rng, seed);
    *x = vt_tensor_new(VT_F32, 2, (int64_t[]){n, 2});
    *y = vt_tensor_new(VT_I32, 1, (int64_t[]){n});
    for (int64_t i = 0; i < n; i++) {
        float a = (float)vt_rng_normal(&rng), b = (float)vt_rng_normal(&rng);
        vt_f32(*x)[2 * i] = a;
        vt_f32(*x)[2 * i + 1] = b;
        vt_i32(*y)[i] = a + b > 0;
    }
}

static void test_fit_evaluate_predict(void **state) {
    vt_model *m = tiny_classifier();
    assert_non_null(m);
    assert_int_equal(vt_model_compile_named(m, "adam", "sparse_categorical_crossentropy", "accuracy"), VT_OK);
    vt_tensor *x, *y;
    tiny_data(&x, &y, 400, 1);
    const vt_tensor *xs[1] = {x};
    vt_history h;
    vt_fit_options o = {.epochs = 30, .batch_size = 16, .validation_split = 0.25f, .seed = 3, .verbose = 2};
    assert_int_equal(vt_model_fit(m, xs, y, &o, &h), VT_OK);
    assert_int_equal(h.epochs, 30);
    printf("    loss %.4f -> %.4f, val_accuracy %.4f\n", h.loss[0], h.loss[29], h.val_metric[29]);
    assert_true(h.loss[29] < 0.5 * h.loss[0]);
    assert_true(h.val_metric[29] >= 0.95);
    double loss, acc;
    assert_int_equal(vt_model_evaluate(m, xs, y, 64, &loss, &acc), VT_OK);
    assert_true(acc >= 0.95);
    vt_tensor *p = vt_model_predict(m, xs, 7); /* a batch size that leaves a remainder */
    assert_non_null(p);
    assert_int_equal(p->shape[0], 400);
    assert_int_equal(p->shape[1], 2);
    int64_t hits = 0;
    for (int64_t i = 0; i < 400; i++) {
        assert_float_equal(vt_f32(p)[2 * i] + vt_f32(p)[2 * i + 1], 1.0f, 1e-5f);
        hits += (vt_f32(p)[2 * i + 1] > 0.5f) == vt_i32(y)[i];
    }
    assert_float_equal((double)hits / 400, acc, 1e-9);
    vt_tensor_free(p);
    vt_tensor_free(x);
    vt_tensor_free(y);
    vt_model_free(m);
}

static void test_save_load_round_trip(void **state) {
    vt_model *m = tiny_classifier();
    assert_non_null(m);
    vt_model_init_weights(m, 77);
    assert_int_equal(vt_model_set_trainable(m, "dense", false), VT_OK);
    char *dir = test_tmpdir();
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/nested/model", dir);
    assert_int_equal(vt_model_save(m, sub), VT_OK);
    vt_model *back = vt_model_load(sub);
    if (!back) fail_msg("load: %s", vt_last_error());
    assert_int_equal(vt_model_param_count(back, false), vt_model_param_count(m, false));
    assert_int_equal(vt_model_param_count(back, true), vt_model_param_count(m, true));
    vt_tensor *x, *y;
    tiny_data(&x, &y, 10, 2);
    const vt_tensor *xs[1] = {x};
    vt_tensor *p1 = vt_model_predict(m, xs, 4), *p2 = vt_model_predict(back, xs, 4);
    assert_memory_equal(p1->data, p2->data, 20 * sizeof(float));
    vt_tensor_free(p1);
    vt_tensor_free(p2);
    vt_tensor_free(x);
    vt_tensor_free(y);
    vt_model_free(back);
    vt_model_free(m);
    free(dir);
}

static void expect_build_error(vt_model *m, const char *fragment) {
    assert_null(m);
    printf("    error: %s\n", vt_last_error());
    if (!strstr(vt_last_error(), fragment)) fail_msg("message \"%s\" lacks \"%s\"", vt_last_error(), fragment);
}

static void test_shapes_that_do_not_fit(void **state) {
    vt_graph *g = vt_graph_new();
    vt_node *ids = vt_input(g, VT_I32, 1, (int64_t[]){5}, "ids");
    vt_node *bad = vt_dense(ids, 3, VT_ACT_RELU, NULL); /* Dense on int ids */
    expect_build_error(vt_model_new(g, 1, &ids, bad, NULL), "not float32");

    g = vt_graph_new();
    vt_node *a = vt_input(g, VT_F32, 1, (int64_t[]){4}, "a");
    vt_node *b = vt_input(g, VT_F32, 1, (int64_t[]){5}, "b");
    vt_node *sum = vt_dense(vt_add(a, b, NULL), 2, VT_ACT_LINEAR, NULL); /* error propagates through the chain */
    expect_build_error(vt_model_new(g, 2, (vt_node *[]){a, b}, sum, NULL), "Add: shapes (None, 4)");

    g = vt_graph_new();
    vt_node *q = vt_input(g, VT_F32, 2, (int64_t[]){VT_DIM_ANY, 8}, "q");
    vt_node *mask = vt_input(g, VT_F32, 1, (int64_t[]){VT_DIM_ANY}, "mask");
    vt_node *att = vt_multi_head_attention(q, q, NULL, mask, &(vt_mha_config){.num_heads = 2, .key_dim = 4}, NULL);
    expect_build_error(vt_model_new(g, 2, (vt_node *[]){q, mask}, att, NULL), "mask 'mask' must be int32");

    g = vt_graph_new();
    vt_node *x = vt_input(g, VT_F32, 1, (int64_t[]){4}, "x");
    vt_node *d = vt_dense(x, 0, VT_ACT_LINEAR, NULL);
    expect_build_error(vt_model_new(g, 1, &x, d, NULL), "units must be positive");

    /* Data that does not fit a built model. */
    vt_model *m = tiny_classifier();
    assert_int_equal(vt_model_compile_named(m, "sgd", "sparse_categorical_crossentropy", "accuracy"), VT_OK);
    vt_tensor *wrong = vt_tensor_new(VT_F32, 2, (int64_t[]){4, 3});
    vt_tensor *labels = vt_tensor_new(VT_I32, 1, (int64_t[]){4});
    const vt_tensor *xs[1] = {wrong};
    vt_fit_options o = {.epochs = 1};
    assert_int_equal(vt_model_fit(m, xs, labels, &o, NULL), VT_ERR_SHAPE);
    printf("    error: %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "input 'x' expects float32 (None, 2)"));
    vt_tensor *x2 = vt_tensor_new(VT_F32, 2, (int64_t[]){4, 2});
    vt_tensor *bad_labels = vt_tensor_new(VT_I32, 1, (int64_t[]){4});
    vt_i32(bad_labels)[2] = 7; /* class 7 of 2 */
    const vt_tensor *xs2[1] = {x2};
    assert_int_not_equal(vt_model_fit(m, xs2, bad_labels, &o, NULL), VT_OK);
    printf("    error: %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "label 7"));
    vt_tensor_free(wrong);
    vt_tensor_free(labels);
    vt_tensor_free(x2);
    vt_tensor_free(bad_labels);
    vt_model_free(m);
}

static void test_nan_loss_stops_fit(void **state) {
    vt_model *m = tiny_classifier();
    assert_int_equal(vt_model_compile_named(m, "sgd", "sparse_categorical_crossentropy", NULL), VT_OK);
    vt_tensor w = vt_model_param(m, "dense/kernel");
    vt_f32(&w)[0] = NAN;
    vt_tensor *x, *y;
    tiny_data(&x, &y, 64, 5);
    const vt_tensor *xs[1] = {x};
    vt_fit_options o = {.epochs = 2, .batch_size = 16};
    assert_int_equal(vt_model_fit(m, xs, y, &o, NULL), VT_ERR_NUMERIC);
    printf("    error: %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "epoch 1 step 1"));
    assert_non_null(strstr(vt_last_error(), "nan"));
    vt_tensor_free(x);
    vt_tensor_free(y);
    vt_model_free(m);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_bad_weight_files(void **state) {
    vt_model *m = tiny_classifier();
    char *dir = test_tmpdir(), path[4200], weights[4200];
    assert_int_equal(vt_model_save(m, dir), VT_OK);
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    char *good;
    size_t len;
    assert_int_equal(vt_read_file(weights, 1 << 20, &good, &len), VT_OK);

    /* Truncated. */
    snprintf(path, sizeof path, "%s/truncated.safetensors", dir);
    write_bytes(path, good, len - 9);
    assert_int_equal(vt_model_load_weights(m, path), VT_ERR_FORMAT);
    printf("    truncated: %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "truncated.safetensors"));

    /* Corrupt header. */
    snprintf(path, sizeof path, "%s/corrupt.safetensors", dir);
    char *bad = malloc(len);
    memcpy(bad, good, len);
    memset(bad + 8, '#', 12);
    write_bytes(path, bad, len);
    assert_int_equal(vt_model_load_weights(m, path), VT_ERR_FORMAT);
    printf("    corrupt: %s\n", vt_last_error());
    free(bad);

    /* Weights of another architecture: a wider hidden layer. */
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_F32, 1, (int64_t[]){2}, "x");
    vt_node *out = vt_dense(vt_dense(in, 9, VT_ACT_TANH, NULL), 2, VT_ACT_SOFTMAX, NULL);
    vt_model *other = vt_model_new(g, 1, &in, out, "other");
    snprintf(path, sizeof path, "%s/other", dir);
    assert_int_equal(vt_model_save(other, path), VT_OK);
    snprintf(path, sizeof path, "%s/other/model.safetensors", dir);
    assert_int_equal(vt_model_load_weights(m, path), VT_ERR_FORMAT);
    printf("    other architecture: %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "'dense/kernel' has shape (2, 9)"));

    /* Missing architecture file. */
    snprintf(path, sizeof path, "%s/nowhere", dir);
    assert_null(vt_model_load(path));
    assert_non_null(strstr(vt_last_error(), "nowhere/model.json"));

    /* An architecture file with an unknown key. */
    snprintf(path, sizeof path, "%s/model.json", dir);
    char *arch;
    assert_int_equal(vt_read_file(path, 1 << 20, &arch, &len), VT_OK);
    char *units = strstr(arch, "\"units\"");
    assert_non_null(units);
    memcpy(units, "\"unitz\"", 7);
    write_bytes(path, arch, len);
    assert_null(vt_model_load(dir));
    printf("    bad architecture: %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "unknown config key 'unitz'"));
    free(arch);
    free(good);
    vt_model_free(other);
    vt_model_free(m);
    free(dir);
}

static bool has_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".new")) found = true;
    if (d) closedir(d);
    return found;
}

/* A save cut short (here: a file-size limit hit mid-write, as a full disk
 * would) fails cleanly, leaves the previous files intact and no temporaries. */
static void test_interrupted_save_keeps_old_files(void **state) {
    vt_model *m = seed_transformer(); /* 46 MB of weights */
    char *dir = test_tmpdir();
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_I32, 1, (int64_t[]){VT_DIM_ANY}, "input_layer");
    vt_node *e = vt_embedding(in, 10, 4, "embedding");
    vt_model *small = vt_model_new(g, 1, &in, e, "small");
    assert_int_equal(vt_model_save(small, dir), VT_OK);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {1 << 20, 1 << 20};
        setrlimit(RLIMIT_FSIZE, &lim);
        vt_status st = vt_model_save(m, dir);
        fprintf(stderr, "    child save: %s (%s)\n", vt_status_name(st), vt_last_error());
        _exit(st == VT_OK ? 0 : 3);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_false(has_temp_files(dir));
    vt_model *back = vt_model_load(dir);
    if (!back) fail_msg("the old model no longer loads: %s", vt_last_error());
    assert_int_equal(vt_model_param_count(back, false), 40);
    vt_model_free(back);
    vt_model_free(small);
    vt_model_free(m);
    free(dir);
}

static void test_call_order_errors(void **state) {
    vt_model *m = tiny_classifier();
    vt_tensor *x, *y;
    tiny_data(&x, &y, 8, 1);
    const vt_tensor *xs[1] = {x};
    vt_fit_options o = {.epochs = 1};
    assert_int_equal(vt_model_fit(m, xs, y, &o, NULL), VT_ERR_STATE);
    assert_int_equal(vt_model_compile_named(m, "adagrad", "mse", NULL), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_model_compile_named(m, "adam", "hinge", NULL), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_model_compile_named(m, "adam", "mse", "accuracy"), VT_ERR_INVALID_ARG);
    vt_tensor_free(x);
    vt_tensor_free(y);
    vt_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_matches_keras),
        cmocka_unit_test(test_fit_evaluate_predict),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_shapes_that_do_not_fit),
        cmocka_unit_test(test_nan_loss_stops_fit),
        cmocka_unit_test(test_bad_weight_files),
        cmocka_unit_test(test_interrupted_save_keeps_old_files),
        cmocka_unit_test(test_call_order_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
