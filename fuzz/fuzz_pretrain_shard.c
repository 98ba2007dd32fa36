/* libFuzzer target: the pretraining shard reader (vt_pt_shard_parse).
 * The first input byte sets options: bit 0 recomputes the trailing FNV-1a
 * checksum before parsing (so mutations reach the checks behind it), bit 1
 * passes the header's vocabulary size as the caller's (else 0: no
 * comparison), bit 2 passes a vocabulary size one smaller. The rest is the
 * shard. Any input must give either a shard whose every instance keeps the
 * documented bounds (5 <= n_tokens <= max_seq_length, ids < vocab size,
 * segment ids 0/1, positions strictly increasing below n_tokens) or NULL
 * with a VT_ERR_FORMAT message naming the label; never a crash, leak or
 * sanitizer report. Seeds: fuzz/corpus/pretrain_shard/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/pretrain_data.h"
#include "core/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, n);
    if ((ctl & 1) && n >= 8) {
        uint64_t h = vt_fnv1a64(VT_FNV64_INIT, buf, n - 8);
        for (int k = 0; k < 8; k++) buf[n - 8 + (size_t)k] = (uint8_t)(h >> (8 * k));
    }
    int32_t vocab = 0;
    uint32_t header_vocab = 0;
    if (n >= 20) header_vocab = (uint32_t)buf[16] | (uint32_t)buf[17] << 8 | (uint32_t)buf[18] << 16 | (uint32_t)buf[19] << 24;
    if ((ctl & 2) && header_vocab <= INT32_MAX) vocab = (int32_t)header_vocab;
    if ((ctl & 4) && vocab > 1) vocab--;
    vt_pt_shard *s = vt_pt_shard_parse(buf, n, "fuzz.vtpt", vocab);
    if (!s) {
        if (vt_last_status() != VT_ERR_FORMAT && vt_last_status() != VT_ERR_NOMEM) abort();
        if (!strstr(vt_last_error(), "fuzz.vtpt")) abort();
    } else {
        int32_t msl = vt_pt_shard_max_seq_length(s);
        bool masked = vt_pt_shard_flags(s) & VT_PT_FLAG_MASKED;
        for (int64_t i = 0; i < vt_pt_shard_count(s); i++) {
            vt_pt_instance x;
            if (vt_pt_shard_get(s, i, &x) != VT_OK) abort();
            if (x.n_tokens < 5 || x.n_tokens > msl || x.n_masked < 0 || x.n_masked > x.n_tokens) abort();
            if (masked ? x.n_masked < 1 : x.n_masked != 0) abort();
            if (x.is_random_next != 0 && x.is_random_next != 1) abort();
            for (int32_t t = 0; t < x.n_tokens; t++)
                if (x.tokens[t] < 0 || (uint32_t)x.tokens[t] >= header_vocab || x.segment_ids[t] > 1) abort();
            for (int32_t k = 0; k < x.n_masked; k++)
                if (x.positions[k] < 0 || x.positions[k] >= x.n_tokens || (k && x.positions[k] <= x.positions[k - 1]) ||
                    x.labels[k] < 0 || (uint32_t)x.labels[k] >= header_vocab)
                    abort();
        }
        vt_pt_shard_free(s);
    }
    free(buf);
    return 0;
}
