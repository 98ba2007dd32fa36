/* Normalizer steps (see tokenizer_internal.h). */
#ifndef VT_TEXT_NORMALIZE_H
#define VT_TEXT_NORMALIZE_H

#include "text/splits.h"
#include "text/tokenizer_internal.h"

/* Appends to `out` src's bytes [a, b) rewritten by steps[0..n) in order
 * (w's segment buffers hold the stages between). */
vt_status vt_norm_run(const vt_norm_step *steps, int n, const vt_nstr *src, int32_t a, int32_t b, vt_tok_work *w,
                      vt_nstr *out);

#endif
