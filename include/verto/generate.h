/* Text generation over a GPT-2 model: a session holds up to max_slots running
 * sequences (slots) that share decoding steps. A request joins a free slot
 * with vt_gen_add (its prompt is prefilled and its first token chosen), each
 * vt_gen_step chooses one more token for every running slot in one batched
 * model step, and a finished slot keeps its result until vt_gen_release frees
 * its place (continuous batching: requests join and leave between steps).
 *
 * Each slot decodes exactly as it would alone: its own cache positions, its
 * own sampler, and its own random stream vt_sampling_rng(seed, 0), so a
 * request's tokens do not depend on what else runs (nor on the slot).
 *
 * Text: the generated tokens are decoded by the tokenizer (the end-of-
 * sequence token left out); a stop string cuts the text before it. For
 * streaming, vt_gen_take_text hands out the new text that is final: it holds
 * back a suffix that could begin a stop string and a trailing incomplete
 * UTF-8 character (decoded as U+FFFD until its next bytes come).
 *
 * A session is not thread-safe: one thread drives it. Errors via
 * vt_last_error(); nothing prints or exits. */
#ifndef VERTO_GENERATE_H
#define VERTO_GENERATE_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/gpt2.h"
#include "verto/sampling.h"
#include "verto/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_gen_request {
    const int32_t *prompt;        /* (n_prompt >= 1) token ids, copied by vt_gen_add */
    int64_t n_prompt;
    vt_sampling_options sampling; /* greedy by default */
    uint64_t seed;                /* the sampling stream (vt_sampling_rng(seed, 0)) */
    int64_t max_new_tokens;       /* >= 1 (default 16) */
    const char *const *stops;     /* (n_stops) stop strings, copied; empty ones ignored */
    int n_stops;
    int32_t eos_id;               /* -1 (default): none */
} vt_gen_request;

VT_API void vt_gen_request_default(vt_gen_request *r);

typedef struct vt_gen_session vt_gen_session;

/* A session over `m` (borrowed; the session runs its decoding) and `tok`
 * (borrowed, for the text) with max_slots sequences of up to max_len tokens
 * each (prompt + generated; <= n_positions; the cache takes
 * 2 * n_layer * n_embd * max_len floats per slot). */
VT_API vt_gen_session *vt_gen_session_new(vt_gpt2 *m, const vt_tokenizer *tok, int64_t max_slots, int64_t max_len);
VT_API void vt_gen_session_free(vt_gen_session *s);
VT_API int64_t vt_gen_max_slots(const vt_gen_session *s);
VT_API int64_t vt_gen_max_len(const vt_gen_session *s);
/* Slots holding a request (running or finished and not released), and those running. */
VT_API int64_t vt_gen_used(const vt_gen_session *s);
VT_API int64_t vt_gen_running(const vt_gen_session *s);

/* Puts the request in a free slot (*slot), runs its prompt and chooses its
 * first token. VT_ERR_STATE when no slot is free; VT_ERR_INVALID_ARG for bad
 * options, ids outside the vocabulary, or n_prompt + max_new_tokens - 1 over
 * the session's max_len. */
VT_API vt_status vt_gen_add(vt_gen_session *s, const vt_gen_request *r, int64_t *slot);
/* One token for every running slot (nothing when none runs). On an error the
 * running slots are left unfinished and their state is undefined: release them. */
VT_API vt_status vt_gen_step(vt_gen_session *s);

typedef struct vt_gen_slot_info {
    bool used;
    vt_finish_reason finish;  /* VT_FINISH_NONE while running */
    const int32_t *tokens;    /* (n_tokens) the generated ids (the eos token included when produced) */
    int64_t n_tokens, n_prompt;
    const char *text;         /* (text_len) the text so far (final once finished; stop string cut) */
    size_t text_len;
} vt_gen_slot_info;

/* The slot's state; pointers valid until the next add, step or release. */
VT_API vt_status vt_gen_slot(const vt_gen_session *s, int64_t slot, vt_gen_slot_info *out);
/* The slot's new final text since the previous call (*len bytes, maybe 0);
 * once finished, everything left. Valid until the next add, step or release. */
VT_API const char *vt_gen_take_text(vt_gen_session *s, int64_t slot, size_t *len);
/* Frees the slot, finished or not (a client gone away). */
VT_API vt_status vt_gen_release(vt_gen_session *s, int64_t slot);

/* ---- a whole batch of requests ---------------------------------------- */

typedef struct vt_gen_result {
    int32_t *tokens;          /* (n_tokens) generated ids */
    int64_t n_tokens, prompt_tokens;
    char *text;               /* (text_len) NUL-terminated */
    size_t text_len;
    vt_finish_reason finish;
} vt_gen_result;

VT_API void vt_gen_result_free(vt_gen_result *r);

/* Called with request `index`'s new final text as it comes (len may be 0 on
 * the call with done = true, which comes once per request). */
typedef void (*vt_gen_text_fn)(int64_t index, const char *text, size_t len, bool done, void *ctx);

/* Runs the n requests with up to batch_size at a time (a finished one's
 * place going to the next waiting one between steps) and fills out[0..n).
 * on_text may be NULL. On failure the results are freed and zeroed. */
VT_API vt_status vt_generate_batch(vt_gpt2 *m, const vt_tokenizer *tok, const vt_gen_request *reqs, int64_t n,
                                   int64_t batch_size, vt_gen_text_fn on_text, void *ctx, vt_gen_result *out);

#ifdef __cplusplus
}
#endif
#endif
