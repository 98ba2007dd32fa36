/* Pretraining batches grouped by length: see data/length_groups.h. */
#include <stdlib.h>
#include <string.h>

#include "data/length_groups.h"
#include "verto/rng.h"

#define GROUP_SALT 0x67726f7570ull /* separates the batch-order draws from the data order's */
#define MAX_READ_AHEAD ((int64_t)1 << 20) /* sequences held at once: groups * count */

typedef struct sized_row {
    int32_t len;
    int64_t row;
} sized_row;

struct vt_pt_length_groups {
    int64_t groups, count, rows; /* rows = groups * count */
    int32_t S;
    uint64_t seed;
    int64_t loaded; /* the group held, -1 before any */
    /* the group's samples, in sample order, copied at stride S */
    int32_t *tokens, *positions, *labels; /* (rows, S) */
    uint8_t *segments;                    /* (rows, S) */
    int32_t *n_tokens, *n_masked, *random_next; /* (rows) */
    int64_t *order; /* (rows) the rows batch by batch: sorted by length, the batches shuffled */
    sized_row *sorted; /* (rows) scratch for a group's sort */
    int64_t *batch;    /* (groups) scratch for its batch order */
};

void vt_pt_length_groups_free(vt_pt_length_groups *g) {
    if (!g) return;
    free(g->tokens), free(g->positions), free(g->labels), free(g->segments);
    free(g->n_tokens), free(g->n_masked), free(g->random_next), free(g->order);
    free(g->sorted), free(g->batch);
    free(g);
}

vt_pt_length_groups *vt_pt_length_groups_new(int64_t groups, int64_t count, int32_t max_seq_length, uint64_t seed) {
    if (groups < 1 || count < 1 || max_seq_length < 1 || groups > MAX_READ_AHEAD / count)
        return vt_error(VT_ERR_INVALID_ARG,
                        "grouping %lld batches of %lld sequences by length: at most %lld sequences are read ahead",
                        (long long)groups, (long long)count, (long long)MAX_READ_AHEAD),
               NULL;
    vt_pt_length_groups *g = calloc(1, sizeof *g);
    if (!g) return vt_error(VT_ERR_NOMEM, "out of memory for length groups"), NULL;
    *g = (vt_pt_length_groups){.groups = groups, .count = count, .rows = groups * count, .S = max_seq_length, .seed = seed,
                         .loaded = -1};
    size_t rows = (size_t)g->rows, cells = rows * (size_t)max_seq_length;
    g->tokens = malloc(cells * sizeof *g->tokens);
    g->positions = malloc(cells * sizeof *g->positions);
    g->labels = malloc(cells * sizeof *g->labels);
    g->segments = malloc(cells);
    g->n_tokens = malloc(rows * sizeof *g->n_tokens);
    g->n_masked = malloc(rows * sizeof *g->n_masked);
    g->random_next = malloc(rows * sizeof *g->random_next);
    g->order = malloc(rows * sizeof *g->order);
    g->sorted = malloc(rows * sizeof *g->sorted);
    g->batch = malloc((size_t)groups * sizeof *g->batch);
    if (!g->tokens || !g->positions || !g->labels || !g->segments || !g->n_tokens || !g->n_masked ||
        !g->random_next || !g->order || !g->sorted || !g->batch) {
        vt_pt_length_groups_free(g);
        return vt_error(VT_ERR_NOMEM, "out of memory for length groups of %lld rows", (long long)rows), NULL;
    }
    return g;
}

static int by_length(const void *a, const void *b) {
    const sized_row *x = a, *y = b;
    if (x->len != y->len) return (x->len > y->len) - (x->len < y->len);
    return (x->row > y->row) - (x->row < y->row); /* ties in sample order: a total order */
}

/* Reads group `group` (samples group*rows ..) and lays out its batches. */
static vt_status load(vt_pt_length_groups *g, int64_t group, vt_pt_sample_reader read, void *ctx) {
    size_t S = (size_t)g->S;
    for (int64_t r = 0; r < g->rows; r++) {
        vt_pt_instance in;
        vt_status st = read(ctx, group * g->rows + r, &in);
        if (st != VT_OK) return st;
        if (in.n_tokens < 1 || in.n_tokens > g->S || in.n_masked < 0 || in.n_masked > in.n_tokens)
            return vt_error(VT_ERR_FORMAT, "sample %lld: %d tokens and %d masked, outside 1 .. %d",
                            (long long)(group * g->rows + r), (int)in.n_tokens, (int)in.n_masked, (int)g->S);
        memcpy(g->tokens + r * S, in.tokens, (size_t)in.n_tokens * sizeof *in.tokens);
        memcpy(g->segments + r * S, in.segment_ids, (size_t)in.n_tokens);
        if (in.n_masked) {
            memcpy(g->positions + r * S, in.positions, (size_t)in.n_masked * sizeof *in.positions);
            memcpy(g->labels + r * S, in.labels, (size_t)in.n_masked * sizeof *in.labels);
        }
        g->n_tokens[r] = in.n_tokens;
        g->n_masked[r] = in.n_masked;
        g->random_next[r] = in.is_random_next;
    }
    sized_row *sorted = g->sorted;
    int64_t *batch = g->batch;
    for (int64_t r = 0; r < g->rows; r++) sorted[r] = (sized_row){g->n_tokens[r], r};
    qsort(sorted, (size_t)g->rows, sizeof *sorted, by_length);
    for (int64_t j = 0; j < g->groups; j++) batch[j] = j;
    vt_rng rng;
    vt_rng_seed(&rng, vt_hash64(g->seed ^ GROUP_SALT, (uint64_t)group));
    vt_rng_shuffle_i64(&rng, batch, g->groups);
    for (int64_t j = 0; j < g->groups; j++)
        for (int64_t i = 0; i < g->count; i++) g->order[j * g->count + i] = sorted[batch[j] * g->count + i].row;
    g->loaded = group;
    return VT_OK;
}

vt_status vt_pt_length_groups_get(vt_pt_length_groups *g, int64_t first, int64_t i, vt_pt_sample_reader read, void *ctx,
                            vt_pt_instance *out, int64_t *k) {
    if (first < 0 || first % g->count || i < 0 || i >= g->count)
        return vt_error(VT_ERR_INVALID_ARG, "length groups: sample %lld + %lld is not in a batch of %lld",
                        (long long)first, (long long)i, (long long)g->count);
    int64_t group = first / g->rows, at = first % g->rows + i;
    if (group != g->loaded) {
        g->loaded = -1; /* (until the group is whole) */
        vt_status st = load(g, group, read, ctx);
        if (st != VT_OK) return st;
    }
    int64_t r = g->order[at];
    size_t S = (size_t)g->S;
    *out = (vt_pt_instance){.n_tokens = g->n_tokens[r], .tokens = g->tokens + r * S, .segment_ids = g->segments + r * S,
                            .is_random_next = g->random_next[r], .n_masked = g->n_masked[r],
                            .positions = g->positions + r * S, .labels = g->labels + r * S};
    *k = group * g->rows + r;
    return VT_OK;
}
