/* verto init and verto summary for GPT-2: the general commands hand over to
 * these when the size or config.json names a GPT-2. */
#ifndef VERTO_CLI_GPT2_COMMANDS_H
#define VERTO_CLI_GPT2_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

/* A --config name of GPT-2's ("gpt2-tiny", ...), or a --config-json file with model_type "gpt2". */
bool cli_is_gpt2_preset(const char *preset);
bool cli_is_gpt2_config_file(const char *path);
/* A model directory whose config.json has model_type "gpt2". */
bool cli_is_gpt2_dir(const char *dir);

/* verto init for GPT-2: exactly one of preset and config_json; tok_path may be
 * NULL (the config's vocabulary, GPT-2's 50257 for a named size). */
int cli_init_gpt2(const char *preset, const char *config_json, const char *tok_path, const char *out, int64_t seed);
int cli_summary_gpt2(const char *dir);

#endif
