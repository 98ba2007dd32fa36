/* Causal-LM fine-tuning of a GPT-2 on prompt/completion pairs, with LoRA
 * adapters (verto/gpt2_lora.h) or all weights.
 *
 * Data: JSONL, one {"prompt": STRING, "completion": STRING} object a line
 * (other keys ignored; blank lines skipped). An example is the prompt's ids,
 * the completion's ids and the end-of-text id, each text encoded on its own
 * without special tokens; the loss covers the completion and the end-of-text
 * only (the prompt's labels are -100). A sequence longer than max_len loses
 * prompt tokens from the left (the completion is kept whole); one whose
 * completion and end-of-text alone pass max_len is refused (file:line). */
#ifndef VERTO_CAUSAL_LM_H
#define VERTO_CAUSAL_LM_H

#include "verto/export.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "verto/error.h"
#include "verto/gpt2_lora.h"
#include "verto/kernels.h"
#include "verto/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_clm_example {
    int32_t *ids;       /* (len) prompt ids, completion ids, eos */
    int32_t len;
    int32_t prompt_len; /* the first prompt_len ids carry no loss */
} vt_clm_example;

typedef struct vt_clm_set {
    vt_clm_example *ex; /* (n) */
    size_t n;
    size_t truncated;   /* examples whose prompt lost tokens on the left */
} vt_clm_set;

/* Reads prompt/completion JSONL text s[0..len) (label names it in errors:
 * "label:line: ..."), encodes it with tok, and appends nothing on error (the
 * set is emptied). eos_id is the end-of-text id; max_len >= 2. */
VT_API vt_status vt_clm_parse(const char *s, size_t len, const char *label, const vt_tokenizer *tok, int32_t max_len,
                              int32_t eos_id, vt_clm_set *out);
/* The same from a file ("-": standard input). */
VT_API vt_status vt_clm_load(const char *path, const vt_tokenizer *tok, int32_t max_len, int32_t eos_id,
                             vt_clm_set *out);
VT_API void vt_clm_free(vt_clm_set *s);

typedef struct vt_clm_options {
    const char *out_dir;      /* written: adapter (PEFT) or whole model, tokenizer files, metrics.jsonl */
    int64_t epochs, batch_size, grad_accum;
    float lr, warmup_ratio, weight_decay, max_grad_norm; /* max_grad_norm 0: no clipping */
    bool constant_schedule;   /* constant lr after the warmup's none; else linear warmup and decay */
    uint64_t seed;            /* adapter init, data order, dropout */
    vt_precision precision;   /* the base's matrix products (LoRA branches stay f32) */
    vt_gpt2_lora_config lora; /* rank 0: full fine-tuning */
    FILE *log;                /* progress lines (NULL: none) */
    int64_t save_every;       /* updates between checkpoints (0: at each epoch's end only) */
    int keep_checkpoints;     /* the newest kept (default 2) */
    bool resume;              /* continue from out_dir's latest checkpoint */
    const char *args_json;    /* the options as given, recorded in each checkpoint (may be NULL) */
} vt_clm_options;

/* epochs 1, batch 8, accumulation 1, lr 2e-4, warmup 0, decay 0, clipping 1.0,
 * seed 42, fp32, LoRA r 8, alpha 16, dropout 0.05 on c_attn; checkpoints at
 * each epoch's end, 2 kept. */
VT_API void vt_clm_options_default(vt_clm_options *o);

/* Fine-tunes the GPT-2 in model_dir on train with AdamW (no decay on biases
 * and LayerNorms), reports the dev loss and perplexity (exp of the mean
 * token loss) after each epoch when dev has examples, and writes out_dir:
 * adapter_config.json + adapter_model.safetensors (LoRA; base_model_name_or_path
 * = model_dir) or config.json + model.safetensors (rank 0), the tokenizer
 * files of model_dir, and metrics.jsonl. dev may be NULL.
 *
 * Checkpoints: out_dir/checkpoint-<update>/ holds the adapter (or the whole
 * model) as above plus the optimizer's state (verto/checkpoint.h), at every
 * save_every updates and at each epoch's end. With o->resume the run
 * continues from the latest one exactly: the data order and dropout of each
 * micro-batch follow from the seed and its position, so a resumed run's
 * result equals an uninterrupted one's bit for bit (same threads). SIGINT or
 * SIGTERM stops the run after the update in progress with a checkpoint,
 * *stopped set (may be NULL) and VT_OK; the result files are then not
 * written: --resume finishes the run. */
VT_API vt_status vt_clm_finetune(const char *model_dir, const vt_clm_set *train, const vt_clm_set *dev,
                                 const vt_clm_options *o, bool *stopped);
/* The mean token loss of m (with any adapter) over set, in batches. */
VT_API vt_status vt_clm_set_evaluate(vt_gpt2 *m, const vt_clm_set *set, int64_t batch_size, double *loss);

#ifdef __cplusplus
}
#endif

#endif
