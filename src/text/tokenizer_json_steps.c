/* tokenizer.json's pipeline steps: normalizers, pre-tokenizers, the
 * post-processor and the decoder, as Hugging Face tokenizers serializes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_json.h"
#include "text/utf8.h"

const char *vt_tj_type(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

vt_status vt_tj_unsupported(const char *file, const char *where, const char *what) {
    return vt_error(VT_ERR_UNSUPPORTED, "%s: %s: %s is not supported by verto", file, where, what);
}

vt_status vt_tj_bool(const char *file, const char *where, const cJSON *obj, const char *key, bool dflt, bool *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return *out = dflt, VT_OK;
    if (!cJSON_IsBool(it)) return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be true or false", file, where, key);
    *out = cJSON_IsTrue(it);
    return VT_OK;
}

vt_status vt_tj_string(const char *file, const char *where, const cJSON *obj, const char *key, const char **out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!it || cJSON_IsNull(it)) return VT_OK;
    if (!cJSON_IsString(it)) return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be a string", file, where, key);
    *out = it->valuestring;
    return VT_OK;
}

vt_status vt_tj_int(const char *file, const char *where, const cJSON *obj, const char *key, int64_t lo, int64_t hi,
                    int64_t dflt, int64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return *out = dflt, VT_OK;
    if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int64_t)it->valuedouble || it->valuedouble < (double)lo ||
        it->valuedouble > (double)hi)
        return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be an integer from %lld to %lld", file, where, key,
                        (long long)lo, (long long)hi);
    *out = (int64_t)it->valuedouble;
    return VT_OK;
}

/* A string of exactly one character: its code point. */
static vt_status one_char(const char *file, const char *where, const cJSON *obj, const char *key, int32_t dflt,
                          int32_t *out) {
    const char *s;
    vt_status st = vt_tj_string(file, where, obj, key, &s);
    if (st != VT_OK) return st;
    if (!s) return *out = dflt, VT_OK;
    int adv;
    size_t n = strlen(s);
    int32_t cp = n ? vt_utf8_decode((const unsigned char *)s, n, &adv) : -1;
    if (cp < 0 || (size_t)adv != n)
        return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be one character", file, where, key);
    *out = cp;
    return VT_OK;
}

/* "pattern": {"String": "..."} or {"Regex": "..."}: a literal (*lit) or a compiled regex (*re). */
static vt_status read_pattern(const char *file, const char *where, const cJSON *obj, char **lit, int32_t *lit_len,
                              vt_regex **re) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "pattern");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "String"), *r = cJSON_GetObjectItemCaseSensitive(p, "Regex");
    char label[256];
    snprintf(label, sizeof label, "%s: %s.pattern", file, where);
    if (cJSON_IsString(s)) {
        if (!(*lit = strdup(s->valuestring))) return vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
        *lit_len = (int32_t)strlen(s->valuestring);
        return VT_OK;
    }
    if (cJSON_IsString(r)) return (*re = vt_regex_new(r->valuestring, strlen(r->valuestring), label)) ? VT_OK : vt_last_status();
    return vt_error(VT_ERR_FORMAT, "%s must be {\"String\": ...} or {\"Regex\": ...}", label);
}

static vt_status read_behavior(const char *file, const char *where, const cJSON *obj, vt_split_behavior *out) {
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    const char *s;
    vt_status st = vt_tj_string(file, where, obj, "behavior", &s);
    if (st != VT_OK) return st;
    for (int i = 0; s && i < 5; i++)
        if (!strcmp(s, names[i])) return *out = (vt_split_behavior)i, VT_OK;
    return vt_error(VT_ERR_FORMAT, "%s: %s.behavior must be one of Removed, Isolated, MergedWithPrevious, "
                                   "MergedWithNext, Contiguous",
                    file, where);
}

static vt_status read_prepend_scheme(const char *file, const char *where, const cJSON *obj, vt_prepend_scheme *out) {
    const char *s;
    bool add = true, has_add = cJSON_GetObjectItemCaseSensitive(obj, "add_prefix_space") != NULL;
    vt_status st = vt_tj_string(file, where, obj, "prepend_scheme", &s);
    if (st == VT_OK) st = vt_tj_bool(file, where, obj, "add_prefix_space", true, &add);
    if (st != VT_OK) return st;
    *out = VT_PREPEND_ALWAYS; /* tokenizers' default */
    if (s && !strcmp(s, "first")) *out = VT_PREPEND_FIRST;
    else if (s && !strcmp(s, "never")) *out = VT_PREPEND_NEVER;
    else if (s && strcmp(s, "always"))
        return vt_error(VT_ERR_FORMAT, "%s: %s.prepend_scheme must be always, first or never", file, where);
    if (has_add && !add) {
        if (s && *out != VT_PREPEND_NEVER)
            return vt_error(VT_ERR_FORMAT, "%s: %s: add_prefix_space false contradicts prepend_scheme", file, where);
        *out = VT_PREPEND_NEVER;
    }
    return VT_OK;
}

/* Appends one zeroed step to a growable array of `size`-byte steps. */
static void *grow(void **arr, int *n, size_t size) {
    void *a = realloc(*arr, (size_t)(*n + 1) * size);
    if (!a) return NULL;
    *arr = a;
    void *step = (char *)a + (size_t)*n * size;
    memset(step, 0, size);
    (*n)++;
    return step;
}

/* Reads one component (a normalizer, pre-tokenizer, ...) found at `where`. */
typedef vt_status (*step_reader)(const char *file, const char *where, const cJSON *obj, vt_tokenizer *t);

/* A Sequence component: each of obj.key in order, named where.key[i] in errors. */
static vt_status each_step(const char *file, const char *where, const cJSON *obj, const char *key, step_reader read,
                           vt_tokenizer *t) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(list)) return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be a list", file, where, key);
    int i = 0;
    for (const cJSON *c = list->child; c; c = c->next, i++) {
        char w[200];
        snprintf(w, sizeof w, "%s.%s[%d]", where, key, i);
        vt_status st = read(file, w, c, t);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

/* ---- normalizers ---- */

static vt_status normalizer(const char *file, const char *where, const cJSON *n, vt_tokenizer *t) {
    const char *type = vt_tj_type(n);
    if (!type) return vt_error(VT_ERR_FORMAT, "%s: %s needs a \"type\"", file, where);
    if (!strcmp(type, "Sequence")) return each_step(file, where, n, "normalizers", normalizer, t);
    static const struct { const char *name; vt_norm_kind kind; } plain[] = {
        {"Lowercase", VT_NORM_LOWERCASE}, {"NFD", VT_NORM_NFD},   {"NFKD", VT_NORM_NFKD},
        {"NFC", VT_NORM_NFC},             {"NFKC", VT_NORM_NFKC}, {"StripAccents", VT_NORM_STRIP_ACCENTS},
        {"Nmt", VT_NORM_NMT},             {"BertNormalizer", VT_NORM_BERT}, {"Strip", VT_NORM_STRIP},
        {"Replace", VT_NORM_REPLACE},     {"Prepend", VT_NORM_PREPEND}, {"Precompiled", VT_NORM_PRECOMPILED},
    };
    int k = -1;
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (!strcmp(type, plain[i].name)) k = (int)i;
    if (k < 0) return vt_tj_unsupported(file, where, type);
    if (plain[k].kind == VT_NORM_PRECOMPILED) {
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(n, "precompiled_charsmap");
        if (!map || cJSON_IsNull(map) || (cJSON_IsString(map) && !map->valuestring[0])) return VT_OK; /* identity */
        if (!cJSON_IsString(map))
            return vt_error(VT_ERR_FORMAT, "%s: %s.precompiled_charsmap must be base64 text", file, where);
    }
    vt_norm_step *s = grow((void **)&t->norm, &t->n_norm, sizeof *s);
    if (!s) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    s->kind = plain[k].kind;
    vt_status st = VT_OK;
    const char *str;
    switch (s->kind) {
    case VT_NORM_BERT: {
        bool clean = true, chinese = true, lower = true;
        const cJSON *sa = cJSON_GetObjectItemCaseSensitive(n, "strip_accents");
        if ((st = vt_tj_bool(file, where, n, "clean_text", true, &clean)) != VT_OK ||
            (st = vt_tj_bool(file, where, n, "handle_chinese_chars", true, &chinese)) != VT_OK ||
            (st = vt_tj_bool(file, where, n, "lowercase", true, &lower)) != VT_OK)
            return st;
        if (!clean) return vt_tj_unsupported(file, where, "BertNormalizer with clean_text false");
        if (sa && !cJSON_IsNull(sa) && !cJSON_IsBool(sa))
            return vt_error(VT_ERR_FORMAT, "%s: %s.strip_accents must be true, false or null", file, where);
        s->bert.lowercase = lower;
        s->bert.chinese = chinese;
        s->bert.strip_accents = sa && cJSON_IsBool(sa) ? cJSON_IsTrue(sa) : lower; /* null: as lowercase */
        t->opt.lowercase = lower;
        t->opt.tokenize_chinese_chars = chinese;
        t->opt.strip_accents = sa && cJSON_IsBool(sa) ? cJSON_IsTrue(sa) : -1;
        return VT_OK;
    }
    case VT_NORM_STRIP:
        if ((st = vt_tj_bool(file, where, n, "strip_left", true, &s->left)) == VT_OK)
            st = vt_tj_bool(file, where, n, "strip_right", true, &s->right);
        return st;
    case VT_NORM_REPLACE:
        if ((st = read_pattern(file, where, n, &s->pattern, &s->pattern_len, &s->re)) != VT_OK) return st;
        /* the content, as Prepend's */
        __attribute__((fallthrough));
    case VT_NORM_PREPEND:
        if ((st = vt_tj_string(file, where, n, s->kind == VT_NORM_REPLACE ? "content" : "prepend", &str)) != VT_OK)
            return st;
        if (!str) return vt_error(VT_ERR_FORMAT, "%s: %s needs its %s", file, where,
                                  s->kind == VT_NORM_REPLACE ? "content" : "prepend");
        if (!(s->content = strdup(str))) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        s->content_len = (int32_t)strlen(str);
        return VT_OK;
    case VT_NORM_PRECOMPILED: {
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(n, "precompiled_charsmap");
        char label[256];
        snprintf(label, sizeof label, "%s: %s.precompiled_charsmap", file, where);
        s->pc = vt_precompiled_from_base64(map->valuestring, strlen(map->valuestring), label);
        return s->pc ? VT_OK : vt_last_status();
    }
    default: return VT_OK;
    }
}

vt_status vt_tj_normalizer(const char *file, const cJSON *n, vt_tokenizer *t) {
    if (!n || cJSON_IsNull(n)) return VT_OK;
    return normalizer(file, "normalizer", n, t);
}

/* ---- pre-tokenizers ---- */

static vt_status pre_tokenizer(const char *file, const char *where, const cJSON *p, vt_tokenizer *t) {
    const char *type = vt_tj_type(p);
    if (!type) return vt_error(VT_ERR_FORMAT, "%s: %s needs a \"type\"", file, where);
    if (!strcmp(type, "Sequence")) return each_step(file, where, p, "pretokenizers", pre_tokenizer, t);
    static const struct { const char *name; vt_pre_kind kind; } kinds[] = {
        {"BertPreTokenizer", VT_PRE_BERT}, {"Whitespace", VT_PRE_WHITESPACE},
        {"WhitespaceSplit", VT_PRE_WHITESPACE_SPLIT}, {"Punctuation", VT_PRE_PUNCTUATION},
        {"Digits", VT_PRE_DIGITS}, {"CharDelimiterSplit", VT_PRE_CHAR_DELIMITER}, {"Split", VT_PRE_SPLIT},
        {"ByteLevel", VT_PRE_BYTE_LEVEL}, {"Metaspace", VT_PRE_METASPACE},
    };
    int k = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(type, kinds[i].name)) k = (int)i;
    if (k < 0) return vt_tj_unsupported(file, where, type);
    vt_pre_step *s = grow((void **)&t->pre, &t->n_pre, sizeof *s);
    if (!s) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    s->kind = kinds[k].kind;
    vt_status st = VT_OK;
    switch (s->kind) {
    case VT_PRE_PUNCTUATION:
        s->behavior = VT_SPLIT_ISOLATED;
        return cJSON_GetObjectItemCaseSensitive(p, "behavior") ? read_behavior(file, where, p, &s->behavior) : VT_OK;
    case VT_PRE_DIGITS: return vt_tj_bool(file, where, p, "individual_digits", false, &s->individual_digits);
    case VT_PRE_CHAR_DELIMITER:
        if ((st = one_char(file, where, p, "delimiter", -1, &s->delimiter)) != VT_OK) return st;
        return s->delimiter < 0 ? vt_error(VT_ERR_FORMAT, "%s: %s needs its delimiter", file, where) : VT_OK;
    case VT_PRE_SPLIT:
        if ((st = read_pattern(file, where, p, &s->pattern, &s->pattern_len, &s->re)) != VT_OK ||
            (st = read_behavior(file, where, p, &s->behavior)) != VT_OK)
            return st;
        return vt_tj_bool(file, where, p, "invert", false, &s->invert);
    case VT_PRE_BYTE_LEVEL:
        if ((st = vt_tj_bool(file, where, p, "add_prefix_space", true, &s->add_prefix_space)) != VT_OK) return st;
        return vt_tj_bool(file, where, p, "use_regex", true, &s->use_regex);
    case VT_PRE_METASPACE:
        if ((st = one_char(file, where, p, "replacement", 0x2581, &s->replacement)) != VT_OK ||
            (st = read_prepend_scheme(file, where, p, &s->prepend)) != VT_OK)
            return st;
        return vt_tj_bool(file, where, p, "split", true, &s->split);
    default: return VT_OK;
    }
}

vt_status vt_tj_pre_tokenizer(const char *file, const cJSON *p, vt_tokenizer *t) {
    if (!p || cJSON_IsNull(p)) return VT_OK;
    return pre_tokenizer(file, "pre_tokenizer", p, t);
}

/* ---- the post-processor ---- */

/* ["[CLS]", 101]: the token, which must have that id. */
static vt_status token_pair(const char *file, const char *where, const cJSON *p, const char *key, const vt_tokenizer *t,
                            int32_t *id) {
    const cJSON *pair = cJSON_GetObjectItemCaseSensitive(p, key);
    const cJSON *tok = cJSON_GetArrayItem(pair, 0), *num = cJSON_GetArrayItem(pair, 1);
    if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(tok) || !cJSON_IsNumber(num))
        return vt_error(VT_ERR_FORMAT, "%s: %s.%s must be [token, id]", file, where, key);
    *id = (int32_t)num->valuedouble;
    if (*id < 0 || *id >= t->vocab->n || num->valuedouble != (double)*id)
        return vt_error(VT_ERR_FORMAT, "%s: %s.%s: id %g is outside the vocabulary (%d tokens)", file, where, key,
                        num->valuedouble, t->vocab->n);
    return VT_OK;
}

/* cls A sep (pair_sep_twice: RoBERTa's cls A sep sep B sep, all type 0; else BERT's cls A sep B:1 sep:1). */
static vt_status cls_sep_template(vt_tokenizer *t, int32_t cls, int32_t sep, bool roberta) {
    vt_status st;
    int32_t two[2] = {sep, sep};
    int bt = roberta ? 0 : 1;
    if ((st = vt_template_add(&t->single, -1, 0, &cls, 1)) != VT_OK ||
        (st = vt_template_add(&t->single, 0, 0, NULL, 0)) != VT_OK ||
        (st = vt_template_add(&t->single, -1, 0, &sep, 1)) != VT_OK ||
        (st = vt_template_add(&t->pair, -1, 0, &cls, 1)) != VT_OK ||
        (st = vt_template_add(&t->pair, 0, 0, NULL, 0)) != VT_OK ||
        (st = vt_template_add(&t->pair, -1, 0, two, roberta ? 2 : 1)) != VT_OK ||
        (st = vt_template_add(&t->pair, 1, bt, NULL, 0)) != VT_OK)
        return st;
    return vt_template_add(&t->pair, -1, bt, &sep, 1);
}

/* One TemplateProcessing template: its pieces, with the ids special_tokens gives. */
static vt_status read_template(const char *file, const char *where, const cJSON *items, const cJSON *specials,
                               bool pair, vt_tokenizer *t, vt_template *tp) {
    if (!cJSON_IsArray(items)) return vt_error(VT_ERR_FORMAT, "%s: %s must be a list", file, where);
    int seen = 0, i = 0;
    for (const cJSON *it = items->child; it; it = it->next, i++) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        const cJSON *spc = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *inner = seq ? seq : spc;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(inner, "id"), *ty = cJSON_GetObjectItemCaseSensitive(inner, "type_id");
        if (!inner || !cJSON_IsString(id) || !cJSON_IsNumber(ty) || ty->valuedouble < 0 || ty->valuedouble > 1e6)
            return vt_error(VT_ERR_FORMAT, "%s: %s[%d] must be {\"Sequence\" or \"SpecialToken\": {\"id\", \"type_id\"}}",
                            file, where, i);
        int32_t type_id = (int32_t)ty->valuedouble;
        vt_status st;
        if (seq) {
            int which = !strcmp(id->valuestring, "A") ? 0 : !strcmp(id->valuestring, "B") ? 1 : -1;
            if (which < 0 || which != seen || (which == 1 && !pair))
                return vt_tj_unsupported(file, where, "a template whose sequences are not $A (then $B) once each");
            seen++;
            st = vt_template_add(tp, which, type_id, NULL, 0);
        } else {
            const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, id->valuestring);
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids");
            int n = cJSON_GetArraySize(ids);
            if (!cJSON_IsArray(ids) || n < 1 || n > 64)
                return vt_error(VT_ERR_FORMAT, "%s: post_processor.special_tokens has no ids for \"%s\"", file,
                                id->valuestring);
            int32_t v[64];
            for (int k = 0; k < n; k++) {
                const cJSON *x = cJSON_GetArrayItem(ids, k);
                if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble >= t->vocab->n)
                    return vt_error(VT_ERR_FORMAT, "%s: post_processor.special_tokens.\"%s\".ids[%d] is outside the "
                                                   "vocabulary (%d tokens)",
                                    file, id->valuestring, k, t->vocab->n);
                v[k] = (int32_t)x->valuedouble;
            }
            st = vt_template_add(tp, -1, type_id, v, n);
        }
        if (st != VT_OK) return st;
    }
    if (seen != (pair ? 2 : 1))
        return vt_tj_unsupported(file, where, "a template without its sequence(s)");
    return VT_OK;
}

static vt_status post_processor(const char *file, const char *where, const cJSON *p, vt_tokenizer *t) {
    const char *type = vt_tj_type(p);
    if (!type) return vt_error(VT_ERR_FORMAT, "%s: %s needs a \"type\"", file, where);
    vt_status st = VT_OK;
    if (!strcmp(type, "Sequence")) return each_step(file, where, p, "processors", post_processor, t);
    bool byte_level = !strcmp(type, "ByteLevel"), roberta = !strcmp(type, "RobertaProcessing");
    if (byte_level || roberta) {
        bool trim = true, prefix = true;
        if ((st = vt_tj_bool(file, where, p, "trim_offsets", true, &trim)) != VT_OK ||
            (st = vt_tj_bool(file, where, p, "add_prefix_space", true, &prefix)) != VT_OK)
            return st;
        t->trim_offsets |= trim;
        t->trim_add_prefix_space = prefix;
        if (byte_level) return VT_OK;
    }
    if (t->single.n) return vt_tj_unsupported(file, where, "a second template");
    if (roberta || !strcmp(type, "BertProcessing")) {
        int32_t cls, sep;
        if ((st = token_pair(file, where, p, "cls", t, &cls)) != VT_OK ||
            (st = token_pair(file, where, p, "sep", t, &sep)) != VT_OK)
            return st;
        return cls_sep_template(t, cls, sep, roberta);
    }
    if (!strcmp(type, "TemplateProcessing")) {
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(p, "special_tokens");
        if ((st = read_template(file, "post_processor.single", cJSON_GetObjectItemCaseSensitive(p, "single"), specials,
                                false, t, &t->single)) != VT_OK)
            return st;
        return read_template(file, "post_processor.pair", cJSON_GetObjectItemCaseSensitive(p, "pair"), specials, true,
                             t, &t->pair);
    }
    return vt_tj_unsupported(file, where, type);
}

vt_status vt_tj_post_processor(const char *file, const cJSON *p, vt_tokenizer *t) {
    vt_status st = !p || cJSON_IsNull(p) ? VT_OK : post_processor(file, "post_processor", p, t);
    if (st != VT_OK || t->single.n) return st;
    /* none: the sequences alone, the second with type 1 */
    if ((st = vt_template_add(&t->single, 0, 0, NULL, 0)) != VT_OK || (st = vt_template_add(&t->pair, 0, 0, NULL, 0)) != VT_OK)
        return st;
    return vt_template_add(&t->pair, 1, 1, NULL, 0);
}

/* ---- the decoder ---- */

static vt_status decoder(const char *file, const char *where, const cJSON *d, vt_tokenizer *t) {
    const char *type = vt_tj_type(d);
    if (!type) return vt_error(VT_ERR_FORMAT, "%s: %s needs a \"type\"", file, where);
    if (!strcmp(type, "Sequence")) return each_step(file, where, d, "decoders", decoder, t);
    static const struct { const char *name; vt_dec_kind kind; } kinds[] = {
        {"WordPiece", VT_DEC_WORDPIECE}, {"ByteLevel", VT_DEC_BYTE_LEVEL}, {"Metaspace", VT_DEC_METASPACE},
        {"BPEDecoder", VT_DEC_BPE}, {"Replace", VT_DEC_REPLACE}, {"ByteFallback", VT_DEC_BYTE_FALLBACK},
        {"Fuse", VT_DEC_FUSE}, {"Strip", VT_DEC_STRIP},
    };
    int k = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(type, kinds[i].name)) k = (int)i;
    if (k < 0) return vt_tj_unsupported(file, where, type);
    vt_dec_step *s = grow((void **)&t->dec, &t->n_dec, sizeof *s);
    if (!s) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    s->kind = kinds[k].kind;
    const char *str = NULL;
    vt_status st = VT_OK;
    int64_t v = 0;
    switch (s->kind) {
    case VT_DEC_WORDPIECE:
        if ((st = vt_tj_string(file, where, d, "prefix", &str)) != VT_OK ||
            (st = vt_tj_bool(file, where, d, "cleanup", true, &s->cleanup)) != VT_OK)
            return st;
        s->prefix = strdup(str ? str : "##");
        break;
    case VT_DEC_BPE:
        if ((st = vt_tj_string(file, where, d, "suffix", &str)) != VT_OK) return st;
        s->prefix = strdup(str ? str : "</w>");
        break;
    case VT_DEC_METASPACE:
        if ((st = one_char(file, where, d, "replacement", 0x2581, &s->replacement)) != VT_OK) return st;
        return read_prepend_scheme(file, where, d, &s->prepend);
    case VT_DEC_REPLACE: {
        char *lit = NULL;
        int32_t lit_len = 0;
        vt_regex *re = NULL;
        if ((st = read_pattern(file, where, d, &lit, &lit_len, &re)) != VT_OK) return st;
        if (re) {
            vt_regex_free(re);
            return vt_tj_unsupported(file, where, "Replace with a regex pattern");
        }
        s->prefix = lit;
        if ((st = vt_tj_string(file, where, d, "content", &str)) != VT_OK) return st;
        s->content = strdup(str ? str : "");
        if (!s->content) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        return VT_OK;
    }
    case VT_DEC_STRIP:
        if ((st = one_char(file, where, d, "content", ' ', &s->replacement)) != VT_OK ||
            (st = vt_tj_int(file, where, d, "start", 0, INT32_MAX, 0, &v)) != VT_OK)
            return st;
        s->start = (int32_t)v;
        if ((st = vt_tj_int(file, where, d, "stop", 0, INT32_MAX, 0, &v)) != VT_OK) return st;
        s->stop = (int32_t)v;
        return VT_OK;
    default: return VT_OK;
    }
    return s->prefix ? VT_OK : vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
}

vt_status vt_tj_decoder(const char *file, const cJSON *d, vt_tokenizer *t) {
    if (!d || cJSON_IsNull(d)) return VT_OK;
    return decoder(file, "decoder", d, t);
}
