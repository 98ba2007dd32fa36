/* The tokenizer object: a Hugging Face tokenizers pipeline (added tokens,
 * normalizer, pre-tokenizer, model, post-processor, decoder), shared by the
 * files of src/text. Built by vt_tok_create (a WordPiece vocabulary with
 * BERT's steps) or by the tokenizer.json reader. */
#ifndef VT_TEXT_TOKENIZER_INTERNAL_H
#define VT_TEXT_TOKENIZER_INTERNAL_H

#include "text/bpe.h"
#include "text/nstr.h"
#include "text/precompiled.h"
#include "text/pretok.h"
#include "text/regex.h"
#include "text/unigram.h"
#include "text/vocab_internal.h"
#include "verto/tokenizer.h"

/* ---- normalizers ---- */

typedef enum vt_norm_kind {
    VT_NORM_BERT,          /* BertNormalizer: clean text, CJK spacing, accents, lowercase */
    VT_NORM_LOWERCASE,
    VT_NORM_NFD, VT_NORM_NFKD, VT_NORM_NFC, VT_NORM_NFKC,
    VT_NORM_STRIP_ACCENTS, /* drops the marks tokenizers knows (vt_uc_mark) */
    VT_NORM_STRIP,         /* whitespace at the start and/or end */
    VT_NORM_REPLACE,       /* a string or regex pattern by content */
    VT_NORM_PREPEND,       /* a string before non-empty text */
    VT_NORM_PRECOMPILED,   /* SentencePiece's charsmap */
    VT_NORM_NMT,           /* SentencePiece's NMT clean-up of control characters and spaces */
} vt_norm_kind;

typedef struct vt_norm_step {
    vt_norm_kind kind;
    vt_pretok_cfg bert;    /* VT_NORM_BERT */
    bool left, right;      /* VT_NORM_STRIP */
    char *pattern;         /* VT_NORM_REPLACE: a literal (re NULL) */
    int32_t pattern_len;
    vt_regex *re;          /* VT_NORM_REPLACE with a regex */
    char *content;         /* VT_NORM_REPLACE, VT_NORM_PREPEND */
    int32_t content_len;
    vt_precompiled *pc;    /* VT_NORM_PRECOMPILED */
} vt_norm_step;

/* ---- pre-tokenizers ---- */

typedef enum vt_pre_kind {
    VT_PRE_BERT,             /* whitespace removed, punctuation isolated */
    VT_PRE_WHITESPACE,       /* \w+ and [^\w\s]+ runs */
    VT_PRE_WHITESPACE_SPLIT, /* whitespace removed */
    VT_PRE_PUNCTUATION,
    VT_PRE_DIGITS,
    VT_PRE_CHAR_DELIMITER,
    VT_PRE_SPLIT,            /* a string or regex pattern */
    VT_PRE_BYTE_LEVEL,       /* GPT-2's split, then bytes as characters */
    VT_PRE_METASPACE,        /* spaces as U+2581, split before each */
} vt_pre_kind;

/* tokenizers' SplitDelimiterBehavior */
typedef enum vt_split_behavior {
    VT_SPLIT_REMOVED, VT_SPLIT_ISOLATED, VT_SPLIT_MERGED_WITH_PREVIOUS, VT_SPLIT_MERGED_WITH_NEXT,
    VT_SPLIT_CONTIGUOUS,
} vt_split_behavior;

typedef enum vt_prepend_scheme { VT_PREPEND_ALWAYS, VT_PREPEND_FIRST, VT_PREPEND_NEVER } vt_prepend_scheme;

typedef struct vt_pre_step {
    vt_pre_kind kind;
    vt_split_behavior behavior; /* PUNCTUATION, SPLIT */
    bool invert;                /* SPLIT */
    char *pattern;              /* SPLIT with a literal */
    int32_t pattern_len;
    vt_regex *re;               /* SPLIT with a regex */
    bool individual_digits;     /* DIGITS */
    int32_t delimiter;          /* CHAR_DELIMITER: a code point */
    bool add_prefix_space;      /* BYTE_LEVEL */
    bool use_regex;             /* BYTE_LEVEL */
    int32_t replacement;        /* METASPACE: a code point */
    vt_prepend_scheme prepend;  /* METASPACE */
    bool split;                 /* METASPACE */
} vt_pre_step;

/* ---- the model ---- */

typedef enum vt_model_kind { VT_MODEL_WORDPIECE, VT_MODEL_BPE, VT_MODEL_UNIGRAM } vt_model_kind;

/* ---- added tokens ---- */

typedef struct vt_added_token {
    char *content;      /* as the file gives it */
    int32_t len;
    char *match;        /* what is matched: content, or its normalized form when `normalized` */
    int32_t match_len;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} vt_added_token;

/* ---- the post-processor ---- */

typedef struct vt_template_item {
    int seq;          /* -1: special tokens, 0: sequence A, 1: sequence B */
    int32_t type_id;
    int32_t n_ids;    /* special tokens: their ids */
    int32_t *ids;
} vt_template_item;

typedef struct vt_template {
    vt_template_item *items;
    int n;
    int32_t n_special; /* ids the specials add */
} vt_template;

/* ---- the decoder ---- */

typedef enum vt_dec_kind {
    VT_DEC_WORDPIECE, VT_DEC_BYTE_LEVEL, VT_DEC_METASPACE, VT_DEC_BPE, VT_DEC_REPLACE, VT_DEC_BYTE_FALLBACK,
    VT_DEC_FUSE, VT_DEC_STRIP,
} vt_dec_kind;

typedef struct vt_dec_step {
    vt_dec_kind kind;
    char *prefix;            /* WORDPIECE: "##"; BPE: the suffix; REPLACE: the pattern */
    char *content;           /* REPLACE */
    bool cleanup;            /* WORDPIECE */
    int32_t replacement;     /* METASPACE; STRIP: the character */
    vt_prepend_scheme prepend; /* METASPACE */
    int32_t start, stop;     /* STRIP */
} vt_dec_step;

struct vt_tokenizer {
    vt_wp_vocab *vocab;     /* every id (the model's and the added tokens') with its token */
    vt_tok_options opt;
    vt_tok_special sp;

    vt_norm_step *norm;
    int n_norm;
    vt_pre_step *pre;
    int n_pre;

    vt_model_kind model;
    vt_bpe *bpe;
    vt_unigram *unigram;
    vt_wp_vocab *model_vocab; /* BPE / Unigram: the model's own table (vocab is the full one) */
    int32_t unk_id;           /* the model's unknown token, or -1 */

    vt_added_token *added;
    int n_added;
    bool has_normalized_added; /* some added token matches normalized text */
    int32_t *added_order;        /* indices into added grouped by (normalized, first byte), longest first */
    int32_t added_start[2][257]; /* group (normalized, byte) is added_order[added_start[nz][byte] .. [byte + 1]) */

    vt_template single, pair;
    bool trim_offsets;          /* byte-level offsets lose their spaces (RobertaProcessing, ByteLevel) */
    bool trim_add_prefix_space; /* ... except the first token's added one */

    vt_dec_step *dec;
    int n_dec;

    uint8_t *special_of; /* (vocabulary size) 1 for the ids of special added tokens */

    char *json;          /* the tokenizer.json text it was read from (written back as it is), or NULL */
    size_t json_len;

    /* BERT's own pipeline: BertNormalizer + BertPreTokenizer + WordPiece run as one pass */
    bool fused_bert;
    vt_pretok_cfg cfg;
};

/* True if id is a special token (an added token marked special). */
static inline bool vt_tok_is_special(const struct vt_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->vocab->n && t->special_of[id];
}

/* Frees what a tokenizer's pipeline owns (not the struct). */
void vt_tok_pipeline_free(struct vt_tokenizer *t);

/* Completes a tokenizer whose pipeline is set: the added-token index, which
 * ids are special, sp (cls and sep: the single template's special tokens
 * before and after the text; unk: the model's; pad and mask: the tokens
 * opt.pad_token / opt.mask_token name, or when those are empty "[PAD]" or
 * "<pad>", "[MASK]" or "<mask>"; -1 when absent) and whether BERT's one-pass
 * pipeline applies. VT_ERR_NOMEM only. */
vt_status vt_tok_finish(struct vt_tokenizer *t);

/* A tokenizer with options opt (NULL: defaults; clamped to their ranges) and nothing else yet. */
struct vt_tokenizer *vt_tok_alloc(const vt_tok_options *opt);

/* The byte-level BPE tokenizer of dir's vocab.json + merges.txt (RoBERTa's
 * pipeline when the vocabulary has <s> and </s>, else GPT-2's), as
 * transformers converts them. NULL on failure. */
struct vt_tokenizer *vt_tok_load_bpe_files(const char *dir, const vt_tok_options *opt);
/* The same from the two files' texts (vocab.json, merges.txt); `label` names them in errors. */
struct vt_tokenizer *vt_tok_from_bpe_texts(const char *vocab_json, size_t vlen, const char *merges_txt, size_t mlen,
                                           bool add_prefix_space, const char *label, const vt_tok_options *opt);

/* The file XLM-RoBERTa's directories held before tokenizer.json. */
#define VT_SPM_FILE_NAME "sentencepiece.bpe.model"

/* The tokenizer.json text (malloc'd, *out_len bytes) transformers'
 * XLMRobertaTokenizer builds from the SentencePiece model data[0..len)
 * (tokenizer_spm_file.c tells how). A model other than Unigram:
 * VT_ERR_UNSUPPORTED naming file and trainer_spec.model_type; a malformed
 * one: VT_ERR_FORMAT naming file, byte offset and field. NULL on failure. */
char *vt_spm_tokenizer_json(const uint8_t *data, size_t len, const char *file, size_t *out_len);

/* The tokenizer of dir's sentencepiece.bpe.model, as transformers'
 * XLMRobertaTokenizer builds it. NULL on failure. */
struct vt_tokenizer *vt_tok_load_spm_file(const char *dir, const vt_tok_options *opt);

/* vt_tok_from_json, with the Unigram scores the exact values of their text
 * rather than what serde_json reads of it: for the text verto converts from a
 * file whose scores tokenizers is handed as numbers (a SentencePiece model). */
struct vt_tokenizer *vt_tok_from_json_exact(const char *data, size_t len, const char *file, const vt_tok_options *opt);

/* ---- encoding steps shared by encode.c and encode_words.c ---- */

struct vt_tok_work;

/* The tokens of one text: added tokens cut out of the raw text, the rest
 * normalized (then the normalized added tokens cut out), pre-tokenized and
 * cut by the model, into out (replacing its contents); offsets are bytes of
 * `text`. seq_start: the text begins its sequence (byte-level offset
 * trimming treats the sequence's first token apart). */
vt_status vt_tok_encode_text(const vt_tokenizer *t, const char *text, int32_t len, bool seq_start,
                             struct vt_tok_work *w, vt_pieces *out);

/* e's working memory, allocated on first use; NULL (error set) when out of memory. */
struct vt_tok_work *vt_tok_scratch(vt_tok_encoding *e);

/* VT_ERR_INVALID_ARG for negative lengths or padding without a padding token. */
vt_status vt_tok_check_opts(const vt_tokenizer *t, const vt_tok_encode_opts *o);

/* Truncation, the post-processor's template and padding over the pieces of
 * out's working memory (seq[0], and seq[1] when pair): fills out. */
vt_status vt_tok_assemble(const vt_tokenizer *t, const vt_tok_encode_opts *o, bool pair, vt_tok_encoding *out);

/* Which of a sequence's `total` pieces is the j-th of the `kept` ones that
 * truncation keeps: the first kept - min(keep_tail, kept), then the last
 * min(keep_tail, kept). */
static inline int32_t vt_tok_kept_piece(const struct vt_tokenizer *t, int32_t kept, int32_t total, int32_t j) {
    int32_t tail = kept < t->opt.keep_tail ? kept : t->opt.keep_tail, head = kept - tail;
    return j < head ? j : total - (kept - j);
}

/* Makes room for n rows in e's arrays (contents kept). VT_ERR_NOMEM only. */
vt_status vt_tok_encoding_reserve(vt_tok_encoding *e, int32_t n);

/* A template item of special tokens (ids copied). NULL ids: VT_ERR_NOMEM. */
vt_status vt_template_add(vt_template *tp, int seq, int32_t type_id, const int32_t *ids, int32_t n_ids);

#endif
