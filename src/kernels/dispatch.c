/* The public names of the kernels built per instruction set (variant.h):
 * each calls the AVX-512 build when vt_isa_in_use() says so, else the AVX2
 * one. A build that compiles every source once (the fuzzers, VK_SINGLE_ISA)
 * has the AVX2 build only. */
#include "kernels/optim_rules.h"
#include "verto/int8.h"
#include "verto/kernels.h"
#include "verto/platform.h"

#ifdef VK_SINGLE_ISA
#define VK_PICK(name) name##_avx2
#else
#define VK_PICK(name) (vt_isa_in_use() == VT_ISA_AVX512 ? name##_avx512 : name##_avx2)
#endif

/* Declares both builds of name and defines name, calling the one for this CPU. */
#define VK_VOID(name, params, args)                                                                                    \
    void name##_avx2 params;                                                                                           \
    void name##_avx512 params;                                                                                         \
    void name params { VK_PICK(name) args; }
#define VK_RETURN(type, name, params, args)                                                                            \
    type name##_avx2 params;                                                                                           \
    type name##_avx512 params;                                                                                         \
    type name params { return VK_PICK(name) args; }

VK_VOID(vt_f32_to_bf16, (const float *x, vt_bf16 *y, int64_t n), (x, y, n))
VK_VOID(vt_matvec,
        (const float *x, const float *W, const float *bias, float *y, int64_t M, int64_t N, int64_t K, bool accumulate),
        (x, W, bias, y, M, N, K, accumulate))
VK_VOID(vt_matvec_bf16,
        (const float *x, const vt_bf16 *W, const float *bias, float *y, int64_t M, int64_t N, int64_t K,
         bool accumulate),
        (x, W, bias, y, M, N, K, accumulate))
VK_VOID(vt_sum_rows, (const float *dy, float *db, int64_t M, int64_t N), (dy, db, M, N))
VK_VOID(vt_activation_forward, (vt_activation act, const float *x, float *y, int64_t rows, int64_t cols),
        (act, x, y, rows, cols))
VK_VOID(vt_activation_backward,
        (vt_activation act, const float *x, const float *y, const float *dy, float *dx, int64_t rows, int64_t cols),
        (act, x, y, dy, dx, rows, cols))
VK_VOID(vt_layernorm_forward,
        (const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd, int64_t rows,
         int64_t cols, float eps),
        (x, gamma, beta, y, mean, rstd, rows, cols, eps))
VK_VOID(vt_layernorm_backward,
        (const float *dy, const float *x, const float *gamma, const float *mean, const float *rstd, float *dx,
         float *dgamma, float *dbeta, int64_t rows, int64_t cols),
        (dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols))
VK_VOID(vt_int8_quantize_rows, (const float *x, uint8_t *q, float *scale, int32_t *zero, int64_t rows, int64_t cols),
        (x, q, scale, zero, rows, cols))
VK_VOID(vt_int8_dequantize,
        (const int32_t *acc, const float *sx, const int32_t *zx, const vt_int8_weights *w, const float *bias,
         float *y, int64_t M),
        (acc, sx, zx, w, bias, y, M))
VK_VOID(vt_dropout_forward, (const float *x, float *y, uint8_t *mask, int64_t n, float rate, uint64_t seed),
        (x, y, mask, n, rate, seed))
VK_VOID(vt_dropout_backward, (const float *dy, const uint8_t *mask, float *dx, int64_t n, float rate),
        (dy, mask, dx, n, rate))
VK_RETURN(vt_status, vt_attention_forward,
          (const vt_attention_dims *d, const vt_attention_opts *o, const float *q, const float *k, const float *v,
           float *probs, uint8_t *drop_mask, float *out),
          (d, o, q, k, v, probs, drop_mask, out))
VK_RETURN(vt_status, vt_attention_backward,
          (const vt_attention_dims *d, const vt_attention_opts *o, const float *q, const float *k, const float *v,
           const float *probs, const uint8_t *drop_mask, const float *dout, float *dq, float *dk, float *dv),
          (d, o, q, k, v, probs, drop_mask, dout, dq, dk, dv))
VK_RETURN(vt_status, vt_softmax_xent,
          (const float *logits, const int32_t *labels, int64_t n, int64_t classes, const float *class_weights,
           float *dlogits, float grad_scale, double *loss, int64_t *counted, int64_t *correct),
          (logits, labels, n, classes, class_weights, dlogits, grad_scale, loss, counted, correct))
VK_RETURN(double, vt_binary_xent,
          (const float *x, const float *targets, int64_t n, bool from_logits, float *dx, float grad_scale),
          (x, targets, n, from_logits, dx, grad_scale))
VK_RETURN(double, vt_mse, (const float *pred, const float *targets, int64_t n, float *dpred, float grad_scale),
          (pred, targets, n, dpred, grad_scale))
VK_VOID(vt_optim_sgd_run,
        (const vt_step_consts *k, float *restrict p, float *restrict g, float *restrict m, int64_t a, int64_t b),
        (k, p, g, m, a, b))
VK_VOID(vt_optim_adam_run,
        (const vt_step_consts *k, float keep, float *restrict p, float *restrict g, float *restrict m,
         float *restrict v, int64_t a, int64_t b),
        (k, keep, p, g, m, v, a, b))
