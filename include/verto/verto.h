/* verto: Transformer language models for domain applications, in C.
 * This umbrella header includes the whole public API. */
#ifndef VERTO_VERTO_H
#define VERTO_VERTO_H

#include "verto/arena.h"
#include "verto/error.h"
#include "verto/fileio.h"
#include "verto/kernels.h"
#include "verto/model.h"
#include "verto/optim.h"
#include "verto/progress.h"
#include "verto/rng.h"
#include "verto/safetensors.h"
#include "verto/tensor.h"

#endif
