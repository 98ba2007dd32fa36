/* tokenizer.json, the Hugging Face tokenizers format, for WordPiece
 * tokenizers: read (vt_tok_load_json) and written (vt_tok_save_json) as
 * transformers' BertTokenizerFast saves it.
 *
 * What verto honours: a WordPiece model ("##" pieces, [UNK]), BertNormalizer
 * (clean_text, handle_chinese_chars, strip_accents, lowercase),
 * BertPreTokenizer, a BERT template ([CLS] A [SEP], [CLS] A [SEP] B [SEP]
 * with type ids 0/1, as TemplateProcessing or BertProcessing), the WordPiece
 * decoder, and added tokens that are the vocabulary's own special tokens.
 * Anything else in the file is an error naming the component, never a silent
 * difference. The file's "truncation" and "padding" are not read: transformers
 * replaces them at every call, and verto truncates as its options say. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "text/tokenizer_internal.h"
#include "verto/fileio.h"

#define TOKENIZER_JSON_MAX_BYTES ((size_t)512 << 20)

static const char *type_of(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static vt_status unsupported(const char *file, const char *component, const char *what) {
    return vt_error(VT_ERR_UNSUPPORTED, "%s: %s %s is not supported (verto reads WordPiece tokenizers with BERT's "
                                        "normalizer, pre-tokenizer and template)",
                    file, component, what);
}

/* A JSON boolean member, or dflt when absent. */
static vt_status member_bool(const char *file, const char *where, const cJSON *obj, const char *key, bool dflt,
                             bool *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) return *out = dflt, VT_OK;
    if (!cJSON_IsBool(it)) return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be true or false", file, where, key);
    *out = cJSON_IsTrue(it);
    return VT_OK;
}

static vt_status read_normalizer(const char *file, const cJSON *n, vt_tok_options *o) {
    if (!n || cJSON_IsNull(n)) return unsupported(file, "normalizer", "null (no lower-casing, accents or CJK split)");
    const char *type = type_of(n);
    if (!type || strcmp(type, "BertNormalizer")) return unsupported(file, "normalizer", type ? type : "(no type)");
    bool clean = true;
    vt_status st = member_bool(file, "normalizer", n, "clean_text", true, &clean);
    if (st == VT_OK && !clean) return unsupported(file, "normalizer", "BertNormalizer with clean_text false");
    if (st == VT_OK) st = member_bool(file, "normalizer", n, "handle_chinese_chars", true, &o->tokenize_chinese_chars);
    if (st == VT_OK) st = member_bool(file, "normalizer", n, "lowercase", true, &o->lowercase);
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(n, "strip_accents");
    if (st == VT_OK) {
        if (!sa || cJSON_IsNull(sa)) o->strip_accents = -1; /* as lowercase */
        else if (cJSON_IsBool(sa)) o->strip_accents = cJSON_IsTrue(sa);
        else st = vt_error(VT_ERR_FORMAT, "%s: normalizer.strip_accents must be true, false or null", file);
    }
    return st;
}

/* The template must be BERT's: [CLS] $A [SEP] and [CLS] $A [SEP] $B:1 [SEP]:1. */
static bool is_bert_template(const cJSON *seq, bool pair) {
    static const char *const ids[] = {"[CLS]", "A", "[SEP]", "B", "[SEP]"};
    static const int types[] = {0, 0, 0, 1, 1};
    int n = pair ? 5 : 3;
    if (!cJSON_IsArray(seq) || cJSON_GetArraySize(seq) != n) return false;
    for (int i = 0; i < n; i++) {
        const cJSON *piece = cJSON_GetArrayItem(seq, i);
        bool sequence = i == 1 || i == 3;
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(piece, sequence ? "Sequence" : "SpecialToken");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(inner, "id");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(inner, "type_id");
        if (!cJSON_IsString(id) || strcmp(id->valuestring, ids[i]) || !cJSON_IsNumber(type) ||
            type->valuedouble != types[i])
            return false;
    }
    return true;
}

static vt_status read_post_processor(const char *file, const cJSON *p) {
    const char *type = p ? type_of(p) : NULL;
    if (type && !strcmp(type, "BertProcessing")) {
        const cJSON *sep = cJSON_GetObjectItemCaseSensitive(p, "sep"), *cls = cJSON_GetObjectItemCaseSensitive(p, "cls");
        const cJSON *sep0 = cJSON_GetArrayItem(sep, 0), *cls0 = cJSON_GetArrayItem(cls, 0);
        if (cJSON_IsString(sep0) && !strcmp(sep0->valuestring, "[SEP]") && cJSON_IsString(cls0) &&
            !strcmp(cls0->valuestring, "[CLS]"))
            return VT_OK;
        return unsupported(file, "post_processor", "BertProcessing with tokens other than [CLS] and [SEP]");
    }
    if (type && !strcmp(type, "TemplateProcessing")) {
        if (is_bert_template(cJSON_GetObjectItemCaseSensitive(p, "single"), false) &&
            is_bert_template(cJSON_GetObjectItemCaseSensitive(p, "pair"), true))
            return VT_OK;
        return unsupported(file, "post_processor", "TemplateProcessing other than [CLS] A [SEP] (B [SEP])");
    }
    return unsupported(file, "post_processor", type ? type : "null (no [CLS] and [SEP])");
}

/* model.vocab {token: id} as vocab.txt's lines: ids 0 .. n-1, each once, no newline in a token. */
static vt_wp_vocab *read_vocab(const char *file, const cJSON *vocab) {
    int n = cJSON_GetArraySize(vocab);
    if (!cJSON_IsObject(vocab) || n < 1)
        return vt_error(VT_ERR_FORMAT, "%s: model.vocab must be a non-empty object of token: id", file), NULL;
    const char **by_id = calloc((size_t)n, sizeof *by_id);
    size_t bytes = 0;
    vt_status st = by_id ? VT_OK : vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    for (const cJSON *e = vocab->child; st == VT_OK && e; e = e->next) {
        double id = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(id >= 0 && id < n && id == (double)(int)id))
            st = vt_error(VT_ERR_FORMAT, "%s: model.vocab: token \"%s\" has id %g, not one of 0 .. %d", file,
                          e->string, cJSON_IsNumber(e) ? id : -1.0, n - 1);
        else if (by_id[(int)id])
            st = vt_error(VT_ERR_FORMAT, "%s: model.vocab: id %d belongs to \"%s\" and \"%s\"", file, (int)id,
                          by_id[(int)id], e->string);
        else if (strchr(e->string, '\n'))
            st = vt_error(VT_ERR_UNSUPPORTED, "%s: model.vocab: token %d holds a newline", file, (int)id);
        else
            by_id[(int)id] = e->string, bytes += strlen(e->string) + 1;
    }
    char *text = st == VT_OK ? malloc(bytes + 1) : NULL;
    if (st == VT_OK && !text) st = vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    size_t at = 0;
    for (int i = 0; st == VT_OK && i < n; i++) {
        size_t len = strlen(by_id[i]);
        memcpy(text + at, by_id[i], len);
        text[at + len] = '\n';
        at += len + 1;
    }
    vt_wp_vocab *v = st == VT_OK ? vt_wp_vocab_from_buffer(text, at, file) : NULL;
    free(text);
    free(by_id);
    return v;
}

static vt_status read_model(const char *file, const cJSON *m, vt_tok_options *o) {
    const char *type = m ? type_of(m) : NULL;
    if (!type || strcmp(type, "WordPiece")) return unsupported(file, "model", type ? type : "(no type)");
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(m, "unk_token");
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(m, "max_input_chars_per_word");
    if (!cJSON_IsString(unk) || strcmp(unk->valuestring, "[UNK]"))
        return unsupported(file, "model.unk_token", cJSON_IsString(unk) ? unk->valuestring : "(missing)");
    if (prefix && !cJSON_IsNull(prefix) && (!cJSON_IsString(prefix) || strcmp(prefix->valuestring, "##")))
        return unsupported(file, "model.continuing_subword_prefix", cJSON_IsString(prefix) ? prefix->valuestring : "");
    if (max) {
        if (!cJSON_IsNumber(max) || !(max->valuedouble >= 0 && max->valuedouble <= 1e9))
            return vt_error(VT_ERR_FORMAT, "%s: model.max_input_chars_per_word must be a non-negative integer", file);
        o->max_input_chars_per_word = (int32_t)max->valuedouble;
    }
    return VT_OK;
}

/* Added tokens verto can honour: the vocabulary's own special tokens, matched whole. */
static vt_status check_added(const char *file, const cJSON *added, const vt_tokenizer *t) {
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return vt_error(VT_ERR_FORMAT, "%s: added_tokens must be a list", file);
    int i = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, i++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id"), *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(content))
            return vt_error(VT_ERR_FORMAT, "%s: added_tokens[%d] needs an id and a content", file, i);
        const char *text = content->valuestring;
        bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
        for (int k = 0; k < t->n_sp; k++) special |= !strcmp(t->sp_text[k], text) && t->sp_id[k] == (int32_t)id->valuedouble;
        vt_status st = member_bool(file, "added_tokens[]", a, "lstrip", false, &lstrip);
        if (st == VT_OK) st = member_bool(file, "added_tokens[]", a, "rstrip", false, &rstrip);
        if (st == VT_OK) st = member_bool(file, "added_tokens[]", a, "single_word", false, &single_word);
        if (st == VT_OK) st = member_bool(file, "added_tokens[]", a, "normalized", false, &normalized);
        if (st != VT_OK) return st;
        if (!special || lstrip || rstrip || single_word || normalized) {
            char what[160];
            snprintf(what, sizeof what, "\"%.60s\" (id %d)%s", text, (int)id->valuedouble,
                     special ? " with lstrip, rstrip, single_word or normalized" : " (not one of [PAD] [UNK] [CLS] "
                                                                                   "[SEP] [MASK] at its vocabulary id)");
            return unsupported(file, "added token", what);
        }
    }
    return VT_OK;
}

vt_tokenizer *vt_tok_from_json(const char *data, size_t len, const char *file, const vt_tok_options *opt) {
    vt_tok_options o;
    if (opt) o = *opt;
    else vt_tok_options_default(&o);
    if (!file) file = "tokenizer.json";
    if (!data && len) return vt_error(VT_ERR_INVALID_ARG, "%s: NULL buffer", file), NULL;
    const char *why;
    size_t at;
    cJSON *root = vt_json_parse(data ? data : "", len, &why, &at);
    if (!root) return vt_error(VT_ERR_FORMAT, "%s: not valid JSON (%s, at byte %zu)", file, why, at), NULL;
    vt_status st = cJSON_IsObject(root) ? VT_OK : vt_error(VT_ERR_FORMAT, "%s: not a JSON object", file);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    /* "truncation" and "padding" are left alone, as transformers does: it sets both per call */
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const char *pre_type = pre ? type_of(pre) : NULL;
    if (st == VT_OK && (!pre_type || strcmp(pre_type, "BertPreTokenizer")))
        st = unsupported(file, "pre_tokenizer", pre_type ? pre_type : "null");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const char *dec_type = dec && !cJSON_IsNull(dec) ? type_of(dec) : "WordPiece";
    if (st == VT_OK && (!dec_type || strcmp(dec_type, "WordPiece")))
        st = unsupported(file, "decoder", dec_type ? dec_type : "(no type)");
    if (st == VT_OK) st = read_normalizer(file, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), &o);
    if (st == VT_OK) st = read_post_processor(file, cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
    if (st == VT_OK) st = read_model(file, model, &o);
    vt_wp_vocab *v = st == VT_OK ? read_vocab(file, cJSON_GetObjectItemCaseSensitive(model, "vocab")) : NULL;
    vt_tokenizer *t = v ? vt_tok_create(v, &o) : NULL;
    if (t && check_added(file, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), t) != VT_OK) {
        vt_tok_free(t);
        t = NULL;
    }
    cJSON_Delete(root);
    return t;
}

vt_tokenizer *vt_tok_load_json(const char *file, const vt_tok_options *opt) {
    char *data = NULL;
    size_t len = 0;
    if (vt_read_file(file, TOKENIZER_JSON_MAX_BYTES, &data, &len) != VT_OK) return NULL;
    vt_tokenizer *t = vt_tok_from_json(data, len, file, opt);
    free(data);
    return t;
}

/* {"id": "...", "type_id": n} under key ("SpecialToken" or "Sequence"). */
static cJSON *template_piece(const char *key, const char *id, int type_id) {
    cJSON *piece = cJSON_CreateObject(), *inner = cJSON_AddObjectToObject(piece, key);
    cJSON_AddStringToObject(inner, "id", id);
    cJSON_AddNumberToObject(inner, "type_id", type_id);
    return piece;
}

static cJSON *bert_template(const vt_tokenizer *t) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(p, "single"), *pair = cJSON_AddArrayToObject(p, "pair");
    cJSON_AddItemToArray(single, template_piece("SpecialToken", "[CLS]", 0));
    cJSON_AddItemToArray(single, template_piece("Sequence", "A", 0));
    cJSON_AddItemToArray(single, template_piece("SpecialToken", "[SEP]", 0));
    cJSON_AddItemToArray(pair, template_piece("SpecialToken", "[CLS]", 0));
    cJSON_AddItemToArray(pair, template_piece("Sequence", "A", 0));
    cJSON_AddItemToArray(pair, template_piece("SpecialToken", "[SEP]", 0));
    cJSON_AddItemToArray(pair, template_piece("Sequence", "B", 1));
    cJSON_AddItemToArray(pair, template_piece("SpecialToken", "[SEP]", 1));
    cJSON *specials = cJSON_AddObjectToObject(p, "special_tokens");
    const char *names[2] = {"[CLS]", "[SEP]"};
    int32_t ids[2] = {t->sp.cls, t->sp.sep};
    for (int i = 0; i < 2; i++) {
        cJSON *s = cJSON_AddObjectToObject(specials, names[i]);
        cJSON_AddStringToObject(s, "id", names[i]);
        cJSON_AddItemToObject(s, "ids", cJSON_CreateIntArray(&ids[i], 1));
        cJSON_AddItemToObject(s, "tokens", cJSON_CreateStringArray(&names[i], 1));
    }
    return p;
}

vt_status vt_tok_save_json(const vt_tokenizer *t, const char *file) {
    if (!t || !file) return vt_error(VT_ERR_INVALID_ARG, "vt_tok_save_json: NULL argument");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int32_t id = 0; id < t->vocab->n; id++) /* in id order, as transformers writes them */
        for (int k = 0; k < t->n_sp; k++) {
            if (t->sp_id[k] != id) continue;
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", id);
            cJSON_AddStringToObject(a, "content", t->sp_text[k]);
            cJSON_AddBoolToObject(a, "single_word", false);
            cJSON_AddBoolToObject(a, "lstrip", false);
            cJSON_AddBoolToObject(a, "rstrip", false);
            cJSON_AddBoolToObject(a, "normalized", false);
            cJSON_AddBoolToObject(a, "special", true);
            cJSON_AddItemToArray(added, a);
        }
    cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(norm, "type", "BertNormalizer");
    cJSON_AddBoolToObject(norm, "clean_text", true);
    cJSON_AddBoolToObject(norm, "handle_chinese_chars", t->opt.tokenize_chinese_chars);
    if (t->opt.strip_accents < 0) cJSON_AddNullToObject(norm, "strip_accents");
    else cJSON_AddBoolToObject(norm, "strip_accents", t->opt.strip_accents != 0);
    cJSON_AddBoolToObject(norm, "lowercase", t->opt.lowercase);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "pre_tokenizer"), "type", "BertPreTokenizer");
    cJSON_AddItemToObject(root, "post_processor", bert_template(t));
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "WordPiece");
    cJSON_AddStringToObject(dec, "prefix", "##");
    cJSON_AddBoolToObject(dec, "cleanup", true);
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "WordPiece");
    cJSON_AddStringToObject(model, "unk_token", "[UNK]");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "##");
    cJSON_AddNumberToObject(model, "max_input_chars_per_word", t->opt.max_input_chars_per_word);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int32_t id = 0; id < t->vocab->n; id++) cJSON_AddNumberToObject(vocab, vt_wp_vocab_token(t->vocab, id), id);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return vt_error(VT_ERR_NOMEM, "out of memory writing %s", file);
    vt_status st = vt_write_file_atomic(file, text, strlen(text));
    free(text);
    return st;
}

vt_status vt_tok_complete_dir(const char *dir) {
    if (!dir) return vt_error(VT_ERR_INVALID_ARG, "vt_tok_complete_dir: NULL directory");
    size_t n = strlen(dir) + 20;
    char *json = malloc(n), *vocab = malloc(n);
    vt_status st = json && vocab ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory");
    if (st == VT_OK) {
        snprintf(json, n, "%s/tokenizer.json", dir);
        snprintf(vocab, n, "%s/vocab.txt", dir);
        bool has_json = access(json, F_OK) == 0, has_vocab = access(vocab, F_OK) == 0;
        vt_tokenizer *t = has_json && has_vocab ? NULL : vt_tok_load(dir, NULL);
        if (!(has_json && has_vocab) && !t) st = vt_last_status();
        else if (!has_json) st = vt_tok_save_json(t, json);
        else if (!has_vocab) st = vt_wp_vocab_save(t->vocab, vocab);
        vt_tok_free(t);
    }
    free(json);
    free(vocab);
    return st;
}
