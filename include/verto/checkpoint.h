/* Training checkpoints: a Hugging Face model directory plus the training
 * state beside it, so a run can stop anywhere and resume exactly.
 *
 *   OUT/checkpoint-<step>/config.json, model.safetensors, vocab.txt, ...
 *   OUT/checkpoint-<step>/trainer_state.safetensors
 *       tensors "optimizer.m", "optimizer.v" (the moment buffers, flat)
 *       metadata "format" = "verto.trainer", "version", "step", "args" (JSON)
 *
 * A checkpoint directory is assembled under a temporary name and renamed
 * into place, so OUT never holds a partial checkpoint-<step>. */
#ifndef VERTO_CHECKPOINT_H
#define VERTO_CHECKPOINT_H

#include "verto/export.h"

#include <stddef.h>
#include <stdint.h>

#include "verto/bert.h"
#include "verto/error.h"
#include "verto/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes OUT/checkpoint-<step> for model b and optimizer o after `step`
 * updates; copies the tokenizer files from tokenizer_dir (may be NULL) with
 * tokenizer_config overrides (JSON object or NULL; see
 * vt_bert_copy_tokenizer_files); `args_json` records the options the run was
 * started with. */
VT_API vt_status vt_ckpt_save(const char *out_dir, int64_t step, const vt_bert *b, vt_optimizer *o,
                              const char *tokenizer_dir,
                              const char *tokenizer_config, const char *args_json);
/* The same for any model: write_model(model, dir) writes its Hugging Face
 * files into the checkpoint's temporary directory; o holds n_floats floats. */
typedef vt_status (*vt_ckpt_write_model_fn)(const void *model, const char *dir);
VT_API vt_status vt_ckpt_save_model(const char *out_dir, int64_t step, vt_ckpt_write_model_fn write_model,
                                    const void *model, vt_optimizer *o, int64_t n_floats, const char *tokenizer_dir,
                                    const char *tokenizer_config, const char *args_json);

/* Restores the optimizer state of checkpoint directory `dir` into o (whose
 * size must match) and returns the step in *step and a malloc'd copy of the
 * recorded args in *args_json (may be NULL). */
VT_API vt_status vt_ckpt_load_state(const char *dir, vt_optimizer *o, int64_t n_floats, int64_t *step,
                                    char **args_json);

/* The checkpoint of OUT with the most steps: its path into buf and its step;
 * returns -1 (no error set) if there is none. */
VT_API int64_t vt_ckpt_latest(const char *out_dir, char *buf, size_t size);

/* Removes all but the `keep` newest checkpoints of OUT (keep >= 1). */
VT_API vt_status vt_ckpt_prune(const char *out_dir, int keep);

#ifdef __cplusplus
}
#endif
#endif
