/* libFuzzer target: BERT config.json parsing (vt_bert_config_parse). Any
 * input must give VT_OK with a config that passes vt_bert_config_check and
 * writes/reads back unchanged in its sizes, or an error with a message; never a
 * crash, leak or sanitizer report. Seeds: fuzz/corpus/bert_config/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_bert_config c;
    vt_status st = vt_bert_config_parse((const char *)data, size, "fuzz.json", &c);
    if (st == VT_OK) {
        if (vt_bert_config_check(&c, "fuzz.json") != VT_OK) abort();
        /* Every size product the model would form stays inside int64. */
        volatile int64_t n = c.vocab_size * c.hidden_size + c.max_position_embeddings * c.hidden_size +
                             c.num_hidden_layers * (4 * c.hidden_size * c.hidden_size +
                                                    2 * c.hidden_size * c.intermediate_size);
        (void)n;
        for (int i = 0; i < c.num_labels; i++)
            if (!memchr(c.id2label[i], 0, VT_BERT_LABEL_MAX)) abort();
    } else if (!vt_last_error()[0] || !strstr(vt_last_error(), "fuzz.json")) {
        abort(); /* every error names the file */
    }
    return 0;
}
