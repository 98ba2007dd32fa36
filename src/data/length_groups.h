/* Pretraining batches grouped by length (vt_pt_run's group_by_length; private
 * to src/data).
 *
 * Random batches of a corpus with short and long instances pad most rows to
 * the longest; here the samples of G consecutive batches are read ahead,
 * sorted by length and dealt out in that order, batch j of the group taking
 * the j-th shortest run of `count`, and the G batches' order is shuffled.
 * Which samples a batch holds still depends on the sample indices alone, so
 * a resumed run sees the same batches as an uninterrupted one. */
#ifndef VERTO_DATA_LENGTH_GROUPS_H
#define VERTO_DATA_LENGTH_GROUPS_H

#include "verto/pretrain_data.h"

typedef struct vt_pt_length_groups vt_pt_length_groups;

/* Reads sample k of the run's order into *out (valid until the next read). */
typedef vt_status (*vt_pt_sample_reader)(void *ctx, int64_t k, vt_pt_instance *out);

/* Groups of `groups` batches of `count` samples of up to max_seq_length tokens. */
vt_pt_length_groups *vt_pt_length_groups_new(int64_t groups, int64_t count, int32_t max_seq_length, uint64_t seed);
void vt_pt_length_groups_free(vt_pt_length_groups *g);

/* The i-th sample (0 <= i < count) of the batch whose first sample index is
 * `first` (a multiple of count): its instance (valid until the next call that
 * reads ahead) and its sample index, which seeds its masking. */
vt_status vt_pt_length_groups_get(vt_pt_length_groups *g, int64_t first, int64_t i, vt_pt_sample_reader read, void *ctx,
                            vt_pt_instance *out, int64_t *k);

#endif
