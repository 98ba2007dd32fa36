/* Helpers shared by the C tests (cmocka).
 *
 * Reference data comes from tests/ref/gen_*.py, which write safetensors files
 * into $VT_REF_DIR (make test sets it). A missing reference file fails the
 * test: it is never skipped. */
#ifndef VT_TEST_H
#define VT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "verto/rng.h"
#include "verto/safetensors.h"

/* Opens $VT_REF_DIR/<file> (fails the test if it cannot). Close with vt_st_close. */
vt_st_file *ref_open(const char *file);

/* $VT_REF_DIR/<file> (build/ref when unset) written into buf; returns buf. */
const char *ref_file_path(const char *file, char *buf, size_t size);

/* $VT_REF_DIR/<file> parsed as JSON (fails the test if it cannot; NaN is
 * not JSON, so generators write null). Free with cJSON_Delete. */
struct cJSON *ref_json(const char *file);

/* Tensor `name` of `f` converted to float32 in a new malloc'd buffer (free it);
 * fails the test if absent. *numel (may be NULL) receives the element count. */
float *ref_f32(const vt_st_file *f, const char *name, int64_t *numel);

/* Tensor `name` (I32 or I64 in the file) as int32 in a new malloc'd buffer. */
int32_t *ref_i32(const vt_st_file *f, const char *name, int64_t *numel);

/* Largest |got - want| divided by max(1e-12, max |want|): the error relative
 * to the reference tensor's scale. */
double rel_max_diff(const float *got, const float *want, int64_t n);

/* Fails the test unless rel_max_diff(got, want, n) <= tol; prints the figure
 * either way (tests report what they measured). */
void assert_close_rel(const char *what, const float *got, const float *want, int64_t n, double tol);

/* Fails the test unless max |got - want| <= tol (absolute). */
void assert_close_abs(const char *what, const float *got, const float *want, int64_t n, double tol);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); caller frees. */
char *test_tmpdir(void);

/* The vocabulary of test_tiny_model: [PAD] [UNK] [CLS] [SEP] [MASK], then
 * words ("the", "free", "money", "meeting", "lunch", ...) and pieces. */
extern const char *const TEST_TINY_WORDS[];
extern const int TEST_TINY_N_WORDS;

/* A model directory in a fresh temporary directory: a random BERT of `arch`
 * (H16, `layers` layers, 2 heads, 24 positions, 3 labels neg/neutral/pos for a
 * sequence classifier, 2 for question answering) and a vocab.txt of TEST_TINY_WORDS. Free with
 * test_remove_dir. */
char *test_tiny_model(int arch, int layers);
/* Removes a directory and everything in it, and frees the name. */
void test_remove_dir(char *dir);

/* n zeroed floats (at least one), asserted allocated; the caller frees them. */
float *test_floats(int64_t n);
/* x[i] uniform in [-1, 1) from r. */
void test_fill_uniform(vt_rng *r, float *x, int64_t n);

/* want (M, N) = op(A) op(B) + bias + beta * C0, summed in double and rounded
 * to float: the reference every matrix-product test compares against. */
void ref_matmul(const float *A, const float *B, const float *bias, const float *C0, float *want, int64_t M, int64_t N,
                int64_t K, bool ta, bool tb, float beta);

#endif
