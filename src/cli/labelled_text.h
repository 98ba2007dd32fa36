/* prepare-pretraining --text-from: the texts of labelled sets (the task's
 * own training data, without its labels) as documents for the masked LM. */
#ifndef VT_CLI_LABELLED_TEXT_H
#define VT_CLI_LABELLED_TEXT_H

#include <stdint.h>

#include "verto/error.h"

/* Reads each of `files` as fine-tuning does (TSV, CSV or JSONL by extension;
 * text_column NULL: "text"; labels are not read, so unlabelled files work
 * too) and writes every row as one JSONL document {"text": ...} (a pair's
 * second text on a line of its own) to a new temporary file: *tmp_path
 * (malloc'd; the caller unlinks and frees it). *n_texts counts the rows.
 * A bad row is the reader's error "FILE:LINE: ..."; nothing is left behind
 * on failure. */
vt_status cli_labelled_texts_to_jsonl(char *const *files, int n_files, const char *text_column, char **tmp_path,
                                      int64_t *n_texts);

#endif
