/* The request bodies of /v1/classify and /v1/embed (see verto/serve.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/serve.h"
#include "core/json.h"
#include "core/utf8.h"
#include "serve/request_fields.h"

/* Inputs one request may carry (each needs its own result in the answer). */
#define MAX_INPUTS 1024

static const char *const ENDPOINT_NAMES[VT_SERVE_N_ENDPOINTS] = {
    [VT_SERVE_CLASSIFY] = "/v1/classify", [VT_SERVE_EMBED] = "/v1/embed", [VT_SERVE_HEALTHZ] = "/healthz",
    [VT_SERVE_MODEL] = "/v1/model",       [VT_SERVE_METRICS] = "/metrics",
    [VT_SERVE_QUESTION_ANSWERING] = "/v1/question-answering",
    [VT_SERVE_TOKEN_CLASSIFICATION] = "/v1/token-classification", [VT_SERVE_EXPLAIN] = "/v1/explain",
    [VT_SERVE_PAGE] = "/", [VT_SERVE_OTHER] = "other"};

const char *vt_serve_endpoint_name(vt_serve_endpoint e) {
    return (unsigned)e < VT_SERVE_N_ENDPOINTS ? ENDPOINT_NAMES[e] : "other";
}

vt_serve_endpoint vt_serve_endpoint_of(const char *path) {
    for (int e = 0; e < VT_SERVE_OTHER; e++)
        if (path && !strcmp(path, ENDPOINT_NAMES[e])) return (vt_serve_endpoint)e;
    return VT_SERVE_OTHER;
}

/* A field name fit for a one-line message: at most 48 bytes (cut at a
 * character boundary, "..." added), control characters as '?'. */
static const char *shown(const char *name, char buf[64]) {
    size_t n = strlen(name), cut = n > 48 ? 48 : n;
    while (cut < n && cut > 0 && ((unsigned char)name[cut] & 0xC0) == 0x80) cut--;
    for (size_t i = 0; i < cut; i++) buf[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
    strcpy(buf + cut, cut < n ? "..." : "");
    return buf;
}

/* A string field: present and a non-empty string (or, when nullable, null:
 * *out stays NULL). `where` prefixes messages ("" or "inputs[3]."). */
static vt_status text_field(const cJSON *item, const char *where, bool nullable, const char **out, size_t *len) {
    if (nullable && cJSON_IsNull(item)) return VT_OK;
    if (!cJSON_IsString(item) || !item->valuestring)
        return vt_error(VT_ERR_INVALID_ARG, "\"%s%s\" must be a string", where, item->string);
    size_t n = strlen(item->valuestring);
    if (n == 0) return vt_error(VT_ERR_INVALID_ARG, "\"%s%s\" is empty", where, item->string);
    *out = item->valuestring;
    *len = n;
    return VT_OK;
}

/* Checks the members of `obj` against `allowed` (NULL-terminated): unknown
 * and repeated names are errors. */
static vt_status check_members(const cJSON *obj, const char *const *allowed, const char *where) {
    for (const cJSON *a = obj->child; a; a = a->next) {
        bool known = false;
        for (const char *const *k = allowed; *k && !known; k++) known = !strcmp(a->string, *k);
        char buf[64];
        if (!known) return vt_error(VT_ERR_INVALID_ARG, "unknown field \"%s%s\"", where, shown(a->string, buf));
        for (const cJSON *b = a->next; b; b = b->next)
            if (!strcmp(a->string, b->string))
                return vt_error(VT_ERR_INVALID_ARG, "field \"%s%s\" appears twice", where, a->string);
    }
    return VT_OK;
}

vt_status serve_check_members(const cJSON *obj, const char *const *allowed, const char *where) {
    return check_members(obj, allowed, where);
}

/* An input object; `top` for the request object itself, whose members were
 * checked already. */
static vt_status one_input(const cJSON *obj, const char *where, bool top, vt_serve_input *in) {
    static const char *const FIELDS[] = {"text", "text_b", NULL};
    vt_status st = top ? VT_OK : check_members(obj, FIELDS, where);
    if (st != VT_OK) return st;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "text");
    if (!t) return vt_error(VT_ERR_INVALID_ARG, "\"%stext\" is missing", where);
    st = text_field(t, where, false, &in->text, &in->text_len);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "text_b");
    if (st == VT_OK && b) st = text_field(b, where, true, &in->text_b, &in->text_b_len);
    return st;
}

/* A question-answering input: "question" and "context" (into text, text_b). */
static vt_status one_question(const cJSON *obj, const char *where, bool top, vt_serve_input *in) {
    static const char *const FIELDS[] = {"question", "context", NULL};
    vt_status st = top ? VT_OK : check_members(obj, FIELDS, where);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(obj, "question");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, "context");
    if (st == VT_OK && !q) return vt_error(VT_ERR_INVALID_ARG, "\"%squestion\" is missing", where);
    if (st == VT_OK && !c) return vt_error(VT_ERR_INVALID_ARG, "\"%scontext\" is missing", where);
    if (st == VT_OK) st = text_field(q, where, false, &in->text, &in->text_len);
    if (st == VT_OK) st = text_field(c, where, false, &in->text_b, &in->text_b_len);
    return st;
}

/* Explanations cost about 3 * steps forward passes each: a request's share is bounded. */
#define MAX_EXPLAIN_INPUTS 16
#define MAX_EXPLAIN_STEPS 1000

/* /v1/explain's settings over the defaults. */
static vt_status explain_options(const cJSON *root, vt_serve_request *out) {
    vt_explain_options *o = &out->explain;
    vt_explain_options_default(o);
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(root, "target");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(root, "method");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(root, "steps");
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(root, "rule");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(root, "of");
    if (target && (!cJSON_IsString(target) || !*target->valuestring))
        return vt_error(VT_ERR_INVALID_ARG, "\"target\" must be a label's name");
    out->target = target ? target->valuestring : NULL;
    if (method && !(cJSON_IsString(method) && vt_explain_method_parse(method->valuestring, &o->method)))
        return vt_error(VT_ERR_INVALID_ARG, "\"method\" must be \"integrated-gradients\" or \"rollout\"");
    if (steps && !(cJSON_IsNumber(steps) && steps->valuedouble >= 1 && steps->valuedouble <= MAX_EXPLAIN_STEPS &&
                   steps->valuedouble == (double)(int)steps->valuedouble))
        return vt_error(VT_ERR_INVALID_ARG, "\"steps\" must be a whole number from 1 to %d", MAX_EXPLAIN_STEPS);
    if (steps) o->steps = (int32_t)steps->valuedouble;
    if (rule && !(cJSON_IsString(rule) && vt_ig_rule_parse(rule->valuestring, &o->rule)))
        return vt_error(VT_ERR_INVALID_ARG, "\"rule\" must be \"gausslegendre\", \"riemann_left\", "
                                            "\"riemann_right\", \"riemann_middle\" or \"riemann_trapezoid\"");
    if (o->rule != VT_IG_GAUSS_LEGENDRE && o->steps < 2)
        return vt_error(VT_ERR_INVALID_ARG, "a Riemann rule needs \"steps\" of 2 or more");
    const char *ofs = cJSON_IsString(of) ? of->valuestring : NULL;
    if (of && !(ofs && (!strcmp(ofs, "logit") || !strcmp(ofs, "probability"))))
        return vt_error(VT_ERR_INVALID_ARG, "\"of\" must be \"logit\" or \"probability\"");
    if (ofs) o->of = strcmp(ofs, "logit") ? VT_EXPLAIN_PROBABILITY : VT_EXPLAIN_LOGIT;
    return VT_OK;
}

static vt_status parse_doc(vt_serve_endpoint endpoint, const cJSON *root, vt_serve_request *out) {
    static const char *const CLASSIFY[] = {"text", "text_b", "inputs", NULL};
    static const char *const EMBED[] = {"text", "text_b", "inputs", "pooling", "normalize", NULL};
    static const char *const QA[] = {"question", "context", "inputs", NULL};
    static const char *const TOKENS[] = {"text", "inputs", "aggregation_strategy", NULL};
    static const char *const EXPLAIN[] = {"text", "text_b", "question", "context", "inputs", "target", "method",
                                          "steps", "rule", "of", NULL};
    if (!cJSON_IsObject(root)) return vt_error(VT_ERR_INVALID_ARG, "the body must be a JSON object");
    /* an explanation of an answer is asked with the question-answering shape */
    const cJSON *first_input = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    first_input = cJSON_IsArray(first_input) ? first_input->child : root;
    bool qa = endpoint == VT_SERVE_QUESTION_ANSWERING ||
              (endpoint == VT_SERVE_EXPLAIN && cJSON_IsObject(first_input) &&
               (cJSON_HasObjectItem(first_input, "question") || cJSON_HasObjectItem(first_input, "context")));
    vt_status st = check_members(root,
                                 endpoint == VT_SERVE_EMBED                  ? EMBED
                                 : qa                                        ? QA
                                 : endpoint == VT_SERVE_TOKEN_CLASSIFICATION ? TOKENS
                                 : endpoint == VT_SERVE_EXPLAIN              ? EXPLAIN
                                                                             : CLASSIFY,
                                 "");
    if (st != VT_OK) return st;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, qa ? "question" : "text");
    const cJSON *text_b = cJSON_GetObjectItemCaseSensitive(root, "text_b");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (qa && !text) text = cJSON_GetObjectItemCaseSensitive(root, "context");
    const char *first = qa ? "question" : "text";
    if (text && inputs) return vt_error(VT_ERR_INVALID_ARG, "give either \"%s\" or \"inputs\", not both", first);
    if (!text && !inputs) return vt_error(VT_ERR_INVALID_ARG, "\"%s\" (or \"inputs\") is missing", first);
    if (inputs && text_b) return vt_error(VT_ERR_INVALID_ARG, "\"text_b\" goes with \"text\" or inside each input");
    if (endpoint == VT_SERVE_EMBED) {
        const cJSON *pooling = cJSON_GetObjectItemCaseSensitive(root, "pooling");
        const cJSON *normalize = cJSON_GetObjectItemCaseSensitive(root, "normalize");
        if (pooling) {
            const char *p = cJSON_IsString(pooling) ? pooling->valuestring : NULL;
            if (p && !strcmp(p, "cls")) out->pooling = VT_POOL_CLS;
            else if (p && !strcmp(p, "mean")) out->pooling = VT_POOL_MEAN;
            else return vt_error(VT_ERR_INVALID_ARG, "\"pooling\" must be \"cls\" or \"mean\"");
        }
        if (normalize) {
            if (!cJSON_IsBool(normalize)) return vt_error(VT_ERR_INVALID_ARG, "\"normalize\" must be true or false");
            out->normalize = cJSON_IsTrue(normalize);
        }
    }
    const cJSON *agg = cJSON_GetObjectItemCaseSensitive(root, "aggregation_strategy");
    if (agg && (!cJSON_IsString(agg) || !vt_ner_aggregation_parse(agg->valuestring, &out->aggregation)))
        return vt_error(VT_ERR_INVALID_ARG,
                        "\"aggregation_strategy\" must be \"simple\", \"none\", \"first\", \"average\" or \"max\"");
    if (endpoint == VT_SERVE_EXPLAIN && (st = explain_options(root, out)) != VT_OK) return st;
    out->questions = qa;
    size_t n = 1, most = endpoint == VT_SERVE_EXPLAIN ? MAX_EXPLAIN_INPUTS : MAX_INPUTS;
    if (inputs) {
        if (!cJSON_IsArray(inputs)) return vt_error(VT_ERR_INVALID_ARG, "\"inputs\" must be an array of objects");
        n = (size_t)cJSON_GetArraySize(inputs);
        if (n == 0) return vt_error(VT_ERR_INVALID_ARG, "\"inputs\" is empty");
        if (n > most)
            return vt_error(VT_ERR_INVALID_ARG, "\"inputs\" has %zu entries; at most %zu per request", n, most);
    }
    out->inputs = calloc(n, sizeof *out->inputs);
    if (!out->inputs) return vt_error(VT_ERR_NOMEM, "out of memory");
    out->n = n;
    out->batch = inputs != NULL;
    if (!inputs) return qa ? one_question(root, "", true, &out->inputs[0]) : one_input(root, "", true, &out->inputs[0]);
    size_t i = 0;
    for (const cJSON *it = inputs->child; it; it = it->next, i++) {
        char where[32];
        snprintf(where, sizeof where, "inputs[%zu].", i);
        if (!cJSON_IsObject(it)) return vt_error(VT_ERR_INVALID_ARG, "inputs[%zu] must be an object", i);
        st = qa ? one_question(it, where, false, &out->inputs[i]) : one_input(it, where, false, &out->inputs[i]);
        if (st != VT_OK) return st;
    }
    return VT_OK;
}

vt_status vt_serve_request_parse(vt_serve_endpoint endpoint, const char *body, size_t len, vt_serve_request *out) {
    memset(out, 0, sizeof *out);
    out->endpoint = endpoint;
    if (endpoint != VT_SERVE_CLASSIFY && endpoint != VT_SERVE_EMBED && endpoint != VT_SERVE_QUESTION_ANSWERING &&
        endpoint != VT_SERVE_TOKEN_CLASSIFICATION && endpoint != VT_SERVE_EXPLAIN)
        return vt_error(VT_ERR_INVALID_ARG, "%s takes no request body", vt_serve_endpoint_name(endpoint));
    if (!body || len == 0) return vt_error(VT_ERR_INVALID_ARG, "the body is empty: a JSON object is expected");
    size_t bad = vt_utf8_invalid_at(body, len);
    if (bad != len)
        return vt_error(VT_ERR_INVALID_ARG, "the body is not valid UTF-8 (byte %zu)", bad);
    if (memchr(body, '\0', len)) return vt_error(VT_ERR_INVALID_ARG, "the body contains a NUL byte");
    const char *why;
    size_t at;
    cJSON *root = vt_json_parse(body, len, &why, &at);
    if (!root) return vt_error(VT_ERR_INVALID_ARG, "the body is not valid JSON (%s, at byte %zu)", why, at);
    out->priv = root;
    vt_status st = VT_OK;
    if (st == VT_OK) st = parse_doc(endpoint, root, out);
    if (st != VT_OK) vt_serve_request_free(out);
    out->endpoint = endpoint;
    return st;
}

void vt_serve_request_free(vt_serve_request *r) {
    if (!r) return;
    cJSON_Delete(r->priv);
    free(r->inputs);
    vt_serve_endpoint e = r->endpoint;
    memset(r, 0, sizeof *r);
    r->endpoint = e;
}
