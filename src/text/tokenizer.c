/* Creating and freeing a tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/tokenizer_internal.h"

static const char *const SPECIAL_TEXT[VT_TOK_N_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

vt_tokenizer *vt_tok_create(vt_wp_vocab *vocab, const vt_tok_options *opt) {
    if (!vocab) {
        vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL vocabulary");
        return NULL;
    }
    vt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        vt_wp_vocab_free(vocab);
        vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
        return NULL;
    }
    t->vocab = vocab;
    if (opt) t->opt = *opt;
    else vt_tok_options_default(&t->opt);
    if (t->opt.max_input_chars_per_word < 0) t->opt.max_input_chars_per_word = 0;
    if (t->opt.keep_tail < 0) t->opt.keep_tail = 0;
    if (t->opt.max_windows < 1) t->opt.max_windows = 1;
    if (t->opt.max_windows > VT_TOK_MAX_WINDOWS) t->opt.max_windows = VT_TOK_MAX_WINDOWS;
    t->cfg.lowercase = t->opt.lowercase;
    t->cfg.strip_accents = t->opt.strip_accents < 0 ? t->opt.lowercase : t->opt.strip_accents != 0;
    t->cfg.chinese = t->opt.tokenize_chinese_chars;
    int32_t ids[VT_TOK_N_SPECIAL];
    for (int i = 0; i < VT_TOK_N_SPECIAL; i++) {
        ids[i] = vt_wp_vocab_id(vocab, SPECIAL_TEXT[i], strlen(SPECIAL_TEXT[i]));
        if (ids[i] >= 0) {
            t->sp_text[t->n_sp] = SPECIAL_TEXT[i];
            t->sp_len[t->n_sp] = (int32_t)strlen(SPECIAL_TEXT[i]);
            t->sp_id[t->n_sp] = ids[i];
            t->n_sp++;
        } else if (i < 4) {
            vt_error(VT_ERR_FORMAT, "tokenizer: the vocabulary has no %s token", SPECIAL_TEXT[i]);
            vt_tok_free(t);
            return NULL;
        }
    }
    t->sp = (vt_tok_special){ids[0], ids[1], ids[2], ids[3], ids[4]};
    return t;
}

/* path's tokenizer.json (malloc'd): path itself when it names a .json file,
 * DIR/tokenizer.json when path is a directory holding one; else NULL. */
static char *tokenizer_json(const char *path) {
    size_t n = strlen(path);
    struct stat sb;
    if (n >= 5 && !strcmp(path + n - 5, ".json")) return strdup(path);
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return NULL;
    char *file = malloc(n + 16);
    if (!file) return NULL;
    snprintf(file, n + 16, "%s/tokenizer.json", path);
    if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode)) return file;
    free(file);
    return NULL;
}

vt_tokenizer *vt_tok_load(const char *path, const vt_tok_options *opt) {
    if (!path) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL path"), NULL;
    vt_tok_options o;
    if (!opt) {
        if (vt_tok_options_from_config(path, &o) != VT_OK) return NULL;
        opt = &o;
    }
    char *json = tokenizer_json(path);
    if (json) { /* the primary source, as transformers' fast tokenizer reads it */
        vt_tokenizer *t = vt_tok_load_json(json, opt);
        free(json);
        return t;
    }
    vt_wp_vocab *v = vt_wp_vocab_load(path);
    return v ? vt_tok_create(v, opt) : NULL;
}

void vt_tok_free(vt_tokenizer *t) {
    if (!t) return;
    vt_wp_vocab_free(t->vocab);
    free(t);
}

const vt_wp_vocab *vt_tok_vocab(const vt_tokenizer *t) { return t ? t->vocab : NULL; }
const vt_tok_options *vt_tok_get_options(const vt_tokenizer *t) { return t ? &t->opt : NULL; }
vt_tok_special vt_tok_special_ids(const vt_tokenizer *t) { return t->sp; }
