/* libFuzzer target: GPT-2 config.json parsing (vt_gpt2_config_parse). Any
 * input must give VT_OK with a config that passes vt_gpt2_config_check and
 * whose size products stay inside int64, or an error naming the file; never a
 * crash, leak or sanitizer report. Seeds: fuzz/corpus/gpt2_config/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/error.h"
#include "verto/gpt2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_gpt2_config c;
    vt_status st = vt_gpt2_config_parse((const char *)data, size, "fuzz.json", &c);
    if (st == VT_OK) {
        if (vt_gpt2_config_check(&c, "fuzz.json") != VT_OK) abort();
        int64_t H = c.n_embd, I = vt_gpt2_inner(&c);
        volatile int64_t n = (c.vocab_size + c.n_positions) * H + c.n_layer * (4 * H * H + 2 * H * I);
        (void)n;
        if (vt_gpt2_is_config((const char *)data, size) != true) abort(); /* parsed, so it names gpt2 */
    } else if (!vt_last_error()[0] || !strstr(vt_last_error(), "fuzz.json")) {
        abort(); /* every error names the file */
    }
    return 0;
}
