/* libFuzzer target: the /v1/completions body parser
 * (vt_completion_request_parse). Any input must give VT_OK with a consistent
 * request (1 to 64 non-empty NUL-free prompts, max_tokens >= 1, 0 to 4
 * non-empty stop strings, sampling options vt_sampling_options_check
 * accepts) or VT_ERR_INVALID_ARG / VT_ERR_NOMEM with an emptied request and a
 * one-line message; never a crash, leak or sanitizer report. Seeds:
 * fuzz/corpus/completion_request/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/completions.h"
#include "verto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_completion_request r;
    vt_status st = vt_completion_request_parse((const char *)data, size, &r);
    if (st == VT_OK) {
        if (r.n_prompts < 1 || r.n_prompts > 64 || !r.prompts || r.max_tokens < 1 || r.n_stops < 0 || r.n_stops > 4)
            abort();
        for (size_t i = 0; i < r.n_prompts; i++)
            if (!r.prompts[i] || !r.prompts[i][0]) abort();
        for (int i = 0; i < r.n_stops; i++)
            if (!r.stops[i] || !r.stops[i][0]) abort();
        if (vt_sampling_options_check(&r.sampling) != VT_OK) abort();
    } else {
        const char *m = vt_last_error();
        if (st != VT_ERR_INVALID_ARG && st != VT_ERR_NOMEM) abort();
        if (r.n_prompts || r.prompts || r.n_stops || r.stops || !m[0] || strchr(m, '\n')) abort();
    }
    vt_completion_request_free(&r);
    return 0;
}
