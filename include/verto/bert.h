/* BERT and its family of encoders (RoBERTa, XLM-RoBERTa, DistilBERT): the
 * encoder, its pretraining and task heads, and Hugging Face model directories.
 *
 * The families share one post-LN Transformer encoder; each is a model_type in
 * config.json with Hugging Face's config keys and parameter names, and differs
 * where it does: RoBERTa's position ids count from pad_token_id + 1 and its
 * heads are lm_head and a two-layer classifier; DistilBERT has no token types,
 * no pooler and its own names and keys (src/bert/family.c has the table).
 *
 * A vt_bert holds a BertConfig, all parameters in one flat buffer (and the
 * gradients in another) with Hugging Face's names and shapes (Linear weights
 * are (out_features, in_features)), and the activation arena of the last batch
 * shape. The compute is written directly on libverto's kernels (oneDNN
 * matmul, fused attention, layernorm, GELU) with the backward beside the
 * forward, in src/bert/. */
#ifndef VERTO_BERT_H
#define VERTO_BERT_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"
#include "verto/kernels.h"
#include "verto/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_BERT_MAX_LABELS 256
#define VT_BERT_LABEL_MAX 64

/* Which heads the model carries (Hugging Face's class of the same name, in
 * the model's family: BertModel, RobertaModel, DistilBertModel, ...). */
typedef enum vt_bert_arch {
    VT_BERT_MODEL = 0,              /* BertModel: encoder + pooler (RobertaModel too; DistilBertModel has none) */
    VT_BERT_FOR_PRETRAINING,        /* + MLM head + NSP head (BERT only) */
    VT_BERT_FOR_MASKED_LM,          /* + MLM head */
    VT_BERT_FOR_SEQUENCE_CLASSIFICATION, /* + dropout + classifier on the pooled output (RoBERTa: on a
                                          * dense + tanh of the first token; DistilBERT: dense + ReLU) */
    VT_BERT_FOR_TOKEN_CLASSIFICATION,    /* + dropout + classifier on every token */
    VT_BERT_FOR_QUESTION_ANSWERING,      /* + qa_outputs (2 outputs: span start and end) on every token (no pooler;
                                          * DistilBERT: with its qa_dropout before it) */
} vt_bert_arch;

/* What a sequence classifier's loss is (config.json's problem_type, as
 * transformers' *ForSequenceClassification reads it). */
typedef enum vt_bert_problem {
    VT_PROBLEM_UNSET = 0,    /* null: the first loss decides and records it, as transformers does: the labels
                              * field the batch gives (labels: single-label, multi_labels: multi-label,
                              * regression_targets: regression) */
    VT_PROBLEM_REGRESSION,   /* "regression": MSE over regression_targets (B, num_labels) */
    VT_PROBLEM_SINGLE_LABEL, /* "single_label_classification": softmax cross-entropy over labels (B) */
    VT_PROBLEM_MULTI_LABEL,  /* "multi_label_classification": BCE with logits over multi_labels (B, num_labels),
                              * the mean over all B * num_labels elements */
} vt_bert_problem;

/* "regression", "single_label_classification", "multi_label_classification"
 * (NULL for VT_PROBLEM_UNSET); and back (false if unknown). */
VT_API const char *vt_bert_problem_name(vt_bert_problem p);
VT_API bool vt_bert_problem_parse(const char *name, vt_bert_problem *out);

/* "BertForPreTraining", ... (BERT's names); and back (false if unknown). */
VT_API const char *vt_bert_arch_name(vt_bert_arch arch);
VT_API bool vt_bert_arch_parse(const char *name, vt_bert_arch *out);

/* The encoder families: config.json's model_type. */
typedef enum vt_bert_family {
    VT_FAMILY_BERT = 0,    /* "bert": Bert* classes, encoder tensors under "bert." */
    VT_FAMILY_ROBERTA,     /* "roberta": Roberta* under "roberta."; no ForPreTraining */
    VT_FAMILY_XLM_ROBERTA, /* "xlm-roberta": RoBERTa's architecture as XLMRoberta* under "roberta." */
    VT_FAMILY_DISTILBERT,  /* "distilbert": DistilBert* under "distilbert."; no token types, no pooler */
} vt_bert_family;

/* "bert", "roberta", "xlm-roberta", "distilbert"; and back (false if unknown). */
VT_API const char *vt_bert_family_name(vt_bert_family family);
VT_API bool vt_bert_family_parse(const char *model_type, vt_bert_family *out);

/* The fields are BertConfig's; DistilBERT's keys map onto them (dim ->
 * hidden_size, n_layers -> num_hidden_layers, n_heads -> num_attention_heads,
 * hidden_dim -> intermediate_size, activation -> hidden_act, dropout ->
 * hidden_dropout_prob, attention_dropout -> attention_probs_dropout_prob;
 * type_vocab_size 0: no token type embeddings, token_type_ids are ignored;
 * layer_norm_eps its fixed 1e-12). */
typedef struct vt_bert_config {
    vt_bert_family family;          /* model_type (VT_FAMILY_BERT when config.json has none) */
    int64_t vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size;
    int64_t max_position_embeddings, type_vocab_size, pad_token_id;
    vt_activation hidden_act;       /* VT_ACT_GELU ("gelu"), VT_ACT_GELU_TANH ("gelu_new"); DistilBERT also VT_ACT_RELU */
    float layer_norm_eps, hidden_dropout_prob, attention_probs_dropout_prob, initializer_range;
    float classifier_dropout;       /* < 0: use hidden_dropout_prob (HF's null); not DistilBERT's */
    /* DistilBERT only: */
    bool sinusoidal_pos_embds;      /* position embeddings start as transformers' fixed sinusoidal table
                                     * (and then train, as transformers 5 leaves them trainable) */
    float seq_classif_dropout;      /* DistilBertForSequenceClassification's dropout before the classifier */
    float qa_dropout;               /* DistilBertForQuestionAnswering's dropout before qa_outputs */
    vt_bert_arch arch;
    int num_labels;                 /* classification heads (1: regression unless problem_type says otherwise);
                                     * 2 for question answering (start, end), as transformers requires */
    vt_bert_problem problem_type;   /* the sequence classifier's loss (kept, and written, for any architecture) */
    char id2label[VT_BERT_MAX_LABELS][VT_BERT_LABEL_MAX];
} vt_bert_config;

/* The Hugging Face class of c's family and architecture: "BertForPreTraining",
 * "RobertaForMaskedLM", "XLMRobertaModel", "DistilBertForSequenceClassification";
 * "unknown" for a combination that does not exist (RoBERTa pretraining). */
VT_API const char *vt_bert_config_arch_name(const vt_bert_config *c);

/* The most tokens an input may have: max_position_embeddings, less
 * pad_token_id + 1 for RoBERTa and XLM-RoBERTa, whose positions count from
 * pad_token_id + 1 (514 positions and pad 1: 512 tokens). */
VT_API int32_t vt_bert_max_length(const vt_bert_config *c);

/* How many tokens inputs are truncated to: `requested` when > 0, else the
 * tokenizer's model_max_length (what fine-tuning recorded), never more than
 * vt_bert_max_length. */
VT_API int32_t vt_bert_input_length(const vt_bert_config *c, int64_t requested, int64_t tokenizer_max_length);

/* Hugging Face's BertConfig defaults (bert-base-uncased) with the given
 * architecture, 2 labels named LABEL_0, LABEL_1. */
VT_API void vt_bert_config_default(vt_bert_config *c, vt_bert_arch arch);
/* The defaults of the family's config class (RobertaConfig, XLMRobertaConfig,
 * DistilBertConfig: what transformers assumes for a key config.json lacks). */
VT_API void vt_bert_config_default_family(vt_bert_config *c, vt_bert_family family, vt_bert_arch arch);

/* Named sizes: "tiny" L2/H128/A2, "mini" L4/H256/A4, "small" L4/H512/A8,
 * "medium" L8/H512/A8, "base" L12/H768/A12 (intermediate 4H, 512
 * positions, 2 token types); "FAMILY-SIZE" ("roberta-tiny", "xlm-roberta-base",
 * "distilbert-small", "bert-mini") is vt_bert_config_preset_family of that
 * family. VT_ERR_INVALID_ARG for other names. */
VT_API vt_status vt_bert_config_preset(vt_bert_config *c, const char *name, int64_t vocab_size);
/* The same sizes in a family, with its published models' conventions:
 * RoBERTa and XLM-RoBERTa pad_token_id 1, 514 positions (512 tokens), one
 * token type, layer_norm_eps 1e-5; DistilBERT no token types and "base" with
 * 6 layers (distilbert-base). VT_FAMILY_BERT is vt_bert_config_preset. */
VT_API vt_status vt_bert_config_preset_family(vt_bert_config *c, vt_bert_family family, const char *name,
                                              int64_t vocab_size);

/* Reads config.json (strict: types and ranges checked; unknown keys are
 * accepted, as transformers does, since real configs carry many). The keys
 * read are those of model_type's config class. Errors name the file and key. */
VT_API vt_status vt_bert_config_read(const char *path, vt_bert_config *c);
/* Parses config JSON text; `label` names it in errors (the fuzzer's entry). */
VT_API vt_status vt_bert_config_parse(const char *json, size_t len, const char *label, vt_bert_config *c);
/* Writes config.json as transformers does (atomically), with the family's
 * model_type, class names and keys. */
VT_API vt_status vt_bert_config_write(const char *path, const vt_bert_config *c);
/* Consistency: sizes positive, hidden divisible by heads, known activation,
 * an architecture the family has, RoBERTa's padding_idx below its positions,
 * 2 labels for question answering, 2 or more for single-label classification. */
VT_API vt_status vt_bert_config_check(const vt_bert_config *c, const char *label);

typedef struct vt_bert vt_bert;

/* A model with freshly initialised weights: normal(0, initializer_range)
 * for matrices and embeddings, zeros for biases, LayerNorm 1 and 0, the
 * padding token's embedding row zero (as transformers' _init_weights). */
VT_API vt_bert *vt_bert_new(const vt_bert_config *c, uint64_t seed);
VT_API void vt_bert_free(vt_bert *b);
VT_API const vt_bert_config *vt_bert_get_config(const vt_bert *b);

/* Loads DIR/config.json + DIR/model.safetensors. `arch` overrides the
 * architecture in the config (-1 keeps it): loading a pretraining checkpoint
 * as a classifier drops the unused heads and initialises the new one from
 * `seed`, as from_pretrained(num_labels=...) does (num_labels > 0 overrides,
 * and a changed count clears problem_type; question answering takes 2 labels
 * when num_labels is 0).
 * Accepts the real-world name variants: the family's prefix ("bert.",
 * "roberta.", "distilbert.") or none, LayerNorm.gamma/beta, a missing or
 * stored tied decoder, position_ids buffers, F32/F16/BF16 tensors. Missing or
 * mis-shaped tensors are errors naming file and tensor. */
VT_API vt_bert *vt_bert_load(const char *dir, int arch, int num_labels, uint64_t seed);
/* Writes DIR/config.json and DIR/model.safetensors (HF names, atomically),
 * loadable by transformers' from_pretrained with no missing or unexpected keys. */
VT_API vt_status vt_bert_save(const vt_bert *b, const char *dir);

/* What a load did besides reading every parameter, for the caller to report
 * (the library prints nothing): parameters the file lacked and that keep their
 * fresh initialisation (a new classifier, a pooler or MLM head absent from the
 * checkpoint: from_pretrained's "newly initialized"), and tensors of heads the
 * architecture does not use (from_pretrained's "unused weights"). Names are
 * as in the file; the first VT_BERT_LOAD_NOTES of each are kept. */
#define VT_BERT_LOAD_NOTES 32
typedef struct vt_bert_load_info {
    int n_new, n_unused;
    char new_params[VT_BERT_LOAD_NOTES][96];
    char unused[VT_BERT_LOAD_NOTES][96];
} vt_bert_load_info;
/* vt_bert_load that also fills *info (may be NULL). */
VT_API vt_bert *vt_bert_load_ex(const char *dir, int arch, int num_labels, uint64_t seed, vt_bert_load_info *info);

/* Copies the tokenizer files that exist in src_dir (vocab.txt, tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json, added_tokens.json,
 * vocab.json, merges.txt, sentencepiece.bpe.model) into
 * dst_dir (created if needed), each atomically. Absent ones are skipped.
 * config_overrides (NULL: none) is a JSON object whose keys replace or add
 * those of the copied tokenizer_config.json (written even when src_dir has
 * none), e.g. {"model_max_length": 128} after fine-tuning at that length.
 * dst_dir then holds tokenizer.json, and vocab.txt for a WordPiece
 * (vt_tok_complete_dir). */
VT_API vt_status vt_bert_copy_tokenizer_files(const char *src_dir, const char *dst_dir, const char *config_overrides);

/* ---- parameters ---- */

typedef struct vt_bert_param {
    char name[96];     /* HF name without the family's prefix, e.g. "encoder.layer.0.attention.self.query.weight",
                        * "transformer.layer.0.attention.q_lin.weight" (DistilBERT) */
    int ndim;
    int64_t shape[2];
    float *data, *grad;
    bool no_decay;     /* bias or LayerNorm: excluded from weight decay */
} vt_bert_param;

VT_API size_t vt_bert_param_count(const vt_bert *b);
VT_API vt_bert_param *vt_bert_param_at(vt_bert *b, size_t i);
VT_API vt_bert_param *vt_bert_param_find(vt_bert *b, const char *name);
/* The flat buffers (n floats each). */
VT_API float *vt_bert_params(vt_bert *b, int64_t *n);
VT_API float *vt_bert_grads(vt_bert *b, int64_t *n);
/* Slices for the optimizer (names as above; no_decay ones listed so a
 * vt_optimizer_config can exclude them by the "bias"/"LayerNorm" patterns). */
VT_API const vt_param_info *vt_bert_param_infos(const vt_bert *b, size_t *n);
/* Sets the sequence classifier's problem type (what its loss is) before
 * training; VT_PROBLEM_UNSET lets the next loss decide. VT_ERR_INVALID_ARG
 * for another architecture or single-label classification with 1 label. */
VT_API vt_status vt_bert_set_problem_type(vt_bert *b, vt_bert_problem p);
/* Names the classifier's labels (id2label); n must equal num_labels and each
 * name fit VT_BERT_LABEL_MAX - 1 bytes. */
VT_API vt_status vt_bert_set_labels(vt_bert *b, const char *const *names, int n);
/* Freezes the embeddings and the first k encoder layers (k <= 0: none). */
VT_API void vt_bert_freeze_layers(vt_bert *b, int k);
/* Prints the Keras-style table of the model's layers and parameter counts. */
VT_API void vt_bert_summary(const vt_bert *b, FILE *out);

/* ---- precision ---- */

/* What the matrix products run in (the dense layers' and the attention's).
 * bf16 rounds their operands (weights, inputs, Q/K/V, attention
 * probabilities and the output gradients) to bfloat16 and accumulates in
 * f32; parameters, gradients, optimizer state, LayerNorm, softmax, dropout and
 * losses stay f32. It roughly halves the time of those products on CPUs with
 * AVX512-BF16 (or AMX); elsewhere the same arithmetic is emulated in f32, at
 * fp32's speed (vt_bf16_native() in verto/platform.h), so a model trained in
 * bf16 on one machine can be checked in bf16 on any.
 *
 * int8 (inference only) runs the encoder layers' dense layers with int8 weights, one scale per output channel, and their inputs quantized per
 * row at run time (verto/int8.h); the attention's products, embeddings,
 * LayerNorm, softmax, the pooler and the heads stay f32. Setting it quantizes the current
 * f32 weights (set it again after changing parameters); a model loaded from
 * an int8 directory (verto quantize) is already int8, with the directory's
 * codes. A training forward in int8 fails (VT_ERR_UNSUPPORTED). */
typedef enum vt_precision { VT_PRECISION_FP32 = 0, VT_PRECISION_BF16 = 1, VT_PRECISION_INT8 = 2 } vt_precision;

VT_API const char *vt_precision_name(vt_precision p);
/* "fp32"/"float32", "bf16"/"bfloat16" or "int8"; false for anything else. */
VT_API bool vt_precision_parse(const char *name, vt_precision *out);
/* Sets the model's precision (fp32 on creation and load). bf16 keeps a bf16
 * copy of the parameters, refreshed by the next forward after any call that
 * hands out parameter memory (vt_bert_params, vt_bert_param_at,
 * vt_bert_param_find): fetch the pointer again after writing through an old
 * one. Fails only when memory for the bf16 copy runs out. */
VT_API vt_status vt_bert_set_precision(vt_bert *b, vt_precision p);
VT_API vt_precision vt_bert_get_precision(const vt_bert *b);
/* Writes out_dir (created if needed, not dir itself) as dir's model in int8:
 * a Hugging Face directory whose config.json carries "quantization_config"
 * (the scheme of verto/int8.h), whose model.safetensors holds each quantized
 * dense weight `<name>.weight` as I8 (out, in) beside `<name>.weight_scale`,
 * F32 (out), and every other parameter in F32; the tokenizer files copied.
 * vt_bert_save of an int8 model writes the same layout; vt_bert_load reads it
 * back as an int8 model with the same codes. Each file is written atomically. */
VT_API vt_status vt_bert_quantize_dir(const char *dir, const char *out_dir);

/* ---- running ---- */

typedef struct vt_bert_batch {
    int64_t batch, seq_len;         /* B, T (each batch padded to its own longest) */
    const int32_t *input_ids;       /* (B, T) */
    const int32_t *token_type_ids;  /* (B, T) or NULL for zeros; ignored without token types (DistilBERT) */
    const int32_t *attention_mask;  /* (B, T) 1 = token, 0 = padding; NULL for all ones */
    const int32_t *position_ids;    /* (B, T) or NULL: the family's own (0 .. T-1; RoBERTa's after padding_idx) */
    /* (B, T, H) or NULL: used as the embeddings' output instead of computing
     * it from the ids (explanations interpolate it); a backward then stops
     * above the embeddings. */
    const float *embedding_output;
    /* Labels (NULL where not used): */
    const int32_t *mlm_labels;      /* (B, T): the original id at masked positions, -100 elsewhere */
    const int32_t *mlm_select;      /* (B, T) without labels: non-zero where the MLM head should run; NULL: everywhere */
    const int32_t *nsp_labels;      /* (B): 0 = B follows A, 1 = random */
    const int32_t *labels;          /* (B) classes, or (B, T) for token classification (-100 ignored) */
    const float *regression_targets;/* (B, num_labels): regression (problem_type regression, or num_labels 1) */
    const float *multi_labels;      /* (B, num_labels) multi-hot targets in [0, 1]: multi-label classification */
    const float *class_weights;     /* (num_labels) or NULL: single-label and token classification only */
    /* Question answering: the answer's first and last token (B) each, given
     * together. As transformers: clamped to [0, T], T (the input's length, so
     * any position past the input) ignored; negative ones count as 0. */
    const int32_t *start_positions, *end_positions;
    /* A sequence classifier or BertModel: the last layer computes only
     * position 0 of each sequence (all the pooler reads), about 1/L of the
     * work less, forward and backward; the same logits and gradients.
     * last_hidden_state is then (B, H). */
    bool cls_only;
    /* Outside training too, one product over the whole batch instead of each
     * sequence's rows on their own: faster for many short sequences, but a
     * sequence's last bits then depend on its batch (explanations' path points). */
    bool one_product;
    /* (batch + 1) or NULL. A packed batch: sequences of different lengths
     * with no padding, sequence i being rows offsets[i] .. offsets[i+1] - 1
     * of input_ids and token_type_ids (offsets[batch] rows each); offsets[0]
     * = 0, every sequence 1 to vt_bert_max_length tokens; seq_len is unused.
     * Each sequence attends over its own tokens only. Outside training its
     * outputs are the bits it gets alone in a batch of one (fp32, bf16 and
     * int8 alike); in training the loss and gradients are those of the same
     * sequences padded (up to the sums' order; the dropout masks differ).
     * The outputs are packed the same way: embedding_output, position_ids and
     * last_hidden_state (offsets[batch], H) (or (B, H) with cls_only), a
     * token classifier's logits and labels (offsets[batch], num_labels),
     * start_logits and end_logits (offsets[batch]). Labels of the sequence
     * and token classifiers are taken (the offsets must stay valid until the
     * backward), and DP-SGD's per-example backward passes run on them; not
     * attention_mask, position_ids, embedding_output, one_product, the MLM
     * or NSP heads, question answering's positions (VT_ERR_INVALID_ARG). */
    const int64_t *offsets;
} vt_bert_batch;

typedef struct vt_bert_outputs {
    const float *embedding_output;  /* (B, T, H) the embeddings' output (after their LayerNorm and dropout) */
    const int32_t *position_ids;    /* (B, T) the positions the embeddings used */
    const float *last_hidden_state; /* (B, T, H); (B, H) with cls_only */
    const float *pooled;            /* (B, H) the base model's pooler output, NULL without one (token
                                     * classifiers, masked LMs, RoBERTa's sequence classifier, DistilBERT) */
    const float *mlm_logits;        /* (B, T, V) all positions, or (P, V) masked positions only (see below) */
    int64_t mlm_rows;               /* rows of mlm_logits */
    const float *nsp_logits;        /* (B, 2) */
    const float *logits;            /* (B, num_labels) or (B, T, num_labels) (question answering: (B, T, 2)) */
    const float *start_logits, *end_logits; /* (B, T) each: question answering's two outputs */
    double loss, mlm_loss, nsp_loss; /* with labels given; NaN otherwise (question answering: the mean of the
                                      * start and end positions' cross-entropies) */
    int64_t mlm_correct, mlm_count, nsp_correct; /* accuracy counters */
    int64_t correct;                /* rows (tokens) whose argmax is the label; multi-label: elements whose
                                     * logit > 0 is target > 0.5; question answering: rows with both
                                     * positions counted and both argmaxes right */
} vt_bert_outputs;

/* Runs the model on a batch. training enables dropout (seeded by `seed`).
 * With mlm_labels given, the MLM head runs only at labelled positions (the
 * decoder over the vocabulary is the costliest matmul); without, at the
 * positions mlm_select marks, or at all. mlm_logits row i belongs to the i-th
 * such position in (b, t) order. Losses are computed for whichever labels are given; total loss =
 * mlm + nsp for pretraining, the task loss otherwise. Outputs point into the
 * model's arena, valid until the next call. */
VT_API vt_status vt_bert_forward(vt_bert *b, const vt_bert_batch *batch, bool training, uint64_t seed,
                                 vt_bert_outputs *out);

/* Backpropagates the loss of the last forward (which must have had labels)
 * into the gradient buffer, which it zeroes first unless `accumulate`. */
VT_API vt_status vt_bert_backward(vt_bert *b, bool accumulate);

/* DP-SGD's per-example passes over the last forward of a sequence or token
 * classifier (with labels, over token ids), or of masked-LM pretraining (a
 * padded batch with mlm_labels, nsp_labels optional): each example's own
 * loss is the one it would have alone (a mean over its own labels, labelled
 * tokens or masked positions, not the batch's).
 * With sq_norm (B) not NULL: sq_norm[i] = the squared norm of example i's
 * gradient over the trainable parameters, computed without forming it (Gram
 * matrices for the dense layers, the touched rows of the embedding tables);
 * the gradient buffer is left undefined. Otherwise: the gradient buffer =
 * the gradient of sum_i weight[i] * loss_i (weight NULL: all 1). Either may
 * be called any number of times after one forward. */
VT_API vt_status vt_bert_backward_examples(vt_bert *b, const double *weight, double *sq_norm);

/* DP-SGD book-keeping (Bu et al. 2023) over the same last forward: one
 * backward that fills sq_norm (B) as vt_bert_backward_examples does and keeps
 * what every trainable parameter's gradient needs per example (each dense
 * layer's output gradient, (rows, out); each LayerNorm's per-example sums;
 * the embeddings' input gradient (B*T, H)) in memory the model owns and
 * reuses; the gradient buffer is left undefined. Then
 * vt_bert_bookkeeping_gradient sets the gradient buffer to the gradient of
 * sum_i weight[i] * loss_i (weight (B)) from what was kept: one product per
 * dense layer on the row-scaled output gradients, no second backward. It may
 * be called once per book-keeping backward (VT_ERR_STATE otherwise, or after
 * another forward). */
VT_API vt_status vt_bert_backward_bookkeeping(vt_bert *b, double *sq_norm);
VT_API vt_status vt_bert_bookkeeping_gradient(vt_bert *b, const double *weight);

/* The gradient of a function of the task head's logits with respect to the
 * embeddings' output, for the last forward (labels or none): d_logits is that
 * function's gradient with respect to vt_bert_outputs.logits, (B, num_labels)
 * for a sequence classifier, (B, T, num_labels) per token (question
 * answering: (B, T, 2), start then end); d_embedding_output (B, T, H)
 * receives the gradient. Only input gradients are computed (no weight
 * products); the parameter gradient buffer is left undefined. The model needs
 * a task head (not BertModel or the pretraining heads). */
VT_API vt_status vt_bert_input_gradient(vt_bert *b, const float *d_logits, float *d_embedding_output);

/* The attention probabilities of encoder layer `layer` in the last forward,
 * (B, heads, T, T); NULL where that layer computed position 0 only (the last
 * layer of a cls_only batch), the forward was packed, or layer is out of
 * range. Valid until the next call. */
VT_API const float *vt_bert_attention_probs(const vt_bert *b, int64_t layer);

/* ---- data parallelism (see verto/dist.h) ---- */

/* The denominators of the losses' means over a batch. */
typedef struct vt_bert_loss_norm {
    double mlm;  /* MLM: labelled positions (label >= 0) */
    double nsp;  /* NSP: labelled rows */
    double task; /* classification: the class weights of the counted rows summed (1 each
                  * without weights, as PyTorch's weighted mean); regression and multi-label:
                  * rows * num_labels; question answering: counted start positions */
    double task_end; /* question answering: counted end positions */
} vt_bert_loss_norm;

/* The denominators `batch` has on its own (what vt_bert_forward divides by);
 * zeros for the losses the model or the batch lacks. */
VT_API void vt_bert_loss_norm_of(const vt_bert *b, const vt_bert_batch *batch, vt_bert_loss_norm *out);

/* vt_bert_forward for one part of a larger batch (the other parts on other
 * ranks): each loss is this part's sum divided by norm's denominator for the
 * whole batch, so the parts' losses (and gradients) add up to the mean over
 * the whole batch. A denominator <= 0 gives that loss 0 and no gradient.
 * norm NULL is exactly vt_bert_forward. The accuracy counters stay this
 * part's own. */
VT_API vt_status vt_bert_forward_ex(vt_bert *b, const vt_bert_batch *batch, bool training, uint64_t seed,
                                    const vt_bert_loss_norm *norm, vt_bert_outputs *out);

/* Called by vt_bert_backward_ex whenever the gradients grads[offset, offset +
 * count) of the flat buffer are final for this backward: the heads first, then
 * each encoder layer from the last to the first, then the embeddings (with
 * the tied MLM decoder). A backward that stops early at frozen layers does not
 * report the frozen ranges. */
typedef void (*vt_bert_grad_ready_fn)(void *ctx, int64_t offset, int64_t count);

/* vt_bert_backward that reports finished gradient ranges to ready (may be
 * NULL), so they can be sent to other ranks while the rest is computed. */
VT_API vt_status vt_bert_backward_ex(vt_bert *b, bool accumulate, vt_bert_grad_ready_fn ready, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
