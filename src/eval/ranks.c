/* Average ranks (see ranks.h). */
#include "eval/ranks.h"

#include <stdlib.h>

typedef struct indexed {
    double x;
    size_t i;
} indexed;

static int cmp_indexed(const void *a, const void *b) {
    double x = ((const indexed *)a)->x, y = ((const indexed *)b)->x;
    return (x > y) - (x < y);
}

vt_status vt_average_ranks(const double *x, size_t n, double *rank) {
    if (!n) return VT_OK;
    indexed *v = malloc(n * sizeof *v);
    if (!v) return vt_error(VT_ERR_NOMEM, "out of memory ranking %zu values", n);
    for (size_t i = 0; i < n; i++) v[i] = (indexed){x[i], i};
    qsort(v, n, sizeof *v, cmp_indexed);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].x == v[i].x) j++;
        double mean_rank = ((double)(i + 1) + (double)j) / 2; /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++) rank[v[k].i] = mean_rank;
        i = j;
    }
    free(v);
    return VT_OK;
}
