/* Joining and leaving an MPI job, shared by pretrain and finetune (see dist_job.h). */
#include "cli/dist_job.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "verto/dist.h"

/* Under mpirun: joins the job, sets its collective timeout and, unless told,
 * gives each rank its share of this machine's cores. */
vt_status cli_join_job(double timeout, int64_t threads) {
    vt_status st = vt_dist_init(NULL, NULL);
    if (st != VT_OK) return st;
    vt_dist_set_timeout(timeout);
    if (threads) omp_set_num_threads((int)threads);
    else if (vt_dist_size() > 1 && !getenv("OMP_NUM_THREADS")) {
        int per_rank = omp_get_num_procs() / vt_dist_local_size();
        omp_set_num_threads(per_rank > 1 ? per_rank : 1);
    }
    return VT_OK;
}

/* Reports the outcome: the error (named by rank under MPI, where a failed
 * rank ends the whole job), then leaves the job. */
int cli_leave_job(vt_status st) {
    int rc = 0;
    if (st != VT_OK) {
        rc = vt_dist_size() > 1 ? cli_fail("rank %d of %d: %s", vt_dist_rank(), vt_dist_size(), vt_last_error())
                                : cli_fail("%s", vt_last_error());
        fflush(stdout);
        fflush(stderr);
        vt_dist_abort(rc);
    }
    vt_dist_finalize();
    return rc;
}
