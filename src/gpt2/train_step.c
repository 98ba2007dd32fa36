/* A training step's forward and backward in one call (vt_gpt2_train_step):
 * the tied lm_head and the shifted cross-entropy run over the rows in
 * chunks, each chunk's backward at once, so that the (B*T, V) logits and
 * their gradient are never held whole. Per chunk of R rows:
 *
 *   logits  = hidden wte^T                 (R, V)
 *   logits <- d loss / d logits            in place (softmax - one-hot) / counted
 *   d_hidden = d_logits wte                (R, H)
 *   d_wte   += d_logits^T hidden           (V, H)
 *
 * The loss divides by the labels counted over the whole batch, as
 * vt_gpt2_forward's does. */
#include <math.h>
#include <string.h>

#include "gpt2/gpt2_internal.h"

/* Rows per chunk. Each chunk's d_wte += d_logits^T hidden reads and writes all
 * of wte's (V, H) gradient for a product of depth R, so R must not be small:
 * 256 rows cost about 5% more CPU time than one chunk for the L4/H256 step,
 * and wall-clock tests under load could not separate 512, 1024 and 2048
 * (docs/performance.md). 1024 rows hold 206 MB of logits at V = 50257, where
 * the whole batch of 8 x 1024 tokens held 1.6 GB (and as much again for the
 * gradient). */
#define DEFAULT_CHUNK_ROWS 1024

int64_t gpt2_head_chunk_rows(const vt_gpt2 *m, int64_t rows) {
    int64_t r = m->head_chunk > 0 ? m->head_chunk : DEFAULT_CHUNK_ROWS;
    return r < rows ? r : rows;
}

vt_status vt_gpt2_set_head_chunk(vt_gpt2 *m, int64_t rows) {
    if (!m || rows < 0) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_set_head_chunk: rows must be 0 or positive");
    m->head_chunk = rows;
    return VT_OK;
}

/* The head and the loss over BT rows of hidden (units[2L].out); with
 * backward, leaving the hidden state's gradient in d_out and adding wte's
 * (unless frozen). */
static vt_status head_and_loss(vt_gpt2 *m, int64_t BT, bool backward, double *loss, int64_t *counted) {
    const vt_gpt2_config *c = &m->cfg;
    int64_t H = c->n_embd, V = c->vocab_size, R = gpt2_head_chunk_rows(m, BT), total = 0;
    for (int64_t r = 0; r < BT; r++) total += m->targets[r] != GPT2_IGNORE_INDEX;
    const float *hidden = m->units[2 * c->n_layer].out;
    blk_ctx ctx = gpt2_ctx(m, true);
    blk_linear lm = gpt2_lm_head(m);
    double sum = 0;
    for (int64_t first = 0; first < BT; first += R) {
        int64_t rows = BT - first < R ? BT - first : R, n = 0;
        const float *x = hidden + first * H;
        vt_bf16 *x16 = m->hidden16 ? m->hidden16 + first * H : NULL;
        double chunk_loss = 0;
        vt_status st = blk_linear_forward(&ctx, &lm, x, x16, m->logits, rows, 0);
        /* vt_softmax_xent divides by the chunk's count n; grad_scale n / total makes it the batch's */
        for (int64_t r = first; r < first + rows; r++) n += m->targets[r] != GPT2_IGNORE_INDEX;
        float scale = total ? (float)((double)n / (double)total) : 0.0f;
        if (st == VT_OK)
            st = vt_softmax_xent(m->logits, m->targets + first, rows, V, NULL, backward ? m->logits : NULL, scale,
                                 &chunk_loss, NULL, NULL);
        if (st == VT_OK && backward)
            st = blk_linear_backward(&ctx, &lm, x, x16, m->logits, m->d_out + first * H, 0.0f, rows);
        if (st != VT_OK) return st;
        sum += chunk_loss * (double)n;
    }
    *counted = total;
    *loss = total ? sum / (double)total : 0.0;
    return VT_OK;
}

/* The body and the chunked head over a labelled batch: training (dropout by
 * seed, wte's gradient added, d_out left for the body's backward) or not. */
static vt_status forward_with_loss(vt_gpt2 *m, const vt_gpt2_batch *in, bool training, uint64_t seed,
                                   bool accumulate, const char *fn, vt_gpt2_outputs *out) {
    if (!m || !out) return vt_error(VT_ERR_INVALID_ARG, "%s: no model or outputs given", fn);
    memset(out, 0, sizeof *out);
    out->loss = NAN;
    m->last_has_loss = false;
    if (in && !in->labels) return vt_error(VT_ERR_INVALID_ARG, "%s: the batch has no labels", fn);
    vt_status st = gpt2_check_batch(m, in);
    if (st == VT_OK) st = gpt2_plan(m, in->batch, in->seq_len, false);
    if (st != VT_OK) return st;
    gpt2_refresh_params16(m);
    if (training && !accumulate) gpt2_zero_grads(m);
    if ((st = gpt2_body_forward(m, in, training, seed)) != VT_OK) return st;
    if (training) {
        m->last = *in;
        m->last_training = true;
        m->last_seed = seed;
    }
    gpt2_shift_labels(m, in);
    double loss = 0;
    if ((st = head_and_loss(m, in->batch * in->seq_len, training, &loss, &out->counted)) != VT_OK) return st;
    if (!isfinite(loss)) return vt_error(VT_ERR_NUMERIC, "GPT-2 loss is %g", loss);
    out->hidden = m->units[2 * m->cfg.n_layer].out;
    out->loss = loss;
    return VT_OK;
}

vt_status vt_gpt2_train_step(vt_gpt2 *m, const vt_gpt2_batch *in, uint64_t seed, bool accumulate,
                             vt_gpt2_outputs *out) {
    vt_status st = forward_with_loss(m, in, true, seed, accumulate, "vt_gpt2_train_step", out);
    return st == VT_OK ? gpt2_body_backward(m) : st;
}

vt_status vt_gpt2_loss(vt_gpt2 *m, const vt_gpt2_batch *in, vt_gpt2_outputs *out) {
    return forward_with_loss(m, in, false, 0, false, "vt_gpt2_loss", out);
}
