/* What every fine-tuning run shares, whatever its head: loading the model
 * and tokenizer to train, the epoch's shuffled order of training rows,
 * padded batches, and the trainer's options (see task_internal.h). */
#include <stdio.h>
#include <stdlib.h>

#include "task/task_internal.h"
#include "verto/dist.h"
#include "verto/rng.h"

vt_status task_load_for_training(const char *init_dir, vt_task_kind kind, int arch, int num_labels,
                                 const vt_finetune_options *o, vt_task *t) {
    vt_tok_options to;
    if (o->precision == VT_PRECISION_INT8)
        return vt_error(VT_ERR_INVALID_ARG, "training runs in fp32 or bf16, not int8; quantize the trained model "
                                            "(verto quantize) or predict with --precision int8");
    vt_status st = vt_tok_options_from_config(init_dir, &to);
    if (st != VT_OK) return st;
    if (o->keep_tail >= 0) to.keep_tail = o->keep_tail;
    if (o->max_windows > 0) to.max_windows = o->max_windows;
    if (!(t->tok = vt_tok_load(init_dir, &to))) return vt_last_status();
    if (!(t->model = vt_bert_load(init_dir, arch, num_labels, o->seed))) return vt_last_status();
    if ((st = vt_bert_set_precision(t->model, o->precision)) != VT_OK) return st;
    *t = (vt_task){.kind = kind, .model = t->model, .tok = t->tok, .threshold = 0.5,
                   .cfg = vt_bert_get_config(t->model), .max_windows = to.max_windows,
                   .batch_size = (int32_t)(o->batch_size > 64 ? o->batch_size : 64),
                   .special = vt_tok_special_ids(t->tok)};
    t->max_len = vt_bert_input_length(t->cfg, o->max_seq_length, 0);
    return VT_OK;
}

void task_release(vt_task *t) {
    vt_bert_free(t->model);
    vt_tok_free(t->tok);
    free(t->ids), free(t->types), free(t->mask), free(t->select), free(t->order), free(t->offsets);
}

int64_t task_row_of(task_order *ord, int64_t k) {
    if (k / ord->n != ord->epoch) { /* each epoch its own seeded permutation, so a resumed run sees the same */
        ord->epoch = k / ord->n;
        for (int64_t i = 0; i < ord->n; i++) ord->order[i] = i;
        vt_rng rng;
        vt_rng_seed(&rng, vt_hash64(ord->seed, (uint64_t)ord->epoch));
        vt_rng_shuffle_i64(&rng, ord->order, ord->n);
    }
    return ord->order[k % ord->n];
}

int64_t task_pad_batch(const vt_task *t, const vt_tok_encoding *const *rows, int64_t count, int32_t *ids,
                       int32_t *types, int32_t *mask, int64_t *tokens) {
    int64_t T = 1;
    for (int64_t i = 0; i < count; i++) T = rows[i]->len > T ? rows[i]->len : T;
    *tokens = 0;
    for (int64_t i = 0; i < count; i++)
        for (int64_t p = 0; p < T; p++) {
            bool real = p < rows[i]->len;
            ids[i * T + p] = real ? rows[i]->ids[p] : t->special.pad;
            types[i * T + p] = real ? rows[i]->type_ids[p] : 0;
            mask[i * T + p] = real;
            *tokens += real;
        }
    return T;
}

int64_t task_pack_batch(const vt_tok_encoding *const *rows, int64_t count, int32_t *ids, int32_t *types,
                        int64_t *offsets) {
    offsets[0] = 0;
    for (int64_t i = 0; i < count; i++) {
        int64_t at = offsets[i], len = rows[i]->len;
        memcpy(ids + at, rows[i]->ids, (size_t)len * sizeof *ids);
        memcpy(types + at, rows[i]->type_ids, (size_t)len * sizeof *types);
        offsets[i + 1] = at + len;
    }
    return offsets[count];
}

int64_t task_trainer_options(const vt_finetune_options *o, const char *init_dir, size_t rows, size_t examples,
                             const char *tok_config, char *args, size_t args_size, vt_trainer_options *to) {
    /* An epoch is the training rows once over the global batch (batch x ranks x accumulation). */
    int64_t ranks = vt_dist_size(), accum = task_grad_accum(o), global = o->batch_size * ranks * accum;
    int64_t steps_per_epoch = ((int64_t)rows + global - 1) / global, steps = steps_per_epoch * o->epochs;
    snprintf(args, args_size,
             "{\"command\": \"finetune\", \"epochs\": %lld, \"batch_size\": %lld, \"grad_accum\": %lld, \"lr\": %g, "
             "\"seed\": %llu, \"examples\": %zu, \"rows\": %zu, \"ranks\": %lld}",
             (long long)o->epochs, (long long)o->batch_size, (long long)accum, o->lr, (unsigned long long)o->seed,
             examples, rows, (long long)ranks);
    vt_trainer_options_default(to);
    to->out_dir = o->out_dir;
    to->steps = steps;
    to->batch_size = o->batch_size;
    to->grad_accum = accum;
    to->lr = (float)o->lr;
    to->weight_decay = (float)o->weight_decay;
    to->warmup_steps = (int64_t)(o->warmup_ratio * (double)steps);
    to->seed = o->seed;
    to->log_every = steps_per_epoch < 10 ? steps_per_epoch : 10;
    to->eval_every = steps_per_epoch;
    to->save_best = true;
    to->save_final = false;
    to->early_stopping = o->early_stopping;
    to->freeze_layers = o->freeze_layers;
    to->resume = o->resume;
    to->zero1 = o->zero1;
    to->tokenizer_dir = init_dir;
    to->tokenizer_config = tok_config;
    to->args_json = args;
    to->log = o->log;
    return steps_per_epoch;
}

void task_tok_config(const vt_task *t, double threshold, char *out, size_t size) {
    int n = snprintf(out, size, "{\"model_max_length\": %d, \"keep_tail_tokens\": %d, \"max_windows\": %d", t->max_len,
                     vt_tok_get_options(t->tok)->keep_tail, t->max_windows);
    if (threshold >= 0 && n > 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, ", \"multi_label_threshold\": %.17g", threshold);
    if (n > 0 && (size_t)n < size) snprintf(out + n, size - (size_t)n, "}");
}
