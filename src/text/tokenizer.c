/* Creating, completing and freeing a tokenizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/added_tokens.h"
#include "text/tokenizer_internal.h"
#include "text/unicode.h"

static const char *const BERT_SPECIAL[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

vt_status vt_template_add(vt_template *tp, int seq, int32_t type_id, const int32_t *ids, int32_t n_ids) {
    vt_template_item *items = realloc(tp->items, (size_t)(tp->n + 1) * sizeof *items);
    if (!items) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    tp->items = items;
    vt_template_item *it = &items[tp->n];
    *it = (vt_template_item){.seq = seq, .type_id = type_id};
    if (seq < 0) {
        it->ids = malloc((size_t)(n_ids ? n_ids : 1) * sizeof(int32_t));
        if (!it->ids) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
        memcpy(it->ids, ids, (size_t)n_ids * sizeof(int32_t));
        it->n_ids = n_ids;
        tp->n_special += n_ids;
    }
    tp->n++;
    return VT_OK;
}

static void template_free(vt_template *tp) {
    for (int i = 0; i < tp->n; i++) free(tp->items[i].ids);
    free(tp->items);
    memset(tp, 0, sizeof *tp);
}

/* BERT's pipeline over a WordPiece vocabulary: the special tokens it has are
 * added tokens, [CLS] A [SEP] (B [SEP]) the template. */
static vt_status bert_pipeline(vt_tokenizer *t) {
    int32_t ids[5];
    for (int i = 0; i < 5; i++) {
        ids[i] = vt_wp_vocab_id(t->vocab, BERT_SPECIAL[i], strlen(BERT_SPECIAL[i]));
        if (ids[i] < 0 && i < 4) return vt_error(VT_ERR_FORMAT, "tokenizer: the vocabulary has no %s token", BERT_SPECIAL[i]);
    }
    t->added = calloc(5, sizeof *t->added);
    t->norm = calloc(1, sizeof *t->norm);
    t->pre = calloc(1, sizeof *t->pre);
    t->dec = calloc(1, sizeof *t->dec);
    if (!t->added || !t->norm || !t->pre || !t->dec) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    for (int i = 0; i < 5; i++) {
        if (ids[i] < 0) continue;
        vt_added_token *a = &t->added[t->n_added++];
        a->content = a->match = strdup(BERT_SPECIAL[i]);
        if (!a->content) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
        a->len = a->match_len = (int32_t)strlen(BERT_SPECIAL[i]);
        a->id = ids[i];
        a->special = true;
    }
    t->model = VT_MODEL_WORDPIECE;
    t->model_vocab = t->vocab;
    t->unk_id = ids[1];
    t->norm[0] = (vt_norm_step){.kind = VT_NORM_BERT, .bert = t->cfg};
    t->n_norm = 1;
    t->pre[0] = (vt_pre_step){.kind = VT_PRE_BERT};
    t->n_pre = 1;
    t->dec[0] = (vt_dec_step){.kind = VT_DEC_WORDPIECE, .prefix = strdup("##"), .cleanup = true};
    t->n_dec = 1;
    if (!t->dec[0].prefix) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    vt_status st;
    if ((st = vt_template_add(&t->single, -1, 0, &ids[2], 1)) != VT_OK ||
        (st = vt_template_add(&t->single, 0, 0, NULL, 0)) != VT_OK ||
        (st = vt_template_add(&t->single, -1, 0, &ids[3], 1)) != VT_OK ||
        (st = vt_template_add(&t->pair, -1, 0, &ids[2], 1)) != VT_OK ||
        (st = vt_template_add(&t->pair, 0, 0, NULL, 0)) != VT_OK ||
        (st = vt_template_add(&t->pair, -1, 0, &ids[3], 1)) != VT_OK ||
        (st = vt_template_add(&t->pair, 1, 1, NULL, 0)) != VT_OK)
        return st;
    return vt_template_add(&t->pair, -1, 1, &ids[3], 1);
}

vt_tokenizer *vt_tok_alloc(const vt_tok_options *opt) {
    vt_uc_init(); /* the character tables every step reads */
    vt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory"), NULL;
    if (opt) t->opt = *opt;
    else vt_tok_options_default(&t->opt);
    if (t->opt.max_input_chars_per_word < 0) t->opt.max_input_chars_per_word = 0;
    if (t->opt.keep_tail < 0) t->opt.keep_tail = 0;
    if (t->opt.max_windows < 1) t->opt.max_windows = 1;
    if (t->opt.max_windows > VT_TOK_MAX_WINDOWS) t->opt.max_windows = VT_TOK_MAX_WINDOWS;
    t->opt.pad_token[VT_TOK_NAME_MAX - 1] = t->opt.mask_token[VT_TOK_NAME_MAX - 1] = '\0';
    return t;
}

vt_tokenizer *vt_tok_create(vt_wp_vocab *vocab, const vt_tok_options *opt) {
    if (!vocab) return vt_error(VT_ERR_INVALID_ARG, "tokenizer: NULL vocabulary"), NULL;
    vt_tokenizer *t = vt_tok_alloc(opt);
    if (!t) {
        vt_wp_vocab_free(vocab);
        return NULL;
    }
    t->vocab = vocab;
    t->cfg.lowercase = t->opt.lowercase;
    t->cfg.strip_accents = t->opt.strip_accents < 0 ? t->opt.lowercase : t->opt.strip_accents != 0;
    t->cfg.chinese = t->opt.tokenize_chinese_chars;
    if (bert_pipeline(t) != VT_OK || vt_tok_finish(t) != VT_OK) {
        vt_tok_free(t);
        return NULL;
    }
    return t;
}

/* The id of the first token of names[] in the vocabulary, or -1. */
static int32_t first_of(const vt_wp_vocab *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++) {
        if (!names[i]) continue;
        int32_t id = vt_wp_vocab_id(v, names[i], strlen(names[i]));
        if (id >= 0) return id;
    }
    return -1;
}

vt_status vt_tok_finish(vt_tokenizer *t) {
    const char *pad_name = t->opt.pad_token[0] ? t->opt.pad_token : NULL;
    const char *mask_name = t->opt.mask_token[0] ? t->opt.mask_token : NULL;
    vt_status st = vt_added_index(t);
    if (st != VT_OK) return st;
    free(t->special_of);
    t->special_of = calloc((size_t)t->vocab->n, 1);
    if (!t->special_of) return vt_error(VT_ERR_NOMEM, "tokenizer: out of memory");
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].special && t->added[i].id >= 0 && t->added[i].id < t->vocab->n)
            t->special_of[t->added[i].id] = 1;
    t->sp.cls = t->sp.sep = -1;
    for (int k = 0, seen = 0; k < t->single.n; k++) {
        const vt_template_item *it = &t->single.items[k];
        if (it->seq >= 0) seen = 1;
        else if (it->n_ids > 0 && !seen && t->sp.cls < 0) t->sp.cls = it->ids[0];
        else if (it->n_ids > 0 && seen && t->sp.sep < 0) t->sp.sep = it->ids[0];
    }
    t->sp.unk = t->unk_id;
    const char *pads[] = {pad_name, pad_name ? NULL : "[PAD]", pad_name ? NULL : "<pad>"};
    const char *masks[] = {mask_name, mask_name ? NULL : "[MASK]", mask_name ? NULL : "<mask>"};
    t->sp.pad = first_of(t->vocab, pads, 3);
    t->sp.mask = first_of(t->vocab, masks, 3);
    t->fused_bert = t->model == VT_MODEL_WORDPIECE && t->n_norm == 1 && t->norm[0].kind == VT_NORM_BERT &&
                    t->n_pre == 1 && t->pre[0].kind == VT_PRE_BERT && !t->has_normalized_added &&
                    t->model_vocab == t->vocab;
    if (t->fused_bert) t->cfg = t->norm[0].bert;
    return VT_OK;
}

void vt_tok_pipeline_free(vt_tokenizer *t) {
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].pattern);
        free(t->norm[i].content);
        vt_regex_free(t->norm[i].re);
        vt_precompiled_free(t->norm[i].pc);
    }
    free(t->norm);
    for (int i = 0; i < t->n_pre; i++) {
        free(t->pre[i].pattern);
        vt_regex_free(t->pre[i].re);
    }
    free(t->pre);
    for (int i = 0; i < t->n_added; i++) {
        if (t->added[i].match != t->added[i].content) free(t->added[i].match);
        free(t->added[i].content);
    }
    free(t->added);
    free(t->added_order);
    for (int i = 0; i < t->n_dec; i++) {
        free(t->dec[i].prefix);
        free(t->dec[i].content);
    }
    free(t->dec);
    template_free(&t->single);
    template_free(&t->pair);
    vt_bpe_free(t->bpe);
    vt_unigram_free(t->unigram);
    if (t->model_vocab != t->vocab) vt_wp_vocab_free(t->model_vocab);
    free(t->special_of);
    free(t->json);
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

/* Which of its older tokenizer files a directory without tokenizer.json is
 * read from: vocab.txt, else vocab.json + merges.txt, else
 * sentencepiece.bpe.model. A file, or a directory with none of them: vocab.txt
 * (whose reader names what is missing). */
typedef enum dir_source { FROM_VOCAB_TXT, FROM_BPE_FILES, FROM_SPM_MODEL } dir_source;

static bool exists(const char *dir, const char *name) {
    char file[4096];
    struct stat sb;
    snprintf(file, sizeof file, "%s/%s", dir, name);
    return stat(file, &sb) == 0;
}

static dir_source older_files(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || exists(path, "vocab.txt")) return FROM_VOCAB_TXT;
    if (exists(path, "vocab.json") && exists(path, "merges.txt")) return FROM_BPE_FILES;
    if (exists(path, VT_SPM_FILE_NAME)) return FROM_SPM_MODEL;
    return FROM_VOCAB_TXT;
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
    dir_source src = older_files(path);
    if (src == FROM_BPE_FILES) return vt_tok_load_bpe_files(path, opt);
    if (src == FROM_SPM_MODEL) return vt_tok_load_spm_file(path, opt);
    vt_wp_vocab *v = vt_wp_vocab_load(path);
    return v ? vt_tok_create(v, opt) : NULL;
}

void vt_tok_free(vt_tokenizer *t) {
    if (!t) return;
    vt_tok_pipeline_free(t);
    vt_wp_vocab_free(t->vocab);
    free(t);
}

const vt_wp_vocab *vt_tok_vocab(const vt_tokenizer *t) { return t ? t->vocab : NULL; }
const vt_tok_options *vt_tok_get_options(const vt_tokenizer *t) { return t ? &t->opt : NULL; }
vt_tok_special vt_tok_special_ids(const vt_tokenizer *t) { return t->sp; }

const char *vt_tok_model_name(const vt_tokenizer *t) {
    return t->model == VT_MODEL_WORDPIECE ? "WordPiece" : t->model == VT_MODEL_BPE ? "BPE" : "Unigram";
}

const char *vt_tok_continuation_prefix(const vt_tokenizer *t) { return t->model == VT_MODEL_WORDPIECE ? "##" : NULL; }

const char *vt_tok_model_subword_prefix(const vt_tokenizer *t) {
    return t->model == VT_MODEL_WORDPIECE ? "##" : t->model == VT_MODEL_BPE ? vt_bpe_continuing_prefix(t->bpe) : NULL;
}
