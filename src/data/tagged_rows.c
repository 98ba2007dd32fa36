/* The two readers of tagged data: CoNLL-style lines and JSONL sentences
 * (formats in verto/tagged.h). */
#include <cjson/cJSON.h>
#include <string.h>

#include "core/json.h"
#include "data/tagged_internal.h"

/* ---- CoNLL ---------------------------------------------------------------- */

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* s[0..*n) without spaces at both ends. */
static const char *trim_spaces(const char *s, size_t *n) {
    while (*n && *s == ' ') s++, (*n)--;
    while (*n && s[*n - 1] == ' ') (*n)--;
    return s;
}

/* One non-blank line: its first and last fields; *one_field when it has no separator. */
static void fields(const char *s, size_t n, const char **tok, size_t *tok_len, const char **tag, size_t *tag_len,
                   bool *one_field) {
    char sep = memchr(s, '\t', n) ? '\t' : ' ';
    const char *first_end = memchr(s, sep, n);
    *one_field = !first_end;
    if (*one_field) {
        *tok = s, *tok_len = n, *tag = NULL, *tag_len = 0;
        return;
    }
    const char *last = s + n;
    while (last[-1] != sep) last--;
    *tok_len = (size_t)(first_end - s);
    *tok = sep == '\t' ? trim_spaces(s, tok_len) : s;
    *tag_len = (size_t)(s + n - last);
    *tag = sep == '\t' ? trim_spaces(last, tag_len) : last;
}

vt_status tb_read_conll(tagged_builder *b, const char *data, size_t len) {
    size_t pos = 0;
    int64_t line = 1;
    int r = TB_OK;
    for (; pos < len; line++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        const char *s = data + pos;
        size_t n = end - pos;
        pos = nl ? end + 1 : len;
        while (n && *s == ' ') s++, n--;           /* leading spaces (a leading TAB means an empty token) */
        while (n && is_blank(s[n - 1])) n--;      /* trailing spaces, TABs, CR */
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++) blank = is_blank(s[i]);
        if (blank) {
            vt_status st = tb_end(b);
            if (st != VT_OK) return st;
            continue;
        }
        const char *tok, *tag;
        size_t tok_len, tag_len;
        bool one;
        fields(s, n, &tok, &tok_len, &tag, &tag_len, &one);
        if (tok_len == 10 && !memcmp(tok, "-DOCSTART-", 10)) { /* a document marker, not a token */
            vt_status st = tb_end(b);
            if (st != VT_OK) return st;
            continue;
        }
        if (!b->open) {
            vt_status st = tb_begin(b, line);
            if (st != VT_OK) return st;
        }
        if (b->o->unlabelled) r = tb_token(b, line, tok, tok_len, NULL, 0);
        else if (one)
            r = tb_bad(b, line, "a token without a tag (one field; the token is the first field and the tag the last)");
        else r = tb_token(b, line, tok, tok_len, tag, tag_len);
        if (r > 0) return (vt_status)r;
    }
    return tb_end(b);
}

/* ---- JSONL ---------------------------------------------------------------- */

static const cJSON *get(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

/* The tokens and tags of one object; TB_OK, TB_SKIPPED or an error status. */
static int jsonl_sentence(tagged_builder *b, int64_t line, const cJSON *obj) {
    const char *tokens_key = b->o->tokens_key ? b->o->tokens_key : "tokens";
    if (!cJSON_IsObject(obj)) return tb_bad(b, line, "not a JSON object");
    const cJSON *toks = get(obj, tokens_key), *tags = NULL;
    const char *tags_key = b->o->tags_key ? b->o->tags_key : "tags";
    if (!b->o->unlabelled) {
        tags = get(obj, tags_key);
        if (!tags && !b->o->tags_key) tags = get(obj, tags_key = "ner_tags");
    }
    if (!toks) return tb_bad(b, line, "no \"%s\" field", tokens_key);
    if (!cJSON_IsArray(toks)) return tb_bad(b, line, "\"%s\" is not an array", tokens_key);
    if (!b->o->unlabelled) {
        if (!tags)
            return tb_bad(b, line, b->o->tags_key ? "no \"%s\" field" : "no \"%s\" (or \"ner_tags\") field",
                          b->o->tags_key ? tags_key : "tags");
        if (!cJSON_IsArray(tags)) return tb_bad(b, line, "\"%s\" is not an array", tags_key);
        int nt = cJSON_GetArraySize(toks), ng = cJSON_GetArraySize(tags);
        if (nt != ng) return tb_bad(b, line, "%d tokens but %d tags", nt, ng);
    }
    const cJSON *g = tags ? tags->child : NULL;
    int i = 0;
    for (const cJSON *t = toks->child; t; t = t->next, g = g ? g->next : NULL, i++) {
        if (!cJSON_IsString(t)) return tb_bad(b, line, "token %d is not a string", i);
        const char *tok = t->valuestring;
        int r;
        if (!g) r = tb_token(b, line, tok, strlen(tok), NULL, 0);
        else if (cJSON_IsString(g)) r = tb_token(b, line, tok, strlen(tok), g->valuestring, strlen(g->valuestring));
        else if (cJSON_IsNumber(g)) r = tb_token_id(b, line, tok, strlen(tok), g->valuedouble);
        else r = tb_bad(b, line, "tag %d is neither a string nor an integer", i);
        if (r != TB_OK) return r;
    }
    return TB_OK;
}

vt_status tb_read_jsonl(tagged_builder *b, const char *data, size_t len) {
    size_t pos = 0;
    for (int64_t line = 1; pos < len; line++) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, n = end - pos;
        const char *s = data + pos;
        pos = nl ? end + 1 : len;
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++) blank = is_blank(s[i]);
        if (blank) continue;
        vt_status st = tb_begin(b, line);
        if (st != VT_OK) return st;
        const char *why;
        size_t at;
        cJSON *obj = vt_json_parse(s, n, &why, &at);
        int r = obj ? jsonl_sentence(b, line, obj)
                    : tb_bad(b, line, "invalid JSON (%s, at byte %zu; one object per line)", why, at);
        cJSON_Delete(obj);
        if (r > 0) return (vt_status)r;
        if ((st = tb_end(b)) != VT_OK) return st;
    }
    return VT_OK;
}
