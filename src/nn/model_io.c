/* Saving and loading models: architecture as JSON, weights as safetensors. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/graph.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

#define MODEL_FORMAT "verto.model"
#define MODEL_FORMAT_VERSION 1
#define MAX_ARCH_BYTES (64u << 20)

static void join_path(char *out, size_t size, const char *dir, const char *file) { snprintf(out, size, "%s/%s", dir, file); }

static cJSON *architecture_json(const vt_model *m) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", MODEL_FORMAT);
    cJSON_AddNumberToObject(root, "version", MODEL_FORMAT_VERSION);
    cJSON_AddStringToObject(root, "name", m->name);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; i < m->n_order; i++) {
        const vt_node *n = m->order[i];
        cJSON *layer = cJSON_CreateObject();
        cJSON_AddStringToObject(layer, "name", n->name);
        cJSON_AddStringToObject(layer, "type", n->vt->type);
        cJSON_AddBoolToObject(layer, "trainable", n->trainable);
        cJSON *ins = cJSON_AddArrayToObject(layer, "inputs");
        for (int k = 0; k < n->n_inputs; k++) cJSON_AddItemToArray(ins, cJSON_CreateString(n->inputs[k]->name));
        n->vt->save_config(n, cJSON_AddObjectToObject(layer, "config"));
        cJSON_AddItemToArray(layers, layer);
    }
    cJSON *ins = cJSON_AddArrayToObject(root, "inputs");
    for (int i = 0; i < m->n_inputs; i++) cJSON_AddItemToArray(ins, cJSON_CreateString(m->inputs[i]->name));
    cJSON_AddStringToObject(root, "output", m->output->name);
    return root;
}

/* Both files are staged complete under "<name>.new" (each written atomically)
 * and only then renamed into place, so a failed save changes neither. */
vt_status vt_model_save(const vt_model *m, const char *dir) {
    vt_status st = vt_mkdir_p(dir);
    if (st != VT_OK) return st;
    char arch_new[4200], arch_path[4096], weights_new[4200], weights_path[4096];
    join_path(arch_path, sizeof arch_path, dir, "model.json");
    join_path(weights_path, sizeof weights_path, dir, "model.safetensors");
    snprintf(arch_new, sizeof arch_new, "%s.new", arch_path);
    snprintf(weights_new, sizeof weights_new, "%s.new", weights_path);

    vt_st_entry *entries = calloc(m->n_infos ? m->n_infos : 1, sizeof *entries);
    if (!entries) return vt_error(VT_ERR_NOMEM, "out of memory saving '%s'", m->name);
    size_t k = 0;
    for (int i = 0; i < m->n_order; i++) {
        const vt_node *n = m->order[i];
        for (int p = 0; p < n->n_params; p++, k++)
            entries[k] = (vt_st_entry){.name = m->infos[k].name, .dtype = VT_ST_F32, .ndim = n->params[p].ndim,
                                       .shape = n->params[p].shape, .data = n->params[p].data};
    }
    static const char *const META[] = {"format", MODEL_FORMAT};
    st = vt_st_write(weights_new, entries, m->n_infos, META, 1);
    free(entries);
    if (st != VT_OK) return st;

    cJSON *root = architecture_json(m);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    st = text ? vt_write_file_atomic(arch_new, text, strlen(text))
              : vt_error(VT_ERR_NOMEM, "out of memory writing the architecture of '%s'", m->name);
    free(text);
    if (st == VT_OK && rename(weights_new, weights_path) != 0)
        st = vt_error(VT_ERR_IO, "cannot rename %s: %s", weights_new, strerror(errno));
    if (st == VT_OK && rename(arch_new, arch_path) != 0)
        st = vt_error(VT_ERR_IO, "cannot rename %s: %s", arch_new, strerror(errno));
    if (st != VT_OK) {
        unlink(weights_new);
        unlink(arch_new);
    }
    return st;
}

vt_status vt_model_load_weights(vt_model *m, const char *path) {
    vt_st_file *f = vt_st_open(path);
    if (!f) return vt_last_status();
    vt_status st = VT_OK;
    size_t k = 0;
    for (int i = 0; i < m->n_order && st == VT_OK; i++) {
        vt_node *n = m->order[i];
        for (int p = 0; p < n->n_params && st == VT_OK; p++, k++) {
            const char *name = m->infos[k].name;
            const vt_st_tensor *t = vt_st_find(f, name);
            vt_param_slot *slot = &n->params[p];
            char want[64], got[64];
            if (!t) {
                st = vt_error(VT_ERR_FORMAT, "%s: tensor '%s' is missing (weights of another architecture?)", path, name);
            } else if (t->ndim != slot->ndim || memcmp(t->shape, slot->shape, (size_t)slot->ndim * sizeof *slot->shape)) {
                st = vt_error(VT_ERR_FORMAT, "%s: tensor '%s' has shape %s, the model needs %s", path, name,
                              vt_shape_str(t->ndim, t->shape, got, sizeof got),
                              vt_shape_str(slot->ndim, slot->shape, want, sizeof want));
            } else if (vt_st_to_f32(t, slot->data) != VT_OK) {
                st = vt_last_status();
            }
        }
    }
    for (size_t i = 0; i < vt_st_count(f) && st == VT_OK; i++) {
        const char *name = vt_st_at(f, i)->name;
        bool known = false;
        for (size_t j = 0; j < m->n_infos && !known; j++) known = !strcmp(m->infos[j].name, name);
        if (!known) st = vt_error(VT_ERR_FORMAT, "%s: unexpected tensor '%s' (weights of another architecture?)", path, name);
    }
    vt_st_close(f);
    return st;
}

/* ---- loading the architecture ---- */

typedef struct arch_reader {
    const char *path;
    const char *layer; /* for messages */
    cJSON *config;
    vt_status st;
} arch_reader;

static bool fail(arch_reader *r, const char *fmt, const char *what) {
    if (r->st == VT_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, fmt, what);
        r->st = vt_error(VT_ERR_FORMAT, "%s: layer '%s': %s", r->path, r->layer, msg);
    }
    return false;
}

static double number(arch_reader *r, const char *key, double lo, double hi, bool integral) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(r->config, key);
    if (!cJSON_IsNumber(v)) return fail(r, "config '%s' is missing or not a number", key), 0;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || (integral && d != floor(d))) return fail(r, "config '%s' is out of range", key), 0;
    return d;
}

static bool boolean(arch_reader *r, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(r->config, key);
    if (!cJSON_IsBool(v)) return fail(r, "config '%s' is missing or not true/false", key);
    return cJSON_IsTrue(v);
}

/* Every key of the config must be one the layer type knows. */
static void check_keys(arch_reader *r, const char *const *known) {
    cJSON *item;
    cJSON_ArrayForEach(item, r->config) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++) ok = !strcmp(known[i], item->string);
        if (!ok) fail(r, "unknown config key '%s'", item->string);
    }
}

static vt_node *find_node(vt_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->name, name)) return g->nodes[i];
    return NULL;
}

static vt_node *build_layer(arch_reader *r, vt_graph *g, const char *type, const char *name, vt_node **in, int n_in) {
    if (!strcmp(type, "InputLayer")) {
        check_keys(r, (const char *const[]){"dtype", "shape", NULL});
        cJSON *dtype = cJSON_GetObjectItemCaseSensitive(r->config, "dtype");
        cJSON *shape = cJSON_GetObjectItemCaseSensitive(r->config, "shape");
        int64_t dims[VT_MAX_DIMS];
        int nd = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
        if (!cJSON_IsString(dtype) || (strcmp(dtype->valuestring, "int32") && strcmp(dtype->valuestring, "float32")))
            return fail(r, "config '%s' must be int32 or float32", "dtype"), NULL;
        if (nd < 0 || nd >= VT_MAX_DIMS) return fail(r, "config '%s' must be a short array", "shape"), NULL;
        for (int i = 0; i < nd; i++) {
            cJSON *d = cJSON_GetArrayItem(shape, i);
            if (!cJSON_IsNumber(d) || d->valuedouble != floor(d->valuedouble) || d->valuedouble < -1 || d->valuedouble > 1e12)
                return fail(r, "config '%s' holds a bad dimension", "shape"), NULL;
            dims[i] = (int64_t)d->valuedouble;
        }
        if (n_in) return fail(r, "%s layers take no inputs", type), NULL;
        return r->st ? NULL : vt_input(g, strcmp(dtype->valuestring, "int32") ? VT_F32 : VT_I32, nd, dims, name);
    }
    if (!strcmp(type, "Dense")) {
        check_keys(r, (const char *const[]){"units", "activation", NULL});
        cJSON *act = cJSON_GetObjectItemCaseSensitive(r->config, "activation");
        vt_activation a;
        if (!cJSON_IsString(act) || !vt_activation_parse(act->valuestring, &a))
            return fail(r, "config '%s' is not a known activation", "activation"), NULL;
        int64_t units = (int64_t)number(r, "units", 1, 1e9, true);
        return r->st || n_in != 1 ? NULL : vt_dense(in[0], units, a, name);
    }
    if (!strcmp(type, "Embedding")) {
        check_keys(r, (const char *const[]){"input_dim", "output_dim", NULL});
        int64_t vocab = (int64_t)number(r, "input_dim", 1, INT32_MAX, true), dim = (int64_t)number(r, "output_dim", 1, 1e9, true);
        return r->st || n_in != 1 ? NULL : vt_embedding(in[0], vocab, dim, name);
    }
    if (!strcmp(type, "LayerNormalization")) {
        check_keys(r, (const char *const[]){"epsilon", NULL});
        float eps = (float)number(r, "epsilon", 0, 1, false);
        return r->st || n_in != 1 ? NULL : vt_layer_norm(in[0], eps, name);
    }
    if (!strcmp(type, "Dropout")) {
        check_keys(r, (const char *const[]){"rate", NULL});
        float rate = (float)number(r, "rate", 0, 0.999999, false);
        return r->st || n_in != 1 ? NULL : vt_dropout(in[0], rate, name);
    }
    if (!strcmp(type, "Add")) {
        check_keys(r, (const char *const[]){NULL});
        return r->st || n_in != 2 ? NULL : vt_add(in[0], in[1], name);
    }
    if (!strcmp(type, "MultiHeadAttention")) {
        check_keys(r, (const char *const[]){"num_heads", "key_dim", "value_dim", "dropout", "use_bias", "use_causal_mask",
                                            "has_key", "has_mask", NULL});
        vt_mha_config c = {.num_heads = (int)number(r, "num_heads", 1, 65536, true),
                           .key_dim = (int64_t)number(r, "key_dim", 1, 1e6, true),
                           .value_dim = (int64_t)number(r, "value_dim", 0, 1e6, true),
                           .dropout = (float)number(r, "dropout", 0, 0.999999, false),
                           .no_bias = !boolean(r, "use_bias"),
                           .causal = boolean(r, "use_causal_mask")};
        bool has_key = boolean(r, "has_key"), has_mask = boolean(r, "has_mask");
        if (r->st || n_in != 2 + has_key + has_mask) return NULL;
        return vt_multi_head_attention(in[0], in[1], has_key ? in[2] : NULL, has_mask ? in[2 + has_key] : NULL, &c, name);
    }
    fail(r, "unknown layer type '%s'", type);
    return NULL;
}

/* Builds the graph described by root; returns the model or NULL (error set). */
static vt_model *model_from_json(const char *path, cJSON *root) {
    arch_reader r = {.path = path, .layer = "?"};
    cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    cJSON *output = cJSON_GetObjectItemCaseSensitive(root, "output");
    cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, MODEL_FORMAT)) {
        vt_error(VT_ERR_FORMAT, "%s: not a verto model file (format is not \"%s\")", path, MODEL_FORMAT);
        return NULL;
    }
    if (!cJSON_IsNumber(version) || version->valuedouble != MODEL_FORMAT_VERSION) {
        vt_error(VT_ERR_UNSUPPORTED, "%s: model format version %g is not %d", path,
                 cJSON_IsNumber(version) ? version->valuedouble : -1.0, MODEL_FORMAT_VERSION);
        return NULL;
    }
    if (!cJSON_IsArray(layers) || !cJSON_IsArray(inputs) || !cJSON_IsString(output) || !cJSON_IsString(name)) {
        vt_error(VT_ERR_FORMAT, "%s: 'name', 'layers', 'inputs' and 'output' are required", path);
        return NULL;
    }
    vt_graph *g = vt_graph_new();
    if (!g) return NULL;
    cJSON *layer;
    cJSON_ArrayForEach(layer, layers) {
        cJSON *lname = cJSON_GetObjectItemCaseSensitive(layer, "name");
        cJSON *type = cJSON_GetObjectItemCaseSensitive(layer, "type");
        cJSON *lin = cJSON_GetObjectItemCaseSensitive(layer, "inputs");
        cJSON *trainable = cJSON_GetObjectItemCaseSensitive(layer, "trainable");
        r.config = cJSON_GetObjectItemCaseSensitive(layer, "config");
        r.layer = cJSON_IsString(lname) ? lname->valuestring : "?";
        if (!cJSON_IsString(lname) || !cJSON_IsString(type) || !cJSON_IsArray(lin) || !cJSON_IsObject(r.config) ||
            !cJSON_IsBool(trainable) || cJSON_GetArraySize(lin) > VT_NODE_MAX_INPUTS) {
            fail(&r, "needs %s", "'name', 'type', 'trainable', 'inputs' (at most 4) and 'config'");
            break;
        }
        vt_node *in[VT_NODE_MAX_INPUTS];
        int n_in = 0;
        cJSON *ref;
        cJSON_ArrayForEach(ref, lin) {
            in[n_in] = cJSON_IsString(ref) ? find_node(g, ref->valuestring) : NULL;
            if (!in[n_in]) fail(&r, "input '%s' is not an earlier layer", cJSON_IsString(ref) ? ref->valuestring : "?");
            n_in++;
        }
        vt_node *n = r.st ? NULL : build_layer(&r, g, type->valuestring, lname->valuestring, in, n_in);
        if (!n) {
            if (r.st == VT_OK) fail(&r, "cannot be built: %s", vt_last_error());
            break;
        }
        n->trainable = cJSON_IsTrue(trainable);
    }
    vt_node *model_inputs[VT_NODE_MAX_INPUTS];
    int n_inputs = 0;
    cJSON *ref;
    cJSON_ArrayForEach(ref, inputs) {
        if (r.st || n_inputs == VT_NODE_MAX_INPUTS) break;
        model_inputs[n_inputs] = cJSON_IsString(ref) ? find_node(g, ref->valuestring) : NULL;
        if (!model_inputs[n_inputs++]) {
            r.layer = "(model inputs)";
            fail(&r, "input '%s' is not a layer", cJSON_IsString(ref) ? ref->valuestring : "?");
        }
    }
    vt_node *out = r.st ? NULL : find_node(g, output->valuestring);
    if (r.st == VT_OK && !out) {
        r.layer = "(model output)";
        fail(&r, "output '%s' is not a layer", output->valuestring);
    }
    if (r.st != VT_OK) {
        vt_graph_free(g);
        return NULL;
    }
    return vt_model_new(g, n_inputs, model_inputs, out, name->valuestring);
}

vt_model *vt_model_load(const char *dir) {
    char path[4096];
    join_path(path, sizeof path, dir, "model.json");
    char *text;
    size_t len;
    if (vt_read_file(path, MAX_ARCH_BYTES, &text, &len) != VT_OK) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        vt_error(VT_ERR_FORMAT, "%s: not a JSON object", path);
        return NULL;
    }
    vt_model *m = model_from_json(path, root);
    cJSON_Delete(root);
    if (!m) return NULL;
    join_path(path, sizeof path, dir, "model.safetensors");
    if (vt_model_load_weights(m, path) != VT_OK) {
        vt_model_free(m);
        return NULL;
    }
    /* Frozen layers are restored with the architecture; refresh the infos. */
    for (int i = 0; i < m->n_order; i++)
        if (!m->order[i]->trainable) vt_model_set_trainable(m, m->order[i]->name, false);
    return m;
}
