/* An XLM-RoBERTa tokenizer from a directory's sentencepiece.bpe.model alone
 * (the file fairseq's XLM-R shipped before tokenizer.json): the tokenizer.json
 * that transformers 5's XLMRobertaTokenizer.from_pretrained builds of it
 * (TokenizersBackend._convert_from_sentencepiece, SentencePieceExtractor,
 * XLMRobertaConverter.convert_from_spm, XLMRobertaTokenizer.__init__), read
 * as any other, so that verto writes it beside the model.
 *
 * What transformers makes of the ModelProto:
 *   vocabulary  fairseq's dictionary: <s> <pad> </s> <unk> (ids 0-3, score 0),
 *               then the pieces from spm id 3 on at id + 1 (spm's first three,
 *               <unk> <s> </s>, give way to the four), then <mask> (score 0)
 *   model       Unigram, unk_id 3, no byte fallback (trainer_spec's ids and
 *               byte_fallback are not looked at)
 *   normalizer  Precompiled with the model's charsmap, none when it has none
 *               (add_dummy_prefix and remove_extra_whitespaces are not looked at)
 *   pre-tok.    WhitespaceSplit, Metaspace(U+2581, prepend always, split)
 *   post        <s> $A </s>, pair <s> $A </s> </s> $B </s>, all type 0
 *   decoder     Metaspace(U+2581, prepend always, split)
 *   added       <s> <pad> </s> <unk> <mask> and every CONTROL piece, special and
 *               not normalized, each at the id of the last vocabulary entry of
 *               its text; a CONTROL piece the vocabulary lacks (one of the
 *               first three named other than <s> and </s>) at the next new id.
 * Only Unigram models are read: XLMRobertaTokenizer reads any model as one. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "text/spm_model.h"
#include "text/tokenizer_internal.h"
#include "verto/fileio.h"

#define SPM_FILE_MAX_BYTES ((size_t)256 << 20)
#define SPM_FIRST_PIECE 3 /* spm's <unk> <s> </s> */

static const char *const SPECIALS[] = {"<s>", "<pad>", "</s>", "<unk>"};

/* The text of one piece as a C string (it may not hold NUL, nor be other than UTF-8). */
static char *piece_text(const vt_spm_piece *p, int32_t i, const char *file) {
    if (memchr(p->s, 0, p->len)) {
        vt_error(VT_ERR_FORMAT, "%s: pieces[%d].piece holds a NUL byte", file, i);
        return NULL;
    }
    if (!vt_utf8_valid((const char *)p->s, p->len)) {
        vt_error(VT_ERR_FORMAT, "%s: pieces[%d].piece is not UTF-8", file, i);
        return NULL;
    }
    char *s = strndup((const char *)p->s, p->len);
    if (!s) vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    return s;
}

/* The shortest decimal text that reads back as d exactly (cJSON's own
 * printing only keeps d within an epsilon), as tokenizers writes it. */
static cJSON *exact_number(double d) {
    char text[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(text, sizeof text, "%.*g", p, d);
        if (strtod(text, NULL) == d) break;
    }
    if (!strpbrk(text, ".e")) strcat(text, ".0");
    return cJSON_CreateRaw(text);
}

static char *base64(const uint8_t *d, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        *o++ = A[v >> 18];
        *o++ = A[(v >> 12) & 63];
        *o++ = i + 1 < n ? A[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? A[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static cJSON *metaspace(void) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "Metaspace");
    cJSON_AddStringToObject(m, "replacement", "\xe2\x96\x81");
    cJSON_AddStringToObject(m, "prepend_scheme", "always");
    cJSON_AddBoolToObject(m, "split", true);
    return m;
}

static cJSON *template_piece(const char *key, const char *id) {
    cJSON *piece = cJSON_CreateObject(), *inner = cJSON_AddObjectToObject(piece, key);
    cJSON_AddStringToObject(inner, "id", id);
    cJSON_AddNumberToObject(inner, "type_id", 0);
    return piece;
}

static cJSON *post_processor(int32_t bos, int32_t eos) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(p, "single"), *pair = cJSON_AddArrayToObject(p, "pair");
    static const char *const PAIR[] = {"<s>", "A", "</s>", "</s>", "B", "</s>"};
    for (int i = 0; i < 6; i++) {
        const char *key = i == 1 || i == 4 ? "Sequence" : "SpecialToken";
        if (i < 3) cJSON_AddItemToArray(single, template_piece(key, PAIR[i]));
        cJSON_AddItemToArray(pair, template_piece(key, PAIR[i]));
    }
    cJSON *specials = cJSON_AddObjectToObject(p, "special_tokens");
    const char *names[2] = {"</s>", "<s>"};
    int32_t ids[2] = {eos, bos};
    for (int i = 0; i < 2; i++) {
        cJSON *s = cJSON_AddObjectToObject(specials, names[i]);
        cJSON_AddStringToObject(s, "id", names[i]);
        cJSON_AddItemToObject(s, "ids", cJSON_CreateIntArray(&ids[i], 1));
        cJSON_AddItemToObject(s, "tokens", cJSON_CreateStringArray(&names[i], 1));
    }
    return p;
}

typedef struct added_tok {
    const char *content;
    int32_t id;
} added_tok;

static int by_id(const void *a, const void *b) {
    const added_tok *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* The added tokens (module comment) in id order, as tokenizers writes them.
 * Only the first three pieces can be missing from the vocabulary, so at most
 * three tokens are new. */
static cJSON *added_tokens(const vt_spm_model *m, char **texts, const vt_wp_vocab *v) {
    int32_t nv = vt_wp_vocab_size(v), n = 0, next = nv;
    added_tok *list = malloc(((size_t)m->n + 5) * sizeof *list);
    uint8_t *seen = calloc((size_t)nv, 1);
    cJSON *arr = list && seen ? cJSON_CreateArray() : NULL;
    for (int32_t i = -5; arr && i < m->n; i++) { /* the five named tokens first, then the CONTROL pieces */
        const char *c = i < -1 ? SPECIALS[i + 5] : i == -1 ? "<mask>" : texts[i];
        if (i >= 0 && (m->pieces[i].type != VT_SPM_CONTROL || !*c)) continue; /* tokenizers skips empty ones */
        int32_t id = vt_wp_vocab_id(v, c, strlen(c));
        bool dup = id >= 0 && seen[id];
        for (int32_t k = 0; k < n && id < 0 && !dup; k++) dup = list[k].id >= nv && !strcmp(list[k].content, c);
        if (dup) continue;
        if (id >= 0) seen[id] = 1;
        list[n++] = (added_tok){c, id >= 0 ? id : next++};
    }
    if (arr) qsort(list, (size_t)n, sizeof *list, by_id);
    for (int32_t k = 0; arr && k < n; k++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", list[k].id);
        cJSON_AddStringToObject(a, "content", list[k].content);
        cJSON_AddBoolToObject(a, "single_word", false);
        cJSON_AddBoolToObject(a, "lstrip", false);
        cJSON_AddBoolToObject(a, "rstrip", false);
        cJSON_AddBoolToObject(a, "normalized", false);
        cJSON_AddBoolToObject(a, "special", true);
        cJSON_AddItemToArray(arr, a);
    }
    free(list);
    free(seen);
    return arr;
}

/* The tokenizer.json tree; texts[i] is piece i's text (checked), v the vocabulary's tokens. */
static cJSON *tokenizer_json(const vt_spm_model *m, char **texts, const vt_wp_vocab *v, const char *file) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = added_tokens(m, texts, v);
    char *map = m->charsmap_len ? base64(m->charsmap, m->charsmap_len) : NULL;
    if (!added || (m->charsmap_len && !map)) {
        cJSON_Delete(added);
        cJSON_Delete(root);
        vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        return NULL;
    }
    cJSON_AddItemToObject(root, "added_tokens", added);
    if (map) {
        cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
        cJSON_AddStringToObject(norm, "type", "Precompiled");
        cJSON_AddStringToObject(norm, "precompiled_charsmap", map);
        free(map);
    } else {
        cJSON_AddNullToObject(root, "normalizer");
    }
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *steps = cJSON_AddArrayToObject(pre, "pretokenizers"), *ws = cJSON_CreateObject();
    cJSON_AddStringToObject(ws, "type", "WhitespaceSplit");
    cJSON_AddItemToArray(steps, ws);
    cJSON_AddItemToArray(steps, metaspace());
    cJSON_AddItemToObject(root, "post_processor",
                          post_processor(vt_wp_vocab_id(v, "<s>", 3), vt_wp_vocab_id(v, "</s>", 4)));
    cJSON_AddItemToObject(root, "decoder", metaspace());
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "Unigram");
    cJSON_AddNumberToObject(model, "unk_id", 3);
    cJSON *vocab = cJSON_AddArrayToObject(model, "vocab");
    for (int32_t id = 0; id < vt_wp_vocab_size(v); id++) {
        int32_t piece = id - 1; /* the fairseq offset */
        if (piece >= SPM_FIRST_PIECE && piece < m->n && !isfinite(m->pieces[piece].score)) {
            vt_error(VT_ERR_FORMAT, "%s: pieces[%d].score is not a finite number", file, piece);
            return cJSON_Delete(root), NULL;
        }
        double score = piece >= SPM_FIRST_PIECE && piece < m->n ? (double)m->pieces[piece].score : 0.0;
        cJSON *entry = cJSON_CreateArray();
        cJSON_AddItemToArray(entry, cJSON_CreateString(vt_wp_vocab_token(v, id)));
        cJSON_AddItemToArray(entry, exact_number(score));
        cJSON_AddItemToArray(vocab, entry);
    }
    cJSON_AddBoolToObject(model, "byte_fallback", false);
    return root;
}

/* The vocabulary's tokens (module comment) as a table, for their ids. */
static vt_wp_vocab *vocabulary(const vt_spm_model *m, char **texts) {
    int32_t kept = m->n > SPM_FIRST_PIECE ? m->n - SPM_FIRST_PIECE : 0, n = 4 + kept + 1;
    const char **toks = malloc((size_t)n * sizeof *toks);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    vt_wp_vocab *v = NULL;
    if (toks && lens) {
        for (int32_t i = 0; i < n; i++) {
            toks[i] = i < 4 ? SPECIALS[i] : i == n - 1 ? "<mask>" : texts[i - 4 + SPM_FIRST_PIECE];
            lens[i] = strlen(toks[i]);
        }
        v = vt_wp_vocab_from_tokens(toks, lens, n);
    } else {
        vt_error(VT_ERR_NOMEM, "out of memory");
    }
    free(toks);
    free(lens);
    return v;
}

char *vt_spm_tokenizer_json(const uint8_t *data, size_t len, const char *file, size_t *out_len) {
    vt_spm_model m;
    char *text = NULL, **texts = NULL;
    vt_wp_vocab *v = NULL;
    if (vt_spm_model_read(data, len, file, &m) != VT_OK) goto done;
    const char *type = vt_spm_model_type_name(m.model_type);
    if (m.model_type != VT_SPM_UNIGRAM) {
        if (type) vt_error(VT_ERR_UNSUPPORTED, "%s: trainer_spec.model_type is %s (%d): verto reads Unigram "
                           "SentencePiece models only (XLM-RoBERTa's)", file, type, m.model_type);
        else vt_error(VT_ERR_UNSUPPORTED, "%s: trainer_spec.model_type is %d, not a model type verto knows (Unigram "
                      "is 1)", file, m.model_type);
        goto done;
    }
    if (m.n > INT32_MAX - 16) {
        vt_error(VT_ERR_FORMAT, "%s: too many pieces (%d)", file, m.n);
        goto done;
    }
    if (!(texts = calloc((size_t)m.n, sizeof *texts))) {
        vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        goto done;
    }
    for (int32_t i = 0; i < m.n; i++)
        if (!(texts[i] = piece_text(&m.pieces[i], i, file))) goto done;
    if (!(v = vocabulary(&m, texts))) goto done;
    cJSON *root = tokenizer_json(&m, texts, v, file);
    if (root && !(text = cJSON_PrintUnformatted(root))) vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    cJSON_Delete(root);
    if (text) *out_len = strlen(text);
done:
    for (int32_t i = 0; texts && i < m.n; i++) free(texts[i]);
    free(texts);
    vt_wp_vocab_free(v);
    vt_spm_model_free(&m);
    return text;
}

vt_tokenizer *vt_tok_load_spm_file(const char *dir, const vt_tok_options *opt) {
    size_t n = strlen(dir) + 32, len = 0, json_len = 0;
    char *file = malloc(n), *data = NULL, *json = NULL;
    vt_tokenizer *t = NULL;
    if (!file) return vt_error(VT_ERR_NOMEM, "%s: out of memory", dir), NULL;
    snprintf(file, n, "%s/" VT_SPM_FILE_NAME, dir);
    if (vt_read_file(file, SPM_FILE_MAX_BYTES, &data, &len) == VT_OK &&
        (json = vt_spm_tokenizer_json((const uint8_t *)data, len, file, &json_len)))
        t = vt_tok_from_json_exact(json, json_len, file, opt);
    free(json);
    free(data);
    free(file);
    return t;
}
