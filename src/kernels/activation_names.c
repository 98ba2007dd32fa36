/* The names of the activations, as Keras and Hugging Face configs spell them. */
#include <string.h>

#include "verto/kernels.h"

static const struct {
    const char *name;
    vt_activation act;
} k_names[] = {
    {"linear", VT_ACT_LINEAR},        {"relu", VT_ACT_RELU},       {"gelu", VT_ACT_GELU},
    {"gelu_tanh", VT_ACT_GELU_TANH},  {"tanh", VT_ACT_TANH},       {"sigmoid", VT_ACT_SIGMOID},
    {"softmax", VT_ACT_SOFTMAX},
    /* aliases accepted when parsing (Hugging Face config names) */
    {"gelu_new", VT_ACT_GELU_TANH},   {"gelu_pytorch_tanh", VT_ACT_GELU_TANH},
    {"gelu_fast", VT_ACT_GELU_TANH},  {"identity", VT_ACT_LINEAR},
};

const char *vt_activation_name(vt_activation act) {
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (k_names[i].act == act) return k_names[i].name;
    return "unknown";
}

bool vt_activation_parse(const char *name, vt_activation *out) {
    if (!name) return false;
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (strcmp(k_names[i].name, name) == 0) {
            if (out) *out = k_names[i].act;
            return true;
        }
    return false;
}
