/* BERT pretraining data: instances made from raw text as Google's
 * create_pretraining_data.py makes them, stored in checksummed binary shards,
 * read back (in a seeded shuffled order), masked (statically when written or
 * dynamically at load time) and laid out as vt_bert_batch.
 *
 * ---- the algorithm (vt_pt_prepare) ---------------------------------------
 * Input: text files with one sentence (or line) per line, documents separated
 * by blank lines, or JSONL files whose records' `text_field` holds such text.
 * Each line is WordPiece-tokenized (literal "[CLS]" etc. in the text are plain
 * text); a line of only (Unicode) whitespace is blank, as Python's strip()
 * sees it; other lines with no tokens are skipped; empty documents are dropped.
 * For each of dupe_factor passes over the (shuffled) documents, each document
 * yields instances: max_num_tokens = max_seq_length - 3; the target length is
 * max_num_tokens, or with probability short_seq_prob a uniform integer in
 * [2, max_num_tokens] (drawn once per document and pass); lines accumulate
 * into a chunk until the document's last line or the target length; A = the
 * first a_end lines of the chunk (a_end uniform in [1, lines-1], 1 for a
 * one-line chunk); with probability 0.5 (always for a one-line chunk) B is
 * drawn from a random other document, starting at a random line, up to the
 * remaining target length, and the chunk's unused lines are put back; else B
 * is the rest of the chunk. The pair is trimmed to max_num_tokens by removing
 * tokens from the longer side, at the front or the back with probability 0.5
 * each, and laid out as [CLS] A [SEP] B [SEP] with segment ids 0 / 1.
 * Masking: the candidate positions (all but [CLS]/[SEP]; with whole-word
 * masking a "##" piece joins the group before it) are shuffled;
 * num_to_predict = min(max_predictions, max(1, round_half_even(n_tokens *
 * masked_lm_prob))); groups are taken in order, skipping any that would make
 * the count exceed num_to_predict; each chosen position becomes [MASK] with
 * probability 0.8, stays with 0.1, becomes a uniform random vocabulary id
 * with 0.1; labels are sorted by position.
 *
 * MLM-only instances (objective VT_PT_MLM, RoBERTa's FULL-SENTENCES): for
 * each pass, the lines of the shuffled documents are packed in order into
 * [CLS] X [SEP] of up to max_seq_length tokens, crossing document boundaries
 * with a [SEP] between documents; a line that does not fit in the instance
 * being filled starts the next one (unless that instance has fewer than 5
 * tokens: then the line is cut to fill it), and a line longer than
 * max_seq_length - 2 tokens is cut into pieces that fill instances; what is left at the end of
 * a pass or window fills the next one's first instance, and the corpus's last
 * instance is dropped if it has fewer than 5 tokens (a shard's least);
 * segment ids are all 0, is_random_next 0, short_seq_prob unused. Masking as
 * above.
 *
 * Causal-LM blocks (objective VT_PT_CLM, GPT-2's): no masks, no pairs. A
 * document is tokenized whole (no special tokens added) and followed by the
 * end-of-text id (eos_token, or the vocabulary's <|endoftext|>, else </s>;
 * VT_ERR_FORMAT when it has none); the documents' ids are concatenated in
 * input order and cut into blocks of exactly max_seq_length ids, as
 * transformers' run_clm group_texts does (over the whole corpus rather than
 * per 1000 documents); the last partial block is dropped (its size is
 * reported). A text file's document is its lines (without "\n" or "\r\n")
 * joined by "\n", documents separated by blank lines (whitespace only); a JSONL
 * record's text field is one document, verbatim. A document without tokens
 * gets no end-of-text. Invalid UTF-8 is VT_ERR_FORMAT "FILE:LINE". Windows,
 * dupe_factor, short_seq_prob and masking do not apply; the shuffle buffer
 * does (shuffle_buffer 1 keeps the blocks in corpus order). Every block is an
 * instance of max_seq_length tokens, segment ids 0, no masks. A document held
 * longer than 64 MiB of text is tokenized up to its last line and continued.
 *
 * Bounded memory -- the two places that differ from Google's all-in-memory
 * script, by design:
 *  - Windows. Documents are gathered into windows of at most
 *    window_tokens tokens (default 8M, i.e. 32 MB of ids); each window is
 *    shuffled and processed (all dupe passes) on its own, and the random-next
 *    document is drawn from the same window. A corpus smaller than one window
 *    is processed exactly as Google does. A single document longer than a
 *    window is split at the window boundary. The end of an input file (and of
 *    a JSONL record) also ends a document.
 *  - Shuffle buffer. Instances go through a buffer of shuffle_buffer slots
 *    (default 100000): once it is full, each new instance replaces a random
 *    slot, whose instance is written out; at the end the rest is shuffled and
 *    written. When all instances fit, this is Google's full shuffle.
 * Random numbers come from one vt_rng seeded with `seed`: the same inputs and
 * options give byte-identical shards.
 *
 * ---- the output directory -----------------------------------------------
 *   OUT/shard-00000.vtpt, shard-00001.vtpt, ...  (instances_per_shard each, the last fewer)
 *   OUT/manifest.json  {"format": "verto-pretraining", "version": 1,
 *       "vocab_size", "vocab_hash" (vt_pt_vocab_hash as 16 hex digits),
 *       "max_seq_length", "objective": "mlm+nsp"|"mlm"|"clm" (absent: "mlm+nsp"),
 *       "masking": "static"|"dynamic"|"none" (clm), "whole_word_mask",
 *       "eos_id" (clm only: the end-of-text id between documents),
 *       "masked_lm_prob", "max_predictions", "short_seq_prob", "dupe_factor",
 *       "seed", "lowercase", "documents", "instances", "tokens",
 *       "shards": [{"file", "instances", "checksum"}]}
 * Shards are written into a staging folder inside OUT and moved to their
 * final names only when everything succeeded, the manifest last; a failed run
 * leaves an earlier run's files untouched (its staging folder removed).
 *
 * ---- the shard format (version 1, all integers little-endian) ----------
 *   offset 0  char[4] magic "VTPT"
 *          4  u32 version (1)
 *          8  u32 flags: bit 0 VT_PT_FLAG_MASKED (static masking: tokens
 *             hold the masked input and every instance has >= 1 label),
 *             bit 1 VT_PT_FLAG_WHOLE_WORD; other bits must be 0
 *         12  u32 max_seq_length
 *         16  u32 vocab_size (every id is < this)
 *         20  u32 max_predictions
 *         24  u64 n_instances
 *         32  instances, each:
 *               u32 n_tokens (5 .. max_seq_length)
 *               u32 n_masked (0 .. min(max_predictions, n_tokens))
 *               u32 is_random_next (0 or 1)
 *               i32 tokens[n_tokens]          (ids in [0, vocab_size))
 *               u8  segment_ids[n_tokens]     (0 or 1)
 *               u32 positions[n_masked]       (strictly increasing, < n_tokens)
 *               i32 labels[n_masked]          (original ids, < vocab_size)
 *   end - 8   u64 checksum: FNV-1a 64 of every byte before it.
 * The file ends exactly after the checksum. Without VT_PT_FLAG_MASKED every
 * n_masked is 0 (dynamic masking happens at load time).
 *
 * All functions report failures through vt_status / NULL and vt_last_error();
 * none prints or exits. */
#ifndef VERTO_PRETRAIN_DATA_H
#define VERTO_PRETRAIN_DATA_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/bert.h"
#include "verto/error.h"
#include "verto/rng.h"
#include "verto/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_PT_MAGIC "VTPT"
enum { VT_PT_VERSION = 1 };
enum { VT_PT_HEADER_BYTES = 32, VT_PT_CHECKSUM_BYTES = 8 };
enum { VT_PT_FLAG_MASKED = 1u << 0, VT_PT_FLAG_WHOLE_WORD = 1u << 1 };
enum { VT_PT_MAX_SEQ_LENGTH_LIMIT = 65536 };
#define VT_PT_IGNORE_INDEX (-100)

/* ---- instances -------------------------------------------------------- */

/* One pretraining instance. In a shard reader's instance the pointers are
 * owned by the reader and valid until it loads another shard. */
typedef struct vt_pt_instance {
    int32_t n_tokens;
    const int32_t *tokens;      /* (n_tokens) [CLS] A [SEP] B [SEP]; masked when static */
    const uint8_t *segment_ids; /* (n_tokens) 0 up to the first [SEP], 1 after */
    int32_t is_random_next;     /* 1: B came from another document */
    int32_t n_masked;           /* 0 for unmasked (dynamic) instances */
    const int32_t *positions;   /* (n_masked) ascending */
    const int32_t *labels;      /* (n_masked) original ids at those positions */
} vt_pt_instance;


/* Hash of a vocabulary: FNV-1a 64 over every token (id order) followed by
 * "\n". Stored in the manifest so a different vocabulary is detected. */
VT_API uint64_t vt_pt_vocab_hash(const vt_wp_vocab *v);

/* ---- masking (shared by static and dynamic masking) ------------------- */

typedef struct vt_pt_mask_options {
    double masked_lm_prob;   /* default 0.15, in (0, 1] */
    int32_t max_predictions; /* default 20, >= 1 */
    bool whole_word_mask;    /* default false */
} vt_pt_mask_options;

VT_API void vt_pt_mask_options_default(vt_pt_mask_options *o);

typedef struct vt_pt_masker vt_pt_masker;

/* A masker for `tok`'s vocabulary (not kept: what it needs is copied): its
 * special tokens (vt_tok_special_ids: the sequence's first and last, [CLS] /
 * <s> and [SEP] / </s>, are never masked; [MASK] / <mask> replaces;
 * VT_ERR_FORMAT when one is absent) and, for whole-word masking, which ids
 * continue a word (vt_tok_continuation_prefix; VT_ERR_UNSUPPORTED for a
 * tokenizer without one, such as a byte-level BPE or a Unigram). Owns
 * scratch buffers sized for sequences up to max_seq_length tokens, so
 * masking never allocates. Not thread-safe; one per thread. NULL on failure. */
VT_API vt_pt_masker *vt_pt_masker_new(const vt_tokenizer *tok, const vt_pt_mask_options *o, int32_t max_seq_length);
VT_API void vt_pt_masker_free(vt_pt_masker *m);

/* Masks `n` tokens (n <= the masker's max_seq_length) with `rng`:
 * out_tokens (n) receives the masked input (may equal `tokens`), positions and
 * labels (each room for max_predictions) the masked positions in ascending
 * order and their original ids; *n_masked their number. */
VT_API vt_status vt_pt_mask(vt_pt_masker *m, vt_rng *rng, const int32_t *tokens, int32_t n, int32_t *out_tokens,
                            int32_t *positions, int32_t *labels, int32_t *n_masked);

/* ---- shards: writing -------------------------------------------------- */

typedef struct vt_pt_shard_writer vt_pt_shard_writer;

/* Starts `path` atomically (vt_atomic_open). `flags` is VT_PT_FLAG_*; ids
 * must be < vocab_size. Nothing appears under `path` before commit. */
VT_API vt_pt_shard_writer *vt_pt_shard_writer_open(const char *path, uint32_t flags, int32_t max_seq_length,
                                                   int32_t vocab_size, int32_t max_predictions);

/* Appends one instance after checking it against the header's bounds. */
VT_API vt_status vt_pt_shard_writer_add(vt_pt_shard_writer *w, const vt_pt_instance *inst);

/* Writes the count and checksum, fsyncs and renames into place. *checksum
 * (may be NULL) receives the checksum. `w` is released either way. */
VT_API vt_status vt_pt_shard_writer_commit(vt_pt_shard_writer *w, uint64_t *checksum);

/* Drops the temporary file; `w` is released. NULL is fine. */
VT_API void vt_pt_shard_writer_abort(vt_pt_shard_writer *w);

/* ---- shards: reading -------------------------------------------------- */

typedef struct vt_pt_shard vt_pt_shard;

/* Parses and validates a whole shard held in memory (not kept): magic,
 * version, flags, header values, every count and bound, ids < vocab_size
 * (the caller's vocabulary size; the header's must equal it; vocab_size <= 0
 * skips that comparison but ids are still checked against the header), and
 * the checksum. Errors are VT_ERR_FORMAT naming `label`, the instance index
 * and the byte offset. NULL on failure. */
VT_API vt_pt_shard *vt_pt_shard_parse(const void *data, size_t len, const char *label, int32_t vocab_size);

/* Reads `path` and parses it as above. */
VT_API vt_pt_shard *vt_pt_shard_load(const char *path, int32_t vocab_size);

VT_API void vt_pt_shard_free(vt_pt_shard *s);

VT_API int64_t vt_pt_shard_count(const vt_pt_shard *s);
VT_API uint32_t vt_pt_shard_flags(const vt_pt_shard *s);
VT_API int32_t vt_pt_shard_max_seq_length(const vt_pt_shard *s);
VT_API uint64_t vt_pt_shard_checksum(const vt_pt_shard *s);

/* Instance `i` (0 <= i < count); pointers into `s`, valid while it lives. */
VT_API vt_status vt_pt_shard_get(const vt_pt_shard *s, int64_t i, vt_pt_instance *out);

/* ---- a prepared directory (manifest + shards) ------------------------- */

/* What the instances train: BERT's masked LM + next-sentence prediction
 * (sentence pairs), or the masked LM alone (packed sequences, RoBERTa's). */
typedef enum vt_pt_objective { VT_PT_MLM_NSP = 0, VT_PT_MLM, VT_PT_CLM } vt_pt_objective;

/* "mlm+nsp", "mlm", "clm"; and back (false if unknown). */
VT_API const char *vt_pt_objective_name(vt_pt_objective o);
VT_API bool vt_pt_objective_parse(const char *name, vt_pt_objective *out);

typedef struct vt_pt_info {
    int32_t vocab_size;
    uint64_t vocab_hash;
    int32_t max_seq_length;
    vt_pt_objective objective;
    bool masked;            /* static masking (else dynamic: mask with vt_pt_masker) */
    bool whole_word_mask;
    double masked_lm_prob;  /* with max_predictions and whole_word_mask: the vt_pt_mask_options */
    int32_t max_predictions; /* to use for dynamic masking (min(requested, max_seq_length)) */
    double short_seq_prob;
    int32_t dupe_factor;
    uint64_t seed;
    bool lowercase;
    int64_t documents, instances, tokens;
    int32_t n_shards;
    int32_t eos_id;         /* clm: the end-of-text id between documents; -1 for the masked objectives */
} vt_pt_info;

typedef struct vt_pt_dataset vt_pt_dataset;

/* Opens a directory written by vt_pt_prepare: reads manifest.json and each
 * shard's header (shards themselves are loaded when needed, one at a time).
 * With `vocab` given, its size and vt_pt_vocab_hash must match the manifest
 * (VT_ERR_FORMAT "... was prepared with a different vocabulary ..."
 * otherwise). NULL on failure. */
VT_API vt_pt_dataset *vt_pt_open(const char *dir, const vt_wp_vocab *vocab);
VT_API void vt_pt_close(vt_pt_dataset *ds);

VT_API const vt_pt_info *vt_pt_get_info(const vt_pt_dataset *ds);

/* Total number of instances (the sum over shards). */
VT_API int64_t vt_pt_size(const vt_pt_dataset *ds);

/* Instance `i` in file order. Loads (and fully validates) the shard holding
 * it if it is not the current one; `out` points into that shard and stays
 * valid until another shard is loaded. */
VT_API vt_status vt_pt_get(vt_pt_dataset *ds, int64_t i, vt_pt_instance *out);

/* Epoch order: shards in a shuffled order, instances shuffled within each
 * shard, from (seed, epoch) only -- so each shard is loaded once per epoch
 * and memory stays one shard. Sets the cursor to position 0 of that order. */
VT_API vt_status vt_pt_shuffle(vt_pt_dataset *ds, uint64_t seed, int64_t epoch);

/* Moves the cursor to `position` (0 .. size) of the current epoch order
 * (file order before any vt_pt_shuffle); for resuming training. */
VT_API vt_status vt_pt_seek(vt_pt_dataset *ds, int64_t position);

/* The cursor: how many instances of the epoch have been returned. */
VT_API int64_t vt_pt_tell(const vt_pt_dataset *ds);

/* The instance at the cursor, then advances it. At the end of the epoch
 * returns VT_OK with *end = true and `out` untouched. */
VT_API vt_status vt_pt_next(vt_pt_dataset *ds, vt_pt_instance *out, bool *end);

/* ---- batches for vt_bert_batch ---------------------------------------- */

typedef struct vt_pt_batcher vt_pt_batcher;

/* A batch builder for up to max_batch instances of up to max_seq_length
 * tokens. All arrays are allocated here, once. `masker` (borrowed, may be
 * NULL) masks instances that carry no labels (dynamic masking); instances
 * that already carry labels are used as they are. pad_id fills padding. */
VT_API vt_pt_batcher *vt_pt_batcher_new(int64_t max_batch, int32_t max_seq_length, int32_t pad_id,
                                        vt_pt_masker *masker);
VT_API void vt_pt_batcher_free(vt_pt_batcher *b);

/* Whether batches carry nsp_labels (default true; false for MLM-only data). */
VT_API void vt_pt_batcher_set_nsp(vt_pt_batcher *b, bool nsp);

/* Empties the batch (keeps its memory). */
VT_API void vt_pt_batcher_reset(vt_pt_batcher *b);

/* Copies `inst` in as the next row (the instance need not outlive the call);
 * masks it with `rng` when it has no labels (needs a masker then).
 * VT_ERR_INVALID_ARG when the batch is full or the instance too long. */
VT_API vt_status vt_pt_batcher_add(vt_pt_batcher *b, const vt_pt_instance *inst, vt_rng *rng);

/* Rows added since the last reset. */
VT_API int64_t vt_pt_batcher_rows(const vt_pt_batcher *b);

/* Lays the rows out as (B, T), T = the longest row: input_ids (pad_id in
 * padding), token_type_ids, attention_mask (1 token / 0 padding),
 * mlm_labels (original id at masked positions, -100 elsewhere) and
 * nsp_labels (B) = is_random_next (NULL when the batcher was told there is
 * no NSP: vt_pt_batcher_set_nsp); other fields NULL. Arrays belong to the
 * batcher and stay valid until the next add/reset/finish. No allocation. */
VT_API vt_status vt_pt_batcher_finish(vt_pt_batcher *b, vt_bert_batch *out);

/* Resets `b`, adds up to batch_size instances from vt_pt_next and finishes.
 * At the end of the epoch the batch may be smaller; out->batch == 0 means
 * the epoch is over. */
VT_API vt_status vt_pt_next_batch(vt_pt_dataset *ds, vt_pt_batcher *b, int64_t batch_size, vt_rng *rng,
                                  vt_bert_batch *out);

/* ---- a run's batches (what verto pretrain trains on) ------------------ */

/* The batches of a pretraining run. Sample k of the run is position k mod N
 * of epoch k / N of the training set (each epoch its own seeded shuffle), and
 * its masks, when the shards leave masking to training, are drawn from a seed
 * that follows k. With group_by_length G > 1 the samples of G consecutive
 * batches are read ahead, sorted by length and dealt out in that order, and
 * the G batches shuffled, so that batches pad less. Either way the batch for
 * samples [first, first + count) depends on first and the options alone, so
 * a resumed run, or a run on any number of ranks, sees the same batches. */
typedef struct vt_pt_run vt_pt_run;

typedef struct vt_pt_run_options {
    uint64_t seed;           /* data order, masking and length groups */
    int64_t batch_size;      /* sequences per batch */
    int64_t group_by_length; /* G batches read ahead and grouped by length; 0 or 1: off */
} vt_pt_run_options;

/* A run over `train` (borrowed, not shared with anyone else) and, for
 * evaluations, `eval` (borrowed, may be NULL), masking with the shards'
 * settings and padding with the pad token of `tok` (the tokenizer the shards
 * were prepared with). NULL with the error set. */
VT_API vt_pt_run *vt_pt_run_new(vt_pt_dataset *train, vt_pt_dataset *eval, const vt_tokenizer *tok,
                                const vt_pt_run_options *o);
VT_API void vt_pt_run_free(vt_pt_run *r);

/* The batch of samples [first, first + count), count <= batch_size, first a
 * multiple of batch_size when grouping; *tokens its real (non-padding)
 * tokens. Arrays stay valid until the next call. */
VT_API vt_status vt_pt_run_batch(vt_pt_run *r, int64_t first, int64_t count, vt_bert_batch *out, int64_t *tokens);

/* Training instance `example` (0 .. vt_pt_size(train) - 1, file order) alone
 * as a batch of 1, its masks (when the shards leave masking to training)
 * drawn from a seed that follows the instance, so an example is the same
 * sequence with the same masks whenever it is drawn: DP-SGD's examples
 * (verto/dp.h). The arrays stay valid until the next call. */
VT_API vt_status vt_pt_run_example(vt_pt_run *r, int64_t example, vt_bert_batch *out);

/* The share of padding among the positions of every batch handed out so far. */
VT_API double vt_pt_run_padding(const vt_pt_run *r);

typedef struct vt_pt_eval {
    double mlm_loss, mlm_accuracy, nsp_accuracy; /* nsp_accuracy NAN for MLM-only data */
} vt_pt_eval;

/* Whether the run's batches carry NSP labels (the training set's objective is
 * VT_PT_MLM_NSP); a model without an NSP head needs MLM-only data. */
VT_API bool vt_pt_run_has_nsp(const vt_pt_run *r);

/* The masked-LM loss and accuracy and the NSP accuracy of `model` over the
 * first max_batches batches of the held-out set, in file order, with masks
 * from a fixed seed, so that every evaluation sees the same. */
VT_API vt_status vt_pt_run_evaluate(vt_pt_run *r, vt_bert *model, int64_t max_batches, vt_pt_eval *out);

/* ---- preparing (the algorithm above) ---------------------------------- */

typedef struct vt_pt_options {
    vt_pt_objective objective;   /* default VT_PT_MLM_NSP (sentence pairs); VT_PT_MLM packs sequences */
    int32_t max_seq_length;      /* default 128; 5 .. VT_PT_MAX_SEQ_LENGTH_LIMIT */
    double short_seq_prob;       /* default 0.1, in [0, 1] (sentence pairs only) */
    vt_pt_mask_options mask;     /* 0.15, 20, whole-word off */
    bool dynamic_masking;        /* store unmasked instances (default false) */
    int32_t dupe_factor;         /* default 10, >= 1 */
    uint64_t seed;               /* default 12345 */
    int64_t instances_per_shard; /* default 100000, >= 1 */
    int64_t window_tokens;       /* default 1 << 23, >= 1 */
    int64_t shuffle_buffer;      /* default 100000 instances, >= 1 */
    bool jsonl;                  /* inputs are JSON Lines */
    const char *text_field;      /* JSONL: the key holding the text (default "text") */
    const char *eos_token;       /* clm: the token after each document (NULL: <|endoftext|>, else </s>) */
} vt_pt_options;

VT_API void vt_pt_options_default(vt_pt_options *o);

typedef struct vt_pt_stats {
    int64_t bytes_read, lines, documents;     /* input (documents after window splits) */
    int64_t instances, tokens, shards;        /* output */
    int64_t doc_passes, short_target_passes;  /* (document, dupe) passes; those with a short target */
    int64_t random_next, forced_random_next;  /* instances with a random B; of those, one-line chunks */
    int64_t masked, masked_as_mask, masked_as_keep, masked_as_random; /* static masking draws */
    int64_t dropped_tokens;                   /* clm: the ids of the last, partial block, not written */
} vt_pt_stats;

/* Called now and then with the input bytes consumed so far. */
typedef void (*vt_pt_progress_fn)(int64_t bytes_done, void *ctx);

/* Runs the algorithm over `files` (n_files >= 1) with tokenizer `tok` (which
 * needs [MASK] in its vocabulary) and writes `out_dir` (created if missing).
 * Errors: VT_ERR_IO naming the file (unreadable input, an output directory
 * that cannot be made or written), VT_ERR_FORMAT "FILE:LINE: ..." (a malformed
 * JSONL record, a missing or non-string text field), VT_ERR_FORMAT when the
 * corpus holds no document ("no text in ..."), VT_ERR_INVALID_ARG (options).
 * On failure nothing under out_dir's final names has changed. `stats` (may
 * be NULL) receives the counts. */
VT_API vt_status vt_pt_prepare(const vt_tokenizer *tok, const char *const *files, int n_files, const char *out_dir,
                               const vt_pt_options *o, vt_pt_progress_fn progress, void *progress_ctx,
                               vt_pt_stats *stats);

/* ---- causal-LM batches ----------------------------------------------- */

/* The (B, T) id batches of a causal-LM run over a VT_PT_CLM dataset. Sample
 * k of the run is position k mod N of epoch k / N, each epoch its own
 * vt_pt_shuffle(seed, epoch) order, so every block is read exactly once per
 * epoch and the batch of samples [first, first + count) depends on first and
 * the seed alone: a resumed run, or any number of ranks, sees the same. The
 * labels are the ids themselves (the model shifts them, as transformers'
 * causal-LM loss does). */
typedef struct vt_pt_clm_reader vt_pt_clm_reader;

/* A reader over `ds` (borrowed, used by nobody else meanwhile; its objective
 * must be VT_PT_CLM) for batches of up to max_batch blocks. NULL with the
 * error set. */
VT_API vt_pt_clm_reader *vt_pt_clm_reader_new(vt_pt_dataset *ds, uint64_t seed, int64_t max_batch);
VT_API void vt_pt_clm_reader_free(vt_pt_clm_reader *r);
/* T: the ids of every block (the dataset's max_seq_length). */
VT_API int64_t vt_pt_clm_block_length(const vt_pt_clm_reader *r);

/* The ids of samples [first, first + count) (count <= max_batch) as
 * *ids (count, T), T = max_seq_length; the array belongs to the reader and
 * stays valid until the next call. */
VT_API vt_status vt_pt_clm_batch(vt_pt_clm_reader *r, int64_t first, int64_t count, const int32_t **ids);

/* Micro-batch `index` of rank `rank` among `world` data-parallel ranks: the
 * samples [(index * world + rank) * batch, + batch), as the trainer shards
 * MLM batches; over world consecutive ranks a global batch is every sample
 * of [index * world * batch, (index + 1) * world * batch) once. */
VT_API vt_status vt_pt_clm_rank_batch(vt_pt_clm_reader *r, int64_t index, int rank, int world, int64_t batch,
                                      const int32_t **ids);

/* Name of shard `index` ("shard-00000.vtpt") into buf (>= 32 bytes). */
VT_API void vt_pt_shard_name(char *buf, size_t size, int32_t index);

#ifdef __cplusplus
}
#endif
#endif
