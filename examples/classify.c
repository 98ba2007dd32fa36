/* Classifies texts with a fine-tuned model directory: classify DIR TEXT... */
#include <stdio.h>
#include <string.h>
#include "verto/verto.h"

int main(int argc, char **argv) {
    if (argc < 3) return fprintf(stderr, "usage: %s MODEL_DIR TEXT...\n", argv[0]), 2;
    vt_task_options o;
    vt_task_options_default(&o);
    o.kind = VT_TASK_SEQUENCE_CLASSIFICATION;
    vt_task *task = vt_task_load(argv[1], &o);
    vt_status st = task ? VT_OK : vt_last_status();
    for (int i = 2; st == VT_OK && i < argc; i++) {
        vt_text_input in = {argv[i], strlen(argv[i]), NULL, 0};
        double p[VT_BERT_MAX_LABELS];
        if ((st = vt_task_classify(task, &in, 1, p, NULL)) != VT_OK) break;
        const vt_bert_config *c = vt_task_config(task);
        int best = 0;
        for (int k = 1; k < c->num_labels; k++) best = p[k] > p[best] ? k : best;
        printf("%s\t%.4f\t%s\n", c->id2label[best], p[best], argv[i]);
    }
    if (st != VT_OK) fprintf(stderr, "error: %s\n", vt_last_error());
    vt_task_free(task);
    return st == VT_OK ? 0 : 1;
}
