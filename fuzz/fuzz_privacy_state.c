/* libFuzzer target: the privacy accountant's JSON state
 * (vt_privacy_accountant_from_json). Any input must give an accountant whose
 * state writes and reads back to the same entries and the same ε, or NULL with
 * an error naming the file; never a crash, leak or sanitizer report.
 * Seeds: fuzz/corpus/privacy_state/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/error.h"
#include "verto/privacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_privacy_accountant *acc = vt_privacy_accountant_from_json((const char *)data, size, "fuzz.json");
    if (!acc) {
        if (!strstr(vt_last_error(), "fuzz.json")) abort(); /* every error names the file */
        return 0;
    }
    char *json = vt_privacy_accountant_to_json(acc);
    if (!json) abort();
    vt_privacy_accountant *back = vt_privacy_accountant_from_json(json, strlen(json), "again.json");
    if (!back || vt_privacy_accountant_entries(back) != vt_privacy_accountant_entries(acc)) abort();
    for (size_t i = 0; i < vt_privacy_accountant_entries(acc); i++) {
        vt_privacy_entry a, b;
        if (vt_privacy_accountant_entry(acc, i, &a) != VT_OK || vt_privacy_accountant_entry(back, i, &b) != VT_OK ||
            a.noise_multiplier != b.noise_multiplier || a.sample_rate != b.sample_rate || a.steps != b.steps)
            abort();
    }
    /* ε only for short histories: each entry costs 151 RDP series */
    if (vt_privacy_accountant_entries(acc) <= 4) {
        vt_privacy_spent s1, s2;
        vt_status st1 = vt_privacy_accountant_spent(acc, 1e-5, &s1), st2 = vt_privacy_accountant_spent(back, 1e-5, &s2);
        if (st1 != st2 || (st1 == VT_OK && !(s1.epsilon == s2.epsilon || (s1.epsilon != s1.epsilon))))
            abort();
    }
    free(json);
    vt_privacy_accountant_free(acc);
    vt_privacy_accountant_free(back);
    return 0;
}
