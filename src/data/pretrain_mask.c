/* Masked-LM masking as create_pretraining_data does it; used when shards are
 * written (static masking) and when batches are built (dynamic masking). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/pretrain_internal.h"

struct vt_pt_masker {
    vt_pt_mask_options o;
    int32_t vocab_size, max_len;
    int32_t cls, sep, mask;
    uint8_t *is_piece;   /* (vocab_size) 1 for tokens that continue a word ("##..."); NULL without whole-word masking */
    int32_t *members;    /* (max_len) candidate positions, grouped */
    int32_t *group_off;  /* (max_len + 1) group g = members[group_off[g] .. group_off[g + 1]) */
    int32_t *order;      /* (max_len) shuffled group indices */
    uint8_t *chosen;     /* (max_len) */
    int32_t *label_at;   /* (max_len) */
    vt_pt_mask_counts counts;
};

void vt_pt_mask_options_default(vt_pt_mask_options *o) {
    o->masked_lm_prob = 0.15;
    o->max_predictions = 20;
    o->whole_word_mask = false;
}

static int32_t need_id(int32_t id, const char *what, vt_status *st) {
    if (id < 0 && *st == VT_OK) *st = vt_error(VT_ERR_FORMAT, "the vocabulary has no %s token, which masking needs", what);
    return id;
}

vt_pt_masker *vt_pt_masker_new(const vt_tokenizer *tok, const vt_pt_mask_options *o, int32_t max_seq_length) {
    if (!tok || !o) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_masker_new: NULL tokenizer or options"), NULL;
    if (!(o->masked_lm_prob > 0 && o->masked_lm_prob <= 1))
        return vt_error(VT_ERR_INVALID_ARG, "masked_lm_prob must be in (0, 1], got %g", o->masked_lm_prob), NULL;
    if (o->max_predictions < 1)
        return vt_error(VT_ERR_INVALID_ARG, "max_predictions must be >= 1, got %d", (int)o->max_predictions), NULL;
    if (max_seq_length < 1 || max_seq_length > VT_PT_MAX_SEQ_LENGTH_LIMIT)
        return vt_error(VT_ERR_INVALID_ARG, "max_seq_length must be in [1, %d], got %d", VT_PT_MAX_SEQ_LENGTH_LIMIT,
                        (int)max_seq_length),
               NULL;
    const vt_wp_vocab *vocab = vt_tok_vocab(tok);
    vt_tok_special sp = vt_tok_special_ids(tok);
    vt_status st = VT_OK;
    int32_t cls = need_id(sp.cls, "[CLS] (<s>)", &st), sep = need_id(sp.sep, "[SEP] (</s>)", &st);
    int32_t mask = need_id(sp.mask, "[MASK] (<mask>)", &st);
    if (st != VT_OK) return NULL;
    const char *prefix = vt_tok_continuation_prefix(tok); /* "##": a word's later pieces */
    if (o->whole_word_mask && !prefix)
        return vt_error(VT_ERR_UNSUPPORTED,
                        "whole-word masking needs a tokenizer that marks a word's later pieces (WordPiece's \"##\"); "
                        "this one is a %s",
                        vt_tok_model_name(tok)),
               NULL;
    vt_pt_masker *m = calloc(1, sizeof *m);
    if (!m) return vt_error(VT_ERR_NOMEM, "out of memory for a masker"), NULL;
    m->o = *o;
    m->vocab_size = vt_wp_vocab_size(vocab);
    m->max_len = max_seq_length;
    m->cls = cls, m->sep = sep, m->mask = mask;
    size_t n = (size_t)max_seq_length;
    m->members = malloc(n * sizeof *m->members);
    m->group_off = malloc((n + 1) * sizeof *m->group_off);
    m->order = malloc(n * sizeof *m->order);
    m->chosen = calloc(n, 1);
    m->label_at = malloc(n * sizeof *m->label_at);
    if (o->whole_word_mask) m->is_piece = calloc((size_t)m->vocab_size + 1, 1);
    if (!m->members || !m->group_off || !m->order || !m->chosen || !m->label_at || (o->whole_word_mask && !m->is_piece)) {
        vt_pt_masker_free(m);
        return vt_error(VT_ERR_NOMEM, "out of memory for a masker"), NULL;
    }
    if (m->is_piece)
        for (int32_t id = 0; id < m->vocab_size; id++) {
            const char *t = vt_wp_vocab_token(vocab, id);
            m->is_piece[id] = t && strncmp(t, prefix, strlen(prefix)) == 0;
        }
    return m;
}

void vt_pt_masker_free(vt_pt_masker *m) {
    if (!m) return;
    free(m->members);
    free(m->group_off);
    free(m->order);
    free(m->chosen);
    free(m->label_at);
    free(m->is_piece);
    free(m);
}

vt_pt_mask_counts vt_pt__masker_counts(const vt_pt_masker *m) { return m->counts; }

vt_status vt_pt_mask(vt_pt_masker *m, vt_rng *rng, const int32_t *tokens, int32_t n, int32_t *out_tokens,
                     int32_t *positions, int32_t *labels, int32_t *n_masked) {
    if (!m || !rng || !tokens || !out_tokens || !positions || !labels || !n_masked)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_mask: NULL argument");
    if (n < 0 || n > m->max_len)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_mask: %d tokens, the masker takes at most %d", (int)n, (int)m->max_len);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->vocab_size)
            return vt_error(VT_ERR_INVALID_ARG, "vt_pt_mask: token %d is id %d, outside the vocabulary of %d", (int)i,
                            (int)tokens[i], (int)m->vocab_size);
    if (out_tokens != tokens) memcpy(out_tokens, tokens, (size_t)n * sizeof *tokens);

    /* Candidate groups: every position but [CLS]/[SEP]; with whole-word
     * masking a "##" piece joins the latest group. */
    int32_t n_groups = 0, n_members = 0;
    m->group_off[0] = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t t = out_tokens[i];
        if (t == m->cls || t == m->sep) continue;
        if (!(m->is_piece && n_groups > 0 && m->is_piece[t])) m->group_off[n_groups++] = n_members;
        m->members[n_members++] = i;
        m->group_off[n_groups] = n_members;
    }
    for (int32_t g = 0; g < n_groups; g++) m->order[g] = g;
    for (int32_t g = n_groups - 1; g > 0; g--) { /* random.shuffle */
        int32_t j = (int32_t)vt_rng_below(rng, (uint64_t)g + 1), t = m->order[g];
        m->order[g] = m->order[j];
        m->order[j] = t;
    }

    /* Python's round() rounds half to even, as rint() does by default. */
    double want = rint((double)n * m->o.masked_lm_prob);
    int32_t to_predict = want < 1 ? 1 : want > m->o.max_predictions ? m->o.max_predictions : (int32_t)want;
    int32_t count = 0;
    for (int32_t k = 0; k < n_groups && count < to_predict; k++) {
        int32_t g = m->order[k], len = m->group_off[g + 1] - m->group_off[g];
        if (count + len > to_predict) continue;
        for (int32_t q = m->group_off[g]; q < m->group_off[g + 1]; q++) {
            int32_t i = m->members[q];
            m->chosen[i] = 1;
            m->label_at[i] = out_tokens[i];
            if (vt_rng_uniform(rng) < 0.8) {
                out_tokens[i] = m->mask;
                m->counts.as_mask++;
            } else if (vt_rng_uniform(rng) < 0.5) {
                m->counts.as_keep++;
            } else {
                out_tokens[i] = (int32_t)vt_rng_below(rng, (uint64_t)m->vocab_size);
                m->counts.as_random++;
            }
            count++;
        }
    }
    /* Positions in ascending order (the labels sorted by index). */
    int32_t k = 0;
    for (int32_t i = 0; i < n && k < count; i++)
        if (m->chosen[i]) {
            m->chosen[i] = 0;
            positions[k] = i;
            labels[k] = m->label_at[i];
            k++;
        }
    *n_masked = count;
    return VT_OK;
}
