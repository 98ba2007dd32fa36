/* The RDP accountant's history of (noise multiplier, sample rate, steps), what
 * it has spent, and the noise multiplier that keeps a planned run within a
 * budget (Opacus' RDPAccountant and get_noise_multiplier). */
#include <math.h>
#include <stdlib.h>

#include "core/grow.h"
#include "train/privacy_internal.h"

/* Opacus' MAX_SIGMA: the bracket's doubling gives up past it. */
#define MAX_NOISE_MULTIPLIER 1e6
/* get_noise_multiplier starts its bracket at [0, 10] and doubles the top first. */
#define FIRST_NOISE_BRACKET 10.0

vt_privacy_accountant *vt_privacy_accountant_new(void) {
    vt_privacy_accountant *acc = calloc(1, sizeof *acc);
    if (!acc) vt_error(VT_ERR_NOMEM, "privacy accountant: out of memory");
    return acc;
}

void vt_privacy_accountant_free(vt_privacy_accountant *acc) {
    if (!acc) return;
    free(acc->history);
    free(acc);
}

vt_status vt_privacy_check_entry(double noise_multiplier, double sample_rate, int64_t steps, const char *who) {
    if (!(noise_multiplier >= 0 && isfinite(noise_multiplier)))
        return vt_error(VT_ERR_INVALID_ARG, "%s: noise multiplier %g is not a finite number >= 0", who,
                        noise_multiplier);
    if (!(sample_rate >= 0 && sample_rate <= 1))
        return vt_error(VT_ERR_INVALID_ARG, "%s: sample rate %g is not in [0, 1]", who, sample_rate);
    if (steps < 1 || steps > VT_PRIVACY_MAX_STEPS)
        return vt_error(VT_ERR_INVALID_ARG, "%s: steps %lld is not in [1, 2^53]", who, (long long)steps);
    return VT_OK;
}

vt_status vt_privacy_append(vt_privacy_accountant *acc, vt_privacy_entry e) {
    vt_status st = vt_grow((void **)&acc->history, &acc->cap, acc->n, sizeof *acc->history, "privacy accountant");
    if (st != VT_OK) return st;
    acc->history[acc->n++] = e;
    return VT_OK;
}

vt_status vt_privacy_accountant_step(vt_privacy_accountant *acc, double noise_multiplier, double sample_rate,
                                     int64_t steps) {
    if (!acc) return vt_error(VT_ERR_INVALID_ARG, "vt_privacy_accountant_step: NULL accountant");
    vt_status st = vt_privacy_check_entry(noise_multiplier, sample_rate, steps, "privacy accountant");
    if (st != VT_OK) return st;
    int64_t total = vt_privacy_accountant_total_steps(acc);
    if (steps > VT_PRIVACY_MAX_STEPS - total)
        return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: more than 2^53 steps in all");
    vt_privacy_entry *last = acc->n ? &acc->history[acc->n - 1] : NULL;
    if (last && last->noise_multiplier == noise_multiplier && last->sample_rate == sample_rate) {
        last->steps += steps;
        return VT_OK;
    }
    return vt_privacy_append(acc, (vt_privacy_entry){noise_multiplier, sample_rate, steps});
}

size_t vt_privacy_accountant_entries(const vt_privacy_accountant *acc) { return acc ? (size_t)acc->n : 0; }

vt_status vt_privacy_accountant_entry(const vt_privacy_accountant *acc, size_t i, vt_privacy_entry *out) {
    if (!acc || !out || i >= (size_t)acc->n)
        return vt_error(VT_ERR_INVALID_ARG, "vt_privacy_accountant_entry: no entry %zu", i);
    *out = acc->history[i];
    return VT_OK;
}

int64_t vt_privacy_accountant_total_steps(const vt_privacy_accountant *acc) {
    int64_t total = 0;
    for (int32_t i = 0; acc && i < acc->n; i++) total += acc->history[i].steps;
    return total;
}

/* ε over the default orders of a history: each entry's RDP times its steps,
 * added entry by entry in history order (as Python's sum over the entries). */
static vt_status spent_of(const vt_privacy_entry *h, int32_t n, double delta, vt_privacy_spent *out) {
    const double *orders = vt_privacy_default_orders();
    double total[VT_PRIVACY_N_ORDERS] = {0};
    for (int32_t e = 0; e < n; e++) {
        for (int k = 0; k < VT_PRIVACY_N_ORDERS; k++) {
            double rdp;
            vt_status st = vt_privacy_rdp(h[e].sample_rate, h[e].noise_multiplier, orders[k], &rdp);
            if (st != VT_OK) return st;
            total[k] += rdp * (double)h[e].steps;
        }
    }
    return vt_privacy_epsilon_from_rdp(orders, total, VT_PRIVACY_N_ORDERS, delta, out);
}

vt_status vt_privacy_accountant_spent(const vt_privacy_accountant *acc, double delta, vt_privacy_spent *out) {
    if (!acc || !out) return vt_error(VT_ERR_INVALID_ARG, "vt_privacy_accountant_spent: NULL argument");
    if (!(delta > 0 && delta < 1))
        return vt_error(VT_ERR_INVALID_ARG, "privacy accountant: delta %g is not in (0, 1)", delta);
    if (acc->n == 0) {
        *out = (vt_privacy_spent){.epsilon = 0, .best_order = 0, .order_at_edge = false};
        return VT_OK;
    }
    return spent_of(acc->history, acc->n, delta, out);
}

/* ε of `steps` steps at one (noise, rate): the solver's one-entry history. */
static vt_status epsilon_at(double noise, double rate, int64_t steps, double delta, double *eps) {
    vt_privacy_entry e = {noise, rate, steps};
    vt_privacy_spent s;
    vt_status st = spent_of(&e, 1, delta, &s);
    *eps = s.epsilon;
    return st;
}

vt_status vt_privacy_noise_multiplier(double target_epsilon, double delta, double sample_rate, int64_t steps,
                                      double tolerance, double *noise_multiplier) {
    const char *who = "noise multiplier";
    if (!noise_multiplier) return vt_error(VT_ERR_INVALID_ARG, "vt_privacy_noise_multiplier: NULL output");
    if (!(target_epsilon > 0 && isfinite(target_epsilon)))
        return vt_error(VT_ERR_INVALID_ARG, "%s: target epsilon %g is not a finite number > 0", who, target_epsilon);
    if (!(delta > 0 && delta < 1)) return vt_error(VT_ERR_INVALID_ARG, "%s: delta %g is not in (0, 1)", who, delta);
    if (!(sample_rate > 0 && sample_rate <= 1))
        return vt_error(VT_ERR_INVALID_ARG, "%s: sample rate %g is not in (0, 1]", who, sample_rate);
    if (!(tolerance > 0 && isfinite(tolerance)))
        return vt_error(VT_ERR_INVALID_ARG, "%s: epsilon tolerance %g is not a finite number > 0", who, tolerance);
    vt_status st = vt_privacy_check_entry(1.0, sample_rate, steps, who);
    if (st != VT_OK) return st;

    /* Bracket: double the top until it spends no more than the target. */
    double low = 0, high = FIRST_NOISE_BRACKET, eps_high = INFINITY;
    while (eps_high > target_epsilon) {
        high *= 2;
        if ((st = epsilon_at(high, sample_rate, steps, delta, &eps_high)) != VT_OK) return st;
        if (high > MAX_NOISE_MULTIPLIER)
            return vt_error(VT_ERR_INVALID_ARG, "%s: the privacy budget epsilon %g at delta %g is too low for %lld "
                            "steps at sample rate %g (noise multiplier %g still spends %g)", who, target_epsilon,
                            delta, (long long)steps, sample_rate, high, eps_high);
    }
    /* Bisect until the top spends within `tolerance` below the target. */
    while (target_epsilon - eps_high > tolerance) {
        double mid = (low + high) / 2, eps;
        if (mid == low || mid == high)
            return vt_error(VT_ERR_NUMERIC, "%s: the bisection for epsilon %g stopped at noise multiplier %.17g "
                            "(epsilon %g) before reaching the tolerance %g", who, target_epsilon, high, eps_high,
                            tolerance);
        if ((st = epsilon_at(mid, sample_rate, steps, delta, &eps)) != VT_OK) return st;
        if (eps < target_epsilon) {
            high = mid;
            eps_high = eps;
        } else {
            low = mid;
        }
    }
    *noise_multiplier = high;
    return VT_OK;
}
