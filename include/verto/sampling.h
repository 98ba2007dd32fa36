/* Choosing the next token of a generated sequence: logits processing as
 * transformers' generate() does it, greedy or seeded sampling, stop strings
 * and finish reasons. Model-independent: it sees one row of logits (V) and the
 * token ids of the sequence so far (prompt + generated).
 *
 * ---- the processing order (transformers' _get_logits_processor) ----------
 *  1. repetition penalty (RepetitionPenaltyLogitsProcessor): the score of
 *     every token id present in the sequence (prompt included, each id once
 *     however often it occurs) is divided by the penalty when > 0 and
 *     multiplied by it otherwise.
 *  2. temperature (TemperatureLogitsWarper): scores / temperature.
 *  3. top-k (TopKLogitsWarper): scores below the k-th largest become -inf;
 *     every token tied with the k-th value stays.
 *  4. top-p (TopPLogitsWarper): with the scores sorted ascending and their
 *     softmax summed cumulatively, the tokens whose cumulative sum is
 *     <= 1 - top_p become -inf; the largest always stays (min_tokens_to_keep
 *     1). Among tokens tied at the cut, the one of lower id is removed first
 *     (torch.sort leaves that order unspecified).
 * Steps 2-4 apply only when sampling (transformers applies its warpers only
 * with do_sample); greedy takes the argmax of step 1's scores, the first
 * index on ties as torch.argmax. Sampling draws from the softmax of the
 * processed scores with a vt_rng: one generator per sequence
 * (vt_sampling_rng), so a batch's rows are independent and reproducible.
 * Top-k and top-p select by partition (expected O(V)), never a full sort.
 *
 * All functions report failures through vt_status and vt_last_error(); none
 * prints or exits. */
#ifndef VERTO_SAMPLING_H
#define VERTO_SAMPLING_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_sampling_options {
    bool do_sample;           /* false (default): greedy; true: draw from the processed distribution */
    float temperature;        /* default 1 (off); > 0 */
    int32_t top_k;            /* default 0 (off); >= 0 */
    float top_p;              /* default 1 (off); in (0, 1] */
    float repetition_penalty; /* default 1 (off); > 0 */
} vt_sampling_options;

VT_API void vt_sampling_options_default(vt_sampling_options *o);

/* VT_ERR_INVALID_ARG naming the option that is out of range. */
VT_API vt_status vt_sampling_options_check(const vt_sampling_options *o);

/* A sampler owns the options and scratch memory for a vocabulary of V ids,
 * so that choosing a token never allocates. Not thread-safe: one per thread.
 * NULL with the error set on bad options or V < 1. */
typedef struct vt_sampler vt_sampler;

VT_API vt_sampler *vt_sampler_new(const vt_sampling_options *o, int32_t vocab_size);
VT_API void vt_sampler_free(vt_sampler *s);

/* Processes `logits` (V) in place: step 1, then (when o->do_sample) steps
 * 2-4; removed tokens hold -INFINITY. `context` (n_context ids, each in
 * [0, V)) is the sequence so far. VT_ERR_INVALID_ARG for an id out of range
 * (logits untouched then) and VT_ERR_NUMERIC when a logit is NaN (or +inf
 * when sampling: there is no distribution to draw from). */
VT_API vt_status vt_sampler_process(vt_sampler *s, float *logits, const int32_t *context, int64_t n_context);

/* Processes `logits` (V, in place) and chooses the next token: the argmax
 * (greedy), or a draw from the softmax of the processed scores with `rng`
 * (needed only when sampling). */
VT_API vt_status vt_sampler_next(vt_sampler *s, float *logits, const int32_t *context, int64_t n_context,
                                 vt_rng *rng, int32_t *token);

/* The generator of sequence `row` of a batch for a run seeded with `seed`:
 * rows draw from independent streams, and the same (seed, row) gives the
 * same draws whatever the batch size or thread. */
VT_API void vt_sampling_rng(uint64_t seed, int64_t row, vt_rng *out);

/* ---- stop strings and finish reasons ---------------------------------- */

/* Looks for the stop strings (n_stops of them, NUL-terminated, empty ones
 * ignored) in `text` (len bytes, the decoded generated text), considering
 * only occurrences that end after byte `old_len` (the length before the
 * latest token, so earlier text is not searched again). When one occurs,
 * returns true and *keep = the bytes to keep: the text before the earliest
 * such occurrence (the stop string and what follows it are cut, len - *keep
 * bytes). Otherwise false and *keep = len. */
VT_API bool vt_stop_find(const char *text, size_t len, size_t old_len, const char *const *stops, int n_stops,
                         size_t *keep);

/* For streaming: the length of the longest suffix of `text` that is a proper
 * prefix of a stop string -- bytes not to send yet, as the next token may
 * complete the stop string. 0 when no stop string could be starting. */
VT_API size_t vt_stop_holdback(const char *text, size_t len, const char *const *stops, int n_stops);

typedef enum vt_finish_reason {
    VT_FINISH_NONE = 0, /* still generating */
    VT_FINISH_STOP,     /* a stop string was produced */
    VT_FINISH_LENGTH,   /* max_new_tokens reached */
    VT_FINISH_EOS,      /* the end-of-sequence token was produced */
} vt_finish_reason;

/* "stop", "length", "eos" (NULL for VT_FINISH_NONE). */
VT_API const char *vt_finish_reason_name(vt_finish_reason r);

/* Why generation ends after `token` was produced as the n_generated-th new
 * token: EOS when token == eos_id (eos_id < 0: none), else STOP when a stop
 * string matched, else LENGTH when n_generated >= max_new_tokens, else NONE. */
VT_API vt_finish_reason vt_finish_after(int32_t token, int32_t eos_id, bool stop_matched, int64_t n_generated,
                                        int64_t max_new_tokens);

#ifdef __cplusplus
}
#endif
#endif
