/* Hugging Face model directories: what the config files (config.c,
 * config_read.c, config_write.c) tell each other and hf_dir.c beyond the
 * public vt_bert_config. */
#ifndef VERTO_BERT_HF_INTERNAL_H
#define VERTO_BERT_HF_INTERNAL_H

#include <stdbool.h>

#include "verto/bert.h"
#include "verto/safetensors.h"

/* Bounds that keep every size product far inside int64 (V*H <= 2^40). */
#define VT_BERT_MAX_VOCAB (1ll << 24)
#define VT_BERT_MAX_HIDDEN (1ll << 16)
#define VT_BERT_MAX_LAYERS 1024ll
#define VT_BERT_MAX_INTERMEDIATE (1ll << 20)
#define VT_BERT_MAX_POSITIONS (1ll << 20)
#define VT_BERT_MAX_TYPES (1ll << 16)

/* vt_bert_config_check, failing with status st (VT_ERR_FORMAT for a file). */
vt_status bert_config_check(const vt_bert_config *c, const char *label, vt_status st);

typedef struct bert_config_extra {
    char arch_name[64];       /* architectures[0] as written ("" if absent) */
    bool arch_known;          /* arch_name is one of verto's architectures (or absent) */
    bool tie_word_embeddings; /* "tie_word_embeddings" (default true; DistilBERT's "tie_weights_" too) */
} bert_config_extra;

/* Parses config JSON into *c and *x without the checks that depend on the
 * architecture finally used (an unknown class of the family, such as
 * BertForMultipleChoice, is recorded in x, not an error), so that the
 * loader can apply its overrides first. */
vt_status bert_config_parse_ex(const char *json, size_t len, const char *label, vt_bert_config *c,
                               bert_config_extra *x);

/* The architecture-dependent checks for the architecture in c->arch: a known
 * architecture when `need_known_arch`, tied word embeddings when the model has
 * an MLM head. Errors name `label`. */
vt_status bert_config_finish(const vt_bert_config *c, const bert_config_extra *x, const char *label,
                             bool need_known_arch);

/* vt_bert_config_write with a "quantization_config" key whose value is the
 * JSON text quantization_config (NULL: none). */
vt_status bert_config_write_ex(const char *path, const vt_bert_config *c, const char *quantization_config);

/* Matches the tensors of f (`file` in errors) to b's parameters and loads
 * them (F32, F16, BF16, F64; an int8 directory's I8 weights with their
 * scales); cfg_path names the config in shape errors. */
vt_status bert_load_weights(vt_bert *b, const vt_st_file *f, const char *file, const char *cfg_path,
                            vt_bert_load_info *info);

/* Regenerates the labels LABEL_0 .. LABEL_{n-1}. */
void bert_config_default_labels(vt_bert_config *c);

#endif
