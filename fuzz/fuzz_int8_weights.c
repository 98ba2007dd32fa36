/* libFuzzer target: a model.safetensors image loaded into a tiny BERT
 * sequence classifier (H8, 1 layer, 2 heads, I16, 10 words, 8 positions, 2
 * labels), the path an int8 directory takes (I8 weights, their _scale tensors,
 * the checks of src/bert/int8.c). Any input must load, after which a forward
 * runs (int8 if the file was), or fail with a message naming the file; never
 * a crash, leak or sanitizer report. Seeds: fuzz/corpus/int8_weights/ (the
 * model written by verto quantize, and in f32). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bert/hf_internal.h"
#include "verto/bert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_bert_config c;
    vt_bert_config_default(&c, VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    c.vocab_size = 10;
    c.hidden_size = 8;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.intermediate_size = 16;
    c.max_position_embeddings = 8;
    c.type_vocab_size = 2;
    vt_bert *b = vt_bert_new(&c, 0);
    if (!b) abort();
    vt_st_file *f = vt_st_open_memory(data, size, "model.safetensors");
    vt_bert_load_info info;
    memset(&info, 0, sizeof info);
    vt_status st = f ? bert_load_weights(b, f, "model.safetensors", "config.json", &info) : vt_last_status();
    if (st == VT_OK) {
        static const int32_t ids[4] = {2, 5, 7, 3};
        vt_bert_batch in = {.batch = 1, .seq_len = 4, .input_ids = ids};
        vt_bert_outputs o;
        if (vt_bert_forward(b, &in, false, 0, &o) != VT_OK) abort();
    } else if (!strstr(vt_last_error(), "model.safetensors")) {
        abort(); /* every error names the file */
    }
    vt_st_close(f);
    vt_bert_free(b);
    return 0;
}
