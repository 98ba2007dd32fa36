/* The optimizer object and its update rules (SGD with momentum, Adam, AdamW)
 * over the trainable runs of one flat parameter buffer. Rules follow
 * torch.optim's single-tensor CPU code, operation by operation. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/optim_rules.h"
#include "train/optim_internal.h"

struct vt_optimizer {
    vt_optimizer_config cfg; /* no_decay is cleared: decay is decided at construction */
    int64_t n_floats;
    vt_seg *segs;            /* (n_segs) trainable runs, sorted by offset */
    size_t n_segs;
    int64_t total;           /* trainable floats: sum of segs[].numel */
    float *m;                /* (n_floats) Adam first moment / SGD momentum; NULL if none */
    float *v;                /* (n_floats) Adam second moment; NULL if none */
    int64_t steps;           /* updates done */
};

static bool name_excluded(const vt_optimizer_config *c, const char *name) {
    for (size_t i = 0; i < c->n_no_decay; i++)
        if (name && strstr(name, c->no_decay[i])) return true;
    return false;
}

static int seg_by_offset(const void *a, const void *b) {
    int64_t x = ((const vt_seg *)a)->offset, y = ((const vt_seg *)b)->offset;
    return (x > y) - (x < y);
}

/* Fills o->segs from the parameter list: bounds and overlap checks, then
 * adjacent runs with equal decay merged. */
static vt_status build_segments(vt_optimizer *o, const vt_param_info *params, size_t n_params) {
    bool wd = o->cfg.kind == VT_OPT_ADAMW && o->cfg.weight_decay > 0.0f;
    size_t cap = n_params ? n_params : 1;
    o->segs = malloc(cap * sizeof *o->segs);
    if (!o->segs) return vt_error(VT_ERR_NOMEM, "optimizer: out of memory for %zu parameter slices", cap);
    size_t n = 0;
    if (n_params == 0) {
        if (o->n_floats > 0) o->segs[n++] = (vt_seg){.offset = 0, .numel = o->n_floats, .decay = wd};
    }
    for (size_t i = 0; i < n_params; i++) {
        const vt_param_info *p = &params[i];
        const char *name = p->name ? p->name : "(unnamed)";
        if (p->offset < 0 || p->numel < 0 || p->offset > o->n_floats || p->numel > o->n_floats - p->offset)
            return vt_error(VT_ERR_INVALID_ARG, "optimizer: parameter '%s' [%lld, +%lld) lies outside the %lld floats",
                            name, (long long)p->offset, (long long)p->numel, (long long)o->n_floats);
        if (!p->trainable || p->numel == 0) continue;
        o->segs[n++] = (vt_seg){.offset = p->offset, .numel = p->numel,
                                .decay = wd && !name_excluded(&o->cfg, p->name)};
    }
    qsort(o->segs, n, sizeof *o->segs, seg_by_offset);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        vt_seg s = o->segs[i];
        if (out > 0) {
            vt_seg *last = &o->segs[out - 1];
            if (s.offset < last->offset + last->numel)
                return vt_error(VT_ERR_INVALID_ARG, "optimizer: trainable parameters overlap at float %lld",
                                (long long)s.offset);
            if (s.offset == last->offset + last->numel && s.decay == last->decay) {
                last->numel += s.numel;
                continue;
            }
        }
        o->segs[out++] = s;
    }
    o->n_segs = out;
    o->total = 0;
    for (size_t i = 0; i < out; i++) {
        o->segs[i].start = o->total;
        o->total += o->segs[i].numel;
    }
    return VT_OK;
}

vt_optimizer *vt_optimizer_new(const vt_optimizer_config *cfg, int64_t n_floats,
                               const vt_param_info *params, size_t n_params) {
    if (vt_optim_check_config(cfg) != VT_OK) return NULL;
    if (n_floats < 0) {
        vt_error(VT_ERR_INVALID_ARG, "optimizer: n_floats is negative (%lld)", (long long)n_floats);
        return NULL;
    }
    if (n_params > 0 && !params) {
        vt_error(VT_ERR_INVALID_ARG, "optimizer: n_params is %zu but params is NULL", n_params);
        return NULL;
    }
    vt_optimizer *o = calloc(1, sizeof *o);
    if (!o) {
        vt_error(VT_ERR_NOMEM, "optimizer: out of memory");
        return NULL;
    }
    o->cfg = *cfg;
    o->n_floats = n_floats;
    if (build_segments(o, params, n_params) != VT_OK) {
        vt_optimizer_free(o);
        return NULL;
    }
    o->cfg.no_decay = NULL;
    o->cfg.n_no_decay = 0;
    size_t bytes = (size_t)(n_floats > 0 ? n_floats : 1) * sizeof(float);
    bool has_m = cfg->kind != VT_OPT_SGD || cfg->momentum != 0.0f;
    bool has_v = cfg->kind != VT_OPT_SGD;
    if ((has_m && !(o->m = calloc(1, bytes))) || (has_v && !(o->v = calloc(1, bytes)))) {
        vt_error(VT_ERR_NOMEM, "optimizer: out of memory for state of %lld floats", (long long)n_floats);
        vt_optimizer_free(o);
        return NULL;
    }
    return o;
}

void vt_optimizer_free(vt_optimizer *o) {
    if (!o) return;
    free(o->segs);
    free(o->m);
    free(o->v);
    free(o);
}

float vt_optimizer_current_lr(const vt_optimizer *o) {
    if (!o) return 0.0f;
    return (float)((double)o->cfg.learning_rate * vt_schedule_factor_f64(&o->cfg, o->steps));
}

int64_t vt_optimizer_steps_done(const vt_optimizer *o) { return o ? o->steps : 0; }

float *vt_optimizer_state(vt_optimizer *o, int which) {
    if (!o) return NULL;
    return which == 0 ? o->m : which == 1 ? o->v : NULL;
}

void vt_optimizer_set_steps_done(vt_optimizer *o, int64_t steps) {
    if (o && steps >= 0) o->steps = steps;
}

static void apply_rule(vt_optimizer *o, const vt_step_consts *k, float *params, float *grads) {
    const bool adam = o->cfg.kind != VT_OPT_SGD;
    const vt_seg *segs = o->segs;
    const size_t n_segs = o->n_segs;
    const int64_t total = o->total;
#pragma omp parallel num_threads(vt_seg_threads(total))
    {
        int64_t lo, hi;
        vt_seg_part(total, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        for (size_t j = vt_seg_find(segs, n_segs, lo); j < n_segs && segs[j].start < hi; j++) {
            const vt_seg *s = &segs[j];
            int64_t a = (lo > s->start ? lo : s->start) - s->start;
            int64_t b = (hi < s->start + s->numel ? hi : s->start + s->numel) - s->start;
            float *p = params + s->offset, *g = grads + s->offset; // (s->numel) each
            float *m = o->m ? o->m + s->offset : NULL, *v = o->v ? o->v + s->offset : NULL;
            if (adam) vt_optim_adam_run(k, s->decay ? k->keep : 1.0f, p, g, m, v, a, b);
            else vt_optim_sgd_run(k, p, g, m, a, b);
        }
    }
}

vt_status vt_optimizer_step(vt_optimizer *o, float *params, float *grads, float *grad_norm) {
    if (!o) return vt_error(VT_ERR_INVALID_ARG, "optimizer step: no optimizer given");
    if (o->total > 0 && (!params || !grads))
        return vt_error(VT_ERR_INVALID_ARG, "optimizer step: params or grads is NULL");
    float norm = o->total > 0 ? (float)sqrt(vt_seg_sumsq(grads, o->segs, o->n_segs, o->total)) : 0.0f;
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm))
        return vt_error(VT_ERR_NUMERIC, "optimizer step %lld: gradient norm is %g; nothing was updated",
                        (long long)o->steps, (double)norm);
    const vt_optimizer_config *c = &o->cfg;
    double lr = (double)c->learning_rate * vt_schedule_factor_f64(c, o->steps);
    double t = (double)(o->steps + 1);
    bool adam = c->kind != VT_OPT_SGD;
    double b1 = adam ? c->beta1 : 0.0, b2 = adam ? c->beta2 : 0.0;
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    vt_step_consts k = {
        .gscale = c->clip_norm > 0.0f ? vt_clip_coef(norm, c->clip_norm) : 1.0f,
        .neg_lr = (float)-lr,
        .momentum = c->momentum,
        .omega1 = (float)(1.0 - b1),
        .beta2 = c->beta2,
        .omega2 = (float)(1.0 - b2),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = c->epsilon,
        .neg_step = (float)(-lr / bc1),
        .keep = (float)(1.0 - lr * (double)c->weight_decay),
    };
    if (o->total > 0) apply_rule(o, &k, params, grads);
    o->steps++;
    return VT_OK;
}
