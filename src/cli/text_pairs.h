/* Texts and text pairs through a sequence classifier, for verto predict and
 * verto eval (pairs use the tokenizer's "[CLS] A [SEP] B [SEP]" encoding). */
#ifndef VERTO_CLI_TEXT_PAIRS_H
#define VERTO_CLI_TEXT_PAIRS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/text_input.h"
#include "verto/bert.h"
#include "verto/tokenizer.h"

/* Encodes `count` inputs a[i] (alen[i] bytes) or pairs (a[i], b[i]) into *out
 * (b NULL, or b[i] NULL, for single texts), truncated to max_length tokens
 * (longest first for pairs) and padded to the longest of the batch. */
vt_status cli_pair_batch_encode(cli_batch *out, const vt_tokenizer *tok, const char *const *a, const size_t *alen,
                                const char *const *b, const size_t *blen, size_t count, int32_t max_length);

/* Runs the classifier over n inputs, `batch` at a time, and writes the
 * softmax of the logits to probs (n, K) (K = the model's num_labels >= 2). */
vt_status cli_classify(vt_bert *model, const vt_tokenizer *tok, size_t n, const char *const *a, const size_t *alen,
                       const char *const *b, const size_t *blen, size_t batch, int32_t max_length, double *probs);

/* Loads a fine-tuned sequence classifier and its tokenizer from `dir`: an
 * error when the directory's weights lack the classifier (a pretraining
 * checkpoint would get a random head) or num_labels < 2. */
vt_status cli_load_classifier(const char *dir, vt_bert **model, vt_tokenizer **tok);


#endif
