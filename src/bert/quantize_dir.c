/* verto quantize's library half: a model directory in, its int8 twin out. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert/bert_internal.h"

/* Whether dir has tokenizer files to copy (a bare model directory has none). */
static bool has_tokenizer(const char *dir) {
    static const char *const FILES[] = {"tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof FILES / sizeof *FILES; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, FILES[i]);
        if (!access(path, F_OK)) return true;
    }
    return false;
}

vt_status vt_bert_quantize_dir(const char *dir, const char *out_dir) {
    if (!dir || !out_dir) return vt_error(VT_ERR_INVALID_ARG, "vt_bert_quantize_dir: a model and an output directory are needed");
    char a[PATH_MAX], b[PATH_MAX];
    if (realpath(dir, a) && realpath(out_dir, b) && !strcmp(a, b))
        return vt_error(VT_ERR_INVALID_ARG, "quantize: the output directory %s is the model's own; write a new one",
                        out_dir);
    vt_bert *m = vt_bert_load(dir, -1, 0, 0);
    if (!m) return vt_last_status();
    vt_status st = vt_bert_set_precision(m, VT_PRECISION_INT8); /* keeps an int8 directory's own codes */
    if (st == VT_OK) st = vt_bert_save(m, out_dir);
    if (st == VT_OK && has_tokenizer(dir)) st = vt_bert_copy_tokenizer_files(dir, out_dir, NULL);
    vt_bert_free(m);
    return st;
}
