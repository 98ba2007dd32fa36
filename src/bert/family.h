/* What sets the encoder families apart (family.c): Hugging Face's names for
 * every parameter, the heads' variants and the few places the computation
 * differs. Everything else is one implementation (src/bert/, src/blocks/). */
#ifndef VERTO_BERT_FAMILY_H
#define VERTO_BERT_FAMILY_H

#include <stdbool.h>

#include "verto/bert.h"

/* How many vt_bert_arch values there are. */
#define BERT_N_ARCHS ((int)VT_BERT_FOR_QUESTION_ANSWERING + 1)

/* A row of the model summary: the parameters under `prefix`, shown as a
 * module of `type` with an output shape of kind `shape`, in architecture
 * `arch` (-1: any). */
typedef enum bert_shape_kind { SHAPE_SEQ_H, SHAPE_VEC_H, SHAPE_SEQ_V, SHAPE_NSP, SHAPE_LABELS } bert_shape_kind;
typedef struct bert_summary_row {
    const char *prefix, *type;
    bert_shape_kind shape;
    int arch;
} bert_summary_row;

typedef struct bert_family_info {
    vt_bert_family id;
    const char *model_type;   /* config.json's model_type */
    const char *classes;      /* the Hugging Face classes' prefix: "Bert" -> BertModel, BertForMaskedLM, ... */
    const char *base;         /* the encoder's tensors in a task model: "bert." (none in the base model's own file) */
    const char *display;      /* in messages: "BERT", "RoBERTa", ... */

    /* The encoder, as the base model names it (modules; ".weight"/".bias" follow). */
    const char *word_emb, *pos_emb, *type_emb; /* type_emb NULL: no token types */
    const char *emb_ln;
    const char *layer;        /* layer l's prefix, a printf format of a long long: "encoder.layer.%lld." */
    const char *query, *key, *value, *attn_out, *attn_ln, *inter, *out, *out_ln; /* in a layer */
    const char *layer_class;  /* "BertLayer", "TransformerBlock" (summary) */
    const char *emb_class;    /* "BertEmbeddings", "Embeddings" (summary) */
    const char *pooler;       /* the base model's pooler ("pooler.dense"), NULL if it has none */

    /* Heads (modules, stored without the base prefix). */
    const char *mlm_dense, *mlm_ln; /* the MLM transform: dense, activation, LayerNorm */
    const char *mlm_bias;     /* the decoder's bias parameter (full name) */
    const char *mlm_decoder;  /* the decoder module, tied to the word embeddings: its weight (and its
                               * bias, when that is not mlm_bias) may be stored as copies */
    const char *nsp;          /* BERT's next-sentence head, NULL where the family has no pretraining class */
    const char *seq_dense;    /* the sequence classifier's own dense layer before its output, NULL: the pooler */
    const char *seq_out;      /* the sequence classifier's output layer */
    const char *tok_out;      /* the token classifier's output layer */
    const char *qa_out;       /* question answering's output layer (start and end logits) */
    const char *const *heads; /* top-level prefixes of every head's tensors (NULL-terminated) */
    const bert_summary_row *summary_heads; /* (NULL-terminated prefix) */

    /* Where the computation differs. */
    bool positions_after_padding; /* position ids pad+1, pad+2, ... over non-pad tokens, pad at pad tokens */
    bool attn_output_dropout;     /* dropout on the attention's output before its residual */
    vt_activation seq_dense_act;  /* of seq_dense (tanh, ReLU) */
    bool seq_dense_input_dropout; /* dropout before seq_dense as well as after it (RoBERTa) */
    bool mlm_act_is_gelu;         /* the MLM transform uses exact GELU whatever hidden_act (RoBERTa) */
} bert_family_info;

/* The table entry of a family (BERT's for an unknown value). */
const bert_family_info *bert_family(vt_bert_family family);

/* The family whose classes `name` belongs to ("RobertaForMaskedLM" -> RoBERTa);
 * false if none. */
bool bert_family_of_class(const char *name, vt_bert_family *out);

/* The architecture of class `name` in family f; false if f has no such class. */
bool bert_family_arch_parse(const bert_family_info *f, const char *name, vt_bert_arch *out);

/* Whether f has architecture a (only BERT has ForPreTraining). */
bool bert_family_has_arch(const bert_family_info *f, vt_bert_arch a);

/* The classes f has, for messages: "RobertaModel, RobertaForMaskedLM, ...". */
const char *bert_family_arch_list(const bert_family_info *f);

/* Whether `name` (without the base prefix) is a head's tensor. */
bool bert_family_is_head(const bert_family_info *f, const char *name);

#endif
