/* Products of a few rows with a weight matrix, for KV-cache decoding:
 * y (M, N) = x (M, K) W^T + bias (+ y), W (N, K) as Hugging Face stores a
 * dense layer, in f32 or bf16 (widened to f32 in registers: a shift).
 *
 * At M = 1..4 a GEMM library's packing and blocking is pure overhead and the
 * product is bound by reading W from memory once, so this streams W: each
 * thread takes a contiguous slice of W's rows, reads four rows at a time
 * (four sequential streams for the prefetchers) and multiplies them with the
 * x rows two at a time, so the block of W stays in L1 while the next pair of
 * x rows reuses it. Each row is prefetched one block ahead (the same offset
 * in the next block's rows): on the 50257 x 768 lm_head, alternating with the
 * loop without it on the shared AMD EPYC (under load), 28.4 / 20.2 ms against
 * 37.3 / 25.4 ms at 1 / 2 threads. A row of y depends only on its x row and
 * W (the same vector loop, the same horizontal sum), never on M or the
 * thread count. */
#include <immintrin.h>

#include "kernels/variant.h"
#include "verto/kernels.h"

#ifdef VK_ISA_AVX512
typedef __m512 vf;
#define VW 16
#define vf_zero() _mm512_setzero_ps()
#define vf_load(p) _mm512_loadu_ps(p)
#define vf_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vf_load_bf16(p)                                                                                                \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
static inline float vf_sum(vf v) { return _mm512_reduce_add_ps(v); }
#else
typedef __m256 vf;
#define VW 8
#define vf_zero() _mm256_setzero_ps()
#define vf_load(p) _mm256_loadu_ps(p)
#define vf_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vf_load_bf16(p)                                                                                                \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
static inline float vf_sum(vf v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

#define ROWS 4 /* weight rows per block */

static inline float widen(float w) { return w; }
static inline float widen16(vt_bf16 w) { return vt_bf16_to_f32(w); }

/* s[j][r] = x_j . W_r for the nx (1 or 2) x rows and nr (1 or ROWS) weight
 * rows of length K; W is f32 (W32) or bf16 (W16). Always inlined with
 * constant nx, nr and one of W32/W16 NULL, so each case is its own loop. */
#define DOT_BLOCK(NAME, WT, LOAD, WIDEN)                                                                               \
    static inline __attribute__((always_inline)) void NAME(const float *x0, const float *x1, int nx, const WT *W,     \
                                                           int nr, int64_t K, float s[2][ROWS]) {                      \
        vf a0[ROWS], a1[ROWS];                                                                                         \
        for (int r = 0; r < nr; r++) a0[r] = a1[r] = vf_zero();                                                        \
        int64_t k = 0;                                                                                                 \
        for (; k + VW <= K; k += VW) {                                                                                 \
            vf v0 = vf_load(x0 + k), v1 = nx > 1 ? vf_load(x1 + k) : vf_zero();                                        \
            for (int r = 0; r < nr; r++) {                                                                             \
                _mm_prefetch((const char *)(W + (r + nr) * K + k), _MM_HINT_T0);                                       \
                vf w = LOAD(W + r * K + k);                                                                            \
                a0[r] = vf_fma(v0, w, a0[r]);                                                                          \
                if (nx > 1) a1[r] = vf_fma(v1, w, a1[r]);                                                              \
            }                                                                                                          \
        }                                                                                                              \
        for (int r = 0; r < nr; r++) {                                                                                 \
            float t0 = vf_sum(a0[r]), t1 = nx > 1 ? vf_sum(a1[r]) : 0;                                                 \
            for (int64_t j = k; j < K; j++) {                                                                          \
                float w = WIDEN(W[r * K + j]);                                                                         \
                t0 += x0[j] * w;                                                                                       \
                if (nx > 1) t1 += x1[j] * w;                                                                           \
            }                                                                                                          \
            s[0][r] = t0;                                                                                              \
            s[1][r] = t1;                                                                                              \
        }                                                                                                              \
    }
DOT_BLOCK(dot_f32, float, vf_load, widen)
DOT_BLOCK(dot_bf16, vt_bf16, vf_load_bf16, widen16)

/* Writes the nx x nr results of a block at y[m * N + n]. */
static inline void store(const float s[2][ROWS], int nx, int nr, const float *bias, float *y, int64_t m, int64_t n,
                         int64_t N, bool accumulate) {
    for (int j = 0; j < nx; j++)
        for (int r = 0; r < nr; r++) {
            float v = s[j][r] + (bias ? bias[n + r] : 0.0f);
            float *out = y + (m + j) * N + n + r;
            *out = accumulate ? *out + v : v;
        }
}

/* Below this many weights a call stays on one thread: a parallel region
 * costs more than the work. */
#define PARALLEL_MIN_WEIGHTS (1 << 15)

#define MATVEC(NAME, WT, DOT)                                                                                          \
    void VK_FN(NAME)(const float *x, const WT *W, const float *bias, float *y, int64_t M, int64_t N, int64_t K,      \
                     bool accumulate) {                                                                                \
        int64_t blocks = (N + ROWS - 1) / ROWS;                                                                        \
        _Pragma("omp parallel for schedule(static) if (N * K >= PARALLEL_MIN_WEIGHTS)")                                \
        for (int64_t blk = 0; blk < blocks; blk++) {                                                                   \
            int64_t n = blk * ROWS;                                                                                    \
            const WT *Wn = W + n * K;                                                                                  \
            float s[2][ROWS];                                                                                          \
            for (int64_t m = 0; m < M; m += 2) {                                                                       \
                const float *x0 = x + m * K, *x1 = x0 + K;                                                             \
                bool pair = m + 1 < M;                                                                                 \
                if (n + ROWS <= N) {                                                                                   \
                    if (pair) DOT(x0, x1, 2, Wn, ROWS, K, s);                                                          \
                    else DOT(x0, x1, 1, Wn, ROWS, K, s);                                                               \
                    store(s, pair ? 2 : 1, ROWS, bias, y, m, n, N, accumulate);                                        \
                } else {                                                                                               \
                    for (int64_t r = n; r < N; r++) {                                                                  \
                        if (pair) DOT(x0, x1, 2, W + r * K, 1, K, s);                                                  \
                        else DOT(x0, x1, 1, W + r * K, 1, K, s);                                                       \
                        store(s, pair ? 2 : 1, 1, bias, y, m, r, N, accumulate);                                       \
                    }                                                                                                  \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }
MATVEC(vt_matvec, float, dot_f32)
MATVEC(vt_matvec_bf16, vt_bf16, dot_bf16)
