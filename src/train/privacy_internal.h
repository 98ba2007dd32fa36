/* The accountant's representation, shared by its history (privacy_accountant.c)
 * and its JSON state (privacy_state.c). */
#ifndef VT_TRAIN_PRIVACY_INTERNAL_H
#define VT_TRAIN_PRIVACY_INTERNAL_H

#include <stdint.h>

#include "verto/privacy.h"

/* Steps stay exact in a double (each entry's RDP is multiplied by them). */
#define VT_PRIVACY_MAX_STEPS (INT64_C(1) << 53)

struct vt_privacy_accountant {
    vt_privacy_entry *history; /* (n) oldest first */
    int32_t n, cap;
};

/* VT_ERR_INVALID_ARG, prefixed by `who`, unless noise >= 0 finite, rate in
 * [0, 1] and steps in [1, 2^53]. */
vt_status vt_privacy_check_entry(double noise_multiplier, double sample_rate, int64_t steps, const char *who);

/* Appends e as a new entry (no merging with the last). */
vt_status vt_privacy_append(vt_privacy_accountant *acc, vt_privacy_entry e);

#endif
