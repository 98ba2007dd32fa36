/* The BERT WordPiece tokenizer, identical to Hugging Face BertTokenizerFast
 * (tokenizers' BertNormalizer + BertPreTokenizer + WordPiece + the
 * "[CLS] A [SEP] B [SEP]" template).
 *
 * Pipeline per input: the special tokens present in the vocabulary ([PAD],
 * [UNK], [CLS], [SEP], [MASK]) written literally in the text are matched
 * first, as HF's added-token matching does; the text between them is
 * normalized (clean text, CJK ideographs isolated, accents stripped by NFD +
 * dropping Mn marks, lowercase), split on whitespace and punctuation, and each
 * word is cut greedily into the longest vocabulary pieces ("##" marks a
 * continuation); a word longer than max_input_chars_per_word characters or
 * with no cut becomes one [UNK].
 *
 * Input is UTF-8. Invalid UTF-8 is never an error: each maximal invalid
 * subsequence reads as U+FFFD (what Python's errors="replace" decodes), which
 * clean_text then removes, so invalid bytes vanish without splitting a word.
 *
 * Offsets are byte offsets [start, end) into the text of the sequence a token
 * came from; vt_tok_offsets_to_chars converts them to the character offsets
 * HF reports. Special and padding tokens have (0, 0).
 *
 * Thread safety: a vt_tokenizer is read-only after creation and may be shared;
 * each thread needs its own vt_tok_encoding. */
#ifndef VERTO_TOKENIZER_H
#define VERTO_TOKENIZER_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- vocabulary ------------------------------------------------------- */

typedef struct vt_wp_vocab vt_wp_vocab;

/* Loads vocab.txt: one token per line, id = line number (0-based). `path` is
 * the file or a directory holding vocab.txt. Lines end in "\n" or "\r\n"; a
 * missing final newline is fine; trailing whitespace of a line is dropped and
 * empty lines still take an id (as tokenizers' WordPiece::read_file). A token
 * listed twice maps to its later id, while both ids decode to it. Invalid
 * UTF-8 or more than INT32_MAX lines: VT_ERR_FORMAT naming file and line.
 * Returns NULL on failure. Free with vt_wp_vocab_free. */
VT_API vt_wp_vocab *vt_wp_vocab_load(const char *path);

/* The same from a buffer (not kept); `label` names it in errors. */
VT_API vt_wp_vocab *vt_wp_vocab_from_buffer(const char *data, size_t len, const char *label);

VT_API void vt_wp_vocab_free(vt_wp_vocab *v);

/* Writes the tokens, one per line with "\n" endings, to `path` atomically
 * (vt_atomic_open): vt_wp_vocab_load reads the same vocabulary back. */
VT_API vt_status vt_wp_vocab_save(const vt_wp_vocab *v, const char *path);

/* Number of ids (lines). */
VT_API int32_t vt_wp_vocab_size(const vt_wp_vocab *v);

/* Id of the token given by `len` bytes at `tok`, or -1 if absent. */
VT_API int32_t vt_wp_vocab_id(const vt_wp_vocab *v, const char *tok, size_t len);

/* NUL-terminated token of `id`, owned by the vocabulary; NULL if out of range. */
VT_API const char *vt_wp_vocab_token(const vt_wp_vocab *v, int32_t id);

/* ---- tokenizer -------------------------------------------------------- */

#define VT_TOK_MAX_WINDOWS 256
#define VT_TOK_NAME_MAX 64 /* bytes of a special token's name, with its NUL */

typedef struct vt_tok_options {
    bool lowercase;               /* do_lower_case (default true) */
    int strip_accents;            /* -1: same as lowercase (default), 0: no, 1: yes */
    bool tokenize_chinese_chars;  /* default true */
    bool split_special_tokens;    /* true: "[CLS]" in text is ordinary text (default false) */
    int32_t max_input_chars_per_word; /* default 100 */
    int32_t model_max_length;     /* from tokenizer_config.json; default 512; informative */
    int32_t keep_tail;            /* truncation: an input cut to n tokens keeps its last min(keep_tail, n)
                                     tokens and its first n - min(keep_tail, n) ("head + tail", which suits
                                     long documents whose end matters, e.g. emails); 0 (default): its first
                                     n only. tokenizer_config.json "keep_tail_tokens", or HF's
                                     "truncation_side": "left" (INT32_MAX: the last n only) */
    int32_t max_windows;          /* how a classifier reads a long single text: as up to this many
                                     windows (vt_tok_encode_windows) instead of truncated (default 1:
                                     truncated). tokenizer_config.json "max_windows" */
    char pad_token[VT_TOK_NAME_MAX];  /* tokenizer_config.json "pad_token"; "" (default): [PAD] or <pad> */
    char mask_token[VT_TOK_NAME_MAX]; /* tokenizer_config.json "mask_token"; "" (default): [MASK] or <mask> */
} vt_tok_options;

/* Fills the defaults above (bert-base-uncased). */
VT_API void vt_tok_options_default(vt_tok_options *o);

/* Fills *o with the defaults, then applies `dir`/tokenizer_config.json if that
 * file exists: do_lower_case, strip_accents (bool or null),
 * tokenize_chinese_chars, model_max_length (clamped to INT32_MAX),
 * keep_tail_tokens (a non-negative integer) or truncation_side, max_windows
 * (an integer 1..VT_TOK_MAX_WINDOWS), pad_token and mask_token (a string or
 * an AddedToken object's "content"). `path` may
 * be the directory or a file inside it (e.g. its vocab.txt). Other keys are
 * ignored. A malformed file or a key of the wrong type: VT_ERR_FORMAT naming
 * the file and key. A missing file is not an error. */
VT_API vt_status vt_tok_options_from_config(const char *path, vt_tok_options *o);

typedef struct vt_tokenizer vt_tokenizer;

/* A tokenizer over `vocab`, which it takes over (freed by vt_tok_free, also
 * when creation fails). The vocabulary must contain [UNK], [CLS], [SEP] and
 * [PAD] (VT_ERR_FORMAT otherwise). `opt` NULL means vt_tok_options_default. */
VT_API vt_tokenizer *vt_tok_create(vt_wp_vocab *vocab, const vt_tok_options *opt);

/* Loads the tokenizer of `path`: a directory's tokenizer.json when it has one
 * (vt_tok_load_json: what transformers' fast tokenizer reads), else its
 * vocab.txt (BERT's WordPiece), else its vocab.json + merges.txt (a byte-level
 * BPE as RoBERTa's or GPT-2's), else its sentencepiece.bpe.model (XLM-R's
 * SentencePiece Unigram, read as transformers' XLMRobertaTokenizer builds it:
 * <s> <pad> </s> <unk> first, the pieces after, <mask> last; another model
 * type is VT_ERR_UNSUPPORTED, a malformed file VT_ERR_FORMAT naming the byte
 * and field); or the tokenizer.json or vocab.txt file `path` names. `opt`
 * NULL means vt_tok_options_from_config(path). NULL on failure. */
VT_API vt_tokenizer *vt_tok_load(const char *path, const vt_tok_options *opt);

/* Loads a Hugging Face tokenizer.json: the models WordPiece, BPE (byte-level
 * or not, with its prefix, suffix, unk and byte fallback) and Unigram; the
 * normalizers BertNormalizer, Lowercase, NFC, NFD, NFKC, NFKD, StripAccents,
 * Strip, Replace, Prepend, Precompiled, Nmt; the pre-tokenizers
 * BertPreTokenizer, ByteLevel, Metaspace, Whitespace, WhitespaceSplit, Split,
 * Punctuation, Digits, CharDelimiterSplit; the post-processors
 * BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel; the
 * decoders WordPiece, ByteLevel, Metaspace, BPEDecoder, Replace,
 * ByteFallback, Fuse, Strip; Sequence of each; added tokens with their
 * flags. BertNormalizer's lowercase, strip_accents and handle_chinese_chars
 * replace opt's. Any other component is VT_ERR_UNSUPPORTED naming it; a
 * malformed file VT_ERR_FORMAT naming the field. The file's truncation and
 * padding are not read (transformers replaces them at every call). opt
 * (NULL: defaults) gives the rest: model_max_length, keep_tail, max_windows,
 * pad_token, mask_token. */
VT_API vt_tokenizer *vt_tok_load_json(const char *file, const vt_tok_options *opt);
/* The same from len bytes of tokenizer.json text; `file` (may be NULL) names it in errors. */
VT_API vt_tokenizer *vt_tok_from_json(const char *data, size_t len, const char *file, const vt_tok_options *opt);
/* Writes t as tokenizer.json, atomically: the text it was read from (or
 * converted to, for vocab.json + merges.txt or sentencepiece.bpe.model) as
 * it was, or for a vocab.txt tokenizer the file transformers'
 * BertTokenizerFast saves; AutoTokenizer and tokenizers.Tokenizer.from_file
 * load it. */
VT_API vt_status vt_tok_save_json(const vt_tokenizer *t, const char *file);
/* Makes a model directory hold tokenizer.json (what transformers 5 reads)
 * and, for a WordPiece tokenizer, vocab.txt (what older readers, and
 * BertTokenizer, read): writes whichever is missing from the other, reading
 * the directory's tokenizer as vt_tok_load does. A directory with no
 * tokenizer is an error. */
VT_API vt_status vt_tok_complete_dir(const char *dir);

VT_API void vt_tok_free(vt_tokenizer *t);

VT_API const vt_wp_vocab *vt_tok_vocab(const vt_tokenizer *t);
VT_API const vt_tok_options *vt_tok_get_options(const vt_tokenizer *t);

/* Ids of the special tokens ([MASK] may be -1 when absent). */
typedef struct vt_tok_special {
    int32_t pad, unk, cls, sep, mask;
} vt_tok_special;
VT_API vt_tok_special vt_tok_special_ids(const vt_tokenizer *t);

/* The tokenizer's model: "WordPiece", "BPE" or "Unigram". */
VT_API const char *vt_tok_model_name(const vt_tokenizer *t);
/* What begins a token that continues a word ("##" for WordPiece), or NULL
 * when tokens do not say (a byte-level BPE or a Unigram marks word starts
 * instead). Whole-word masking reads it. */
VT_API const char *vt_tok_continuation_prefix(const vt_tokenizer *t);
/* The model's continuing_subword_prefix as tokenizers has it: "##" for
 * WordPiece, a BPE's own (NULL when it has none, as byte-level BPEs), NULL
 * for Unigram. The token-classification pipeline's word-level aggregations
 * read it to tell a word's later pieces. */
VT_API const char *vt_tok_model_subword_prefix(const vt_tokenizer *t);

/* ---- encoding --------------------------------------------------------- */

/* One encoded sequence or pair. Arrays have `len` entries (row i = token i);
 * the struct owns them and keeps its buffers between calls, so reusing one
 * encoding for many calls does not allocate once it is large enough. */
typedef struct vt_tok_encoding {
    int32_t len;
    int32_t *ids;            /* (len) */
    int32_t *type_ids;       /* (len) 0 for [CLS] A [SEP], 1 for B [SEP], 0 for padding */
    int32_t *attention_mask; /* (len) 1 for real tokens, 0 for padding */
    int32_t *special_mask;   /* (len) 1 for [CLS]/[SEP]/padding, else 0 */
    int32_t *seq;            /* (len) 0 or 1: the input a token came from; -1 special/pad */
    int32_t *offsets;        /* (len, 2) byte [start, end) in that input; (0, 0) special/pad */
    int32_t *word_ids;       /* (len) the word a token came from, numbered from 0 within its input: the
                                splits the pre-tokenizer made (an added token is one), as tokenizers'
                                word_ids(); -1 special/pad */
    int32_t cap;             /* private: allocated rows */
    void *scratch;           /* private: working buffers */
} vt_tok_encoding;

/* Zeroes *e; free with vt_tok_encoding_free. */
VT_API void vt_tok_encoding_init(vt_tok_encoding *e);
VT_API void vt_tok_encoding_free(vt_tok_encoding *e);

typedef struct vt_tok_encode_opts {
    bool add_special_tokens; /* [CLS] ... [SEP] (default true) */
    int32_t max_length;      /* > 0: truncate to this many tokens, longest first
                                (HF truncation=True); 0: no truncation */
    int32_t pad_to;          /* > 0: pad with [PAD] up to this length (HF
                                padding="max_length"); 0: no padding */
} vt_tok_encode_opts;

/* add_special_tokens = true, no truncation, no padding. */
VT_API void vt_tok_encode_opts_default(vt_tok_encode_opts *o);

/* Encodes text `a` (alen bytes) and, when b != NULL, the pair (a, b) into *out
 * (replacing its contents). Truncation follows tokenizers exactly: the room
 * left after the special tokens is split longest-first (if both are too long
 * each gets half, the longer one the odd token); when max_length is smaller
 * than the number of special tokens nothing is truncated, as in HF. Which
 * tokens of a cut input stay follows the tokenizer's keep_tail option.
 * b != NULL with blen 0 is a pair with an empty second text ([CLS] A [SEP]
 * [SEP]); transformers turns an empty second string into a single sequence,
 * tokenizers does not. Errors: VT_ERR_INVALID_ARG (NULL text with non-zero
 * length, negative max_length or pad_to, a text over INT32_MAX bytes),
 * VT_ERR_NOMEM. */
VT_API vt_status vt_tok_encode(const vt_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                               const vt_tok_encode_opts *o, vt_tok_encoding *out);

/* Encodes n inputs (b / blen may be NULL for single sequences; b[i] NULL means
 * single for that item) into out[0..n), using OpenMP threads. When o->pad_to
 * is 0, every encoding is padded to the longest one of the batch (HF
 * padding=True). On failure returns the first error; `out` stays valid to free. */
VT_API vt_status vt_tok_encode_batch(const vt_tokenizer *t, size_t n, const char *const *a, const size_t *alen,
                                     const char *const *b, const size_t *blen, const vt_tok_encode_opts *o,
                                     vt_tok_encoding *out);

/* Encodes pre-split words as one sequence, as transformers' fast tokenizers
 * do with is_split_into_words=True (tokenizers' encode(words,
 * is_pretokenized=True)): each word runs through the whole pipeline (added
 * tokens, normalizer, pre-tokenizer, model) as a text of its own, so a
 * byte-level BPE or Metaspace tokenizer marks each word as starting after a
 * space only if its add_prefix_space / prepend_scheme says so for a text's
 * start (RoBERTa's saved with add_prefix_space=false gives the words no
 * leading "Ġ", as transformers then does); the pieces are concatenated and
 * truncated, wrapped in the single-sequence template and padded as by
 * vt_tok_encode with `o` (NULL: defaults). words[k] is lens[k] bytes (an
 * empty word gives no token). Offsets are bytes within each token's own
 * word ((0, 0) for specials); seq is 0 for the words' tokens.
 * out->word_ids are the words' indices (-1 for special and padding tokens:
 * transformers' word_ids() with None as -1). Errors as
 * vt_tok_encode (a NULL word with a non-zero length, more than INT32_MAX
 * words: VT_ERR_INVALID_ARG); on error out->len is 0. */
VT_API vt_status vt_tok_encode_words(const vt_tokenizer *t, const char *const *words, const size_t *lens,
                                     size_t n_words, const vt_tok_encode_opts *o, vt_tok_encoding *out);

/* Long documents: a single text longer than max_length tokens is read as
 * windows instead of being truncated. With w = max_length - 2 tokens of the
 * text per window ([CLS] w tokens [SEP]) and n tokens in all, it gets
 * m = min(max_windows, ceil(n / w)) windows (callers normally pass the
 * tokenizer's max_windows option), window j starting at token round(j (n - w) / (m - 1)): every window
 * is full, the first starts at the text's start, the last ends at its end, and
 * they cover the whole text when max_windows allows (overlapping a little),
 * else they are spread evenly over it. A text that fits, a pair (b != NULL),
 * max_windows 1 or max_length < 3 gives one encoding, exactly vt_tok_encode's
 * with max_length. `out` must hold max_windows initialised encodings; input
 * windows go to out[0..*n_windows). *cut (may be NULL) tells whether some
 * tokens of the input are in no window. No padding. Errors as vt_tok_encode. */
VT_API vt_status vt_tok_encode_windows(const vt_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                                       int32_t max_length, int32_t max_windows, vt_tok_encoding *out,
                                       int32_t *n_windows, bool *cut);

/* vt_tok_encode_windows over n inputs with OpenMP threads: input i's windows
 * go to out[i * max_windows ...], n_windows[i] of them; cut (may be NULL) is
 * (n). On failure returns the first input's error; `out` stays valid to free. */
VT_API vt_status vt_tok_encode_windows_batch(const vt_tokenizer *t, size_t n, const char *const *a,
                                             const size_t *alen, const char *const *b, const size_t *blen,
                                             int32_t max_length, int32_t max_windows, vt_tok_encoding *out,
                                             int32_t *n_windows, bool *cut);

/* The windows of one pair (vt_tok_encode_overflow). Zero it to start; the
 * encodings keep their buffers between calls. */
typedef struct vt_tok_windows {
    int32_t n;             /* windows of the last call */
    vt_tok_encoding *enc;  /* (n) the windows, in order */
    int32_t cap;           /* private: initialised entries of enc */
} vt_tok_windows;

VT_API void vt_tok_windows_free(vt_tok_windows *w);

/* Question answering's long contexts: the pair (a, b) with input `cut` (0: a,
 * 1: b) read as overlapping windows, as tokenizers returns them for
 * tokenizer(a, b, truncation="only_first"/"only_second", max_length,
 * stride, return_overflowing_tokens=True) (the first encoding, then its
 * overflowing ones). With S special tokens and `other` tokens of the other
 * input, a pair of at most max_length tokens is one window, unchanged;
 * otherwise each window holds w = max_length - S - other tokens of the cut
 * input (fewer in the last) and window j starts at its token j (w - stride),
 * until one reaches its end. A tokenizer with truncation_side "left"
 * (keep_tail INT32_MAX) counts the windows from the end instead, as
 * tokenizers does; other keep_tail values are not used here. Every window
 * has the template's special tokens and type ids, word_ids and the offsets of
 * the whole encoding. (tokenizers gives the windows after the first of a
 * TemplateProcessing tokenizer the cut input's sequence index as its type id
 * instead of the template's: 1 where XLM-R's template says 0, which its
 * one-type model could not read; verto keeps the template's.) No padding. Errors (VT_ERR_INVALID_ARG) where tokenizers fails
 * or panics: b NULL, max_length < 1, stride < 0, no room for the cut input
 * (max_length <= S + other), stride >= w; and vt_tok_encode's. */
VT_API vt_status vt_tok_encode_overflow(const vt_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                                        int cut, int32_t max_length, int32_t stride, vt_tok_windows *out);

/* Converts `n` byte offsets into `text` (len bytes; each offset in [0, len])
 * to character offsets, in place, counting each maximal invalid UTF-8
 * subsequence as one character (Python's errors="replace"). Offsets inside a
 * character count as that character's start. */
VT_API void vt_tok_offsets_to_chars(const char *text, size_t len, int32_t *offsets, size_t n);

/* ---- decoding --------------------------------------------------------- */

/* Joins the tokens of `ids` as HF's WordPiece decoder does: a "##" piece is
 * glued to the previous token, other tokens are separated by one space;
 * with `skip_special` the special tokens are left out; with `cleanup` the
 * spaces before . ? ! , are removed as clean_up_tokenization_spaces does.
 * *out receives a malloc'd NUL-terminated string (free it), *out_len (may be
 * NULL) its length. Unknown ids: VT_ERR_INVALID_ARG. */
VT_API vt_status vt_tok_decode(const vt_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, bool cleanup,
                               char **out, size_t *out_len);

/* The tokenizer's decoder steps over token strings instead of ids (what
 * transformers' fast tokenizers' convert_tokens_to_string does:
 * tokenizers' decoder.decode(tokens)), without skipping or clean-up;
 * tokens joined by spaces when the tokenizer has no decoder. `tokens` are
 * NUL-terminated. Same output contract as vt_tok_decode. */
VT_API vt_status vt_tok_decode_tokens(const vt_tokenizer *t, const char *const *tokens, size_t n, char **out,
                                      size_t *out_len);

/* Like BertTokenizer.convert_tokens_to_string: tokens joined by spaces with
 * " ##" removed. `tokens` are NUL-terminated strings. Same output contract. */
VT_API vt_status vt_tok_join_tokens(const char *const *tokens, size_t n, char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
