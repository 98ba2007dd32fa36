/* verto init and verto summary for GPT-2 (see gpt2_commands.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/gpt2_commands.h"
#include "verto/fileio.h"
#include "verto/gpt2.h"
#include "verto/tokenizer.h"

#define MAX_CONFIG_BYTES (64u << 20)

bool cli_is_gpt2_preset(const char *preset) { return preset && !strncmp(preset, "gpt2-", 5); }

bool cli_is_gpt2_config_file(const char *path) {
    char *text = NULL;
    size_t len = 0;
    bool yes = path && vt_read_file(path, MAX_CONFIG_BYTES, &text, &len) == VT_OK && vt_gpt2_is_config(text, len);
    free(text);
    return yes;
}

bool cli_is_gpt2_dir(const char *dir) {
    char path[4096];
    if (!dir || snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path) return false;
    return cli_is_gpt2_config_file(path);
}

/* The tokenizer's files in the new directory: a directory's copied, a
 * tokenizer.json (or vocab.txt) written as tokenizer.json. */
static vt_status write_tokenizer(const char *out, const char *tok_path, const vt_tokenizer *tok) {
    if (vt_is_dir(tok_path)) return vt_bert_copy_tokenizer_files(tok_path, out, NULL);
    char file[4096];
    snprintf(file, sizeof file, "%s/tokenizer.json", out);
    return vt_tok_save_json(tok, file);
}

int cli_init_gpt2(const char *preset, const char *config_json, const char *tok_path, const char *out, int64_t seed) {
    vt_tokenizer *tok = NULL;
    int64_t vocab_size = 0;
    if (tok_path) {
        if (!(tok = vt_tok_load(tok_path, NULL))) return cli_fail("%s", vt_last_error());
        vocab_size = vt_wp_vocab_size(vt_tok_vocab(tok));
    }
    vt_gpt2_config c;
    vt_status st = preset ? vt_gpt2_config_preset(&c, preset, vocab_size) : vt_gpt2_config_read(config_json, &c);
    if (st == VT_OK && tok) {
        int32_t eot = vt_wp_vocab_id(vt_tok_vocab(tok), "<|endoftext|>", 13); /* GPT-2's bos and eos */
        if (config_json && c.vocab_size != vocab_size)
            st = vt_error(VT_ERR_INVALID_ARG, "%s says vocab_size %lld but %s has %lld tokens", config_json,
                          (long long)c.vocab_size, tok_path, (long long)vocab_size);
        else if (preset && eot >= 0)
            c.bos_token_id = c.eos_token_id = eot;
    }
    vt_gpt2 *m = st == VT_OK ? vt_gpt2_new(&c, (uint64_t)seed) : NULL;
    if (st == VT_OK && !m) st = vt_last_status();
    if (st == VT_OK) st = vt_gpt2_save(m, out);
    if (st == VT_OK && tok) st = write_tokenizer(out, tok_path, tok);
    vt_tok_free(tok);
    if (st != VT_OK) {
        vt_gpt2_free(m);
        return cli_fail("%s", vt_last_error());
    }
    printf("wrote %s: GPT2LMHeadModel L%lld/H%lld/A%lld, %lld positions, vocabulary %lld, %lld parameters\n", out,
           (long long)c.n_layer, (long long)c.n_embd, (long long)c.n_head, (long long)c.n_positions,
           (long long)c.vocab_size, (long long)vt_gpt2_num_parameters(m));
    vt_gpt2_free(m);
    return 0;
}

int cli_summary_gpt2(const char *dir) {
    vt_gpt2 *m = vt_gpt2_load(dir);
    if (!m) return cli_fail("%s", vt_last_error());
    vt_gpt2_summary(m, stdout);
    vt_gpt2_free(m);
    return 0;
}
