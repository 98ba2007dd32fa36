/* Internal structure of graphs, nodes and models (not part of the public API).
 *
 * A graph is a list of nodes in creation order, which is a topological order
 * because a layer can only be applied to nodes that already exist. Each node
 * is one layer applied to its inputs; its behaviour comes from a vtable with
 * the forward and backward written side by side in src/nn/layer_<type>.c. */
#ifndef VERTO_NN_GRAPH_H
#define VERTO_NN_GRAPH_H

#include <cjson/cJSON.h>

#include "verto/arena.h"
#include "verto/model.h"
#include "verto/rng.h"

#define VT_NODE_MAX_INPUTS 4
#define VT_NODE_MAX_PARAMS 8
#define VT_NODE_MAX_WORK 12
#define VT_NAME_MAX 96

typedef enum vt_init {
    VT_INIT_ZEROS = 0,
    VT_INIT_ONES,
    VT_INIT_GLOROT_UNIFORM, /* limit sqrt(6 / (fan_in + fan_out)), fans as Keras computes them */
    VT_INIT_UNIFORM_005,    /* Keras' Embedding default: uniform(-0.05, 0.05) */
} vt_init;

typedef struct vt_param_slot {
    char name[VT_NAME_MAX]; /* "kernel", "query/bias", ... (prefixed by the layer name) */
    int ndim;
    int64_t shape[VT_MAX_DIMS];
    vt_init init;
    float *data, *grad;      /* views into the model's buffers */
} vt_param_slot;

/* Every layer's hyper-parameters, in one flat struct (unused fields zero). */
typedef struct vt_layer_config {
    int64_t units;             /* Dense */
    vt_activation activation;  /* Dense */
    int64_t input_dim, output_dim; /* Embedding */
    vt_mha_config mha;         /* MultiHeadAttention */
    vt_mask_kind mask_kind;    /* MultiHeadAttention, from the mask input's rank */
    int key_input, mask_input; /* MultiHeadAttention: index in inputs, or -1 */
    float epsilon;             /* LayerNormalization */
    float rate;                /* Dropout */
} vt_layer_config;

typedef struct vt_exec {
    bool training;
    uint64_t seed; /* per step; layers derive their dropout seeds from it */
} vt_exec;

struct vt_layer_vtable;

struct vt_node {
    vt_graph *graph;
    int id;                          /* position in the graph */
    char name[VT_NAME_MAX];
    const struct vt_layer_vtable *vt;
    vt_node *inputs[VT_NODE_MAX_INPUTS];
    int n_inputs;
    vt_layer_config cfg;
    vt_param_slot params[VT_NODE_MAX_PARAMS];
    int n_params;
    bool trainable;

    /* Symbolic output: batch first (VT_DIM_ANY), other dims maybe VT_DIM_ANY. */
    vt_dtype dtype;
    int ndim;
    int64_t shape[VT_MAX_DIMS];

    /* Planned for the current concrete input shapes (arena memory). */
    vt_tensor out;                   /* concrete output */
    float *grad;                     /* d loss / d out, same shape; NULL for int outputs */
    void *work[VT_NODE_MAX_WORK];    /* layer-private buffers (saved activations, ...) */
    bool loss_fused;                 /* the loss wrote d loss / d logits into this node's work */
    int64_t feed_shape[VT_MAX_DIMS]; /* Input only: the concrete shape of the data fed */
};

typedef struct vt_layer_vtable {
    const char *type; /* Keras class name, e.g. "Dense" */
    /* Sets n->out's concrete shape from the inputs' and reserves out, grad and
     * work buffers from the arena (which may be measuring: pointers NULL). */
    vt_status (*plan)(vt_node *n, vt_arena *arena);
    vt_status (*forward)(vt_node *n, const vt_exec *ex);
    /* Accumulates into the inputs' grads and the params' grads. */
    vt_status (*backward)(vt_node *n, const vt_exec *ex);
    /* Adds the layer's config fields to obj (save); reads them back (load). */
    void (*save_config)(const vt_node *n, cJSON *obj);
} vt_layer_vtable;

struct vt_graph {
    vt_node **nodes;
    int n_nodes, cap_nodes;
    vt_status first_error;      /* VT_OK or the first builder failure */
    char first_message[512];
};

struct vt_model {
    char name[VT_NAME_MAX];
    vt_graph *graph;
    vt_node *inputs[VT_NODE_MAX_INPUTS];
    int n_inputs;
    vt_node *output;
    vt_node **order;            /* the nodes the output depends on, in graph order */
    int n_order;

    float *params, *grads;      /* (n_floats) each: all parameters, all gradients */
    int64_t n_floats;
    vt_param_info *infos;       /* one per parameter tensor, names "layer/param" */
    char (*info_names)[2 * VT_NAME_MAX];
    size_t n_infos;

    vt_arena arena;             /* activations for the planned shapes */
    int64_t planned_shape[VT_NODE_MAX_INPUTS][VT_MAX_DIMS];
    bool planned;
    void *label_buf;            /* labels of the current batch (arena) */

    bool compiled;
    vt_optimizer_config opt_cfg;
    vt_optimizer *opt;
    vt_loss loss;
    vt_metric metric;
    vt_node *loss_logits;       /* Dense whose logits the loss reads (fused softmax/sigmoid) */
    bool forward_was_training;
    uint64_t last_seed;         /* of the last forward, for the matching backward */
    int64_t step;               /* optimizer steps taken by fit */
};

/* Dense's work buffers; the fused loss writes into VT_DENSE_WORK_DZ. */
enum { VT_DENSE_WORK_Z = 0, VT_DENSE_WORK_DZ = 1 };

/* ---- helpers for layer files (graph.c) ---- */

/* Creates a node of type `vt` in g applied to inputs (any may be NULL, for
 * optional ones, when `optional_mask` has its bit set). Returns NULL if a
 * required input is NULL (an earlier builder failed), an input belongs to
 * another graph, or the name is taken. name NULL: auto_prefix, auto_prefix_1... */
vt_node *vt_node_new(vt_graph *g, const vt_layer_vtable *vt, const char *name, const char *auto_prefix,
                     vt_node *const *inputs, int n_inputs);
/* The graph of the first non-NULL node among nodes (NULL if all are NULL). */
vt_graph *vt_graph_of(vt_node *const *nodes, int n);
/* Records a build error in the node's graph, frees nothing, returns NULL. */
vt_node *vt_node_fail(vt_graph *g, vt_status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Declares a parameter of the node. */
void vt_node_add_param(vt_node *n, const char *name, int ndim, const int64_t *shape, vt_init init);
/* Shape of a node as "(None, 10, 512)". */
const char *vt_node_shape_str(const vt_node *n, char *buf, size_t size);
/* Number of elements of a concrete tensor's rows: product of all dims but the last. */
int64_t vt_rows(const vt_tensor *t);
/* Reserves `count` elements of `size` bytes from the arena. */
void *vt_arena_array(vt_arena *a, int64_t count, size_t size);
/* Plans n->out (concrete shape given) plus its gradient buffer. */
void vt_node_plan_output(vt_node *n, vt_arena *a, int ndim, const int64_t *shape);
/* A per-node, per-step seed for dropout. */
uint64_t vt_node_seed(const vt_node *n, const vt_exec *ex);

/* The vtables, one per layer file, and lookup by Keras type name. */
extern const vt_layer_vtable VT_LAYER_INPUT, VT_LAYER_EMBEDDING, VT_LAYER_DENSE, VT_LAYER_MHA,
    VT_LAYER_LAYER_NORM, VT_LAYER_DROPOUT, VT_LAYER_ADD;
const vt_layer_vtable *vt_layer_find(const char *type);

#endif
