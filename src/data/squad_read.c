/* SQuAD data sets: the JSON files of SQuAD v1.1 / v2.0 and the JSON Lines
 * layout of the Hugging Face datasets (see verto/squad.h). */
#include "verto/squad.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hash.h"
#include "core/json.h"
#include "core/utf8.h"
#include "text/utf8.h"
#include "verto/fileio.h"

void vt_squad_options_default(vt_squad_options *o) { memset(o, 0, sizeof *o); }

const char *vt_squad_context(const vt_squad *d, size_t ex, size_t *len) {
    size_t c = d->ex[ex].context;
    if (len) *len = d->context_len[c];
    return d->contexts[c];
}

void vt_squad_free(vt_squad *d) {
    if (!d) return;
    for (size_t i = 0; d->ex && i < d->n; i++) {
        free(d->ex[i].id);
        free(d->ex[i].question);
    }
    for (size_t i = 0; d->answers && i < d->n_answers; i++) free(d->answers[i].text);
    for (size_t i = 0; d->contexts && i < d->n_contexts; i++) free(d->contexts[i]);
    free(d->ex);
    free(d->answers);
    free(d->contexts);
    free(d->context_len);
    memset(d, 0, sizeof *d);
}

/* ---- the builder ---------------------------------------------------------- */

typedef struct builder {
    const vt_squad_options *o;
    const char *name;
    vt_squad *d;
    size_t ex_cap, ans_cap, ctx_cap;
    int32_t *ids;        /* (nslots) open addressing: example index, -1 empty */
    size_t nslots;
    /* the current context's characters: byte_at[c] is the byte where character c starts */
    size_t *byte_at;
    size_t nchars, byte_at_cap;
    size_t indexed;      /* context index byte_at describes, or SIZE_MAX */
} builder;

enum { ROW_OK = 0, ROW_SKIPPED = -1 }; /* else a vt_status */

/* A bad question: fails, or with skip_bad_rows counts it and keeps a note. */
__attribute__((format(printf, 3, 4))) static int bad(builder *b, const char *where, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!b->o->skip_bad_rows) return (int)vt_error(VT_ERR_FORMAT, "%s: %s: %s", b->name, where, msg);
    vt_squad *d = b->d;
    if (d->n_notes < VT_SQUAD_NOTES)
        snprintf(d->notes[d->n_notes++], sizeof d->notes[0], "%s: %s: %s", b->name, where, msg);
    d->n_skipped++;
    return ROW_SKIPPED;
}

static vt_status nomem(builder *b) { return vt_error(VT_ERR_NOMEM, "out of memory reading %s", b->name); }

static char *dup_str(const char *s, size_t len) {
    char *c = malloc(len + 1);
    if (c) {
        if (len) memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

static void *grow_array(void *p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(p, c * size);
    if (q) *cap = c;
    return q;
}

/* Adds a context (copied); *index receives its number. */
static vt_status add_context(builder *b, const char *s, size_t len, size_t *index) {
    vt_squad *d = b->d;
    if (d->n_contexts == b->ctx_cap) {
        size_t cap = b->ctx_cap ? 2 * b->ctx_cap : 64;
        char **c = realloc(d->contexts, cap * sizeof *c);
        if (c) d->contexts = c;
        size_t *l = c ? realloc(d->context_len, cap * sizeof *l) : NULL;
        if (!l) return nomem(b);
        d->context_len = l;
        b->ctx_cap = cap;
    }
    if (!(d->contexts[d->n_contexts] = dup_str(s, len))) return nomem(b);
    d->context_len[d->n_contexts] = len;
    *index = d->n_contexts++;
    return VT_OK;
}

/* Indexes context `ci`'s characters (once per context). */
static vt_status index_context(builder *b, size_t ci) {
    if (b->indexed == ci) return VT_OK;
    const char *s = b->d->contexts[ci];
    size_t len = b->d->context_len[ci];
    size_t *p = grow_array(b->byte_at, &b->byte_at_cap, len + 1, sizeof *p);
    if (!p) return nomem(b);
    b->byte_at = p;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int adv;
        vt_utf8_decode((const unsigned char *)s + i, len - i, &adv);
        p[n++] = i;
        i += (size_t)adv;
    }
    p[n] = len;
    b->nchars = n;
    b->indexed = ci;
    return VT_OK;
}

static size_t count_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Open addressing over example indices by id. */
static int32_t id_find(const builder *b, const char *id, size_t *slot) {
    size_t mask = b->nslots - 1;
    size_t k = (size_t)vt_fnv1a64(VT_FNV64_INIT, id, strlen(id)) & mask;
    for (;; k = (k + 1) & mask) {
        if (b->ids[k] < 0 || !strcmp(b->d->ex[b->ids[k]].id, id)) {
            *slot = k;
            return b->ids[k];
        }
    }
}

static vt_status id_table_grow(builder *b) {
    if (2 * (b->d->n + 1) <= b->nslots) return VT_OK;
    size_t ns = b->nslots ? 2 * b->nslots : 1024;
    int32_t *t = malloc(ns * sizeof *t);
    if (!t) return nomem(b);
    for (size_t k = 0; k < ns; k++) t[k] = -1;
    free(b->ids);
    b->ids = t;
    b->nslots = ns;
    for (size_t i = 0; i < b->d->n; i++) {
        size_t slot;
        id_find(b, b->d->ex[i].id, &slot);
        b->ids[slot] = (int32_t)i;
    }
    return VT_OK;
}

/* One answer as read: its text and answer_start (a JSON number). */
typedef struct raw_answer {
    const cJSON *text, *start;
} raw_answer;

/* Checks a question and adds it. `ans` (n_ans) are its answers; `impossible`
 * is its is_impossible (-1 when absent). Returns ROW_OK, ROW_SKIPPED or an error. */
static int add_question(builder *b, const char *where, const cJSON *id, const cJSON *question, size_t ci,
                        const raw_answer *ans, int n_ans, int impossible, int64_t line) {
    char num[32];
    const char *ids = NULL;
    if (id && cJSON_IsString(id)) ids = id->valuestring;
    else if (id && cJSON_IsNumber(id) && id->valuedouble >= -9007199254740992.0 && id->valuedouble <= 9007199254740992.0
             && id->valuedouble == floor(id->valuedouble)) {
        snprintf(num, sizeof num, "%lld", (long long)id->valuedouble);
        ids = num;
    }
    if (!id) return bad(b, where, "no \"id\"");
    if (!ids) return bad(b, where, "\"id\" is neither a string nor an integer");
    if (!*ids) return bad(b, where, "empty \"id\"");
    if (!question) return bad(b, where, "no \"question\"");
    if (!cJSON_IsString(question)) return bad(b, where, "\"question\" is not a string");
    size_t qlen = strlen(question->valuestring);
    if (!qlen) return bad(b, where, "empty question");
    if (!vt_utf8_valid(question->valuestring, qlen) || !vt_utf8_valid(ids, strlen(ids)))
        return bad(b, where, "invalid UTF-8 in the question or id");
    if (impossible == 1 && n_ans > 0) return bad(b, where, "is_impossible, yet %d answers", n_ans);
    if (n_ans == 0 && b->d->version != 2)
        return bad(b, where, "no answers (impossible questions need SQuAD v2: \"is_impossible\": true, or version 2)");
    vt_status st = index_context(b, ci);
    if (st != VT_OK) return (int)st;
    const char *ctx = b->d->contexts[ci];
    for (int k = 0; k < n_ans; k++) {
        const cJSON *t = ans[k].text, *s = ans[k].start;
        if (!t || !cJSON_IsString(t)) return bad(b, where, "answer %d: \"text\" missing or not a string", k);
        size_t tlen = strlen(t->valuestring);
        if (!tlen) return bad(b, where, "answer %d: empty text", k);
        if (!vt_utf8_valid(t->valuestring, tlen)) return bad(b, where, "answer %d: invalid UTF-8", k);
        if (!s || !cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble != floor(s->valuedouble))
            return bad(b, where, "answer %d: \"answer_start\" missing or not a whole number >= 0", k);
        double at = s->valuedouble;
        if (at > (double)b->nchars)
            return bad(b, where, "answer %d: answer_start %.0f is past the context's end (%zu characters)", k, at,
                       b->nchars);
        size_t byte = b->byte_at[(size_t)at];
        if (b->d->context_len[ci] - byte < tlen || memcmp(ctx + byte, t->valuestring, tlen)) {
            char want[48], got[48], tmp[48];
            size_t glen = b->d->context_len[ci] - byte < tlen ? b->d->context_len[ci] - byte : tlen;
            snprintf(tmp, sizeof tmp, "%.*s", (int)(glen < 40 ? glen : 40), ctx + byte);
            vt_utf8_printable(tmp, got, sizeof got);
            vt_utf8_printable(t->valuestring, want, sizeof want);
            return bad(b, where, "answer %d: the context at answer_start %.0f reads '%s', not the answer '%s'", k, at,
                       got, want);
        }
    }
    /* the id must be new */
    if ((st = id_table_grow(b)) != VT_OK) return (int)st;
    size_t slot;
    if (id_find(b, ids, &slot) >= 0) {
        char shown[48];
        return bad(b, where, "id '%s' appears twice", vt_utf8_printable(ids, shown, sizeof shown));
    }
    vt_squad *d = b->d;
    vt_squad_example *ex = grow_array(d->ex, &b->ex_cap, d->n + 1, sizeof *ex);
    if (!ex) return (int)nomem(b);
    d->ex = ex;
    if (n_ans) {
        vt_squad_answer *an = grow_array(d->answers, &b->ans_cap, d->n_answers + (size_t)n_ans, sizeof *an);
        if (!an) return (int)nomem(b);
        d->answers = an;
    }
    vt_squad_example *e = &d->ex[d->n];
    memset(e, 0, sizeof *e);
    e->id = dup_str(ids, strlen(ids));
    e->question = dup_str(question->valuestring, qlen);
    if (!e->id || !e->question) {
        free(e->id);
        free(e->question);
        return (int)nomem(b);
    }
    e->question_len = qlen;
    e->context = ci;
    e->first_answer = d->n_answers;
    e->n_answers = n_ans;
    e->line = line;
    for (int k = 0; k < n_ans; k++) {
        vt_squad_answer *a = &d->answers[d->n_answers + (size_t)k];
        size_t tlen = strlen(ans[k].text->valuestring);
        if (!(a->text = dup_str(ans[k].text->valuestring, tlen))) {
            for (int j = 0; j < k; j++) free(d->answers[d->n_answers + (size_t)j].text);
            free(e->id);
            free(e->question);
            return (int)nomem(b);
        }
        a->len = tlen;
        a->start = (int64_t)ans[k].start->valuedouble;
        a->byte_start = (int64_t)b->byte_at[a->start];
        a->char_len = (int64_t)count_chars(a->text, tlen);
    }
    d->n_answers += (size_t)n_ans;
    d->n_impossible += n_ans == 0;
    b->ids[slot] = (int32_t)d->n++;
    return ROW_OK;
}

/* ---- JSON ------------------------------------------------------------------ */

static int64_t line_of(const char *data, size_t at) {
    int64_t line = 1;
    for (size_t i = 0; i < at; i++) line += data[i] == '\n';
    return line;
}

/* True if any question of the file says is_impossible (the v2 files do). */
static bool any_impossible_key(const cJSON *data) {
    const cJSON *art, *par, *qa;
    cJSON_ArrayForEach(art, data) {
        cJSON_ArrayForEach(par, cJSON_GetObjectItemCaseSensitive(art, "paragraphs")) {
            cJSON_ArrayForEach(qa, cJSON_GetObjectItemCaseSensitive(par, "qas")) {
                if (cJSON_IsObject(qa) && cJSON_GetObjectItemCaseSensitive(qa, "is_impossible")) return true;
            }
        }
    }
    return false;
}

static int json_question(builder *b, const cJSON *qa, size_t ci, const char *place) {
    char where[200];
    const cJSON *id = cJSON_IsObject(qa) ? cJSON_GetObjectItemCaseSensitive(qa, "id") : NULL;
    char shown[64];
    if (id && cJSON_IsString(id)) snprintf(where, sizeof where, "question '%s' (%s)", vt_utf8_printable(id->valuestring, shown, sizeof shown), place);
    else snprintf(where, sizeof where, "question %s", place);
    if (!cJSON_IsObject(qa)) return bad(b, where, "not an object");
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(qa, "answers");
    const cJSON *imp = cJSON_GetObjectItemCaseSensitive(qa, "is_impossible");
    if (imp && !cJSON_IsBool(imp)) return bad(b, where, "\"is_impossible\" is not true or false");
    if (!answers) return bad(b, where, "no \"answers\"");
    if (!cJSON_IsArray(answers)) return bad(b, where, "\"answers\" is not a list");
    int n = cJSON_GetArraySize(answers);
    raw_answer *ra = calloc((size_t)(n ? n : 1), sizeof *ra);
    if (!ra) return (int)nomem(b);
    int k = 0, r = ROW_OK;
    const cJSON *a;
    cJSON_ArrayForEach(a, answers) {
        if (!cJSON_IsObject(a)) {
            r = bad(b, where, "answer %d is not an object", k);
            break;
        }
        ra[k].text = cJSON_GetObjectItemCaseSensitive(a, "text");
        ra[k++].start = cJSON_GetObjectItemCaseSensitive(a, "answer_start");
    }
    if (r == ROW_OK)
        r = add_question(b, where, id, cJSON_GetObjectItemCaseSensitive(qa, "question"), ci, ra, n,
                         imp ? cJSON_IsTrue(imp) : -1, 0);
    free(ra);
    return r;
}

static vt_status read_json(builder *b, const char *data, size_t len) {
    size_t bad_at = vt_utf8_invalid_at(data, len);
    if (bad_at < len)
        return vt_error(VT_ERR_FORMAT, "%s:%lld: invalid UTF-8 (byte 0x%02X)", b->name, (long long)line_of(data, bad_at),
                        (unsigned)(unsigned char)data[bad_at]);
    const char *why;
    size_t at;
    cJSON *root = vt_json_parse(data, len, &why, &at);
    if (!root)
        return vt_error(VT_ERR_FORMAT, "%s:%lld: invalid JSON (%s, at byte %zu)", b->name, (long long)line_of(data, at),
                        why, at);
    vt_status st = VT_OK;
    const cJSON *list = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    if (!cJSON_IsObject(root)) st = vt_error(VT_ERR_FORMAT, "%s: the file is not a JSON object {\"data\": [...]}", b->name);
    else if (!list || !cJSON_IsArray(list))
        st = vt_error(VT_ERR_FORMAT, "%s: no \"data\" list (SQuAD JSON: {\"version\": ..., \"data\": [{\"paragraphs\": ...}]})",
                      b->name);
    if (st == VT_OK) {
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
        if (b->o->version) b->d->version = b->o->version;
        else if ((ver && cJSON_IsString(ver) && (!strncasecmp(ver->valuestring, "v2", 2) || !strncmp(ver->valuestring, "2", 1)))
                 || any_impossible_key(list))
            b->d->version = 2;
        else b->d->version = 1;
    }
    int ai = 0;
    const cJSON *art;
    cJSON_ArrayForEach(art, list) {
        if (st != VT_OK) break;
        char place[96];
        const cJSON *pars = cJSON_IsObject(art) ? cJSON_GetObjectItemCaseSensitive(art, "paragraphs") : NULL;
        if (!pars || !cJSON_IsArray(pars)) {
            snprintf(place, sizeof place, "data[%d]", ai);
            int r = bad(b, place, "no \"paragraphs\" list");
            if (r > 0) st = (vt_status)r;
            ai++;
            continue;
        }
        int pi = 0;
        const cJSON *par;
        cJSON_ArrayForEach(par, pars) {
            if (st != VT_OK) break;
            snprintf(place, sizeof place, "data[%d].paragraphs[%d]", ai, pi);
            const cJSON *ctx = cJSON_IsObject(par) ? cJSON_GetObjectItemCaseSensitive(par, "context") : NULL;
            const cJSON *qas = cJSON_IsObject(par) ? cJSON_GetObjectItemCaseSensitive(par, "qas") : NULL;
            int r = ROW_OK;
            if (!cJSON_IsObject(par)) r = bad(b, place, "not an object");
            else if (!ctx || !cJSON_IsString(ctx)) r = bad(b, place, "\"context\" missing or not a string");
            else if (!qas || !cJSON_IsArray(qas)) r = bad(b, place, "\"qas\" missing or not a list");
            if (r > 0) st = (vt_status)r;
            if (r != ROW_OK || cJSON_GetArraySize(qas) == 0) {
                pi++;
                continue;
            }
            size_t ci, before = b->d->n;
            if ((st = add_context(b, ctx->valuestring, strlen(ctx->valuestring), &ci)) != VT_OK) break;
            int qi = 0;
            const cJSON *qa;
            cJSON_ArrayForEach(qa, qas) {
                char qplace[128];
                snprintf(qplace, sizeof qplace, "%s.qas[%d]", place, qi++);
                r = json_question(b, qa, ci, qplace);
                if (r > 0) {
                    st = (vt_status)r;
                    break;
                }
            }
            if (st == VT_OK && b->d->n == before) { /* every question left out: drop the context */
                free(b->d->contexts[--b->d->n_contexts]);
                b->indexed = SIZE_MAX;
            }
            pi++;
        }
        ai++;
    }
    cJSON_Delete(root);
    return st;
}

/* ---- JSONL ------------------------------------------------------------------ */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int jsonl_row(builder *b, int64_t line, const char *s, size_t n) {
    char where[128];
    snprintf(where, sizeof where, "line %lld", (long long)line);
    size_t bad_at = vt_utf8_invalid_at(s, n);
    if (bad_at < n) return bad(b, where, "invalid UTF-8 (byte 0x%02X)", (unsigned)(unsigned char)s[bad_at]);
    const char *why;
    size_t at;
    cJSON *obj = vt_json_parse(s, n, &why, &at);
    if (!obj) return bad(b, where, "invalid JSON (%s, at byte %zu; one object per line)", why, at);
    int r = ROW_OK;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    char shown[64];
    if (id && cJSON_IsString(id))
        snprintf(where, sizeof where, "line %lld (question '%s')", (long long)line,
                 vt_utf8_printable(id->valuestring, shown, sizeof shown));
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(obj, "context");
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(obj, "answers");
    const cJSON *texts = answers ? cJSON_GetObjectItemCaseSensitive(answers, "text") : NULL;
    const cJSON *starts = answers ? cJSON_GetObjectItemCaseSensitive(answers, "answer_start") : NULL;
    if (!cJSON_IsObject(obj)) r = bad(b, where, "not a JSON object");
    else if (!ctx || !cJSON_IsString(ctx)) r = bad(b, where, "\"context\" missing or not a string");
    else if (!answers || !cJSON_IsObject(answers))
        r = bad(b, where, "\"answers\" missing or not an object {\"text\": [...], \"answer_start\": [...]}");
    else if (!texts || !cJSON_IsArray(texts) || !starts || !cJSON_IsArray(starts))
        r = bad(b, where, "\"answers\" needs the lists \"text\" and \"answer_start\"");
    else if (cJSON_GetArraySize(texts) != cJSON_GetArraySize(starts))
        r = bad(b, where, "%d answer texts but %d answer_start values", cJSON_GetArraySize(texts),
                cJSON_GetArraySize(starts));
    if (r != ROW_OK) {
        cJSON_Delete(obj);
        return r;
    }
    /* consecutive rows of one paragraph share its context */
    vt_squad *d = b->d;
    size_t clen = strlen(ctx->valuestring), ci;
    bool same = d->n_contexts && d->n && d->ex[d->n - 1].context == d->n_contexts - 1
                && d->context_len[d->n_contexts - 1] == clen && !memcmp(d->contexts[d->n_contexts - 1], ctx->valuestring, clen);
    bool added = false;
    vt_status st = VT_OK;
    if (same) ci = d->n_contexts - 1;
    else {
        st = add_context(b, ctx->valuestring, clen, &ci);
        added = st == VT_OK;
    }
    int n_ans = cJSON_GetArraySize(texts);
    raw_answer *ra = st == VT_OK ? calloc((size_t)(n_ans ? n_ans : 1), sizeof *ra) : NULL;
    if (st != VT_OK) r = (int)st;
    else if (!ra) r = (int)nomem(b);
    else {
        const cJSON *t = texts->child, *s0 = starts->child;
        for (int k = 0; k < n_ans; k++, t = t->next, s0 = s0->next) {
            ra[k].text = t;
            ra[k].start = s0;
        }
        r = add_question(b, where, id, cJSON_GetObjectItemCaseSensitive(obj, "question"), ci, ra, n_ans, -1, line);
    }
    if (r != ROW_OK && added) { /* the context was this row's alone */
        free(d->contexts[--d->n_contexts]);
        b->indexed = SIZE_MAX;
    }
    free(ra);
    cJSON_Delete(obj);
    return r;
}

static vt_status read_jsonl(builder *b, const char *data, size_t len) {
    b->d->version = b->o->version ? b->o->version : 1;
    size_t pos = 0;
    int64_t line = 1;
    while (pos < len) {
        size_t e = pos;
        while (e < len && data[e] != '\n') e++;
        size_t k = pos;
        while (k < e && is_space(data[k])) k++;
        if (k < e) {
            int r = jsonl_row(b, line, data + pos, e - pos);
            if (r > 0) return (vt_status)r;
        }
        pos = e < len ? e + 1 : e;
        line++;
    }
    return VT_OK;
}

/* JSONL when the first non-blank line is an object with a "question". */
static bool looks_like_jsonl(const char *data, size_t len) {
    size_t pos = 0;
    while (pos < len && is_space(data[pos])) pos++;
    size_t e = pos;
    while (e < len && data[e] != '\n') e++;
    const char *why;
    size_t at;
    cJSON *obj = vt_json_parse(data + pos, e - pos, &why, &at);
    bool yes = obj && cJSON_IsObject(obj) && cJSON_GetObjectItemCaseSensitive(obj, "question");
    cJSON_Delete(obj);
    return yes;
}

static vt_squad_format format_of(const char *name, const char *data, size_t len) {
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    if (dot && (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson"))) return VT_SQUAD_JSONL;
    return looks_like_jsonl(data, len) ? VT_SQUAD_JSONL : VT_SQUAD_JSON;
}

vt_status vt_squad_parse(const char *data, size_t len, const char *name, const vt_squad_options *opt, vt_squad *out) {
    vt_squad_options defaults;
    vt_squad_options_default(&defaults);
    const vt_squad_options *o = opt ? opt : &defaults;
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "<input>";
    if (!data && len) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_parse: NULL data");
    if (o->version < 0 || o->version > 2)
        return vt_error(VT_ERR_INVALID_ARG, "SQuAD version %d (1, 2, or 0 for the file's)", o->version);
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) { /* byte-order mark */
        data += 3;
        len -= 3;
    }
    builder b = {.o = o, .name = name, .d = out, .indexed = SIZE_MAX};
    vt_squad_format fmt = o->format != VT_SQUAD_AUTO ? o->format : format_of(name, data ? data : "", len);
    out->format = fmt;
    vt_status st = fmt == VT_SQUAD_JSONL ? read_jsonl(&b, data ? data : "", len) : read_json(&b, data ? data : "", len);
    if (st == VT_OK && out->n == 0) {
        if (out->n_skipped)
            st = vt_error(VT_ERR_FORMAT, "%s: every question is malformed (%zu skipped; first: %s)", name,
                          out->n_skipped, out->notes[0]);
        else st = vt_error(VT_ERR_FORMAT, "%s: no questions%s", name, len ? "" : " (the file is empty)");
    }
    free(b.ids);
    free(b.byte_at);
    if (st != VT_OK) {
        vt_squad_free(out);
        return st;
    }
    return VT_OK;
}

vt_status vt_squad_load(const char *path, const vt_squad_options *o, vt_squad *out) {
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_load: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_load: NULL path");
    char *data = NULL;
    size_t len = 0;
    size_t max = o && o->max_file_bytes ? o->max_file_bytes : SIZE_MAX - 1;
    vt_status st = vt_read_file(path, max, &data, &len);
    if (st != VT_OK) return st;
    st = vt_squad_parse(data, len, strcmp(path, "-") ? path : "stdin", o, out);
    free(data);
    return st;
}
