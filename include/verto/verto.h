/* verto: Transformer language models for domain applications, in C.
 * This umbrella header includes the whole public API; libverto.so exports
 * exactly what these headers declare.
 *
 *   task.h          the product: a model directory as a model + tokenizer +
 *                   head; classify, embed, fill-mask, evaluate, fine-tune
 *   bert.h          the BERT family: config, load/save, forward, backward
 *   tokenizer.h     WordPiece tokenization; vocab_builder.h trains a vocab
 *   dataset.h       labelled TSV/CSV/JSONL; pretrain_data.h pretraining shards
 *   tagged.h        token-tagged data (CoNLL, JSONL) for NER; ner.h tag schemes,
 *                   entities, label alignment, the pipeline's aggregation;
 *                   ner_metrics.h entity-level metrics (seqeval's)
 *   squad.h         extractive question answering: SQuAD data, features, answers, scores
 *   trainer.h       the training loop, checkpoints (checkpoint.h), MPI (dist.h)
 *   optim.h         AdamW/Adam/SGD and schedules; metrics.h evaluation metrics
 *                   (multilabel_metrics.h, regression_metrics.h for those tasks)
 *   serve.h         the HTTP service's engine (transport-independent)
 *   plot.h          line charts as self-contained SVG; metrics_log.h reads
 *                   metrics.jsonl and draws runs' curves with it
 *   kernels.h       the numeric kernels; platform.h the CPU and versions
 *   safetensors.h, fileio.h, tensor.h, arena.h, rng.h, progress.h, error.h
 *   model.h         the seed's Keras-style graph API (Input, Dense, fit, ...) */
#ifndef VERTO_VERTO_H
#define VERTO_VERTO_H

#include "verto/arena.h"
#include "verto/bert.h"
#include "verto/checkpoint.h"
#include "verto/dataset.h"
#include "verto/dist.h"
#include "verto/error.h"
#include "verto/explain.h"
#include "verto/fileio.h"
#include "verto/gpt2.h"
#include "verto/gpt2_lora.h"
#include "verto/kernels.h"
#include "verto/metrics.h"
#include "verto/metrics_log.h"
#include "verto/model.h"
#include "verto/multilabel_metrics.h"
#include "verto/ner.h"
#include "verto/ner_metrics.h"
#include "verto/optim.h"
#include "verto/platform.h"
#include "verto/plot.h"
#include "verto/pretrain_data.h"
#include "verto/privacy.h"
#include "verto/progress.h"
#include "verto/regression_metrics.h"
#include "verto/rng.h"
#include "verto/safetensors.h"
#include "verto/sampling.h"
#include "verto/serve.h"
#include "verto/tagged.h"
#include "verto/squad.h"
#include "verto/task.h"
#include "verto/tensor.h"
#include "verto/tokenizer.h"
#include "verto/trainer.h"
#include "verto/vocab_builder.h"

#endif
