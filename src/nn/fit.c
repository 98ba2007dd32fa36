/* compile, fit, evaluate, predict: the Keras training loop. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/exec_internal.h"
#include "verto/progress.h"

vt_status vt_model_compile(vt_model *m, const vt_optimizer_config *opt, vt_loss loss, vt_metric metric) {
    vt_node *out = m->output;
    if (out->dtype != VT_F32) return vt_error(VT_ERR_INVALID_ARG, "model '%s': output '%s' is not float32", m->name, out->name);
    if ((unsigned)loss.kind > VT_LOSS_MEAN_SQUARED_ERROR) return vt_error(VT_ERR_INVALID_ARG, "unknown loss");
    if (metric == VT_METRIC_ACCURACY && loss.kind == VT_LOSS_MEAN_SQUARED_ERROR)
        return vt_error(VT_ERR_INVALID_ARG, "model '%s': accuracy needs a cross-entropy loss", m->name);
    vt_optimizer *o = vt_optimizer_new(opt, m->n_floats, m->infos, m->n_infos);
    if (!o) return vt_last_status();
    vt_optimizer_free(m->opt);
    m->opt = o;
    m->opt_cfg = *opt;
    m->loss = loss;
    m->metric = metric;
    /* Probabilities from a softmax (sigmoid) Dense: take the loss from its
     * logits, which is exact where log(clip(p)) would lose precision. */
    if (m->loss_logits) m->loss_logits->loss_fused = false;
    m->loss_logits = NULL;
    bool dense = out->vt == &VT_LAYER_DENSE;
    if (!loss.from_logits && dense &&
        ((loss.kind == VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && out->cfg.activation == VT_ACT_SOFTMAX) ||
         (loss.kind == VT_LOSS_BINARY_CROSSENTROPY && out->cfg.activation == VT_ACT_SIGMOID))) {
        m->loss_logits = out;
        out->loss_fused = true;
    }
    m->compiled = true;
    m->step = 0;
    return VT_OK;
}

vt_status vt_model_compile_named(vt_model *m, const char *optimizer, const char *loss, const char *metrics) {
    vt_optimizer_config cfg;
    vt_status st = vt_optimizer_config_default(optimizer ? optimizer : "", &cfg);
    if (st != VT_OK) return st;
    vt_loss l = {0};
    if (!loss) return vt_error(VT_ERR_INVALID_ARG, "no loss given");
    if (!strcmp(loss, "sparse_categorical_crossentropy")) l.kind = VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    else if (!strcmp(loss, "binary_crossentropy")) l.kind = VT_LOSS_BINARY_CROSSENTROPY;
    else if (!strcmp(loss, "mse") || !strcmp(loss, "mean_squared_error")) l.kind = VT_LOSS_MEAN_SQUARED_ERROR;
    else return vt_error(VT_ERR_INVALID_ARG, "unknown loss '%s'", loss);
    vt_metric metric = VT_METRIC_NONE;
    if (metrics && *metrics) {
        if (strcmp(metrics, "accuracy")) return vt_error(VT_ERR_INVALID_ARG, "unknown metric '%s'", metrics);
        metric = VT_METRIC_ACCURACY;
    }
    return vt_model_compile(m, &cfg, l, metric);
}

/* Rows of x (all inputs agree) and of y; an error if they don't. */
static vt_status count_rows(const vt_model *m, const vt_tensor *const *x, const vt_tensor *y, int64_t *rows) {
    if (!x) return vt_error(VT_ERR_INVALID_ARG, "model '%s': no input data given", m->name);
    for (int i = 0; i < m->n_inputs; i++) {
        if (!x[i] || x[i]->ndim < 1)
            return vt_error(VT_ERR_SHAPE, "model '%s': input %d has no batch dimension", m->name, i);
        if (x[i]->shape[0] != x[0]->shape[0])
            return vt_error(VT_ERR_SHAPE, "model '%s': inputs have %lld and %lld rows", m->name,
                            (long long)x[0]->shape[0], (long long)x[i]->shape[0]);
    }
    if (y && (y->ndim < 1 || y->shape[0] != x[0]->shape[0]))
        return vt_error(VT_ERR_SHAPE, "model '%s': %lld input rows but %lld label rows", m->name,
                        (long long)x[0]->shape[0], y->ndim ? (long long)y->shape[0] : 0LL);
    *rows = x[0]->shape[0];
    return VT_OK;
}

/* Mean loss and metric over rows [start, start + count) of x, y. */
static vt_status evaluate_range(vt_model *m, const vt_tensor *const *x, const vt_tensor *y, int64_t start, int64_t count,
                                int64_t batch, double *loss, double *metric) {
    double loss_sum = 0, metric_sum = 0;
    int64_t loss_n = 0, metric_n = 0;
    for (int64_t s = start; s < start + count; s += batch) {
        int64_t rows = s + batch <= start + count ? batch : start + count - s;
        vt_tensor labels;
        double l, acc;
        int64_t counted;
        vt_status st = vt_exec_feed(m, x, NULL, s, rows);
        if (st == VT_OK) st = vt_exec_forward(m, false, 0);
        if (st == VT_OK) st = vt_exec_labels(m, y, NULL, s, rows, &labels);
        if (st == VT_OK) st = vt_loss_compute(m, &labels, false, &l, &acc, &counted);
        if (st != VT_OK) return st;
        loss_sum += l * (double)rows;
        loss_n += rows;
        if (!isnan(acc)) {
            metric_sum += acc * (double)counted;
            metric_n += counted;
        }
    }
    *loss = loss_n ? loss_sum / (double)loss_n : NAN;
    *metric = metric_n ? metric_sum / (double)metric_n : NAN;
    return VT_OK;
}

vt_status vt_model_evaluate(vt_model *m, const vt_tensor *const *x, const vt_tensor *y, int64_t batch_size,
                            double *loss, double *metric) {
    if (!m->compiled) return vt_error(VT_ERR_STATE, "model '%s': evaluate before compile", m->name);
    int64_t rows;
    vt_status st = count_rows(m, x, y, &rows);
    if (st != VT_OK) return st;
    if (!y) return vt_error(VT_ERR_INVALID_ARG, "model '%s': evaluate needs labels", m->name);
    double l, a;
    st = evaluate_range(m, x, y, 0, rows, batch_size > 0 ? batch_size : 32, &l, &a);
    if (st != VT_OK) return st;
    if (loss) *loss = l;
    if (metric) *metric = a;
    return VT_OK;
}

vt_tensor *vt_model_predict(vt_model *m, const vt_tensor *const *x, int64_t batch_size) {
    int64_t rows;
    if (count_rows(m, x, NULL, &rows) != VT_OK) return NULL;
    int64_t batch = batch_size > 0 ? batch_size : 32;
    vt_tensor *result = NULL;
    size_t row_bytes = 0;
    for (int64_t s = 0; s < rows; s += batch) {
        int64_t count = s + batch <= rows ? batch : rows - s;
        if (vt_exec_feed(m, x, NULL, s, count) != VT_OK || vt_exec_forward(m, false, 0) != VT_OK) {
            vt_tensor_free(result);
            return NULL;
        }
        const vt_tensor *out = &m->output->out;
        if (!result) {
            int64_t shape[VT_MAX_DIMS];
            memcpy(shape, out->shape, sizeof shape);
            shape[0] = rows;
            if (!(result = vt_tensor_new(VT_F32, out->ndim, shape))) return NULL;
            row_bytes = (size_t)(vt_tensor_numel(out) / count) * sizeof(float);
        }
        memcpy((char *)result->data + (size_t)s * row_bytes, out->data, (size_t)count * row_bytes);
    }
    if (!result) vt_error(VT_ERR_INVALID_ARG, "model '%s': predict on empty input", m->name);
    return result;
}

/* One epoch of training over the rows order[0..n_train). */
static vt_status train_epoch(vt_model *m, const vt_tensor *const *x, const vt_tensor *y, const int64_t *order,
                             int64_t n_train, int64_t batch, uint64_t seed, int epoch, vt_progress *bar,
                             double *loss, double *metric) {
    double loss_sum = 0, metric_sum = 0;
    int64_t seen = 0, steps = (n_train + batch - 1) / batch;
    for (int64_t step = 0; step < steps; step++) {
        int64_t start = step * batch, count = start + batch <= n_train ? batch : n_train - start;
        vt_tensor labels;
        double l, acc;
        vt_status st = vt_exec_feed(m, x, order, start, count);
        if (st == VT_OK) st = vt_exec_forward(m, true, vt_hash64(seed, (uint64_t)m->step));
        if (st == VT_OK) st = vt_exec_labels(m, y, order, start, count, &labels);
        if (st == VT_OK) st = vt_exec_backward(m, &labels, &l, &acc);
        if (st == VT_OK) st = vt_model_apply_gradients(m, NULL);
        if (st == VT_ERR_NUMERIC)
            return vt_error(st, "model '%s': epoch %d step %lld: %s", m->name, epoch, (long long)step + 1, vt_last_error());
        if (st != VT_OK) return st;
        loss_sum += l * (double)count;
        metric_sum += acc * (double)count;
        seen += count;
        if (bar) {
            vt_progress_set(bar, "loss", loss_sum / (double)seen);
            if (m->metric == VT_METRIC_ACCURACY) vt_progress_set(bar, "accuracy", metric_sum / (double)seen);
            vt_progress_update(bar, step + 1);
        }
    }
    *loss = loss_sum / (double)seen;
    *metric = m->metric == VT_METRIC_ACCURACY ? metric_sum / (double)seen : NAN;
    return VT_OK;
}

vt_status vt_model_fit(vt_model *m, const vt_tensor *const *x, const vt_tensor *y, const vt_fit_options *opts,
                       vt_history *history) {
    if (!m->compiled) return vt_error(VT_ERR_STATE, "model '%s': fit before compile", m->name);
    vt_fit_options o = opts ? *opts : (vt_fit_options){.epochs = 1};
    int64_t batch = o.batch_size > 0 ? o.batch_size : 32, rows, val_rows = 0;
    if (o.epochs < 1) return vt_error(VT_ERR_INVALID_ARG, "fit: epochs must be at least 1, got %d", o.epochs);
    if (!(o.validation_split >= 0 && o.validation_split < 1))
        return vt_error(VT_ERR_INVALID_ARG, "fit: validation_split %g outside [0, 1)", o.validation_split);
    vt_status st = count_rows(m, x, y, &rows);
    if (st != VT_OK) return st;
    if (!y) return vt_error(VT_ERR_INVALID_ARG, "model '%s': fit needs labels", m->name);
    if (o.validation_x && (st = count_rows(m, o.validation_x, o.validation_y, &val_rows)) != VT_OK) return st;
    /* Keras holds out the last fraction of the rows, before shuffling. */
    int64_t n_train = o.validation_x ? rows : (int64_t)((double)rows * (1.0 - o.validation_split));
    if (n_train < 1) return vt_error(VT_ERR_INVALID_ARG, "fit: no training rows left");
    int64_t *order = malloc((size_t)n_train * sizeof *order);
    if (!order) return vt_error(VT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n_train; i++) order[i] = i;
    vt_rng rng;
    vt_rng_seed(&rng, o.seed);
    FILE *out = o.out ? o.out : stdout;
    if (history) history->epochs = 0;
    for (int epoch = 1; epoch <= o.epochs && st == VT_OK; epoch++) {
        if (!o.no_shuffle) vt_rng_shuffle_i64(&rng, order, n_train);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "Epoch %d/%d", epoch, o.epochs);
        vt_progress bar;
        vt_progress_start(&bar, out, (n_train + batch - 1) / batch, o.verbose ? prefix : NULL);
        if (o.verbose == 2) bar.tty = false;
        double loss = NAN, metric = NAN, val_loss = NAN, val_metric = NAN;
        st = train_epoch(m, x, y, order, n_train, batch, o.seed, epoch, o.verbose ? &bar : NULL, &loss, &metric);
        if (st == VT_OK && o.validation_x)
            st = evaluate_range(m, o.validation_x, o.validation_y, 0, val_rows, batch, &val_loss, &val_metric);
        else if (st == VT_OK && n_train < rows)
            st = evaluate_range(m, x, y, n_train, rows - n_train, batch, &val_loss, &val_metric);
        if (st != VT_OK) break;
        if (o.verbose) {
            if (!isnan(val_loss)) vt_progress_set(&bar, "val_loss", val_loss);
            if (!isnan(val_metric)) vt_progress_set(&bar, "val_accuracy", val_metric);
            vt_progress_finish(&bar);
        }
        if (history && epoch <= VT_HISTORY_MAX) {
            history->loss[epoch - 1] = loss;
            history->metric[epoch - 1] = metric;
            history->val_loss[epoch - 1] = val_loss;
            history->val_metric[epoch - 1] = val_metric;
            history->epochs = epoch;
        }
    }
    free(order);
    return st;
}
