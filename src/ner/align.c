/* Word tags to token labels for training, and token predictions back to
 * words (see verto/ner.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "verto/ner.h"

/* run_ner's b_to_i_label: for a tag starting with "B-", the id of the tag
 * with every "B-" replaced by "I-" (label.replace("B-", "I-")) when the map
 * has it; else the tag itself. */
static int32_t inside_of(const char *const *id2label, int num_labels, int32_t tag) {
    const char *b = id2label[tag];
    if (!b || strncmp(b, "B-", 2)) return tag;
    size_t n = strlen(b);
    for (int k = 0; k < num_labels; k++) {
        const char *l = id2label[k];
        if (!l || strlen(l) != n) continue;
        size_t i = 0;
        while (i < n) {
            bool bdash = i + 1 < n && b[i] == 'B' && b[i + 1] == '-'; /* replace() works left to right */
            if (bdash ? l[i] != 'I' || l[i + 1] != '-' : l[i] != b[i]) break;
            i += bdash ? 2 : 1;
        }
        if (i == n) return k;
    }
    return tag;
}

vt_status vt_ner_align_labels(const int32_t *word_ids, int32_t len, const int32_t *word_tags, size_t n_words,
                              bool label_all_tokens, const char *const *id2label, int num_labels, int32_t *labels) {
    if (len < 0 || (len && (!word_ids || !labels)) || (n_words && !word_tags) ||
        (label_all_tokens && (!id2label || num_labels < 1)))
        return vt_error(VT_ERR_INVALID_ARG, "vt_ner_align_labels: bad arguments");
    int32_t prev = -1;
    for (int32_t i = 0; i < len; i++) {
        int32_t w = word_ids[i];
        if (w < 0) {
            labels[i] = VT_NER_IGNORE;
        } else {
            if ((size_t)w >= n_words)
                return vt_error(VT_ERR_INVALID_ARG, "token %d: word id %d outside [0, %zu)", i, w, n_words);
            int32_t tag = word_tags[w];
            if (tag != VT_NER_IGNORE && (tag < 0 || (num_labels > 0 && tag >= num_labels)))
                return vt_error(VT_ERR_INVALID_ARG, "word %d: tag id %d outside [0, %d)", w, tag, num_labels);
            if (w == prev) /* a later token of the same word */
                labels[i] = !label_all_tokens || tag == VT_NER_IGNORE ? VT_NER_IGNORE
                                                                      : inside_of(id2label, num_labels, tag);
            else
                labels[i] = tag;
        }
        prev = w;
    }
    return VT_OK;
}

void vt_ner_first_token_per_word(const int32_t *word_ids, int32_t len, const int32_t *token_pred,
                                 int32_t *word_pred, size_t n_words) {
    for (size_t w = 0; w < n_words; w++) word_pred[w] = -1;
    int32_t prev = -1;
    for (int32_t i = 0; i < len; i++) {
        int32_t w = word_ids[i];
        if (w >= 0 && w != prev && (size_t)w < n_words && word_pred[w] < 0) word_pred[w] = token_pred[i];
        prev = w;
    }
}
