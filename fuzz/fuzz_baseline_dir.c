/* libFuzzer target: a verto-tfidf-lr directory's text files, config.json
 * (bl_config_parse) and vocab.txt (bl_vocab_parse): the input is config.json,
 * a NUL byte, then vocab.txt. Any input must parse into a consistent model
 * (labels present and short, every term NUL-free and findable by itself) or
 * fail with a message naming the file; never a crash, leak or sanitizer
 * report. Seeds: fuzz/corpus/baseline_dir/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline_internal.h"
#include "verto/bert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data, *nul = memchr(text, '\0', size);
    size_t config_len = nul ? (size_t)(nul - text) : size;
    vt_baseline *b = calloc(1, sizeof *b);
    if (!b) return 0;
    vt_status st = bl_config_parse(b, text, config_len, "config.json");
    if (st == VT_OK) {
        if (b->K < 1 || b->K > VT_BERT_MAX_LABELS || b->tfidf.V < 1) abort();
        for (int k = 0; k < b->K; k++)
            if (!b->labels[k] || strlen(b->labels[k]) >= VT_BERT_LABEL_MAX) abort();
    } else if (!strstr(vt_last_error(), "config.json")) {
        abort();
    }
    if (nul) { /* the vocabulary, with as many terms as its lines claim at most 4096 */
        int64_t V = st == VT_OK && b->tfidf.V <= 4096 ? b->tfidf.V : 4096;
        double *idf = calloc((size_t)V, sizeof *idf);
        bl_tfidf t = {0};
        const char *vocab = nul + 1;
        size_t vocab_len = size - config_len - 1;
        if (idf && bl_vocab_parse(&t, vocab, vocab_len, idf, V, "vocab.txt") == VT_OK) {
            if (t.vocab.n != V) abort();
            for (int32_t j = 0; j < t.vocab.n; j++) {
                const char *term = bl_table_term(&t.vocab, j);
                if (bl_table_find(&t.vocab, term, strlen(term)) != j) abort();
            }
        } else if (idf && !strstr(vt_last_error(), "vocab.txt")) {
            abort();
        }
        bl_tfidf_free(&t);
        free(idf);
    }
    b->tfidf.V = 0; /* the parse set V, but holds no table */
    vt_baseline_free(b);
    return 0;
}
