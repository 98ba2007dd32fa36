/* verto init: a randomly initialised model directory to pretrain: a
 * BertForPreTraining, or the masked LM of a family without NSP (RoBERTa,
 * XLM-RoBERTa, DistilBERT). */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/gpt2_commands.h"
#include "cli/model_dir.h"
#include "verto/bert.h"
#include "verto/fileio.h"
#include "verto/tokenizer.h"

/* The padding id is the tokenizer's pad token (RoBERTa's positions count from it). */
static vt_status use_padding(vt_bert_config *c, const vt_tokenizer *tok, const char *tok_path) {
    int32_t pad = vt_tok_special_ids(tok).pad;
    if (pad < 0) return vt_error(VT_ERR_FORMAT, "%s has no padding token ([PAD] or <pad>)", tok_path);
    bool after_padding = c->family == VT_FAMILY_ROBERTA || c->family == VT_FAMILY_XLM_ROBERTA;
    if (after_padding) c->max_position_embeddings += pad - c->pad_token_id; /* the same number of tokens */
    c->pad_token_id = pad;
    return VT_OK;
}

/* A bare vocab.txt, as opposed to a tokenizer.json or a model directory. */
static bool is_vocab_txt(const char *path) {
    size_t n = strlen(path);
    return !vt_is_dir(path) && !(n >= 5 && !strcmp(path + n - 5, ".json"));
}

/* The new directory's tokenizer: BertTokenizer's files for a vocab.txt, a
 * directory's tokenizer files as they are, or a tokenizer.json with the
 * tokenizer_config.json that names its special tokens. */
static vt_status write_tokenizer(const char *out, const char *tok_path, const vt_tokenizer *tok, bool cased,
                                 const vt_bert_config *c) {
    int64_t max_length = vt_bert_max_length(c);
    if (is_vocab_txt(tok_path)) return cli_write_tokenizer_files(out, tok_path, !cased, max_length);
    char overrides[64];
    snprintf(overrides, sizeof overrides, "{\"model_max_length\": %lld}", (long long)max_length);
    if (vt_is_dir(tok_path)) return vt_bert_copy_tokenizer_files(tok_path, out, overrides);
    bool roberta_like = c->family == VT_FAMILY_ROBERTA || c->family == VT_FAMILY_XLM_ROBERTA;
    return cli_write_tokenizer_json(out, tok, max_length, roberta_like);
}

int cmd_init(int argc, char **argv) {
    const char *preset = NULL, *config_json = NULL, *tok_path = NULL, *out = NULL;
    int64_t seed = 0;
    bool cased = false;
    const cli_option opts[] = {
        {"--config", CLI_STRING, &preset, "NAME",
         "size tiny, mini, small, medium or base; FAMILY-SIZE for another family (roberta-tiny, xlm-roberta-tiny, "
         "distilbert-tiny); gpt2-tiny, gpt2-mini or gpt2-small for a GPT-2"},
        {"--config-json", CLI_STRING, &config_json, "FILE", "a config.json to start from instead"},
        {"--tokenizer|--vocab", CLI_STRING, &tok_path, "PATH",
         "the tokenizer (its size sets vocab_size): a vocab.txt, a tokenizer.json or a model directory"},
        {"--cased", CLI_FLAG, &cased, NULL, "a vocab.txt is cased (default: uncased)"},
        {"--seed", CLI_INT, &seed, "N", "initialisation seed (default 0)", 0, 9e15},
        {"-o|--output", CLI_STRING, &out, "DIR", "output directory"},
        {0}};
    int rc = cli_parse(argc, argv, opts,
                       "verto init --config [FAMILY-]{tiny,mini,small,medium,base} --tokenizer PATH -o DIR", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (out && !preset != !config_json && (cli_is_gpt2_preset(preset) || cli_is_gpt2_config_file(config_json)))
        return cli_init_gpt2(preset, config_json, tok_path, out, seed); /* its tokenizer is optional */
    if (!tok_path || !out || (!preset == !config_json))
        return cli_fail("init needs --tokenizer (or --vocab), -o and exactly one of --config or --config-json");
    vt_tok_options to;
    vt_tok_options_default(&to);
    to.lowercase = !cased;
    vt_tokenizer *tok = is_vocab_txt(tok_path) ? vt_tok_create(vt_wp_vocab_load(tok_path), &to) : vt_tok_load(tok_path, NULL);
    if (!tok) return cli_fail("%s", vt_last_error());
    int64_t vocab_size = vt_wp_vocab_size(vt_tok_vocab(tok));

    vt_bert_config c;
    vt_status st = preset ? vt_bert_config_preset(&c, preset, vocab_size) : vt_bert_config_read(config_json, &c);
    if (st == VT_OK && preset) st = use_padding(&c, tok, tok_path);
    if (st == VT_OK && config_json && c.vocab_size != vocab_size)
        st = vt_error(VT_ERR_INVALID_ARG, "%s says vocab_size %lld but %s has %lld tokens", config_json,
                      (long long)c.vocab_size, tok_path, (long long)vocab_size);
    /* The pretraining heads: MLM + NSP where the family has them, else MLM alone. */
    c.arch = c.family == VT_FAMILY_BERT ? VT_BERT_FOR_PRETRAINING : VT_BERT_FOR_MASKED_LM;
    vt_bert *b = st == VT_OK ? vt_bert_new(&c, (uint64_t)seed) : NULL;
    if (st == VT_OK && !b) st = vt_last_status();
    if (st == VT_OK) st = vt_bert_save(b, out);
    if (st == VT_OK) st = write_tokenizer(out, tok_path, tok, cased, &c);
    vt_tok_free(tok);
    if (st != VT_OK) {
        vt_bert_free(b);
        return cli_fail("%s", vt_last_error());
    }
    int64_t n;
    vt_bert_params(b, &n);
    printf("wrote %s: %s L%lld/H%lld/A%lld, vocabulary %lld, %lld parameters\n", out, vt_bert_config_arch_name(&c),
           (long long)c.num_hidden_layers, (long long)c.hidden_size, (long long)c.num_attention_heads,
           (long long)c.vocab_size, (long long)n);
    vt_bert_free(b);
    return 0;
}
