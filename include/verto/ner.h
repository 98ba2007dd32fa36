/* Token classification (NER): tag schemes, entities from tag sequences as
 * seqeval finds them, labels for training on word-split input, and the
 * entities of the transformers token-classification pipeline (its
 * aggregation strategies) for raw text.
 *
 * Tags. A tag is "O" (outside) or PREFIX-TYPE: one prefix letter, '-', and a
 * non-empty entity type ("B-PER", "I-LOC", "S-MISC"). The schemes, by the
 * prefixes they use:
 *   IOB1   I, B    I- in and at the start of an entity; B- only starts an
 *                  entity that directly follows one of the same type
 *                  (the original CoNLL-2003 files)
 *   IOB2   I, B    (BIO) every entity starts with B- (CoNLL-2003 as HF
 *                  datasets ships it, WikiANN, OntoNotes conversions)
 *   IOE1   I, E    E- only ends an entity directly followed by one of the
 *                  same type
 *   IOE2   I, E    every entity ends with E-
 *   IOBES  I, B, E, S   (BIOES): S- a one-token entity, E- the last token
 *   BILOU  I, B, L, U   L- the last token, U- a unit (one-token) entity
 * VT_SCHEME_NONE reads any tag as an opaque class (POS tags, chunk tags).
 *
 * Entities follow seqeval 1.2.2 exactly (its default, conlleval-compatible
 * mode and its strict mode), including what it does with ill-formed
 * sequences ("O I-PER", "B-PER I-LOC") and with tags outside every scheme.
 * The library prints nothing; errors are in vt_last_error(). */
#ifndef VERTO_NER_H
#define VERTO_NER_H

#include "verto/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tag schemes --------------------------------------------------------- */

typedef enum vt_tag_scheme {
    VT_SCHEME_AUTO = 0, /* detect (vt_tag_scheme_detect) */
    VT_SCHEME_NONE,     /* tags are plain classes: no entities */
    VT_SCHEME_IOB1,
    VT_SCHEME_IOB2,
    VT_SCHEME_IOE1,
    VT_SCHEME_IOE2,
    VT_SCHEME_IOBES,
    VT_SCHEME_BILOU,
} vt_tag_scheme;

/* "auto", "none", "IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU"; and back,
 * case-insensitively, also reading "BIO" as IOB2 and "BIOES" as IOBES
 * (false if unknown). */
VT_API const char *vt_tag_scheme_name(vt_tag_scheme s);
VT_API bool vt_tag_scheme_parse(const char *name, vt_tag_scheme *out);

/* True if `tag` is a tag of scheme s: "O", or P-TYPE with P one of the
 * scheme's prefixes and TYPE non-empty. Under VT_SCHEME_NONE any non-empty
 * tag is valid; VT_SCHEME_AUTO accepts a tag of any scheme. */
VT_API bool vt_tag_valid(vt_tag_scheme s, const char *tag);

/* The scheme of a label set. Labels that are neither "O" nor PREFIX-TYPE
 * with a prefix of some scheme (I, B, E, S, L, U) are left out of the
 * decision (vt_tag_valid then refuses them). The prefixes present decide:
 *   none of them (no label has a prefix)     VT_SCHEME_NONE, unless the set is
 *                                            just "O" (VT_SCHEME_IOB2)
 *   only I and/or B                          IOB2, or IOB1 when the tag sequences
 *                                            have more entities starting with I-
 *                                            than entities starting with B- where
 *                                            no entity of their type precedes
 *                                            them (so stray I- in BIO data do not
 *                                            make it IOB1)
 *   only I and/or E                          IOE2, or IOE1 likewise (entities
 *                                            ending with I- against E- ends that
 *                                            no entity of their type follows)
 *   B, I, E, S with an E or an S             IOBES
 *   B, I, L, U with an L or a U              BILOU
 *   anything else (e.g. E with L)            VT_ERR_FORMAT naming the labels
 * `tags` (start[n_seq] label ids, sequence s being tags[start[s] ..
 * start[s + 1])) may be NULL: then IOB1 and IOE1 are never chosen. Ids
 * outside [0, n_labels) are ignored. */
VT_API vt_status vt_tag_scheme_detect(const char *const *labels, int n_labels, const int32_t *tags,
                                      const size_t *start, size_t n_seq, vt_tag_scheme *out);

/* ---- entities ---------------------------------------------------------- */

typedef enum vt_ner_mode {
    VT_NER_DEFAULT = 0, /* seqeval's default mode (conlleval.pl): lenient, any scheme at once */
    VT_NER_STRICT,      /* seqeval's mode="strict" with a scheme: only well-formed entities count */
} vt_ner_mode;

/* "default" / "strict"; and back (false if unknown). */
VT_API const char *vt_ner_mode_name(vt_ner_mode m);
VT_API bool vt_ner_mode_parse(const char *name, vt_ner_mode *out);

typedef struct vt_ner_entity {
    int32_t start, end; /* tokens [start, end) of the sequence */
    const char *type;   /* the entity type: bytes inside one of the tags (or a static "_" for a tag
                           with no type), NOT NUL-terminated: use type_len */
    int32_t type_len;
} vt_ner_entity;

/* The entities of one tag sequence tags[0..n) (NUL-terminated strings).
 *   VT_NER_DEFAULT: seqeval.metrics.sequence_labeling.get_entities: the
 *     prefix is a tag's first character, the type what follows its first
 *     '-' after that character (or the rest; "_" if empty); a chunk ends
 *     after E- or S-, before B-, S- or O after B- or I-, or where the type
 *     changes; it starts at B- or S-, at I- or E- after O, E- or S-, or
 *     where the type changes. Tags of no scheme ("X-PER") take part as
 *     seqeval lets them. scheme is ignored.
 *   VT_NER_STRICT: seqeval.scheme.Tokens(tags, scheme).entities: the type is
 *     what follows the first character with '-' stripped from both ends
 *     ("_" if empty); an entity is a start token, the tokens inside it, and
 *     a proper end, by the scheme's patterns; scheme must be IOB1 .. BILOU.
 *     A tag whose first character is not a prefix letter (I O B E S U L)
 *     or whose prefix the scheme does not use is VT_ERR_INVALID_ARG naming
 *     it (seqeval raises).
 * *out receives a malloc'd array of *n_out entities in order of their end
 * (free it; NULL when there are none). An empty tag or a NULL tag is
 * VT_ERR_INVALID_ARG. The entity types point into `tags`, which must
 * outlive the result. */
VT_API vt_status vt_ner_entities(const char *const *tags, size_t n, vt_ner_mode mode, vt_tag_scheme scheme,
                                 vt_ner_entity **out, size_t *n_out);

/* ---- labels for training on word-split input ------------------------------ */

#define VT_NER_IGNORE (-100) /* the label PyTorch's cross-entropy skips (ignore_index) */

/* Token labels of one encoding of pre-split words (vt_tok_encode_words),
 * as transformers' examples/pytorch/token-classification/run_ner.py builds
 * them: labels[i] (len) is word_tags[word_ids[i]] for the first token of each
 * word, and for the other tokens of a word VT_NER_IGNORE, or with
 * label_all_tokens the word's tag again, a tag starting with "B-" then
 * becoming the tag with every "B-" replaced by "I-" when id2label has it
 * (run_ner's b_to_i_label: B-X -> I-X); specials and padding
 * (word_ids -1) get VT_NER_IGNORE. A word tag may itself be VT_NER_IGNORE
 * (an unlabelled word). id2label (num_labels) is needed only with
 * label_all_tokens (else may be NULL). Errors (VT_ERR_INVALID_ARG): a word id
 * outside [0, n_words), a tag outside [0, num_labels) when num_labels > 0. */
VT_API vt_status vt_ner_align_labels(const int32_t *word_ids, int32_t len, const int32_t *word_tags, size_t n_words,
                                     bool label_all_tokens, const char *const *id2label, int num_labels,
                                     int32_t *labels);

/* Word-level predictions from token-level ones: for each word, the
 * prediction of its first token (the token whose label vt_ner_align_labels
 * would keep); word_pred[w] (n_words) is -1 for a word with no token (an
 * empty word, or one cut off by truncation). */
VT_API void vt_ner_first_token_per_word(const int32_t *word_ids, int32_t len, const int32_t *token_pred,
                                        int32_t *word_pred, size_t n_words);

/* ---- entities of raw text: the pipeline's aggregation strategies ------------ */

/* transformers' TokenClassificationPipeline aggregation_strategy. verto's
 * default is SIMPLE (the zero value); the pipeline's own default is NONE. */
typedef enum vt_ner_aggregation {
    VT_NER_AGG_SIMPLE = 0, /* tokens grouped by their labels (B-X starts, I-X continues) */
    VT_NER_AGG_NONE,       /* one entry per token, its own label: no grouping */
    VT_NER_AGG_FIRST,      /* words take their first token's label, then grouped as SIMPLE */
    VT_NER_AGG_AVERAGE,    /* words take the argmax of their tokens' mean probabilities, then grouped */
    VT_NER_AGG_MAX,        /* words take the label of their most confident token, then grouped */
} vt_ner_aggregation;

/* "simple", "none", "first", "average", "max"; and back, case-insensitively
 * as the pipeline reads them (false if unknown). */
VT_API const char *vt_ner_aggregation_name(vt_ner_aggregation a);
VT_API bool vt_ner_aggregation_parse(const char *name, vt_ner_aggregation *out);

typedef struct vt_ner_group {
    char *entity_group;   /* owned: the first label after its first '-' ("B-PER" -> "PER"); with
                             VT_NER_AGG_NONE the token's whole label (the pipeline's "entity") */
    double score;         /* mean of the tokens' (words') probabilities of their labels (NaNs left out,
                             as np.nanmean); with NONE the token's probability */
    char *word;           /* owned: the tokens decoded (tokenizer's decoder, unknown tokens as their text);
                             with NONE the token's own string */
    int32_t start, end;   /* character offsets [start, end) in the text (Python string indices) */
    int32_t first, last;  /* tokens [first, last] of the encoding (NONE: first == last, the "index") */
} vt_ner_group;

/* What transformers' TokenClassificationPipeline (5.x) returns for one text
 * with aggregation_strategy `agg` (and ignore_labels ["O"]), from the
 * encoding `e` of `text` (vt_tok_encode, one sequence, byte offsets) and
 * probs (e->len, num_labels): the softmax of each token's logits.
 *  - Each token of the text takes part (seq 0; what the template added and
 *    padding are skipped, as the pipeline's special_tokens_mask does, while
 *    special tokens written in the text are kept like any other), with its
 *    first highest-probability label (numpy's argmax) and that probability;
 *    its string is the vocabulary's token, an unknown token's the text it
 *    covers.
 *  - NONE: each token whose label is not in ignore, as is.
 *  - FIRST, AVERAGE, MAX: tokens first make words: a token continues the
 *    word before it when it is a subword: for a tokenizer whose model has a
 *    continuing_subword_prefix (vt_tok_model_subword_prefix: WordPiece),
 *    when its string and the text it covers differ in length (characters);
 *    else (byte-level BPE, Unigram: the pipeline's fallback heuristic) when
 *    it does not start the text and neither the character before it nor its
 *    first one is a space (U+0020). An unknown token always starts a word.
 *    A word's label and score: FIRST its first token's; MAX those of its
 *    first token with the highest top probability; AVERAGE the argmax of the
 *    tokens' mean probabilities (float32, NaNs left out) and that mean. Its
 *    string is the decoder over its tokens' strings.
 *  - SIMPLE and the word strategies: consecutive items (tokens or words)
 *    are grouped while an item's label is I-X (or any label not starting
 *    with "B-" or "I-", which reads as itself) continuing the same X; a
 *    group's entity_group is its first label after the first '-'; groups
 *    whose entity_group is in ignore (n_ignore; NULL: just "O") are
 *    dropped. The word is the decoder over the items' strings
 *    (transformers' convert_tokens_to_string); start and end are the first
 *    and last items' character offsets.
 * *out: malloc'd array of *n_out groups; free with vt_ner_groups_free.
 * Errors: VT_ERR_INVALID_ARG (bad sizes, an offset outside the text, an
 * unknown strategy), VT_ERR_NOMEM. */
VT_API vt_status vt_ner_aggregate(const vt_tokenizer *t, const char *text, size_t len, const vt_tok_encoding *e,
                                  const float *probs, int num_labels, const char *const *id2label,
                                  vt_ner_aggregation agg, const char *const *ignore, int n_ignore,
                                  vt_ner_group **out, size_t *n_out);
/* vt_ner_aggregate with VT_NER_AGG_SIMPLE. */
VT_API vt_status vt_ner_aggregate_simple(const vt_tokenizer *t, const char *text, size_t len,
                                         const vt_tok_encoding *e, const float *probs, int num_labels,
                                         const char *const *id2label, const char *const *ignore, int n_ignore,
                                         vt_ner_group **out, size_t *n_out);
VT_API void vt_ner_groups_free(vt_ner_group *g, size_t n);

#ifdef __cplusplus
}
#endif
#endif
