/* Ranks with ties averaged: shared by ROC-AUC (metrics.c) and Spearman's
 * correlation (regression_metrics.c). */
#ifndef VT_EVAL_RANKS_H
#define VT_EVAL_RANKS_H

#include <stddef.h>

#include "verto/error.h"

/* rank (n) receives the 1-based ranks of x (n) in increasing order, tied
 * values sharing the mean of their ranks (scipy.stats.rankdata(x,
 * method="average")). x must hold no NaN. VT_ERR_NOMEM on allocation failure. */
vt_status vt_average_ranks(const double *x, size_t n, double *rank);

#endif
