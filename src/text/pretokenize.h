/* Pre-tokenizer steps over an input's pieces (see tokenizer_internal.h). */
#ifndef VT_TEXT_PRETOKENIZE_H
#define VT_TEXT_PRETOKENIZE_H

#include "text/splits.h"
#include "text/tokenizer_internal.h"

/* Applies step p to every text piece of w's current state (added tokens
 * pass through), leaving the result as the current state. */
vt_status vt_pre_apply(const vt_pre_step *p, vt_tok_work *w);

#endif
