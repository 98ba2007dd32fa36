/* Hugging Face model directories of every family: config.json +
 * model.safetensors read with the name variants real checkpoints carry, and
 * written as transformers' save_pretrained does. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bert/bert_internal.h"
#include "bert/hf_internal.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"
#include "verto/tokenizer.h"

#define MAX_CONFIG_BYTES (64u << 20)
#define MAX_TOKENIZER_BYTES (1u << 30)

/* dir + "/" + name in a new heap string (NULL on out of memory). */
static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) return NULL;
    bool slash = *dir && dir[strlen(dir) - 1] == '/';
    snprintf(p, n, "%s%s%s", dir, slash ? "" : "/", name);
    return p;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Prefixes the current error message with `what` (copied first: vt_error
 * formats into the buffer vt_last_error() points to). */
static vt_status rewrap(vt_status st, const char *what) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", vt_last_error());
    if (strstr(msg, what)) return vt_error(st, "%s", msg);
    return vt_error(st, "%s: %s", what, msg);
}

static bool starts_with(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* A head's tensor of the family (stored without the base prefix). */
static bool is_head(const vt_bert *b, const char *name) { return bert_family_is_head(bert_family(b->cfg.family), name); }

/* Tensors of heads or a pooler some architecture of the family has (ignored when this one lacks them). */
static bool is_other_head(const vt_bert *b, const char *name) {
    return is_head(b, name) || starts_with(name, "pooler.");
}

/* The table name a file tensor stands for: without the family's base prefix
 * (for encoder tensors), LayerNorm.gamma/beta as LayerNorm.weight/bias.
 * false if the name does not fit in out. */
static bool canonical_name(const vt_bert *b, const char *name, char *out, size_t size) {
    const char *s = name, *base = bert_family(b->cfg.family)->base;
    if (starts_with(s, base) && !is_head(b, s + strlen(base))) s += strlen(base);
    if (strlen(s) >= size) return false;
    snprintf(out, size, "%s", s);
    size_t n = strlen(out);
    if (ends_with(out, "LayerNorm.gamma")) snprintf(out + n - 5, size - (n - 5), "weight");
    else if (ends_with(out, "LayerNorm.beta")) snprintf(out + n - 4, size - (n - 4), "bias");
    return true;
}

static void note(char list[][96], int *count, const char *name) {
    if (*count < VT_BERT_LOAD_NOTES) snprintf(list[*count], 96, "%s", name);
    (*count)++;
}

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

static bool shape_matches(const vt_st_tensor *t, const vt_bert_param *p) {
    if (t->ndim != p->ndim) return false;
    for (int i = 0; i < p->ndim; i++)
        if (t->shape[i] != p->shape[i]) return false;
    return true;
}

/* The scales of an int8 weight "<name>" are "<name>_scale". */
#define INT8_SCALE_SUFFIX ".weight_scale"

static bool float_dtype(vt_st_dtype d) {
    return d == VT_ST_F32 || d == VT_ST_F16 || d == VT_ST_BF16 || d == VT_ST_F64;
}

static vt_status shape_error(const char *file, const char *cfg_path, const vt_st_tensor *t, int ndim,
                             const int64_t *want) {
    char got[128], exp[128];
    shape_str(got, sizeof got, t->ndim, t->shape);
    shape_str(exp, sizeof exp, ndim, want);
    return vt_error(VT_ERR_SHAPE, "%s: tensor \"%s\" has shape %s but %s gives %s (does the config match the weights?)",
                    file, t->name, got, cfg_path, exp);
}

/* Converts t into p after the dtype and shape checks (an I8 tensor: an int8
 * directory's codes, with their scales from f). */
static vt_status load_tensor(vt_bert *b, const vt_st_file *f, const char *file, const char *cfg_path,
                             const vt_st_tensor *t, vt_bert_param *p) {
    if (t->dtype == VT_ST_I8) return bert_int8_load_tensor(b, f, file, t, p);
    if (!float_dtype(t->dtype))
        return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" has dtype %s; parameters must be F32, F16 or BF16", file,
                        t->name, vt_st_dtype_name(t->dtype));
    if (!shape_matches(t, p)) return shape_error(file, cfg_path, t, p->ndim, p->shape);
    vt_status st = vt_st_to_f32(t, p->data);
    return st == VT_OK ? VT_OK : rewrap(st, file);
}

/* The decoder of the MLM head is the word embeddings (tied): a stored copy
 * must have their shape and, where this model has the MLM head, their values. */
static vt_status check_tied_decoder(const char *file, const char *cfg_path, const vt_st_tensor *t, vt_bert *b) {
    const vt_bert_config *c = &b->cfg;
    int64_t want[2] = {c->vocab_size, c->hidden_size};
    if (!float_dtype(t->dtype))
        return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" has dtype %s; parameters must be F32, F16 or BF16", file,
                        t->name, vt_st_dtype_name(t->dtype));
    if (t->ndim != 2 || t->shape[0] != want[0] || t->shape[1] != want[1])
        return shape_error(file, cfg_path, t, 2, want);
    if (!b->w.mlm_bias) return VT_OK;
    float *tmp = malloc((size_t)t->numel * sizeof(float) + 1);
    if (!tmp) return vt_error(VT_ERR_NOMEM, "%s: out of memory reading tensor \"%s\"", file, t->name);
    vt_status st = vt_st_to_f32(t, tmp);
    if (st == VT_OK && memcmp(tmp, b->w.word_emb, (size_t)t->numel * sizeof(float)))
        st = vt_error(VT_ERR_UNSUPPORTED,
                      "%s: tensor \"%s\" differs from the word embeddings; verto ties the MLM decoder to them", file,
                      t->name);
    else if (st != VT_OK)
        st = rewrap(st, file);
    free(tmp);
    return st;
}

/* Matches the file's tensors to the model's parameters and loads them. */
vt_status bert_load_weights(vt_bert *b, const vt_st_file *f, const char *file, const char *cfg_path,
                            vt_bert_load_info *info) {
    const bert_family_info *fam = bert_family(b->cfg.family);
    size_t np = b->n_params, nt = vt_st_count(f);
    const vt_st_tensor **src = calloc(np ? np : 1, sizeof *src);
    if (!src) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    const vt_st_tensor *decoder_w = NULL, *decoder_b = NULL;
    vt_status st = VT_OK;
    /* The tied decoder's copies: its weight (the word embeddings), and its
     * bias where that is another name of mlm_bias (not DistilBERT's). */
    char name[128], dec_w[96], dec_b[96];
    snprintf(dec_w, sizeof dec_w, "%s.weight", fam->mlm_decoder);
    snprintf(dec_b, sizeof dec_b, "%s.bias", fam->mlm_decoder);
    bool dec_b_alias = strcmp(dec_b, fam->mlm_bias) != 0;
    for (size_t i = 0; i < nt && st == VT_OK; i++) {
        const vt_st_tensor *t = vt_st_at(f, i);
        if (ends_with(t->name, INT8_SCALE_SUFFIX)) { /* an int8 weight's scales: read with the weight */
            snprintf(name, sizeof name, "%.*s", (int)(strlen(t->name) - strlen("_scale")), t->name);
            const vt_st_tensor *w = vt_st_find(f, name);
            if (!w || w->dtype != VT_ST_I8)
                st = vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" holds scales, but \"%s\" is %s", file, t->name, name,
                              w ? "not I8" : "not in the file");
            continue;
        }
        if (!canonical_name(b, t->name, name, sizeof name)) {
            st = vt_error(VT_ERR_FORMAT, "%s: tensor \"%.100s...\" is not a %s parameter", file, t->name, fam->display);
            break;
        }
        if (!strcmp(name, "embeddings.position_ids") || !strcmp(name, "embeddings.token_type_ids")) continue;
        if (!strcmp(name, dec_w)) {
            decoder_w = t;
            continue;
        }
        if (dec_b_alias && !strcmp(name, dec_b)) {
            decoder_b = t;
            continue;
        }
        vt_bert_param *p = vt_bert_param_find(b, name);
        if (p) {
            size_t k = (size_t)(p - b->table);
            if (src[k])
                st = vt_error(VT_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" are both parameter %s", file, src[k]->name,
                              t->name, p->name);
            src[k] = t;
        } else if (is_other_head(b, name)) {
            note(info->unused, &info->n_unused, t->name);
        } else {
            const vt_bert_config *c = &b->cfg;
            st = vt_error(VT_ERR_FORMAT,
                          "%s: tensor \"%s\" is not a parameter of the %s that %s describes (num_hidden_layers %lld, hidden_size %lld); "
                          "is the file from another model?",
                          file, t->name, vt_bert_config_arch_name(c), cfg_path, (long long)c->num_hidden_layers,
                          (long long)c->hidden_size);
        }
    }
    /* The decoder's bias is mlm_bias under another name. */
    vt_bert_param *mlm_bias = b->w.mlm_bias ? vt_bert_param_find(b, fam->mlm_bias) : NULL;
    if (st == VT_OK && decoder_b) {
        if (mlm_bias && !src[mlm_bias - b->table]) src[mlm_bias - b->table] = decoder_b;
        else if (!float_dtype(decoder_b->dtype) || decoder_b->ndim != 1 || decoder_b->shape[0] != b->cfg.vocab_size)
            st = shape_error(file, cfg_path, decoder_b, 1, &b->cfg.vocab_size);
        else if (!mlm_bias)
            note(info->unused, &info->n_unused, decoder_b->name);
    }
    for (size_t k = 0; k < np && st == VT_OK; k++) {
        vt_bert_param *p = &b->table[k];
        if (src[k]) {
            st = load_tensor(b, f, file, cfg_path, src[k], p);
        } else if (is_head(b, p->name) || starts_with(p->name, "pooler.")) {
            note(info->new_params, &info->n_new, p->name); /* keeps its fresh initialisation */
        } else {
            st = vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" is missing (looked for it with and without \"%s\")",
                          file, p->name, fam->base);
        }
    }
    if (st == VT_OK) st = bert_int8_finish_load(b, file);
    if (st == VT_OK && decoder_w) st = check_tied_decoder(file, cfg_path, decoder_w, b);
    if (st == VT_OK && decoder_w && !b->w.mlm_bias) note(info->unused, &info->n_unused, decoder_w->name);
    free(src);
    return st;
}

vt_bert *vt_bert_load_ex(const char *dir, int arch, int num_labels, uint64_t seed, vt_bert_load_info *info) {
    vt_bert_load_info scratch;
    if (!info) info = &scratch;
    memset(info, 0, sizeof *info);
    if (!dir) {
        vt_error(VT_ERR_INVALID_ARG, "vt_bert_load: no directory given");
        return NULL;
    }
    if (arch < -1 || arch >= BERT_N_ARCHS) {
        vt_error(VT_ERR_INVALID_ARG, "vt_bert_load: unknown architecture %d", arch);
        return NULL;
    }
    if (num_labels > VT_BERT_MAX_LABELS) {
        vt_error(VT_ERR_INVALID_ARG, "vt_bert_load: num_labels %d exceeds %d", num_labels, VT_BERT_MAX_LABELS);
        return NULL;
    }
    char *cfg_path = join(dir, "config.json"), *st_path = join(dir, "model.safetensors");
    char *text = NULL;
    vt_bert *b = NULL;
    vt_st_file *f = NULL;
    vt_status st = VT_OK;
    if (!cfg_path || !st_path) {
        vt_error(VT_ERR_NOMEM, "out of memory loading %s", dir);
        goto fail;
    }
    size_t len = 0;
    if ((st = vt_read_file(cfg_path, MAX_CONFIG_BYTES, &text, &len)) != VT_OK) goto fail;
    vt_bert_config c;
    bert_config_extra x;
    if ((st = bert_config_parse_ex(text, len, cfg_path, &c, &x)) != VT_OK) goto fail;
    if (arch >= 0) c.arch = (vt_bert_arch)arch;
    if (num_labels > 0 && num_labels != c.num_labels) {
        c.num_labels = num_labels;
        bert_config_default_labels(&c);
        c.problem_type = VT_PROBLEM_UNSET; /* a new head: its first loss decides */
    } else if (num_labels <= 0 && c.arch == VT_BERT_FOR_QUESTION_ANSWERING && c.num_labels != 2) {
        c.num_labels = 2; /* question answering's two outputs, whatever classifier the file had */
        bert_config_default_labels(&c);
    }
    if ((st = bert_config_finish(&c, &x, cfg_path, arch < 0)) != VT_OK) goto fail;

    if (!is_file(st_path)) {
        char *alt = join(dir, "pytorch_model.bin"), *index = join(dir, "model.safetensors.index.json");
        if (alt && is_file(alt))
            vt_error(VT_ERR_UNSUPPORTED,
                     "%s: not found; %s is PyTorch's pickle format, which verto does not read (convert it with "
                     "transformers: from_pretrained(dir).save_pretrained(dir, safe_serialization=True))",
                     st_path, alt);
        else if (index && is_file(index))
            vt_error(VT_ERR_UNSUPPORTED, "%s: not found; sharded checkpoints (%s) are not supported", st_path, index);
        else
            vt_error(VT_ERR_IO, "%s: not found (a model directory holds config.json and model.safetensors)", st_path);
        free(alt);
        free(index);
        goto fail;
    }
    if (!(b = vt_bert_new(&c, seed))) {
        rewrap(vt_last_status() ? vt_last_status() : VT_ERR_INVALID_ARG, cfg_path);
        goto fail;
    }
    if (!(f = vt_st_open(st_path))) goto fail;
    if ((st = bert_load_weights(b, f, st_path, cfg_path, info)) != VT_OK) goto fail;
    vt_st_close(f);
    free(text);
    free(cfg_path);
    free(st_path);
    return b;
fail:
    vt_st_close(f);
    vt_bert_free(b);
    free(text);
    free(cfg_path);
    free(st_path);
    return NULL;
}

vt_bert *vt_bert_load(const char *dir, int arch, int num_labels, uint64_t seed) {
    return vt_bert_load_ex(dir, arch, num_labels, seed, NULL);
}

vt_status vt_bert_save(const vt_bert *b, const char *dir) {
    if (!b) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_save: no model given");
    if (!dir) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_save: no directory given");
    vt_status st = vt_mkdir_p(dir);
    if (st != VT_OK) return st;
    size_t n = b->n_params, m = 0;
    bool int8 = b->precision == VT_PRECISION_INT8;
    vt_st_entry *entries = calloc(2 * n + 1, sizeof *entries); /* int8: a scale tensor beside each weight */
    char (*names)[112] = calloc(2 * n + 1, sizeof *names);
    char *st_path = join(dir, "model.safetensors"), *cfg_path = join(dir, "config.json");
    if (!entries || !names || !st_path || !cfg_path) {
        st = vt_error(VT_ERR_NOMEM, "out of memory saving %s", dir);
        goto done;
    }
    /* The base model's own names have no prefix; the task models hold it as "bert.", "roberta.", ... */
    const char *base = b->cfg.arch != VT_BERT_MODEL ? bert_family(b->cfg.family)->base : "";
    for (size_t i = 0; i < n; i++) {
        const vt_bert_param *p = &b->table[i];
        const int8_t *codes;
        const float *scale;
        snprintf(names[m], sizeof names[m], "%s%s", is_head(b, p->name) ? "" : base, p->name);
        if (int8 && bert_int8_param(b, p, &codes, &scale)) {
            entries[m] = (vt_st_entry){.name = names[m], .dtype = VT_ST_I8, .ndim = 2, .shape = p->shape, .data = codes};
            m++;
            snprintf(names[m], sizeof names[m], "%s%s_scale", is_head(b, p->name) ? "" : base, p->name);
            entries[m] = (vt_st_entry){.name = names[m], .dtype = VT_ST_F32, .ndim = 1, .shape = p->shape, .data = scale};
        } else {
            entries[m] = (vt_st_entry){.name = names[m], .dtype = VT_ST_F32, .ndim = p->ndim, .shape = p->shape,
                                       .data = p->data};
        }
        m++;
    }
    static const char *const meta[] = {"format", "pt"};
    if ((st = vt_st_write(st_path, entries, m, meta, 1)) != VT_OK) goto done;
    st = bert_config_write_ex(cfg_path, &b->cfg, int8 ? bert_int8_config_json() : NULL);
done:
    free(entries);
    free(names);
    free(st_path);
    free(cfg_path);
    return st;
}

/* tokenizer_config.json text (`data`, NULL when the source has none) with the
 * keys of `overrides` replaced or added, into *out (malloc'd). */
static vt_status override_config(const char *file, const char *data, size_t len, const char *overrides, char **out) {
    cJSON *root = data ? cJSON_ParseWithLength(data, len) : cJSON_CreateObject();
    cJSON *extra = cJSON_Parse(overrides);
    vt_status st = VT_OK;
    if (!cJSON_IsObject(root)) st = vt_error(VT_ERR_FORMAT, "%s: not a JSON object", file);
    else if (!cJSON_IsObject(extra)) st = vt_error(VT_ERR_INVALID_ARG, "tokenizer config overrides: not a JSON object");
    for (cJSON *e = extra ? extra->child : NULL; st == VT_OK && e; e = e->next) {
        cJSON *copy = cJSON_Duplicate(e, true);
        cJSON_DeleteItemFromObjectCaseSensitive(root, e->string); /* replaced, or added */
        if (!copy || !cJSON_AddItemToObject(root, e->string, copy)) {
            cJSON_Delete(copy);
            st = vt_error(VT_ERR_NOMEM, "out of memory writing %s", file);
        }
    }
    if (st == VT_OK && !(*out = cJSON_Print(root))) st = vt_error(VT_ERR_NOMEM, "out of memory writing %s", file);
    cJSON_Delete(root);
    cJSON_Delete(extra);
    return st;
}

vt_status vt_bert_copy_tokenizer_files(const char *src_dir, const char *dst_dir, const char *config_overrides) {
    static const char *const FILES[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "added_tokens.json", "vocab.json",
                                        "merges.txt", "sentencepiece.bpe.model"};
    if (!src_dir || !dst_dir) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_copy_tokenizer_files: no directory given");
    vt_status st = vt_mkdir_p(dst_dir);
    for (size_t i = 0; i < sizeof FILES / sizeof *FILES && st == VT_OK; i++) {
        char *from = join(src_dir, FILES[i]), *to = join(dst_dir, FILES[i]);
        char *data = NULL, *merged = NULL;
        size_t len = 0;
        bool present = from && is_file(from), is_config = !strcmp(FILES[i], "tokenizer_config.json");
        if (!from || !to) st = vt_error(VT_ERR_NOMEM, "out of memory copying %s", FILES[i]);
        else if (present) st = vt_read_file(from, MAX_TOKENIZER_BYTES, &data, &len);
        if (st == VT_OK && is_config && config_overrides) {
            st = override_config(from, data, len, config_overrides, &merged);
            if (st == VT_OK) st = vt_write_file_atomic(to, merged, strlen(merged));
        } else if (st == VT_OK && present) {
            st = vt_write_file_atomic(to, data, len);
        }
        free(merged);
        free(data);
        free(from);
        free(to);
    }
    return st == VT_OK ? vt_tok_complete_dir(dst_dir) : st; /* both tokenizer.json and vocab.txt */
}
