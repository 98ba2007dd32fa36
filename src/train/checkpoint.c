/* Checkpoints: model directory + optimizer state, assembled then renamed (see verto/checkpoint.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verto/checkpoint.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"

#define STATE_FILE "trainer_state.safetensors"
#define STATE_FORMAT "verto.trainer"
#define STATE_VERSION "1"
#define PREFIX "checkpoint-"

/* Removes a directory and the plain files in it (checkpoints hold no subdirectories). */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static vt_status write_bert(const void *b, const char *dir) { return vt_bert_save(b, dir); }

vt_status vt_ckpt_save(const char *out_dir, int64_t step, const vt_bert *b, vt_optimizer *o, const char *tokenizer_dir,
                       const char *tokenizer_config, const char *args_json) {
    int64_t n;
    vt_bert_params((vt_bert *)b, &n);
    return vt_ckpt_save_model(out_dir, step, write_bert, b, o, n, tokenizer_dir, tokenizer_config, args_json);
}

vt_status vt_ckpt_save_model(const char *out_dir, int64_t step, vt_ckpt_write_model_fn write_model, const void *model,
                             vt_optimizer *o, int64_t n_floats, const char *tokenizer_dir,
                             const char *tokenizer_config, const char *args_json) {
    char final_dir[4096], tmp_dir[4200], path[4300], step_text[32];
    snprintf(final_dir, sizeof final_dir, "%s/" PREFIX "%" PRId64, out_dir, step);
    snprintf(tmp_dir, sizeof tmp_dir, "%s.tmp", final_dir);
    remove_tree(tmp_dir); /* leftovers of an interrupted save */
    vt_status st = write_model(model, tmp_dir);
    if (st == VT_OK && tokenizer_dir) st = vt_bert_copy_tokenizer_files(tokenizer_dir, tmp_dir, tokenizer_config);
    if (st == VT_OK) {
        int64_t n = n_floats;
        float *m = vt_optimizer_state(o, 0), *v = vt_optimizer_state(o, 1);
        vt_st_entry entries[2];
        size_t k = 0;
        if (m) entries[k++] = (vt_st_entry){"optimizer.m", VT_ST_F32, 1, &n, m};
        if (v) entries[k++] = (vt_st_entry){"optimizer.v", VT_ST_F32, 1, &n, v};
        snprintf(step_text, sizeof step_text, "%" PRId64, step);
        const char *meta[] = {"format", STATE_FORMAT, "version", STATE_VERSION, "step", step_text,
                              "args", args_json ? args_json : "{}"};
        snprintf(path, sizeof path, "%s/" STATE_FILE, tmp_dir);
        st = vt_st_write(path, entries, k, meta, 4);
    }
    if (st == VT_OK) {
        remove_tree(final_dir); /* a checkpoint of the same step from an earlier run */
        if (rename(tmp_dir, final_dir) != 0)
            st = vt_error(VT_ERR_IO, "cannot rename %s to %s: %s", tmp_dir, final_dir, strerror(errno));
        else
            sync_dir(out_dir);
    }
    if (st != VT_OK) remove_tree(tmp_dir);
    return st;
}

vt_status vt_ckpt_load_state(const char *dir, vt_optimizer *o, int64_t n_floats, int64_t *step, char **args_json) {
    char path[4200];
    snprintf(path, sizeof path, "%s/" STATE_FILE, dir);
    vt_st_file *f = vt_st_open(path);
    if (!f) return vt_last_status();
    vt_status st = VT_OK;
    const char *format = vt_st_metadata(f, "format"), *version = vt_st_metadata(f, "version");
    const char *step_text = vt_st_metadata(f, "step"), *args = vt_st_metadata(f, "args");
    char *end = NULL;
    long long s = step_text ? strtoll(step_text, &end, 10) : -1;
    if (!format || strcmp(format, STATE_FORMAT) || !version || strcmp(version, STATE_VERSION))
        st = vt_error(VT_ERR_FORMAT, "%s: not a verto trainer state of version " STATE_VERSION, path);
    else if (!step_text || *end || s < 0)
        st = vt_error(VT_ERR_FORMAT, "%s: metadata 'step' is missing or not a count", path);
    static const char *const NAMES[2] = {"optimizer.m", "optimizer.v"};
    for (int which = 0; which < 2 && st == VT_OK; which++) {
        float *buf = vt_optimizer_state(o, which);
        const vt_st_tensor *t = vt_st_find(f, NAMES[which]);
        if (!buf && !t) continue;
        if (!buf || !t || t->ndim != 1 || t->shape[0] != n_floats || t->dtype != VT_ST_F32)
            st = vt_error(VT_ERR_FORMAT, "%s: tensor '%s' does not fit this model and optimizer (%lld parameters)", path,
                          NAMES[which], (long long)n_floats);
        else
            memcpy(buf, t->data, (size_t)n_floats * sizeof(float));
    }
    if (st == VT_OK) {
        vt_optimizer_set_steps_done(o, s);
        *step = s;
        if (args_json) *args_json = strdup(args ? args : "{}");
    }
    vt_st_close(f);
    return st;
}

/* Step number of a "checkpoint-<n>" entry, or -1. */
static int64_t checkpoint_step(const char *name) {
    if (strncmp(name, PREFIX, strlen(PREFIX))) return -1;
    const char *digits = name + strlen(PREFIX);
    char *end;
    long long n = strtoll(digits, &end, 10);
    return *digits && !*end && n >= 0 ? n : -1;
}

int64_t vt_ckpt_latest(const char *out_dir, char *buf, size_t size) {
    DIR *d = opendir(out_dir);
    if (!d) return -1;
    int64_t best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t s = checkpoint_step(e->d_name);
        char state[4400];
        struct stat sb;
        snprintf(state, sizeof state, "%s/%s/" STATE_FILE, out_dir, e->d_name);
        if (s > best && stat(state, &sb) == 0) best = s;
    }
    closedir(d);
    if (best >= 0) snprintf(buf, size, "%s/" PREFIX "%" PRId64, out_dir, best);
    return best;
}

static int compare_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

vt_status vt_ckpt_prune(const char *out_dir, int keep) {
    DIR *d = opendir(out_dir);
    if (!d) return vt_error(VT_ERR_IO, "cannot list %s: %s", out_dir, strerror(errno));
    int64_t steps[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof steps / sizeof *steps) {
        int64_t s = checkpoint_step(e->d_name);
        if (s >= 0) steps[n++] = s;
    }
    closedir(d);
    qsort(steps, n, sizeof *steps, compare_desc);
    char path[4200];
    for (size_t i = (size_t)(keep > 0 ? keep : 1); i < n; i++) {
        snprintf(path, sizeof path, "%s/" PREFIX "%" PRId64, out_dir, steps[i]);
        remove_tree(path);
    }
    return VT_OK;
}
