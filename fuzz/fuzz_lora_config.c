/* libFuzzer target: a PEFT adapter_config.json (gpt2_lora_parse_config).
 * Checks: an accepted config has r >= 1, dropout in [0, 1), a finite alpha
 * and target bits within the four Conv1D modules; a refused one's message
 * names the file. Seeds: fuzz/corpus/lora_config/. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gpt2/gpt2_internal.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_gpt2_lora_config c;
    vt_status st = gpt2_lora_parse_config((const char *)data, size, "adapter_config.json", &c);
    if (st != VT_OK) {
        CHECK(strstr(vt_last_error(), "adapter_config.json") != NULL);
        return 0;
    }
    CHECK(c.rank >= 1 && c.rank <= 65536 && c.dropout >= 0 && c.dropout < 1 && isfinite(c.alpha));
    CHECK(c.targets >= 1 && c.targets < (1u << GPT2_LORA_SLOTS));
    return 0;
}
