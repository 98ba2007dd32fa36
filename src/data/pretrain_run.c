/* A pretraining run's batches and held-out evaluation (see
 * verto/pretrain_data.h: vt_pt_run). */
#include <math.h>
#include <stdlib.h>

#include "data/length_groups.h"
#include "verto/pretrain_data.h"

#define MASK_SALT 0x6d61736bull /* separates masking draws from dropout draws */
#define EXAMPLE_SALT 0x6578616d706c65ull /* an example's masks (DP-SGD) apart from a sample's */

struct vt_pt_run {
    vt_pt_run_options o;
    vt_pt_dataset *train, *eval;
    vt_pt_masker *masker;
    vt_pt_batcher *batcher;
    vt_pt_length_groups *groups; /* NULL: batches in sample order */
    int64_t epoch;               /* of the train order currently set, -1 before any */
    int64_t real_tokens, cells;  /* over the batches handed out: how much is not padding */
};

void vt_pt_run_free(vt_pt_run *r) {
    if (!r) return;
    vt_pt_length_groups_free(r->groups);
    vt_pt_batcher_free(r->batcher);
    vt_pt_masker_free(r->masker);
    free(r);
}

vt_pt_run *vt_pt_run_new(vt_pt_dataset *train, vt_pt_dataset *eval, const vt_tokenizer *tok,
                         const vt_pt_run_options *o) {
    if (!train || !tok || !o || o->batch_size < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_run_new: a training set, a tokenizer and a batch size are needed"),
               NULL;
    if (vt_pt_size(train) == 0) return vt_error(VT_ERR_INVALID_ARG, "the training shards hold no instances"), NULL;
    if (vt_pt_get_info(train)->objective == VT_PT_CLM)
        return vt_error(VT_ERR_INVALID_ARG, "the shards were prepared for a causal LM (clm); masked-LM pretraining "
                                            "needs shards prepared with --objective mlm or mlm+nsp"),
               NULL;
    if (eval && vt_pt_get_info(eval)->objective != vt_pt_get_info(train)->objective)
        return vt_error(VT_ERR_INVALID_ARG, "the held-out shards were prepared for %s, the training shards for %s",
                        vt_pt_objective_name(vt_pt_get_info(eval)->objective),
                        vt_pt_objective_name(vt_pt_get_info(train)->objective)),
               NULL;
    vt_pt_run *r = calloc(1, sizeof *r);
    if (!r) return vt_error(VT_ERR_NOMEM, "out of memory for a pretraining run"), NULL;
    *r = (vt_pt_run){.o = *o, .train = train, .eval = eval, .epoch = -1};
    const vt_pt_info *info = vt_pt_get_info(train);
    vt_pt_mask_options mask;
    vt_pt_mask_options_default(&mask);
    mask.masked_lm_prob = info->masked_lm_prob;
    mask.max_predictions = info->max_predictions;
    mask.whole_word_mask = info->whole_word_mask;
    int32_t S = info->max_seq_length;
    if (!(r->masker = vt_pt_masker_new(tok, &mask, S)) ||
        !(r->batcher = vt_pt_batcher_new(o->batch_size, S, vt_tok_special_ids(tok).pad, r->masker)) ||
        (o->group_by_length > 1 && !(r->groups = vt_pt_length_groups_new(o->group_by_length, o->batch_size, S, o->seed)))) {
        vt_pt_run_free(r);
        return NULL;
    }
    vt_pt_batcher_set_nsp(r->batcher, info->objective == VT_PT_MLM_NSP);
    return r;
}

bool vt_pt_run_has_nsp(const vt_pt_run *r) { return r && vt_pt_get_info(r->train)->objective == VT_PT_MLM_NSP; }

/* Sample k of the run: position k % N of epoch k / N, so the order depends on k alone. */
static vt_status read_sample(void *ctx, int64_t k, vt_pt_instance *inst) {
    vt_pt_run *r = ctx;
    int64_t n = vt_pt_size(r->train), epoch = k / n, pos = k % n;
    vt_status st = VT_OK;
    if (epoch != r->epoch) {
        st = vt_pt_shuffle(r->train, r->o.seed, epoch);
        r->epoch = epoch;
    }
    if (st == VT_OK && vt_pt_tell(r->train) != pos) st = vt_pt_seek(r->train, pos);
    bool end;
    return st == VT_OK ? vt_pt_next(r->train, inst, &end) : st;
}

vt_status vt_pt_run_batch(vt_pt_run *r, int64_t first, int64_t count, vt_bert_batch *out, int64_t *tokens) {
    if (first < 0 || count < 1 || count > r->o.batch_size)
        return vt_error(VT_ERR_INVALID_ARG, "pretraining batch of %lld samples from %lld (batches hold %lld)",
                        (long long)count, (long long)first, (long long)r->o.batch_size);
    vt_pt_batcher_reset(r->batcher);
    for (int64_t i = 0; i < count; i++) {
        vt_pt_instance inst;
        int64_t k = first + i;
        vt_status st = r->groups ? vt_pt_length_groups_get(r->groups, first, i, read_sample, r, &inst, &k)
                                 : read_sample(r, k, &inst);
        vt_rng rng;
        vt_rng_seed(&rng, vt_hash64(r->o.seed ^ MASK_SALT, (uint64_t)k)); /* a sample's masks follow it */
        if (st == VT_OK) st = vt_pt_batcher_add(r->batcher, &inst, &rng);
        if (st != VT_OK) return st;
    }
    vt_status st = vt_pt_batcher_finish(r->batcher, out);
    *tokens = 0;
    for (int64_t i = 0; st == VT_OK && i < out->batch * out->seq_len; i++) *tokens += out->attention_mask[i];
    r->real_tokens += *tokens;
    r->cells += out->batch * out->seq_len;
    return st;
}

vt_status vt_pt_run_example(vt_pt_run *r, int64_t example, vt_bert_batch *out) {
    if (!r || !out || example < 0 || example >= vt_pt_size(r->train))
        return vt_error(VT_ERR_INVALID_ARG, "pretraining example %lld: the training shards hold %lld", (long long)example,
                        (long long)(r ? vt_pt_size(r->train) : 0));
    vt_pt_instance inst;
    vt_rng rng;
    vt_rng_seed(&rng, vt_hash64(r->o.seed ^ MASK_SALT ^ EXAMPLE_SALT, (uint64_t)example));
    vt_pt_batcher_reset(r->batcher);
    vt_status st = vt_pt_get(r->train, example, &inst);
    if (st == VT_OK) st = vt_pt_batcher_add(r->batcher, &inst, &rng);
    return st == VT_OK ? vt_pt_batcher_finish(r->batcher, out) : st;
}

double vt_pt_run_padding(const vt_pt_run *r) {
    return r->cells ? (double)(r->cells - r->real_tokens) / (double)r->cells : 0.0;
}

vt_status vt_pt_run_evaluate(vt_pt_run *r, vt_bert *model, int64_t max_batches, vt_pt_eval *out) {
    if (!r->eval) return vt_error(VT_ERR_STATE, "this pretraining run has no held-out shards to evaluate on");
    double mlm_loss = 0, mlm_correct = 0, mlm_count = 0, nsp_correct = 0, nsp_count = 0;
    int64_t n = vt_pt_size(r->eval), B = r->o.batch_size;
    for (int64_t first = 0, batches = 0; first < n && batches < max_batches; first += B, batches++) {
        vt_pt_batcher_reset(r->batcher);
        for (int64_t k = first; k < first + B && k < n; k++) {
            vt_pt_instance inst;
            vt_rng rng;
            vt_rng_seed(&rng, vt_hash64(MASK_SALT, (uint64_t)k));
            vt_status st = vt_pt_get(r->eval, k, &inst);
            if (st == VT_OK) st = vt_pt_batcher_add(r->batcher, &inst, &rng);
            if (st != VT_OK) return st;
        }
        vt_bert_batch batch;
        vt_bert_outputs o;
        vt_status st = vt_pt_batcher_finish(r->batcher, &batch);
        if (st == VT_OK) st = vt_bert_forward(model, &batch, false, 0, &o);
        if (st != VT_OK) return st;
        mlm_loss += o.mlm_loss * (double)o.mlm_count;
        mlm_correct += (double)o.mlm_correct;
        mlm_count += (double)o.mlm_count;
        nsp_correct += (double)o.nsp_correct;
        nsp_count += (double)batch.batch;
    }
    *out = (vt_pt_eval){.mlm_loss = mlm_loss / fmax(mlm_count, 1), .mlm_accuracy = mlm_correct / fmax(mlm_count, 1),
                        .nsp_accuracy = vt_pt_run_has_nsp(r) ? nsp_correct / fmax(nsp_count, 1) : NAN};
    return VT_OK;
}
