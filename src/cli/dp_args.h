/* The DP-SGD options of the training commands (verto finetune, its
 * question-answering form, and verto pretrain): their entries in a command's
 * option table, and the checks once parsed. */
#ifndef VERTO_CLI_DP_ARGS_H
#define VERTO_CLI_DP_ARGS_H

#include "cli/args.h"
#include "verto/dp.h"
#include "verto/task.h"

/* The entries every DP-SGD run takes, writing into a vt_dp_request r and
 * sampling (a const char *); set r.noise_multiplier to -1 (unset) before parsing. */
#define CLI_DP_REQUEST_OPTIONS(r, sampling)                                                                             \
    {"--dp-noise-multiplier", CLI_FLOAT, &(r).noise_multiplier, "S",                                                 \
     "differentially private training (DP-SGD): Gaussian noise of S x the clipping bound on each step's summed "     \
     "gradient (with --dp-max-grad-norm; epsilon in OUT/privacy.json and metrics.jsonl)",                            \
     0, 1e6},                                                                                                         \
    {"--dp-max-grad-norm", CLI_FLOAT, &(r).max_grad_norm, "C",                                                       \
     "DP-SGD: every example's gradient clipped to norm C", 1e-12, 1e12},                                             \
    {"--dp-epsilon", CLI_FLOAT, &(r).epsilon, "E",                                                                   \
     "DP-SGD: solve the noise multiplier so the whole run spends at most epsilon E (instead of "                     \
     "--dp-noise-multiplier)",                                                                                        \
     1e-6, 1e6},                                                                                                      \
    {"--dp-delta", CLI_FLOAT, &(r).delta, "D",                                                                       \
     "DP-SGD: the delta of the guarantee (default 1 / n^1.1 of the n training examples)", 1e-300, 0.999999},        \
    {"--dp-sampling", CLI_STRING, &(sampling), "poisson|shuffle",                                                    \
     "DP-SGD batches: each example with probability expected batch / examples (poisson, default; what the "          \
     "guarantee assumes) or fixed-size shuffled batches (shuffle: the guarantee does not hold as stated)"},          \
    {"--dp-exact", CLI_FLAG, &(r).exact, NULL,                                                                       \
     "DP-SGD: each example's gradient by its own forward and backward (the reference the fast path is checked "    \
     "against; slower) instead of the fast path"}

/* Fine-tuning's entries, writing into ft (a vt_finetune_options, its DP
 * request in dp) and sampling. */
#define CLI_DP_OPTIONS(ft, dp, sampling)                                                                                \
    {"--grad-accum", CLI_INT, &(ft).grad_accum, "N",                                                                \
     "micro-batches of --batch-size per step (default 1); with DP-SGD the step's Poisson-sampled batch (expected "   \
     "batch-size x N) runs in micro-batches and its noise is added once",                                            \
     1, 65536},                                                                                                       \
    CLI_DP_REQUEST_OPTIONS(dp, sampling),                                                                             \
    {"--dp-dev-public", CLI_FLAG, &(ft).dp_dev_public, NULL,                                                         \
     "DP-SGD: the dev set is not private data, so choosing the best epoch on it is allowed (only the training set "  \
     "is protected; without this flag DP-SGD is refused, since the choice leaks the dev set)"}

/* Both figures or neither; a budget or a noise multiplier, not both;
 * shuffle sampling only with a warning; other DP options (others_given)
 * only with DP. On success r->max_grad_norm > 0 says DP-SGD is on (and
 * r->noise_multiplier >= 0). Non-zero (printed) on a bad combination. */
int cli_dp_request(vt_dp_request *r, const char *sampling, bool others_given);

/* The same for fine-tuning: checks dp and copies it into ft's dp_ fields. */
int cli_dp_options(vt_finetune_options *ft, vt_dp_request *dp, const char *sampling);

#endif
