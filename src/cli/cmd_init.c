/* verto init: a randomly initialised model directory to pretrain: a
 * BertForPreTraining, or the masked LM of a family without NSP (RoBERTa,
 * XLM-RoBERTa, DistilBERT). */
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_dir.h"
#include "verto/bert.h"
#include "verto/fileio.h"
#include "verto/tokenizer.h"

/* The padding id is the vocabulary's [PAD] (RoBERTa's positions count from it). */
static vt_status use_vocab_padding(vt_bert_config *c, const vt_wp_vocab *vocab, const char *vocab_path) {
    int32_t pad = vt_wp_vocab_id(vocab, "[PAD]", 5);
    if (pad < 0) return vt_error(VT_ERR_FORMAT, "%s has no [PAD] token", vocab_path);
    bool after_padding = c->family == VT_FAMILY_ROBERTA || c->family == VT_FAMILY_XLM_ROBERTA;
    if (after_padding) c->max_position_embeddings += pad - c->pad_token_id; /* the same number of tokens */
    c->pad_token_id = pad;
    return VT_OK;
}

int cmd_init(int argc, char **argv) {
    const char *preset = NULL, *config_json = NULL, *vocab_path = NULL, *out = NULL;
    int64_t seed = 0;
    bool cased = false;
    const cli_option opts[] = {
        {"--config", CLI_STRING, &preset, "NAME",
         "size tiny, mini, small, medium or base; FAMILY-SIZE for another family (roberta-tiny, xlm-roberta-tiny, "
         "distilbert-tiny)"},
        {"--config-json", CLI_STRING, &config_json, "FILE", "a config.json to start from instead"},
        {"--vocab", CLI_STRING, &vocab_path, "FILE", "vocab.txt (its size sets vocab_size)"},
        {"--cased", CLI_FLAG, &cased, NULL, "the vocabulary is cased (default: uncased)"},
        {"--seed", CLI_INT, &seed, "N", "initialisation seed (default 0)", 0, 9e15},
        {"-o|--output", CLI_STRING, &out, "DIR", "output directory"},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto init --config [FAMILY-]{tiny,mini,small,medium,base} --vocab VOCAB -o DIR",
                       NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!vocab_path || !out || (!preset == !config_json))
        return cli_fail("init needs --vocab, -o and exactly one of --config or --config-json");
    vt_wp_vocab *vocab = vt_wp_vocab_load(vocab_path);
    if (!vocab) return cli_fail("%s", vt_last_error());
    int64_t vocab_size = vt_wp_vocab_size(vocab);

    vt_bert_config c;
    vt_status st = preset ? vt_bert_config_preset(&c, preset, vocab_size) : vt_bert_config_read(config_json, &c);
    if (st == VT_OK && preset) st = use_vocab_padding(&c, vocab, vocab_path);
    vt_wp_vocab_free(vocab);
    if (st != VT_OK) return cli_fail("%s", vt_last_error());
    if (config_json && c.vocab_size != vocab_size)
        return cli_fail("%s says vocab_size %lld but %s has %lld tokens", config_json, (long long)c.vocab_size, vocab_path,
                        (long long)vocab_size);
    /* The pretraining heads: MLM + NSP where the family has them, else MLM alone. */
    c.arch = c.family == VT_FAMILY_BERT ? VT_BERT_FOR_PRETRAINING : VT_BERT_FOR_MASKED_LM;
    vt_bert *b = vt_bert_new(&c, (uint64_t)seed);
    if (!b) return cli_fail("%s", vt_last_error());
    st = vt_bert_save(b, out);
    if (st == VT_OK) st = cli_write_tokenizer_files(out, vocab_path, !cased, vt_bert_max_length(&c));
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
