/* Helpers the subcommands share for model directories. */
#ifndef VERTO_CLI_MODEL_DIR_H
#define VERTO_CLI_MODEL_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"
#include "verto/task.h"
#include "verto/tokenizer.h"

/* Writes DIR/vocab.txt (a copy of vocab_path), DIR/tokenizer_config.json
 * (do_lower_case, model_max_length) and DIR/special_tokens_map.json, each
 * atomically, as transformers' BertTokenizer.save_pretrained lays them out. */
vt_status cli_write_tokenizer_files(const char *dir, const char *vocab_path, bool lowercase, int64_t max_length);

/* Writes DIR/tokenizer.json (tok as it was read) and a tokenizer_config.json
 * naming its special tokens (with bos/eos as RoBERTa's when roberta_like),
 * model_max_length max_length, for a model directory transformers'
 * AutoTokenizer loads. */
vt_status cli_write_tokenizer_json(const char *dir, const vt_tokenizer *tok, int64_t max_length, bool roberta_like);

/* dir loaded as a task of `kind` (batch_size and max_seq_length as given, 0:
 * their defaults); NULL with the error set. */
vt_task *cli_load_task(const char *dir, vt_task_kind kind, vt_precision precision, int64_t max_seq_length,
                       int64_t batch_size);

/* dir loaded as the sequence task its config.json records (single- or
 * multi-label classification, regression); a model with no trained
 * classifier is an error saying so. NULL with the error set. */
vt_task *cli_load_sequence_task(const char *dir, vt_precision precision, int64_t max_seq_length, int64_t batch_size);

/* "DIR/name" into buf. */
const char *cli_path(char *buf, size_t size, const char *dir, const char *name);

#endif
