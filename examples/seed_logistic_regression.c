/* The design documents' case study: logistic regression as one Dense layer
 * with a sigmoid, trained by plain (full-batch) gradient descent.
 *
 * 100 samples of 10 features, labelled by a known linear rule plus noise,
 * all generated from a fixed seed. Prints the loss every 100 of 1000
 * iterations, the learned W and b, the training accuracy, and the class
 * probabilities of one new sample. */
#include <stdio.h>

#include "verto/verto.h"

#define N_SAMPLES 100
#define N_FEATURES 10
#define ITERATIONS 1000

static int fail(const char *what) {
    fprintf(stderr, "error: %s: %s\n", what, vt_last_error());
    return 1;
}

/* x (N_SAMPLES, N_FEATURES) ~ N(0, 1); y = [x . w_true + b_true + 0.3 * noise > 0]. */
static void make_data(vt_tensor *x, vt_tensor *y) {
    static const float W_TRUE[N_FEATURES] = {1.5f, -2.0f, 1.0f, 0.5f, -1.0f, 2.0f, -0.5f, 1.0f, -1.5f, 0.8f};
    const float B_TRUE = 0.3f;
    vt_rng rng;
    vt_rng_seed(&rng, 42);
    for (int i = 0; i < N_SAMPLES; i++) {
        double z = B_TRUE;
        for (int j = 0; j < N_FEATURES; j++) {
            float v = (float)vt_rng_normal(&rng);
            vt_f32(x)[i * N_FEATURES + j] = v;
            z += v * W_TRUE[j];
        }
        z += 0.3 * vt_rng_normal(&rng);
        vt_f32(y)[i] = z > 0 ? 1.0f : 0.0f;
    }
}

int main(void) {
    vt_tensor *x = vt_tensor_new(VT_F32, 2, (int64_t[]){N_SAMPLES, N_FEATURES});
    vt_tensor *y = vt_tensor_new(VT_F32, 2, (int64_t[]){N_SAMPLES, 1});
    if (!x || !y) return fail("allocating data");
    make_data(x, y);

    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_F32, 1, (int64_t[]){N_FEATURES}, "features");
    vt_node *out = vt_dense(in, 1, VT_ACT_SIGMOID, "logistic");
    vt_model *m = vt_model_new(g, 1, &in, out, "logistic_regression");
    if (!m) return fail("building the model");
    vt_model_summary(m, stdout);

    vt_optimizer_config sgd;
    vt_optimizer_config_default("sgd", &sgd);
    sgd.learning_rate = 0.1f;
    if (vt_model_compile(m, &sgd, (vt_loss){VT_LOSS_BINARY_CROSSENTROPY, false}, VT_METRIC_ACCURACY) != VT_OK)
        return fail("compiling");

    const vt_tensor *inputs[1] = {x};
    double loss = 0, accuracy = 0;
    for (int it = 0; it <= ITERATIONS; it++) {
        if (vt_model_forward(m, inputs, true, 0, NULL) != VT_OK || vt_model_backward(m, y, &loss, &accuracy) != VT_OK)
            return fail("training step");
        if (it % 100 == 0) printf("iteration %4d  loss %.6f\n", it, loss);
        if (it < ITERATIONS && vt_model_apply_gradients(m, NULL) != VT_OK) return fail("update");
    }

    vt_tensor w = vt_model_param(m, "logistic/kernel"), b = vt_model_param(m, "logistic/bias");
    printf("learned W:");
    for (int j = 0; j < N_FEATURES; j++) printf(" %.4f", vt_f32(&w)[j]);
    printf("\nlearned b: %.4f\n", vt_f32(&b)[0]);
    if (vt_model_evaluate(m, inputs, y, N_SAMPLES, &loss, &accuracy) != VT_OK) return fail("evaluating");
    printf("final loss: %.6f\ntraining accuracy: %.4f\n", loss, accuracy);

    vt_tensor *sample = vt_tensor_new(VT_F32, 2, (int64_t[]){1, N_FEATURES});
    static const float NEW_X[N_FEATURES] = {0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 0.1f, 0.2f, 0.3f, 0.4f};
    for (int j = 0; j < N_FEATURES; j++) vt_f32(sample)[j] = NEW_X[j];
    const vt_tensor *sample_in[1] = {sample};
    vt_tensor *p = vt_model_predict(m, sample_in, 1);
    if (!p) return fail("predicting");
    printf("sample x = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.1, 0.2, 0.3, 0.4): P(class 0) = %.4f, P(class 1) = %.4f\n",
           1.0 - vt_f32(p)[0], vt_f32(p)[0]);

    vt_tensor_free(p);
    vt_tensor_free(sample);
    vt_model_free(m);
    vt_tensor_free(x);
    vt_tensor_free(y);
    return 0;
}
