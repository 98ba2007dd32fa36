/* The Keras-style model API: build a graph of layers applied to symbolic
 * tensors, wrap it in a model, then compile, fit, evaluate, predict, save.
 *
 *     vt_graph *g = vt_graph_new();
 *     vt_node *x = vt_input(g, VT_I32, 1, (int64_t[]){VT_DIM_ANY}, NULL); // (None, None)
 *     vt_node *e = vt_embedding(x, 10000, 512, NULL);                     // (None, None, 512)
 *     vt_node *a = vt_multi_head_attention(e, e, NULL, NULL,
 *                      &(vt_mha_config){.num_heads = 8, .key_dim = 64}, NULL);
 *     vt_node *y = vt_dense(vt_dense(a, 512, VT_ACT_LINEAR, NULL), 10000, VT_ACT_SOFTMAX, NULL);
 *     vt_model *m = vt_model_new(g, 1, &x, y, "seed_transformer");
 *     vt_model_compile_named(m, "adam", "sparse_categorical_crossentropy", "accuracy");
 *
 * Builders return NULL on error (message in vt_last_error()) and accept NULL
 * inputs, returning NULL, so a chain of calls can be checked once at the end:
 * vt_model_new fails with the first error met while building. Shapes include
 * the batch dimension first, which is always VT_DIM_ANY (None). */
#ifndef VERTO_MODEL_H
#define VERTO_MODEL_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"
#include "verto/kernels.h"
#include "verto/optim.h"
#include "verto/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_graph vt_graph; /* layers under construction */
typedef struct vt_node vt_node;   /* a symbolic tensor: the output of one layer */
typedef struct vt_model vt_model;

/* ---- building ------------------------------------------------------------ */

/* An empty graph. Owned by the caller until passed to vt_model_new. */
VT_API vt_graph *vt_graph_new(void);
/* Frees a graph that was never given to vt_model_new (NULL is a no-op). */
VT_API void vt_graph_free(vt_graph *g);

/* Input layer. shape (ndim, at most 3) excludes the batch dimension and may
 * hold VT_DIM_ANY; dtype VT_I32 for token ids or masks, VT_F32 otherwise.
 * name NULL gives Keras' automatic names ("input_layer", "input_layer_1", ...). */
VT_API vt_node *vt_input(vt_graph *g, vt_dtype dtype, int ndim, const int64_t *shape, const char *name);

/* Embedding(input_dim, output_dim): ids (B, ...) int32 -> (B, ..., output_dim).
 * Weights "embeddings" (input_dim, output_dim), uniform(-0.05, 0.05). */
VT_API vt_node *vt_embedding(vt_node *ids, int64_t input_dim, int64_t output_dim, const char *name);

/* Dense(units, activation) over the last axis: (B, ..., in) -> (B, ..., units).
 * Weights "kernel" (in, units) glorot-uniform and "bias" (units) zeros. */
VT_API vt_node *vt_dense(vt_node *x, int64_t units, vt_activation activation, const char *name);

typedef struct vt_mha_config {
    int num_heads;      /* > 0 */
    int64_t key_dim;    /* size of each query/key head, > 0 */
    int64_t value_dim;  /* size of each value head; 0 means key_dim */
    float dropout;      /* on attention probabilities, training only */
    bool causal;        /* Keras' use_causal_mask */
    bool no_bias;       /* Keras' use_bias=False */
} vt_mha_config;

/* MultiHeadAttention with Keras semantics. query (B, Tq, Dq), value (B, Tk, Dv),
 * key (B, Tk, Dk) or NULL for key = value; mask NULL, int32 (B, Tq, Tk) or
 * (B, Tk) with 1 = attend. Output (B, Tq, Dq). Weights, as Keras names and
 * shapes them: query/kernel (Dq, heads, key_dim), query/bias (heads, key_dim),
 * key/..., value/kernel (Dv, heads, value_dim), output/kernel
 * (heads, value_dim, Dq), output/bias (Dq). */
VT_API vt_node *vt_multi_head_attention(vt_node *query, vt_node *value, vt_node *key, vt_node *mask,
                                        const vt_mha_config *cfg, const char *name);

/* LayerNormalization over the last axis; epsilon <= 0 means Keras' 1e-3.
 * Weights "gamma" ones and "beta" zeros. */
VT_API vt_node *vt_layer_norm(vt_node *x, float epsilon, const char *name);

/* Dropout(rate), rate in [0, 1); identity outside training. */
VT_API vt_node *vt_dropout(vt_node *x, float rate, const char *name);

/* Add: element-wise a + b of identical shapes (a residual connection). */
VT_API vt_node *vt_add(vt_node *a, vt_node *b, const char *name);

/* ---- the model ------------------------------------------------------------ */

/* A model from `inputs` (Input nodes, in the order data will be given) to
 * `output`. Takes ownership of g, also on failure. Allocates all parameters
 * in one buffer (and their gradients in another) and initialises them from
 * `seed` 0 (see vt_model_init_weights). NULL on failure. */
VT_API vt_model *vt_model_new(vt_graph *g, int n_inputs, vt_node *const *inputs, vt_node *output, const char *name);
VT_API void vt_model_free(vt_model *m);

/* Re-initialises every parameter deterministically from seed. */
VT_API void vt_model_init_weights(vt_model *m, uint64_t seed);

/* Prints the Keras-style table: Layer (type) | Output Shape | Param #, then
 * Total / Trainable / Non-trainable params. */
VT_API void vt_model_summary(const vt_model *m, FILE *out);

VT_API int64_t vt_model_param_count(const vt_model *m, bool trainable_only);

/* Freezes or unfreezes the parameters of one layer by name. */
VT_API vt_status vt_model_set_trainable(vt_model *m, const char *layer_name, bool trainable);

/* The flat parameter and gradient buffers (n_floats each), and the named
 * slices within them. Pointers stay valid for the model's life. */
VT_API float *vt_model_params(vt_model *m, int64_t *n_floats);
VT_API float *vt_model_grads(vt_model *m, int64_t *n_floats);
VT_API const vt_param_info *vt_model_param_infos(const vt_model *m, size_t *n_params);
/* A view of one parameter ("dense/kernel"); data NULL if there is none. */
VT_API vt_tensor vt_model_param(vt_model *m, const char *name);
VT_API vt_tensor vt_model_param_grad(vt_model *m, const char *name);

/* ---- training ------------------------------------------------------------- */

typedef enum vt_loss_kind {
    VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY = 0,
    VT_LOSS_BINARY_CROSSENTROPY,
    VT_LOSS_MEAN_SQUARED_ERROR,
} vt_loss_kind;

typedef struct vt_loss {
    vt_loss_kind kind;
    /* Cross-entropies: true if the model outputs logits. Otherwise the output
     * holds probabilities; when it comes from a softmax (sigmoid) Dense the
     * loss is computed from that layer's logits, exactly and stably. */
    bool from_logits;
} vt_loss;

typedef enum vt_metric {
    VT_METRIC_NONE = 0,
    VT_METRIC_ACCURACY = 1, /* sparse categorical or binary, after the loss */
} vt_metric;

/* Sets optimizer, loss and metric; resets optimizer state. The output must
 * suit the loss (e.g. sparse CE needs a last axis of classes). */
VT_API vt_status vt_model_compile(vt_model *m, const vt_optimizer_config *opt, vt_loss loss, vt_metric metric);

/* Keras strings: optimizer "sgd" | "adam" | "adamw"; loss
 * "sparse_categorical_crossentropy" | "binary_crossentropy" | "mse"
 * (also "mean_squared_error"); metrics "accuracy" or NULL. */
VT_API vt_status vt_model_compile_named(vt_model *m, const char *optimizer, const char *loss, const char *metrics);

typedef struct vt_fit_options {
    int epochs;                  /* >= 1 */
    int64_t batch_size;          /* >= 1; 0 means 32 */
    bool no_shuffle;             /* default: shuffle each epoch */
    float validation_split;      /* last fraction of x/y held out, as Keras */
    const vt_tensor *const *validation_x; /* or explicit validation data */
    const vt_tensor *validation_y;
    uint64_t seed;               /* shuffling and dropout */
    int verbose;                 /* 0 silent, 1 progress bar on a terminal else a line per epoch, 2 line per epoch */
    FILE *out;                   /* NULL means stdout */
} vt_fit_options;

#define VT_HISTORY_MAX 1024
typedef struct vt_history {
    int epochs;                  /* epochs recorded */
    /* per epoch (the first VT_HISTORY_MAX); NaN where absent */
    double loss[VT_HISTORY_MAX], metric[VT_HISTORY_MAX], val_loss[VT_HISTORY_MAX], val_metric[VT_HISTORY_MAX];
} vt_history;

/* Trains on x (one tensor per model input, batch first) and y (labels:
 * int32 (B, ...) for sparse CE, float32 shaped like the output otherwise).
 * Stops with VT_ERR_NUMERIC naming epoch and step if the loss is NaN or
 * infinite. history may be NULL. */
VT_API vt_status vt_model_fit(vt_model *m, const vt_tensor *const *x, const vt_tensor *y,
                              const vt_fit_options *opts, vt_history *history);

/* Mean loss and metric over x/y in batches (metric NaN without one). */
VT_API vt_status vt_model_evaluate(vt_model *m, const vt_tensor *const *x, const vt_tensor *y, int64_t batch_size,
                                   double *loss, double *metric);

/* The model's output for x, computed in batches; a new tensor (caller frees). */
VT_API vt_tensor *vt_model_predict(vt_model *m, const vt_tensor *const *x, int64_t batch_size);

/* Lower level, for custom loops and tests. Forward over one batch (x as in
 * fit); *out points at the model's output (valid until the next call). */
VT_API vt_status vt_model_forward(vt_model *m, const vt_tensor *const *x, bool training, uint64_t seed,
                                  const vt_tensor **out);
/* After a training forward: zeroes gradients, computes the compiled loss
 * against y (*loss, *metric may be NULL) and backpropagates into the
 * gradient buffer (and into float inputs' gradients, see below). */
VT_API vt_status vt_model_backward(vt_model *m, const vt_tensor *y, double *loss, double *metric);
/* One optimizer update from the current gradients. */
VT_API vt_status vt_model_apply_gradients(vt_model *m, float *grad_norm);
/* Gradient of the loss w.r.t. float input i after vt_model_backward (view). */
VT_API vt_tensor vt_model_input_grad(vt_model *m, int i);

/* ---- files ---------------------------------------------------------------- */

/* Writes DIR/model.json (architecture) and DIR/model.safetensors (weights),
 * each atomically; creates DIR if needed. */
VT_API vt_status vt_model_save(const vt_model *m, const char *dir);
/* Rebuilds a model saved by vt_model_save (not compiled). NULL on error,
 * naming the file and what is wrong. */
VT_API vt_model *vt_model_load(const char *dir);
/* Loads weights into an existing model: every parameter must be present with
 * its shape, and nothing else may be in the file. */
VT_API vt_status vt_model_load_weights(vt_model *m, const char *safetensors_path);

#ifdef __cplusplus
}
#endif
#endif
