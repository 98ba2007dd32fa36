/* tokenizer.json, the Hugging Face tokenizers format: read as the pipeline
 * it describes (vt_tok_load_json; the steps are read by
 * tokenizer_json_steps.c, the model and added tokens by
 * tokenizer_json_model.c) and written (vt_tok_save_json): the text a
 * tokenizer was read from as it was, or for a vocab.txt tokenizer the file
 * transformers' BertTokenizerFast saves.
 *
 * Anything in the file verto cannot honour is an error naming the file and the
 * component, never a silent difference. "truncation" and "padding" are not
 * read: transformers replaces them at every call, and verto truncates and pads
 * as its options say. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "text/normalize.h"
#include "text/tokenizer_json.h"
#include "verto/fileio.h"

#define TOKENIZER_JSON_MAX_BYTES ((size_t)1 << 30)

/* Added tokens with normalized = true are matched in normalized text, so
 * what is matched is their content normalized. */
static vt_status normalize_added(const char *file, vt_tokenizer *t) {
    vt_tok_work w = {0};
    vt_nstr src = {0}, out = {0};
    vt_status st = VT_OK;
    for (int i = 0; i < t->n_added && st == VT_OK; i++) {
        vt_added_token *a = &t->added[i];
        if (!a->normalized || !t->n_norm) continue;
        src.len = out.len = 0;
        if ((st = vt_nstr_append_text(&src, a->content, a->len, 0)) != VT_OK ||
            (st = vt_norm_run(t->norm, t->n_norm, &src, 0, src.len, &w, &out)) != VT_OK)
            break;
        if (!out.len) { /* normalized away: tokenizers can never match it either */
            a->match_len = 0;
            continue;
        }
        if (!(a->match = malloc((size_t)out.len))) st = vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        else memcpy(a->match, out.s, (size_t)out.len), a->match_len = out.len;
    }
    vt_nstr_free(&src);
    vt_nstr_free(&out);
    vt_tok_work_free(&w);
    return st;
}

static vt_status read_pipeline(const char *file, const cJSON *root, bool exact_scores, vt_tokenizer *t) {
    vt_status st;
    if ((st = vt_tj_model(file, cJSON_GetObjectItemCaseSensitive(root, "model"), exact_scores, t)) != VT_OK ||
        (st = vt_tj_added_tokens(file, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), t)) != VT_OK ||
        (st = vt_tj_full_vocab(file, t)) != VT_OK ||
        (st = vt_tj_normalizer(file, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), t)) != VT_OK ||
        (st = vt_tj_pre_tokenizer(file, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), t)) != VT_OK ||
        (st = vt_tj_post_processor(file, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), t)) != VT_OK ||
        (st = vt_tj_decoder(file, cJSON_GetObjectItemCaseSensitive(root, "decoder"), t)) != VT_OK ||
        (st = normalize_added(file, t)) != VT_OK)
        return st;
    return vt_tok_finish(t);
}

static vt_tokenizer *from_json(const char *data, size_t len, const char *file, const vt_tok_options *opt,
                               bool exact_scores) {
    if (!file) file = "tokenizer.json";
    if (!data && len) return vt_error(VT_ERR_INVALID_ARG, "%s: NULL buffer", file), NULL;
    const char *why;
    size_t at;
    cJSON *root = vt_json_parse(data ? data : "", len, &why, &at);
    if (!root) return vt_error(VT_ERR_FORMAT, "%s: not valid JSON (%s, at byte %zu)", file, why, at), NULL;
    vt_tokenizer *t = cJSON_IsObject(root) ? vt_tok_alloc(opt) : NULL;
    vt_status st = t ? VT_OK : cJSON_IsObject(root) ? vt_last_status() : vt_error(VT_ERR_FORMAT, "%s: not a JSON object", file);
    if (st == VT_OK) st = read_pipeline(file, root, exact_scores, t);
    if (st == VT_OK && !(t->json = malloc(len + 1))) st = vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    if (st == VT_OK) memcpy(t->json, data, len), t->json[len] = '\0', t->json_len = len;
    cJSON_Delete(root);
    if (st != VT_OK) {
        vt_tok_free(t);
        return NULL;
    }
    return t;
}

vt_tokenizer *vt_tok_from_json(const char *data, size_t len, const char *file, const vt_tok_options *opt) {
    return from_json(data, len, file, opt, false);
}

vt_tokenizer *vt_tok_from_json_exact(const char *data, size_t len, const char *file, const vt_tok_options *opt) {
    return from_json(data, len, file, opt, true);
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
    if (t->json) return vt_write_file_atomic(file, t->json, t->json_len);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int k = 0, last = -1; k < t->n_added; k++) { /* in id order, as transformers writes them */
        int next = -1;
        for (int i = 0; i < t->n_added; i++)
            if (t->added[i].id > last && (next < 0 || t->added[i].id < t->added[next].id)) next = i;
        const vt_added_token *at = &t->added[next];
        last = at->id;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", at->id);
        cJSON_AddStringToObject(a, "content", at->content);
        cJSON_AddBoolToObject(a, "single_word", at->single_word);
        cJSON_AddBoolToObject(a, "lstrip", at->lstrip);
        cJSON_AddBoolToObject(a, "rstrip", at->rstrip);
        cJSON_AddBoolToObject(a, "normalized", at->normalized);
        cJSON_AddBoolToObject(a, "special", at->special);
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
        else if (!has_vocab && t->model == VT_MODEL_WORDPIECE) st = vt_wp_vocab_save(t->vocab, vocab); /* for BertTokenizer */
        vt_tok_free(t);
    }
    free(json);
    free(vocab);
    return st;
}
