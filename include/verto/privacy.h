/* The privacy accountant of differentially private training (DP-SGD).
 *
 * Each training step of DP-SGD is a sampled Gaussian mechanism: every example
 * joins the batch with probability q (the sample rate), each example's gradient
 * is clipped to norm C, and Gaussian noise of standard deviation S * C is added
 * to their sum (S: the noise multiplier). The accountant bounds the privacy
 * loss of all the steps taken so far with Rényi differential privacy (Mironov,
 * Talwar and Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
 * Mechanism") and converts it to an (ε, δ) guarantee with Theorem 21 of Balle
 * et al. 2020 ("Hypothesis testing interpretations and Rényi differential
 * privacy"), exactly as Opacus 1.6's RDPAccountant does: the same orders, the
 * same series for integer and fractional orders, the same special cases
 * (q = 0: nothing spent, S = 0: ε infinite, q = 1: α / (2 S²)), the same
 * conversion and choice of order. The noise-multiplier solver is Opacus'
 * get_noise_multiplier: the same doubling bracket from 10 and the same
 * bisection, stopping when the solved S spends ε within `tolerance` below the
 * target. docs/privacy.md says what a guarantee covers. */
#ifndef VERTO_PRIVACY_H
#define VERTO_PRIVACY_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The orders α Opacus' RDPAccountant searches by default: 1.1, 1.2, ..., 10.9
 * (1 + k/10 for k = 1..99), then 12, 13, ..., 63. */
#define VT_PRIVACY_N_ORDERS 151
/* The default orders, in that order (a static array of VT_PRIVACY_N_ORDERS). */
VT_API const double *vt_privacy_default_orders(void);

/* The Rényi DP of one step of the sampled Gaussian mechanism at order α > 1:
 * sample_rate q in [0, 1], noise_multiplier S >= 0 (finite). Writes the value to
 * *rdp (+infinity when S = 0 and q > 0). Returns VT_ERR_INVALID_ARG, naming the
 * argument, for anything outside those ranges, and VT_ERR_NUMERIC when the
 * series fails in floating point (a log-space difference turned negative, where
 * Opacus raises ValueError). */
VT_API vt_status vt_privacy_rdp(double sample_rate, double noise_multiplier, double order, double *rdp);

/* What a sequence of steps spent at one δ. */
typedef struct vt_privacy_spent {
    double epsilon;    /* +infinity when no order bounds it (e.g. noise 0) */
    double best_order; /* the order α whose conversion gave ε (NaN if none did) */
    bool order_at_edge; /* the best order is the first or last searched: a wider
                           range of orders could give a smaller ε (Opacus warns) */
} vt_privacy_spent;

/* (ε, δ) from RDP values rdp[i] at orders[i] (n >= 1, every order > 1):
 * ε = min over i of rdp[i] - (log δ + log α_i) / (α_i - 1) + log((α_i - 1) / α_i),
 * NaN entries skipped, the first minimum kept. 0 < delta < 1. */
VT_API vt_status vt_privacy_epsilon_from_rdp(const double *orders, const double *rdp, size_t n, double delta,
                                             vt_privacy_spent *out);

/* One run of steps with the same noise multiplier and sample rate. */
typedef struct vt_privacy_entry {
    double noise_multiplier;
    double sample_rate;
    int64_t steps;
} vt_privacy_entry;

/* The steps taken so far, as Opacus' accountant history: a step with the same
 * (noise multiplier, sample rate) as the last entry extends it, any other
 * starts a new entry. */
typedef struct vt_privacy_accountant vt_privacy_accountant;

/* An empty accountant (nothing spent), or NULL if out of memory. */
VT_API vt_privacy_accountant *vt_privacy_accountant_new(void);
/* Frees it; NULL is fine. */
VT_API void vt_privacy_accountant_free(vt_privacy_accountant *acc);

/* Records `steps` >= 1 steps (as many calls of Opacus' step()) with noise
 * multiplier >= 0 and sample rate in [0, 1], both finite. On error the
 * accountant is unchanged. */
VT_API vt_status vt_privacy_accountant_step(vt_privacy_accountant *acc, double noise_multiplier, double sample_rate,
                                            int64_t steps);

/* The number of history entries, and entry i (0 <= i < count) into *out. */
VT_API size_t vt_privacy_accountant_entries(const vt_privacy_accountant *acc);
VT_API vt_status vt_privacy_accountant_entry(const vt_privacy_accountant *acc, size_t i, vt_privacy_entry *out);
/* The total number of steps recorded. */
VT_API int64_t vt_privacy_accountant_total_steps(const vt_privacy_accountant *acc);

/* ε spent so far at `delta` (0 < delta < 1) over the default orders: the RDP
 * of every entry (steps times one step's) summed in history order, then
 * vt_privacy_epsilon_from_rdp. An empty history spends ε = 0 (best order 0),
 * as Opacus returns. */
VT_API vt_status vt_privacy_accountant_spent(const vt_privacy_accountant *acc, double delta, vt_privacy_spent *out);

/* The accountant's state as one JSON object (malloc'd, NUL-terminated; NULL if
 * out of memory):
 *   {"accountant": "rdp", "history": [{"noise_multiplier": S, "sample_rate": q, "steps": N}, ...]}
 * Numbers are written with 17 significant digits, so they read back exactly. */
VT_API char *vt_privacy_accountant_to_json(const vt_privacy_accountant *acc);

/* An accountant restored from text[0..n) in the form above, or NULL with a
 * VT_ERR_FORMAT message naming `name` (a file name, for messages) and the field
 * at fault. Strict: unknown or repeated keys, a missing key, an accountant other
 * than "rdp", steps that are not an integer in [1, 2^53], and rates or noise
 * outside their ranges are errors. Entries are kept as written (adjacent equal
 * ones are not merged, so ε is the same as before saving). */
VT_API vt_privacy_accountant *vt_privacy_accountant_from_json(const char *text, size_t n, const char *name);

/* Writes the JSON state to `path` atomically (fileio.h); reads it back. */
VT_API vt_status vt_privacy_accountant_save(const vt_privacy_accountant *acc, const char *path);
VT_API vt_privacy_accountant *vt_privacy_accountant_load(const char *path);

/* The noise multiplier that spends at most `target_epsilon` at `delta` over
 * `steps` steps at `sample_rate`, as Opacus' get_noise_multiplier(accountant =
 * "rdp", epsilon_tolerance = tolerance): doubles S from 10 (20, 40, ...) until
 * ε(S) <= target (VT_ERR_INVALID_ARG "budget too low" once S passes 1e6, as
 * Opacus raises), then bisects [0, S] until target - ε(S) <= tolerance, and
 * writes that upper end S to *noise_multiplier: ε(S) lies in
 * [target - tolerance, target]. target_epsilon > 0, 0 < delta < 1,
 * 0 < sample_rate <= 1, steps >= 1, tolerance > 0 (Opacus' default: 0.01).
 * VT_ERR_NUMERIC if the bisection stops moving before reaching the tolerance
 * (where Opacus would loop for ever). */
VT_API vt_status vt_privacy_noise_multiplier(double target_epsilon, double delta, double sample_rate, int64_t steps,
                                             double tolerance, double *noise_multiplier);

#ifdef __cplusplus
}
#endif
#endif
