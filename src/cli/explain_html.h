/* verto explain --html: one self-contained page (no external assets) showing
 * each input's words highlighted by their attribution. */
#ifndef VERTO_CLI_EXPLAIN_HTML_H
#define VERTO_CLI_EXPLAIN_HTML_H

#include <stddef.h>

#include "verto/explain.h"

/* The background of a word with attribution a in an input whose largest
 * |attribution| is max_abs: white mixed with green (a > 0, towards the
 * target) or red (a < 0) by 0.8 |a| / max_abs, each channel rounded. */
void cli_attribution_colour(double a, double max_abs, int rgb[3]);

/* Writes the page for n inputs and their explanations to path (atomically). */
vt_status cli_explain_html(const char *path, const vt_task *t, const vt_text_input *in, const vt_explanation *e,
                           size_t n, const vt_explain_options *o);

#endif
