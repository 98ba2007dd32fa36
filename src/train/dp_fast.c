/* DP-SGD's fast clipped sum for sequence and token classifiers and masked-LM
 * pretraining (see verto/dp.h and docs/privacy.md): the examples packed into
 * one batch (no padding; padded to the longest where an example's mask is
 * not its tokens then padding, and for pretraining's heads), one forward, a
 * backward that yields every example's squared gradient norm without its
 * gradient, then the gradient of sum_i c_i loss_i with c_i example i's
 * clipping factor (the gradient is linear in the loss weights, so that is
 * sum_i c_i g_i): by default formed from what that backward kept
 * (book-keeping: vt_bert_backward_bookkeeping, vt_bert_bookkeeping_gradient),
 * or by a second backward (VT_DP_TWO_PASS: vt_bert_backward_examples). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/dp_internal.h"
#include "verto/rng.h"

/* The examples as one batch, packed (offsets: rows offsets[k] .. offsets[k+1]
 * - 1 are example k's tokens) or padded to the longest (B, T), and their labels. */
typedef struct packed {
    vt_bert_batch batch;
    int32_t *ids, *types, *mask, *labels; /* (rows) x 3 (mask: padded only), (B) or per token (rows) */
    int32_t *mlm, *nsp;                   /* pretraining: (rows) masked-LM labels, (B) next-sentence labels */
    float *targets;                       /* (B, num_labels): regression targets or multi-label targets */
    int64_t *offsets;                     /* (B + 1) packed, else NULL */
} packed;

static void packed_free(packed *p) {
    free(p->ids), free(p->types), free(p->mask), free(p->labels), free(p->targets), free(p->offsets);
    free(p->mlm), free(p->nsp);
}

/* Whether an example fits the fast path: a sequence task's labels, or
 * pretraining's, over token ids. */
static bool fits(const vt_bert_batch *e, bool pretraining) {
    if (e->batch != 1 || !e->input_ids || e->position_ids || e->embedding_output || e->start_positions ||
        e->mlm_select)
        return false;
    bool task = e->labels || e->regression_targets || e->multi_labels;
    return pretraining ? e->mlm_labels && !task : task && !e->mlm_labels && !e->nsp_labels;
}

/* Labels that do not count (PyTorch's ignore_index): a token classifier's padding. */
#define IGNORED_LABEL (-100)

/* How many tokens of e to pack: its mask's leading ones, when the rest of
 * the mask is zeros (and a token classifier's labels there are ignored, so
 * dropping them changes no loss); -1 when e cannot be packed. */
static int64_t packable_length(const vt_bert_batch *e, bool per_token) {
    int64_t n = e->seq_len;
    if (e->attention_mask) {
        n = 0;
        while (n < e->seq_len && e->attention_mask[n]) n++;
        for (int64_t t = n; t < e->seq_len; t++)
            if (e->attention_mask[t] || (per_token && e->labels[t] != IGNORED_LABEL)) return -1;
    }
    return n >= 1 ? n : -1;
}

/* Copies example k (a batch of 1) into p: its n tokens at row `at`, then
 * (padded) padding up to row at + T. */
static void put(packed *p, int64_t k, const vt_bert_batch *e, int64_t at, int64_t n, int64_t T, int64_t L, int32_t pad,
                bool per_token) {
    for (int64_t t = 0; t < T; t++) {
        bool in = t < n;
        p->ids[at + t] = in ? e->input_ids[t] : pad;
        p->types[at + t] = in && e->token_type_ids ? e->token_type_ids[t] : 0;
        if (p->mask) p->mask[at + t] = in ? (e->attention_mask ? e->attention_mask[t] : 1) : 0;
        if (per_token) p->labels[at + t] = in ? e->labels[t] : IGNORED_LABEL;
        if (p->mlm) p->mlm[at + t] = in ? e->mlm_labels[t] : IGNORED_LABEL;
    }
    if (p->nsp && e->nsp_labels) p->nsp[k] = e->nsp_labels[0];
    if (e->labels && !per_token) p->labels[k] = e->labels[0];
    const float *targets = e->regression_targets ? e->regression_targets : e->multi_labels;
    if (targets) memcpy(p->targets + k * L, targets, (size_t)L * sizeof(float));
}

/* Reads the examples into p; *fit false when one does not fit the fast path. */
static vt_status pack(const vt_bert_config *c, const int64_t *rows, int64_t count, vt_dp_get_example_fn get,
                      void *ctx, packed *p, bool *fit) {
    int64_t T = 0, L = c->num_labels, tokens = 0;
    bool per_token = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION, packs = true;
    bool pretraining = c->arch == VT_BERT_FOR_PRETRAINING || c->arch == VT_BERT_FOR_MASKED_LM;
    vt_bert_batch e, first = {0};
    *fit = true;
    for (int64_t k = 0; k < count && *fit; k++) { /* the longest, and whether all fit and pack */
        vt_status st = get(ctx, rows[k], &e);
        if (st != VT_OK) return st;
        if (k == 0) first = e;
        *fit = fits(&e, pretraining) && (!per_token || e.labels) && !e.labels == !first.labels &&
               !e.regression_targets == !first.regression_targets && !e.multi_labels == !first.multi_labels &&
               !e.nsp_labels == !first.nsp_labels;
        if (e.seq_len > T) T = e.seq_len;
        int64_t n = *fit ? packable_length(&e, per_token) : -1;
        packs = packs && n > 0 && !pretraining; /* (the pretraining heads read padded batches) */
        tokens += n;
    }
    if (!*fit) return VT_OK;
    size_t cells = (size_t)(packs ? tokens : count * T);
    p->ids = malloc(cells * sizeof *p->ids);
    p->types = malloc(cells * sizeof *p->types);
    p->mask = packs ? NULL : malloc(cells * sizeof *p->mask);
    p->offsets = packs ? malloc((size_t)(count + 1) * sizeof *p->offsets) : NULL;
    p->labels = malloc((per_token ? cells : (size_t)count) * sizeof *p->labels);
    p->targets = malloc((size_t)(count * L) * sizeof *p->targets);
    p->mlm = pretraining ? malloc(cells * sizeof *p->mlm) : NULL;
    p->nsp = pretraining && first.nsp_labels ? malloc((size_t)count * sizeof *p->nsp) : NULL;
    if (!p->ids || !p->types || (!packs && !p->mask) || (packs && !p->offsets) || !p->labels || !p->targets ||
        (pretraining && !p->mlm) || (first.nsp_labels && !p->nsp))
        return vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory for a batch of %" PRId64 " examples", count);
    int32_t pad = c->pad_token_id >= 0 ? (int32_t)c->pad_token_id : 0;
    int64_t at = 0;
    for (int64_t k = 0; k < count; k++) { /* again: the source may reuse its buffers between calls */
        vt_status st = get(ctx, rows[k], &e);
        if (st != VT_OK) return st;
        int64_t n = packs ? packable_length(&e, per_token) : e.seq_len;
        if (packs) p->offsets[k] = at;
        put(p, k, &e, at, n, packs ? n : T, L, pad, per_token);
        at += packs ? n : T;
    }
    if (packs) p->offsets[count] = at;
    p->batch = (vt_bert_batch){.batch = count, .seq_len = packs ? 0 : T, .input_ids = p->ids,
                               .token_type_ids = p->types, .attention_mask = p->mask, .offsets = p->offsets,
                               .labels = first.labels ? p->labels : NULL,
                               .regression_targets = first.regression_targets ? p->targets : NULL,
                               .multi_labels = first.multi_labels ? p->targets : NULL,
                               .class_weights = first.class_weights, .cls_only = first.cls_only,
                               .mlm_labels = p->mlm, .nsp_labels = p->nsp};
    return VT_OK;
}

/* The clipped gradients of count examples run as one batch, added to sum
 * (NULL: left in b's gradient); *fit false (nothing done) when they do not
 * fit the fast path. */
static vt_status batch_clipped_sum(const vt_dp_options *o, vt_bert *b, const int64_t *rows, int64_t count,
                                   vt_dp_get_example_fn get, void *ctx, uint64_t dropout_seed, double *sum,
                                   vt_dp_step_info *info, bool *fit) {
    const vt_bert_config *c = vt_bert_get_config(b);
    packed p = {0};
    vt_status st = pack(c, rows, count, get, ctx, &p, fit);
    double *sq = NULL;
    if (st != VT_OK || !*fit) goto out;
    vt_bert_outputs res;
    if ((st = vt_bert_forward(b, &p.batch, true, dropout_seed, &res)) != VT_OK) goto out;
    if (!isfinite(res.loss)) {
        st = vt_error(VT_ERR_NUMERIC, "DP-SGD: the batch's loss is not finite");
        goto out;
    }
    sq = malloc((size_t)count * sizeof *sq);
    if (!sq) {
        st = vt_error(VT_ERR_NOMEM, "DP-SGD: out of memory for %" PRId64 " norms", count);
        goto out;
    }
    bool keep = o->fast_method == VT_DP_BOOKKEEPING;
    if ((st = keep ? vt_bert_backward_bookkeeping(b, sq) : vt_bert_backward_examples(b, NULL, sq)) != VT_OK) goto out;
    info->batch += count;
    info->loss += res.loss * (double)count; /* (a sum until the caller divides) */
    for (int64_t k = 0; k < count; k++) { /* sq becomes the clipping factors */
        if (!isfinite(sq[k])) {
            st = vt_error(VT_ERR_NUMERIC, "DP-SGD: an example's gradient is not finite");
            goto out;
        }
        sq[k] = dp_clip_factor(o->max_grad_norm, sqrt(sq[k]));
        info->clipped += sq[k] < 1.0;
    }
    if (p.offsets) info->tokens += p.offsets[count];
    else
        for (int64_t r = 0; r < count * p.batch.seq_len; r++) info->tokens += p.mask[r] != 0;
    if ((st = keep ? vt_bert_bookkeeping_gradient(b, sq) : vt_bert_backward_examples(b, sq, NULL)) != VT_OK) goto out;
    if (!sum) goto out; /* (the caller takes the sum from b's gradient) */
    size_t n_infos;
    const vt_param_info *infos = vt_bert_param_infos(b, &n_infos);
    const float *g = vt_bert_grads(b, NULL);
    for (size_t q = 0; q < n_infos; q++)
        if (infos[q].trainable) {
            double *restrict to = sum + infos[q].offset;
            const float *restrict from = g + infos[q].offset;
#pragma omp parallel for schedule(static) if (infos[q].numel >= 65536)
            for (int64_t i = 0; i < infos[q].numel; i++) to[i] += from[i];
        }
out:
    free(sq);
    packed_free(&p);
    return st;
}

static bool all_trainable(const vt_bert *b) {
    size_t n;
    const vt_param_info *infos = vt_bert_param_infos(b, &n);
    for (size_t q = 0; q < n; q++)
        if (!infos[q].trainable) return false;
    return true;
}

vt_status dp_fast_clipped_sum(const vt_dp_options *o, vt_bert *b, const int64_t *rows, int64_t count,
                              vt_dp_get_example_fn get, void *ctx, uint64_t dropout_seed, double *sum,
                              vt_dp_step_info *info, bool *done, bool *in_grads) {
    const vt_bert_config *c = vt_bert_get_config(b);
    *done = false;
    if (in_grads) *in_grads = false;
    bool pretraining = c->arch == VT_BERT_FOR_PRETRAINING || c->arch == VT_BERT_FOR_MASKED_LM;
    if (o->exact || count == 0 ||
        (c->arch != VT_BERT_FOR_SEQUENCE_CLASSIFICATION && c->arch != VT_BERT_FOR_TOKEN_CLASSIFICATION && !pretraining))
        return VT_OK; /* (question answering's softmax runs over padded positions too: an example alone differs) */
    if (pretraining && !all_trainable(b)) return VT_OK; /* (a frozen word table still learns as the tied decoder) */
    int64_t micro = o->micro_batch > 0 && o->micro_batch < count ? o->micro_batch : count;
    vt_dp_step_info in = {.fast = true};
    bool whole = in_grads && micro == count; /* one batch: its gradient is the sum */
    if (!whole) {
        int64_t n;
        vt_bert_grads(b, &n);
        memset(sum, 0, (size_t)n * sizeof *sum);
    }
    for (int64_t first = 0; first < count; first += micro) {
        int64_t m = count - first < micro ? count - first : micro;
        /* (one batch: the step's dropout seed; micro-batches: each its own masks, any fixed ones keep the guarantee) */
        uint64_t seed = micro == count ? dropout_seed : vt_hash64(dropout_seed, (uint64_t)first);
        bool fit;
        vt_status st = batch_clipped_sum(o, b, rows + first, m, get, ctx, seed, whole ? NULL : sum, &in, &fit);
        if (st != VT_OK) return st;
        if (!fit && first == 0) return VT_OK; /* the exact path, from scratch */
        if (!fit) return vt_error(VT_ERR_INVALID_ARG, "DP-SGD: the examples of one batch are of different kinds");
    }
    in.loss /= (double)count;
    *info = in;
    *done = true;
    if (whole) *in_grads = true;
    return VT_OK;
}
