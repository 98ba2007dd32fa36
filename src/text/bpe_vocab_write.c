/* A trained byte-level BPE written as tokenizers writes it: tokenizer.json as
 * ByteLevelBPETokenizer.save (serde_json's pretty form: two-space indent, the
 * vocabulary in id order, merges as [left, right] pairs), and vocab.json +
 * merges.txt as save_model (serde_json's compact form; "#version: 0.2"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "text/vb_internal.h"
#include "verto/fileio.h"

/* s as serde_json quotes it: \" \\ \b \f \n \r \t, other controls \u00xx. */
static void serde_string(vt_sb *b, const char *s) {
    vt_sb_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (esc) vt_sb_str(b, esc);
        else if (c < 0x20) vt_sb_printf(b, "\\u%04x", c);
        else vt_sb_add(b, s, 1);
    }
    vt_sb_add(b, "\"", 1);
}

static void byte_level_step(vt_sb *b, const char *key, bool add_prefix_space, bool trim_offsets, bool last) {
    vt_sb_printf(b,
                 "  \"%s\": {\n    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": %s,\n"
                 "    \"trim_offsets\": %s,\n    \"use_regex\": true\n  }%s\n",
                 key, add_prefix_space ? "true" : "false", trim_offsets ? "true" : "false", last ? "" : ",");
}

static vt_status save_text(vt_sb *b, const char *path) {
    size_t len;
    char *text = vt_sb_take(b, &len);
    if (!text) return vt_error(VT_ERR_NOMEM, "%s: out of memory", path);
    vt_status st = vt_write_file_atomic(path, text, len);
    free(text);
    return st;
}

vt_status vt_bpe_vocab_save_json(const vt_bpe_vocab *v, const char *path) {
    if (!v || !path) return vt_error(VT_ERR_INVALID_ARG, "byte-level BPE vocabulary: NULL argument");
    vt_sb b = {0};
    vt_sb_str(&b, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [");
    for (int32_t i = 0; i < v->n_special; i++) {
        vt_sb_printf(&b, "%s\n    {\n      \"id\": %d,\n      \"content\": ", i ? "," : "", i);
        serde_string(&b, v->tok[i]);
        vt_sb_str(&b, ",\n      \"single_word\": false,\n      \"lstrip\": false,\n      \"rstrip\": false,\n"
                      "      \"normalized\": false,\n      \"special\": true\n    }");
    }
    vt_sb_str(&b, v->n_special ? "\n  ],\n" : "],\n");
    vt_sb_str(&b, "  \"normalizer\": null,\n");
    byte_level_step(&b, "pre_tokenizer", false, true, false);
    byte_level_step(&b, "post_processor", true, false, false);
    byte_level_step(&b, "decoder", true, true, false);
    vt_sb_str(&b, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
                  "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
                  "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
                  "    \"vocab\": {");
    for (int32_t i = 0; i < v->n_tok; i++) {
        vt_sb_str(&b, i ? ",\n      " : "\n      ");
        serde_string(&b, v->tok[i]);
        vt_sb_printf(&b, ": %d", i);
    }
    vt_sb_str(&b, v->n_tok ? "\n    },\n    \"merges\": [" : "},\n    \"merges\": [");
    for (int32_t i = 0; i < v->n_merges; i++) {
        vt_sb_str(&b, i ? ",\n      [\n        " : "\n      [\n        ");
        serde_string(&b, v->tok[v->merge[2 * i]]);
        vt_sb_str(&b, ",\n        ");
        serde_string(&b, v->tok[v->merge[2 * i + 1]]);
        vt_sb_str(&b, "\n      ]");
    }
    vt_sb_str(&b, v->n_merges ? "\n    ]\n  }\n}" : "]\n  }\n}");
    return save_text(&b, path);
}

vt_status vt_bpe_vocab_save_files(const vt_bpe_vocab *v, const char *dir) {
    if (!v || !dir) return vt_error(VT_ERR_INVALID_ARG, "byte-level BPE vocabulary: NULL argument");
    vt_status st = vt_mkdir_p(dir);
    if (st != VT_OK) return st;
    size_t n = strlen(dir) + 16;
    char *path = malloc(n);
    if (!path) return vt_error(VT_ERR_NOMEM, "%s: out of memory", dir);
    vt_sb b = {0};
    vt_sb_str(&b, "{");
    for (int32_t i = 0; i < v->n_tok; i++) {
        if (i) vt_sb_str(&b, ",");
        serde_string(&b, v->tok[i]);
        vt_sb_printf(&b, ":%d", i);
    }
    vt_sb_str(&b, "}");
    snprintf(path, n, "%s/vocab.json", dir);
    st = save_text(&b, path);
    vt_sb_str(&b, "#version: 0.2\n");
    for (int32_t i = 0; st == VT_OK && i < v->n_merges; i++)
        vt_sb_printf(&b, "%s %s\n", v->tok[v->merge[2 * i]], v->tok[v->merge[2 * i + 1]]);
    snprintf(path, n, "%s/merges.txt", dir);
    if (st == VT_OK) st = save_text(&b, path);
    vt_sb_free(&b);
    free(path);
    return st;
}
