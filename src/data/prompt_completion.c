/* Prompt/completion JSONL for causal-LM fine-tuning (verto/causal_lm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "verto/causal_lm.h"
#include "verto/fileio.h"

#define MAX_FILE_BYTES ((size_t)1 << 34)

void vt_clm_free(vt_clm_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->ex[i].ids);
    free(s->ex);
    memset(s, 0, sizeof *s);
}

/* The row's field as a string, or an error naming it. */
static vt_status text_field(const cJSON *row, const char *key, const char *label, size_t line, const char **s) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    if (!v) return vt_error(VT_ERR_FORMAT, "%s:%zu: missing \"%s\"", label, line, key);
    if (!cJSON_IsString(v)) return vt_error(VT_ERR_FORMAT, "%s:%zu: \"%s\" must be a string", label, line, key);
    size_t n = strlen(v->valuestring);
    if (!vt_utf8_valid(v->valuestring, n))
        return vt_error(VT_ERR_FORMAT, "%s:%zu: \"%s\" is not valid UTF-8 (byte %zu)", label, line, key,
                        vt_utf8_invalid_at(v->valuestring, n));
    *s = v->valuestring;
    return VT_OK;
}

static vt_status encode(const vt_tokenizer *tok, const char *s, vt_tok_encoding *e, const char *label, size_t line) {
    vt_tok_encode_opts o;
    vt_tok_encode_opts_default(&o);
    o.add_special_tokens = false;
    vt_status st = vt_tok_encode(tok, s, strlen(s), NULL, 0, &o, e);
    return st == VT_OK ? VT_OK : vt_error(st, "%s:%zu: %s", label, line, vt_last_error());
}

/* One row into an example: prompt tail + completion + eos. */
static vt_status row_example(const char *row_text, size_t n, const char *label, size_t line, const vt_tokenizer *tok,
                             int32_t max_len, int32_t eos_id, vt_tok_encoding *ep, vt_tok_encoding *ec,
                             vt_clm_example *ex, bool *cut) {
    const char *why;
    size_t at;
    cJSON *row = vt_json_parse(row_text, n, &why, &at);
    if (!row) return vt_error(VT_ERR_FORMAT, "%s:%zu: not valid JSON (byte %zu: %s)", label, line, at + 1, why);
    const char *prompt = NULL, *completion = NULL;
    vt_status st = cJSON_IsObject(row) ? VT_OK
                                       : vt_error(VT_ERR_FORMAT, "%s:%zu: a row must be an object {\"prompt\", "
                                                  "\"completion\"}", label, line);
    if (st == VT_OK) st = text_field(row, "prompt", label, line, &prompt);
    if (st == VT_OK) st = text_field(row, "completion", label, line, &completion);
    if (st == VT_OK) st = encode(tok, prompt, ep, label, line);
    if (st == VT_OK) st = encode(tok, completion, ec, label, line);
    cJSON_Delete(row);
    if (st != VT_OK) return st;
    int64_t keep_c = (int64_t)ec->len + 1; /* with the eos */
    if (keep_c > max_len)
        return vt_error(VT_ERR_INVALID_ARG, "%s:%zu: the completion is %d tokens; with the end-of-text it does not fit "
                        "--max-seq-length %d (only the prompt is cut)", label, line, ec->len, max_len);
    int32_t keep_p = ep->len < max_len - keep_c ? ep->len : (int32_t)(max_len - keep_c);
    *cut = keep_p < ep->len;
    ex->len = keep_p + (int32_t)keep_c;
    ex->prompt_len = keep_p;
    if (!(ex->ids = malloc((size_t)ex->len * sizeof *ex->ids)))
        return vt_error(VT_ERR_NOMEM, "%s:%zu: out of memory", label, line);
    memcpy(ex->ids, ep->ids + (ep->len - keep_p), (size_t)keep_p * sizeof *ex->ids); /* the prompt's last tokens */
    memcpy(ex->ids + keep_p, ec->ids, (size_t)ec->len * sizeof *ex->ids);
    ex->ids[ex->len - 1] = eos_id;
    return VT_OK;
}

vt_status vt_clm_parse(const char *s, size_t len, const char *label, const vt_tokenizer *tok, int32_t max_len,
                       int32_t eos_id, vt_clm_set *out) {
    if (!s || !tok || !out || max_len < 2 || eos_id < 0)
        return vt_error(VT_ERR_INVALID_ARG, "vt_clm_parse: no text, tokenizer or output, max_len < 2 or no eos id");
    memset(out, 0, sizeof *out);
    if (!label) label = "<input>";
    vt_tok_encoding ep, ec;
    vt_tok_encoding_init(&ep);
    vt_tok_encoding_init(&ec);
    size_t cap = 0, line = 0;
    vt_status st = VT_OK;
    for (size_t pos = 0; pos < len && st == VT_OK;) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - s) : len, n = end - pos;
        const char *row = s + pos;
        line++;
        pos = end + 1;
        if (n && row[n - 1] == '\r') n--;
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++) blank = row[i] == ' ' || row[i] == '\t';
        if (blank) continue;
        if (out->n == cap) {
            size_t want = cap ? 2 * cap : 64;
            vt_clm_example *ex = realloc(out->ex, want * sizeof *ex);
            if (!ex) {
                st = vt_error(VT_ERR_NOMEM, "%s:%zu: out of memory", label, line);
                break;
            }
            out->ex = ex;
            cap = want;
        }
        bool cut = false;
        st = row_example(row, n, label, line, tok, max_len, eos_id, &ep, &ec, &out->ex[out->n], &cut);
        if (st == VT_OK) {
            out->n++;
            out->truncated += cut;
        }
    }
    vt_tok_encoding_free(&ep);
    vt_tok_encoding_free(&ec);
    if (st != VT_OK) vt_clm_free(out);
    return st;
}

vt_status vt_clm_load(const char *path, const vt_tokenizer *tok, int32_t max_len, int32_t eos_id, vt_clm_set *out) {
    char *text = NULL;
    size_t len = 0;
    vt_status st = vt_read_file(path, MAX_FILE_BYTES, &text, &len);
    if (st == VT_OK) st = vt_clm_parse(text, len, path, tok, max_len, eos_id, out);
    free(text);
    return st;
}
