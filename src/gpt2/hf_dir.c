/* GPT-2 Hugging Face directories: config.json + model.safetensors read as
 * GPT2LMHeadModel or GPT2Model saved them, and written as
 * GPT2LMHeadModel.save_pretrained writes them. Conv1D weights are (in, out)
 * in the file and (out, in) in verto: transposed both ways. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpt2/gpt2_internal.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

#define MAX_CONFIG_BYTES (64u << 20)
#define PREFIX "transformer."

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static bool float_dtype(vt_st_dtype d) { return d == VT_ST_F32 || d == VT_ST_F16 || d == VT_ST_BF16 || d == VT_ST_F64; }

/* dst (cols, rows) = src (rows, cols) transposed. */
static void transpose(const float *src, float *dst, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++) dst[k * rows + r] = src[r * cols + k];
}

/* The file's shape of parameter i: a Conv1D weight's (in, out). */
static void file_shape(const vt_gpt2 *m, size_t i, int64_t shape[2]) {
    const vt_gpt2_param *p = &m->table[i];
    bool t = m->conv1d[i];
    shape[0] = t ? p->shape[1] : p->shape[0];
    shape[1] = t ? p->shape[0] : p->shape[1];
}

static vt_status load_tensor(vt_gpt2 *m, size_t i, const vt_st_tensor *t, const char *file, const char *cfg_path) {
    const vt_gpt2_param *p = &m->table[i];
    int64_t want[2];
    file_shape(m, i, want);
    if (!float_dtype(t->dtype))
        return vt_error(VT_ERR_FORMAT, "%s: tensor \"%s\" has dtype %s; parameters must be F32, F16 or BF16", file,
                        t->name, vt_st_dtype_name(t->dtype));
    if (t->ndim != p->ndim || t->shape[0] != want[0] || (p->ndim == 2 && t->shape[1] != want[1])) {
        char got[64] = "", exp[64];
        for (int d = 0; d < t->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        if (p->ndim == 2) snprintf(exp, sizeof exp, "%lld, %lld", (long long)want[0], (long long)want[1]);
        else snprintf(exp, sizeof exp, "%lld", (long long)want[0]);
        return vt_error(VT_ERR_SHAPE, "%s: tensor \"%s\" has shape [%s] but %s gives [%s] (does the config match the weights?)",
                        file, t->name, got, cfg_path, exp);
    }
    if (!m->conv1d[i]) {
        vt_status st = vt_st_to_f32(t, p->data);
        return st == VT_OK ? VT_OK : vt_error(st, "%s: %s", file, vt_last_error());
    }
    float *tmp = malloc((size_t)t->numel * sizeof *tmp);
    if (!tmp) return vt_error(VT_ERR_NOMEM, "%s: out of memory reading tensor \"%s\"", file, t->name);
    vt_status st = vt_st_to_f32(t, tmp);
    if (st == VT_OK) transpose(tmp, p->data, want[0], want[1]);
    else st = vt_error(st, "%s: %s", file, vt_last_error());
    free(tmp);
    return st;
}

/* A stored lm_head must be wte (transformers ties them; verto has no other). */
static vt_status check_lm_head(const vt_gpt2 *m, const vt_st_tensor *t, const char *file) {
    const vt_gpt2_config *c = &m->cfg;
    if (!float_dtype(t->dtype) || t->ndim != 2 || t->shape[0] != c->vocab_size || t->shape[1] != c->n_embd)
        return vt_error(VT_ERR_SHAPE, "%s: tensor \"%s\" is not a (%lld, %lld) float matrix", file, t->name,
                        (long long)c->vocab_size, (long long)c->n_embd);
    float *tmp = malloc((size_t)t->numel * sizeof *tmp);
    if (!tmp) return vt_error(VT_ERR_NOMEM, "%s: out of memory reading tensor \"%s\"", file, t->name);
    vt_status st = vt_st_to_f32(t, tmp);
    if (st == VT_OK && memcmp(tmp, m->w.wte, (size_t)t->numel * sizeof *tmp))
        st = vt_error(VT_ERR_UNSUPPORTED, "%s: tensor \"%s\" differs from wte; verto ties the lm_head to wte", file,
                      t->name);
    free(tmp);
    return st;
}

static vt_status load_weights(vt_gpt2 *m, const vt_st_file *f, const char *file, const char *cfg_path) {
    size_t np = m->n_params, nt = vt_st_count(f);
    const vt_st_tensor **src = calloc(np, sizeof *src), *lm = NULL;
    if (!src) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    vt_status st = VT_OK;
    for (size_t i = 0; i < nt && st == VT_OK; i++) {
        const vt_st_tensor *t = vt_st_at(f, i);
        const char *name = strncmp(t->name, PREFIX, strlen(PREFIX)) ? t->name : t->name + strlen(PREFIX);
        if (!strcmp(t->name, "lm_head.weight")) {
            lm = t;
            continue;
        }
        if (ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias")) continue; /* old mask buffers */
        vt_gpt2_param *p = vt_gpt2_param_find(m, name);
        if (!p) {
            st = vt_error(VT_ERR_FORMAT, "%s: tensor \"%.200s\" is not a parameter of the GPT-2 that %s describes "
                          "(n_layer %lld); is the file from another model?", file, t->name, cfg_path,
                          (long long)m->cfg.n_layer);
            break;
        }
        size_t k = (size_t)(p - m->table);
        if (src[k])
            st = vt_error(VT_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" are both parameter %s", file, src[k]->name,
                          t->name, p->name);
        src[k] = t;
    }
    for (size_t k = 0; k < np && st == VT_OK; k++)
        st = src[k] ? load_tensor(m, k, src[k], file, cfg_path)
                    : vt_error(VT_ERR_FORMAT, "%s: tensor \"" PREFIX "%s\" is missing (looked for it with and without "
                               "\"" PREFIX "\")", file, m->table[k].name);
    if (st == VT_OK && lm) st = check_lm_head(m, lm, file);
    free(src);
    return st;
}

vt_gpt2 *vt_gpt2_load(const char *dir) {
    if (!dir) {
        vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_load: no directory given");
        return NULL;
    }
    char *cfg_path = join(dir, "config.json"), *st_path = join(dir, "model.safetensors"), *text = NULL;
    vt_gpt2 *m = NULL;
    vt_st_file *f = NULL;
    size_t len = 0;
    vt_gpt2_config c;
    struct stat sb;
    if (!cfg_path || !st_path) {
        vt_error(VT_ERR_NOMEM, "out of memory loading %s", dir);
        goto fail;
    }
    if (vt_read_file(cfg_path, MAX_CONFIG_BYTES, &text, &len) != VT_OK) goto fail;
    if (vt_gpt2_config_parse(text, len, cfg_path, &c) != VT_OK) goto fail;
    if (stat(st_path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        vt_error(VT_ERR_IO, "%s: not found (a model directory holds config.json and model.safetensors)", st_path);
        goto fail;
    }
    if (!(m = gpt2_alloc(&c))) goto fail; /* every parameter is read below (or the load fails) */
    if (!(f = vt_st_open(st_path))) goto fail;
    if (load_weights(m, f, st_path, cfg_path) != VT_OK) goto fail;
    vt_st_close(f);
    free(text);
    free(cfg_path);
    free(st_path);
    return m;
fail:
    vt_st_close(f);
    vt_gpt2_free(m);
    free(text);
    free(cfg_path);
    free(st_path);
    return NULL;
}

vt_status vt_gpt2_save(const vt_gpt2 *m, const char *dir) {
    if (!m || !dir) return vt_error(VT_ERR_INVALID_ARG, "vt_gpt2_save: no model or directory given");
    vt_status st = vt_mkdir_p(dir);
    if (st != VT_OK) return st;
    size_t n = m->n_params, n_conv = 0;
    for (size_t i = 0; i < n; i++) n_conv += m->conv1d[i];
    vt_st_entry *entries = calloc(n, sizeof *entries);
    char (*names)[sizeof m->table[0].name + 16] = calloc(n, sizeof *names);
    int64_t (*shapes)[2] = calloc(n, sizeof *shapes);
    float **transposed = calloc(n_conv + 1, sizeof *transposed);
    char *st_path = join(dir, "model.safetensors"), *cfg_path = join(dir, "config.json");
    size_t t = 0;
    if (!entries || !names || !shapes || !transposed || !st_path || !cfg_path) {
        st = vt_error(VT_ERR_NOMEM, "out of memory saving %s", dir);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const vt_gpt2_param *p = &m->table[i];
        snprintf(names[i], sizeof names[i], PREFIX "%s", p->name);
        file_shape(m, i, shapes[i]);
        const float *data = p->data;
        if (m->conv1d[i]) { /* (out, in) -> the file's (in, out) */
            if (!(transposed[t] = malloc((size_t)(p->shape[0] * p->shape[1]) * sizeof(float)))) {
                st = vt_error(VT_ERR_NOMEM, "out of memory saving %s", dir);
                goto done;
            }
            transpose(p->data, transposed[t], p->shape[0], p->shape[1]);
            data = transposed[t++];
        }
        entries[i] = (vt_st_entry){.name = names[i], .dtype = VT_ST_F32, .ndim = p->ndim, .shape = shapes[i],
                                   .data = data};
    }
    static const char *const meta[] = {"format", "pt"};
    if ((st = vt_st_write(st_path, entries, n, meta, 1)) == VT_OK) st = vt_gpt2_config_write(cfg_path, &m->cfg);
done:
    for (size_t i = 0; transposed && i < t; i++) free(transposed[i]);
    free(transposed);
    free(entries);
    free(names);
    free(shapes);
    free(st_path);
    free(cfg_path);
    return st;
}
