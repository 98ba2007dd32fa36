/* A question for the task layer from one {"question", "context"} JSON object
 * (verto predict's input lines; see verto/task.h). */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "verto/task.h"

/* A copy of the non-empty, valid UTF-8 string member `key` of obj (once in
 * it; vt_json_parse has refused \u0000, so strlen is the string's length). */
static vt_status text_member(const cJSON *obj, const char *key, const char *where, size_t line, const char **out,
                             size_t *len) {
    const cJSON *v = NULL;
    for (const cJSON *m = obj->child; m; m = m->next) /* one pass: a line may hold very many members */
        if (m->string && !strcmp(m->string, key)) {
            if (v) return vt_error(VT_ERR_FORMAT, "%s:%zu: \"%s\" given twice", where, line, key);
            v = m;
        }
    if (!v || !cJSON_IsString(v))
        return vt_error(VT_ERR_FORMAT, "%s:%zu: \"%s\" missing or not a string", where, line, key);
    size_t n = strlen(v->valuestring);
    if (!n) return vt_error(VT_ERR_FORMAT, "%s:%zu: \"%s\" is empty", where, line, key);
    if (!vt_utf8_valid(v->valuestring, n))
        return vt_error(VT_ERR_FORMAT, "%s:%zu: \"%s\" is not valid UTF-8", where, line, key);
    char *copy = malloc(n + 1);
    if (!copy) return vt_error(VT_ERR_NOMEM, "%s:%zu: out of memory", where, line);
    memcpy(copy, v->valuestring, n + 1);
    *out = copy;
    *len = n;
    return VT_OK;
}

vt_status vt_qa_input_parse_json(const char *text, size_t len, const char *where, size_t line, vt_qa_input *in) {
    memset(in, 0, sizeof *in);
    if (!where) where = "input";
    const char *why = NULL;
    size_t at = 0;
    cJSON *doc = vt_json_parse(text, len, &why, &at);
    if (!doc) return vt_error(VT_ERR_FORMAT, "%s:%zu: %s at byte %zu", where, line, why, at);
    vt_status st = VT_OK;
    if (!cJSON_IsObject(doc))
        st = vt_error(VT_ERR_FORMAT, "%s:%zu: a JSON object {\"question\", \"context\"} is needed", where, line);
    if (st == VT_OK) st = text_member(doc, "question", where, line, &in->question, &in->question_len);
    if (st == VT_OK) st = text_member(doc, "context", where, line, &in->context, &in->context_len);
    cJSON_Delete(doc);
    if (st != VT_OK) vt_qa_input_free(in);
    return st;
}

void vt_qa_input_free(vt_qa_input *in) {
    free((char *)in->question);
    free((char *)in->context);
    memset(in, 0, sizeof *in);
}
