/* The design documents' Transformer, built and trained with the Keras-style API:
 *
 *   Input(shape=(None,)) -> Embedding(10000, 512)
 *     -> MultiHeadAttention(num_heads=8, key_dim=64) as self-attention
 *     -> Dense(512) -> Dense(10000, activation='softmax')
 *   compile('adam', 'sparse_categorical_crossentropy', ['accuracy'])
 *   summary(); fit(epochs=5, batch_size=32); evaluate()
 *
 * The documents pass an undefined second argument to the attention layer; the
 * embedding output serves as query and value here. The synthetic task is one
 * this architecture can learn: it has no position information and no
 * residual path, so what reaches each position is an attention-weighted mix
 * of the sequence. Each sequence belongs to one of 50 topics and draws its 12
 * tokens from that topic's own 20 ids; every position's label is a fixed
 * function of the topic, f(c) = (97 c + 13) mod 10000. */
#include <stdio.h>
#include <stdlib.h>

#include "verto/verto.h"

#define VOCAB 10000
#define SEQ_LEN 12
#define TOPICS 50
#define TOKENS_PER_TOPIC 20
#define N_TRAIN 2000
#define N_TEST 400

static int fail(const char *what) {
    fprintf(stderr, "error: %s: %s\n", what, vt_last_error());
    return 1;
}

static int32_t label_of(int32_t topic) { return (97 * topic + 13) % VOCAB; }

/* x (n, SEQ_LEN) token ids, y (n, SEQ_LEN) labels. */
static void make_data(vt_rng *rng, vt_tensor *x, vt_tensor *y) {
    for (int64_t s = 0; s < x->shape[0]; s++) {
        int32_t topic = (int32_t)vt_rng_below(rng, TOPICS);
        for (int64_t t = 0; t < SEQ_LEN; t++) {
            vt_i32(x)[s * SEQ_LEN + t] = 1 + topic * TOKENS_PER_TOPIC + (int32_t)vt_rng_below(rng, TOKENS_PER_TOPIC);
            vt_i32(y)[s * SEQ_LEN + t] = label_of(topic);
        }
    }
}

int main(int argc, char **argv) {
    long epochs = 5; /* a test may ask for fewer */
    if (argc > 1) {
        char *end;
        epochs = strtol(argv[1], &end, 10);
        if (*end || epochs < 1 || epochs > 1000) {
            fprintf(stderr, "error: epochs must be an integer in 1..1000, got '%s'\n", argv[1]);
            return 2;
        }
    }
    vt_rng rng;
    vt_rng_seed(&rng, 7);
    vt_tensor *x_train = vt_tensor_new(VT_I32, 2, (int64_t[]){N_TRAIN, SEQ_LEN});
    vt_tensor *y_train = vt_tensor_new(VT_I32, 2, (int64_t[]){N_TRAIN, SEQ_LEN});
    vt_tensor *x_test = vt_tensor_new(VT_I32, 2, (int64_t[]){N_TEST, SEQ_LEN});
    vt_tensor *y_test = vt_tensor_new(VT_I32, 2, (int64_t[]){N_TEST, SEQ_LEN});
    if (!x_train || !y_train || !x_test || !y_test) return fail("allocating data");
    make_data(&rng, x_train, y_train);
    make_data(&rng, x_test, y_test);

    vt_graph *g = vt_graph_new();
    vt_node *inputs = vt_input(g, VT_I32, 1, (int64_t[]){VT_DIM_ANY}, NULL);
    vt_node *embedded = vt_embedding(inputs, VOCAB, 512, NULL);
    vt_node *attended = vt_multi_head_attention(embedded, embedded, NULL, NULL,
                                                &(vt_mha_config){.num_heads = 8, .key_dim = 64}, NULL);
    vt_node *hidden = vt_dense(attended, 512, VT_ACT_LINEAR, NULL);
    vt_node *outputs = vt_dense(hidden, VOCAB, VT_ACT_SOFTMAX, NULL);
    vt_model *model = vt_model_new(g, 1, &inputs, outputs, "seed_transformer");
    if (!model) return fail("building the model");
    vt_model_summary(model, stdout);

    if (vt_model_compile_named(model, "adam", "sparse_categorical_crossentropy", "accuracy") != VT_OK)
        return fail("compiling");
    const vt_tensor *train_in[1] = {x_train}, *test_in[1] = {x_test};
    vt_fit_options opts = {.epochs = (int)epochs, .batch_size = 32, .seed = 1, .verbose = 1};
    if (vt_model_fit(model, train_in, y_train, &opts, NULL) != VT_OK) return fail("training");
    double loss, accuracy;
    if (vt_model_evaluate(model, test_in, y_test, 32, &loss, &accuracy) != VT_OK) return fail("evaluating");
    printf("Test loss: %.4f, Test accuracy: %.4f\n", loss, accuracy);

    vt_model_free(model);
    vt_tensor_free(x_train);
    vt_tensor_free(y_train);
    vt_tensor_free(x_test);
    vt_tensor_free(y_test);
    return 0;
}
