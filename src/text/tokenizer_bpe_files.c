/* A byte-level BPE tokenizer from vocab.json + merges.txt, the files
 * RoBERTa and GPT-2 directories held before tokenizer.json: the
 * tokenizer.json transformers' RobertaConverter / GPT2Converter would make
 * of them, then read as any other (so verto writes it beside them). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "text/tokenizer_internal.h"
#include "verto/fileio.h"

#define BPE_FILE_MAX_BYTES ((size_t)256 << 20)

static cJSON *parse_json(const char *data, size_t len, const char *file) {
    size_t at;
    const char *why;
    cJSON *root = vt_json_parse(data, len, &why, &at);
    if (!root) vt_error(VT_ERR_FORMAT, "%s: not valid JSON (%s, at byte %zu)", file, why, at);
    return root;
}

static cJSON *read_json(const char *file) {
    char *data = NULL;
    size_t len = 0;
    if (vt_read_file(file, BPE_FILE_MAX_BYTES, &data, &len) != VT_OK) return NULL;
    cJSON *root = parse_json(data, len, file);
    free(data);
    return root;
}

/* merges.txt's lines "left right" (its "#version" header and blank lines skipped). */
static cJSON *parse_merges(const char *data, size_t len, const char *file) {
    cJSON *merges = cJSON_CreateArray();
    size_t line = 0;
    for (const char *s = data, *end = data + len; merges && s < end; line++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (n && s[n - 1] == '\r') n--;
        if (n && !(line == 0 && n >= 8 && !memcmp(s, "#version", 8))) {
            char *text = strndup(s, n);
            cJSON *item = text ? cJSON_CreateString(text) : NULL;
            free(text);
            if (!item) cJSON_Delete(merges), merges = NULL;
            else cJSON_AddItemToArray(merges, item);
        }
        s = nl ? nl + 1 : end;
    }
    if (!merges) vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    return merges;
}

static cJSON *added_token(const char *content, int id, bool lstrip) {
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "id", id);
    cJSON_AddStringToObject(a, "content", content);
    cJSON_AddBoolToObject(a, "single_word", false);
    cJSON_AddBoolToObject(a, "lstrip", lstrip);
    cJSON_AddBoolToObject(a, "rstrip", false);
    cJSON_AddBoolToObject(a, "normalized", false);
    cJSON_AddBoolToObject(a, "special", true);
    return a;
}

static cJSON *byte_level(const char *type, bool add_prefix_space, bool trim_offsets) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", type);
    cJSON_AddBoolToObject(b, "add_prefix_space", add_prefix_space);
    cJSON_AddBoolToObject(b, "trim_offsets", trim_offsets);
    cJSON_AddBoolToObject(b, "use_regex", true);
    return b;
}

/* The tokenizer.json text for vocab.json (parsed: taken over) and merges. */
static char *converted(cJSON *vocab, cJSON *merges, bool add_prefix_space) {
    static const char *const ROBERTA[] = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(vocab, "<s>");
    const cJSON *sep = cJSON_GetObjectItemCaseSensitive(vocab, "</s>");
    bool roberta = cJSON_IsNumber(cls) && cJSON_IsNumber(sep);
    cJSON *root = cJSON_CreateObject(), *added = cJSON_AddArrayToObject(root, "added_tokens");
    if (roberta) {
        for (int i = 0; i < 5; i++) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(vocab, ROBERTA[i]);
            if (cJSON_IsNumber(id)) cJSON_AddItemToArray(added, added_token(ROBERTA[i], (int)id->valuedouble, i == 4));
        }
    } else {
        const cJSON *eot = cJSON_GetObjectItemCaseSensitive(vocab, "<|endoftext|>");
        if (cJSON_IsNumber(eot)) cJSON_AddItemToArray(added, added_token("<|endoftext|>", (int)eot->valuedouble, false));
    }
    cJSON_AddNullToObject(root, "normalizer");
    cJSON_AddItemToObject(root, "pre_tokenizer", byte_level("ByteLevel", add_prefix_space, true));
    if (roberta) {
        cJSON *p = cJSON_AddObjectToObject(root, "post_processor");
        cJSON_AddStringToObject(p, "type", "RobertaProcessing");
        cJSON *s = cJSON_AddArrayToObject(p, "sep"), *c = cJSON_AddArrayToObject(p, "cls");
        cJSON_AddItemToArray(s, cJSON_CreateString("</s>"));
        cJSON_AddItemToArray(s, cJSON_CreateNumber(sep->valuedouble));
        cJSON_AddItemToArray(c, cJSON_CreateString("<s>"));
        cJSON_AddItemToArray(c, cJSON_CreateNumber(cls->valuedouble));
        cJSON_AddBoolToObject(p, "trim_offsets", true);
        cJSON_AddBoolToObject(p, "add_prefix_space", add_prefix_space);
    } else {
        cJSON_AddItemToObject(root, "post_processor", byte_level("ByteLevel", add_prefix_space, false));
    }
    cJSON_AddItemToObject(root, "decoder", byte_level("ByteLevel", true, true));
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* tokenizer_config.json's add_prefix_space (false when absent). */
static bool add_prefix_space(const char *dir) {
    size_t n = strlen(dir) + 32;
    char *file = malloc(n);
    if (!file) return false;
    snprintf(file, n, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(file, "rb");
    cJSON *cfg = f ? (fclose(f), read_json(file)) : NULL;
    bool add = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "add_prefix_space"));
    cJSON_Delete(cfg);
    free(file);
    return add;
}

vt_tokenizer *vt_tok_from_bpe_texts(const char *vocab_json, size_t vlen, const char *merges_txt, size_t mlen,
                                    bool add_prefix_space, const char *label, const vt_tok_options *opt) {
    cJSON *vocab = parse_json(vocab_json, vlen, label), *merges = vocab ? parse_merges(merges_txt, mlen, label) : NULL;
    char *text = NULL;
    vt_tokenizer *t = NULL;
    if (vocab && !cJSON_IsObject(vocab)) vt_error(VT_ERR_FORMAT, "%s: vocab.json is not an object of token: id", label);
    else if (vocab && merges && !(text = converted(vocab, merges, add_prefix_space)))
        vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
    if (!text) cJSON_Delete(vocab), cJSON_Delete(merges);
    if (text) t = vt_tok_from_json(text, strlen(text), label, opt);
    free(text);
    return t;
}

vt_tokenizer *vt_tok_load_bpe_files(const char *dir, const vt_tok_options *opt) {
    size_t n = strlen(dir) + 32;
    char *vfile = malloc(n), *mfile = malloc(n), *label = malloc(n), *vdata = NULL, *mdata = NULL;
    size_t vlen = 0, mlen = 0;
    vt_tokenizer *t = NULL;
    if (!vfile || !mfile || !label) {
        vt_error(VT_ERR_NOMEM, "%s: out of memory", dir);
    } else {
        snprintf(vfile, n, "%s/vocab.json", dir);
        snprintf(mfile, n, "%s/merges.txt", dir);
        snprintf(label, n, "%s/vocab.json + merges.txt", dir);
        if (vt_read_file(vfile, BPE_FILE_MAX_BYTES, &vdata, &vlen) == VT_OK &&
            vt_read_file(mfile, BPE_FILE_MAX_BYTES, &mdata, &mlen) == VT_OK)
            t = vt_tok_from_bpe_texts(vdata, vlen, mdata, mlen, add_prefix_space(dir), label, opt);
    }
    free(vdata);
    free(mdata);
    free(vfile);
    free(mfile);
    free(label);
    return t;
}
