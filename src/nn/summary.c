/* Model.summary(): the Keras table of layers, output shapes and parameter counts. */
#include <string.h>

#include "core/format.h"
#include "nn/graph.h"

#define WIDTH 110

static void rule(FILE *out, char c) { vt_print_rule(out, c, WIDTH); }


/* Keras' readable_memory_size of float32 parameters: "44.11 MB". */
static const char *memory_size(int64_t params, char *buf, size_t size) {
    static const char *const UNITS[] = {"B", "KB", "MB", "GB", "TB"};
    double bytes = 4.0 * (double)params;
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, "%.2f %s", bytes, UNITS[u]);
    return buf;
}

static int64_t node_params(const vt_node *n) {
    int64_t total = 0;
    for (int p = 0; p < n->n_params; p++) {
        vt_tensor t = vt_tensor_view(NULL, VT_F32, n->params[p].ndim, n->params[p].shape);
        total += vt_tensor_numel(&t);
    }
    return total;
}

/* A chain (each layer fed only by the one before) needs no "Connected to". */
static bool is_chain(const vt_model *m) {
    for (int i = 1; i < m->n_order; i++)
        if (m->order[i]->n_inputs != 1 || m->order[i]->inputs[0] != m->order[i - 1]) return false;
    return true;
}

void vt_model_summary(const vt_model *m, FILE *out) {
    bool connected = !is_chain(m);
    char shape[64], count[32], cell[2 * VT_NAME_MAX], mem[32];
    fprintf(out, "Model: \"%s\"\n", m->name);
    rule(out, '_');
    fprintf(out, " %-44s%-24s%12s", "Layer (type)", "Output Shape", "Param #");
    fprintf(out, connected ? "   Connected to\n" : "\n");
    rule(out, '=');
    for (int i = 0; i < m->n_order; i++) {
        const vt_node *n = m->order[i];
        snprintf(cell, sizeof cell, "%s (%s)", n->name, n->vt->type);
        fprintf(out, " %-44s%-24s%12s", cell, vt_node_shape_str(n, shape, sizeof shape),
                vt_format_count(node_params(n), count, sizeof count));
        if (connected) {
            fputs("   ", out);
            if (!n->n_inputs) fputs("-", out);
            for (int k = 0; k < n->n_inputs; k++) fprintf(out, "%s%s", k ? ", " : "", n->inputs[k]->name);
        }
        fputc('\n', out);
    }
    rule(out, '=');
    int64_t total = vt_model_param_count(m, false), trainable = vt_model_param_count(m, true);
    fprintf(out, "Total params: %s (%s)\n", vt_format_count(total, count, sizeof count), memory_size(total, mem, sizeof mem));
    fprintf(out, "Trainable params: %s (%s)\n", vt_format_count(trainable, count, sizeof count),
            memory_size(trainable, mem, sizeof mem));
    fprintf(out, "Non-trainable params: %s (%s)\n", vt_format_count(total - trainable, count, sizeof count),
            memory_size(total - trainable, mem, sizeof mem));
    rule(out, '_');
}
