/* Stop strings and finish reasons of generation (see verto/sampling.h). */
#include <string.h>

#include "verto/sampling.h"

bool vt_stop_find(const char *text, size_t len, size_t old_len, const char *const *stops, int n_stops, size_t *keep) {
    size_t best = len;
    bool found = false;
    if (old_len > len) old_len = len;
    for (int k = 0; text && stops && k < n_stops; k++) {
        size_t m = stops[k] ? strlen(stops[k]) : 0;
        if (m == 0 || m > len) continue;
        /* occurrences ending after old_len start at or after old_len + 1 - m */
        size_t from = old_len + 1 > m ? old_len + 1 - m : 0;
        for (size_t i = from; i + m <= len && i < best; i++)
            if (text[i] == stops[k][0] && !memcmp(text + i, stops[k], m)) {
                best = i, found = true;
                break;
            }
    }
    if (keep) *keep = best;
    return found;
}

size_t vt_stop_holdback(const char *text, size_t len, const char *const *stops, int n_stops) {
    size_t hold = 0;
    for (int k = 0; text && stops && k < n_stops; k++) {
        size_t m = stops[k] ? strlen(stops[k]) : 0;
        for (size_t n = m > 0 ? m - 1 : 0; n > hold; n--) /* longest first: the first match is this stop's best */
            if (n <= len && !memcmp(text + len - n, stops[k], n)) {
                hold = n;
                break;
            }
    }
    return hold;
}

const char *vt_finish_reason_name(vt_finish_reason r) {
    switch (r) {
    case VT_FINISH_STOP: return "stop";
    case VT_FINISH_LENGTH: return "length";
    case VT_FINISH_EOS: return "eos";
    default: return NULL;
    }
}

vt_finish_reason vt_finish_after(int32_t token, int32_t eos_id, bool stop_matched, int64_t n_generated,
                                 int64_t max_new_tokens) {
    if (eos_id >= 0 && token == eos_id) return VT_FINISH_EOS;
    if (stop_matched) return VT_FINISH_STOP;
    if (n_generated >= max_new_tokens) return VT_FINISH_LENGTH;
    return VT_FINISH_NONE;
}
