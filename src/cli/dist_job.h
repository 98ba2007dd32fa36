/* The part of a training command that deals with being one rank of an MPI job. */
#ifndef VERTO_CLI_DIST_JOB_H
#define VERTO_CLI_DIST_JOB_H

#include <stdint.h>

#include "verto/error.h"

/* Under mpirun: joins the job, sets its collective timeout (seconds) and,
 * unless `threads` is given, gives each rank its share of the machine's cores. */
vt_status cli_join_job(double timeout, int64_t threads);

/* Prints the error if st is one (naming the rank under MPI, where it then
 * ends the whole job), leaves the job, and returns the exit status. */
int cli_leave_job(vt_status st);

#endif
