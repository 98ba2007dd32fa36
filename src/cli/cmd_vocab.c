/* verto vocab: train a WordPiece vocabulary (vocab.txt) or a byte-level BPE
 * (tokenizer.json, and vocab.json + merges.txt) from text files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/vocab_builder.h"

/* --type bpe: GPT-2's byte-level BPE as tokenizers' ByteLevelBPETokenizer trains it. */
static int vocab_bpe(vt_vb_options *o, const char *specials, const char *out, const char *files_dir, char **files,
                     int n_files) {
    char *list = strdup(specials ? specials : "");
    const char *tokens[256];
    int n = 0;
    for (char *save = NULL, *tok = list ? strtok_r(list, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == 256) {
            free(list);
            return cli_fail("--special-tokens: at most 256");
        }
        tokens[n++] = tok;
    }
    o->kind = VT_VB_BYTE_LEVEL_BPE;
    o->special_tokens = tokens;
    o->n_special_tokens = n;
    vt_vocab_builder *b = vt_vb_create(o);
    free(list);
    vt_status st = b ? VT_OK : vt_last_status();
    for (int i = 0; st == VT_OK && i < n_files; i++) st = vt_vb_add_file(b, files[i]);
    vt_bpe_vocab *v = st == VT_OK ? vt_vb_train_bpe(b) : NULL;
    if (v) st = vt_bpe_vocab_save_json(v, out);
    if (v && st == VT_OK && files_dir) st = vt_bpe_vocab_save_files(v, files_dir);
    int rc = 0;
    if (!v || st != VT_OK) rc = cli_fail("%s", vt_last_error());
    else
        printf("%s: %d tokens, %d merges, from %lld words (%zu distinct) in %d file%s\n", out, vt_bpe_vocab_size(v),
               vt_bpe_vocab_n_merges(v), (long long)vt_vb_total_words(b), vt_vb_distinct_words(b), n_files,
               n_files == 1 ? "" : "s");
    vt_bpe_vocab_free(v);
    vt_vb_free(b);
    return rc;
}

int cmd_vocab(int argc, char **argv) {
    const char *out = NULL, *type = "wordpiece", *specials = NULL, *files_dir = NULL;
    bool cased = false;
    int64_t size = 0, min_freq = 2, limit = -1; /* -1: not given (1000 for WordPiece) */
    const cli_option opts[] = {
        {"--type", CLI_STRING, &type, "T", "wordpiece (vocab.txt, default) or bpe (GPT-2's byte-level BPE, tokenizer.json)"},
        {"--size", CLI_INT, &size, "N", "number of tokens, the special ones included", 5, 1e8},
        {"--special-tokens", CLI_STRING, &specials, "LIST", "bpe: comma-separated tokens first in the vocabulary"},
        {"--vocab-json-merges", CLI_STRING, &files_dir, "DIR", "bpe: also write DIR/vocab.json and DIR/merges.txt"},
        {"--cased", CLI_FLAG, &cased, NULL, "wordpiece: keep case and accents (default: lowercase and strip accents)"},
        {"--min-frequency", CLI_INT, &min_freq, "F", "merge only pairs seen at least F times (default 2)", 0, 1e18},
        {"--limit-alphabet", CLI_INT, &limit, "A", "wordpiece: keep the A most frequent characters, 0 for all (default 1000)", 0, 1e8},
        {"-o|--output", CLI_STRING, &out, "FILE", "where to write vocab.txt or tokenizer.json (atomically)"},
        {0}};
    char **files = NULL;
    int n_files = 0;
    int rc = cli_parse(argc, argv, opts,
                       "verto vocab --size N [--cased] [--min-frequency F] [--limit-alphabet A] -o vocab.txt FILE...\n"
                       "       verto vocab --type bpe --size N [--min-frequency F] [--special-tokens LIST]\n"
                       "                   [--vocab-json-merges DIR] -o tokenizer.json FILE...",
                       &files, &n_files);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!out || size == 0 || n_files == 0) {
        free(files);
        return cli_fail("vocab needs --size N, -o FILE and at least one text file");
    }
    bool bpe = !strcmp(type, "bpe");
    if (!bpe && strcmp(type, "wordpiece")) {
        free(files);
        return cli_fail("--type: wordpiece or bpe, not '%s'", type);
    }
    if (!bpe && (specials || files_dir)) {
        free(files);
        return cli_fail("--special-tokens and --vocab-json-merges go with --type bpe");
    }
    if (bpe && (cased || limit >= 0)) { /* byte-level BPE keeps every byte and never normalizes */
        free(files);
        return cli_fail("--cased and --limit-alphabet go with --type wordpiece");
    }
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.vocab_size = (int32_t)size;
    o.min_frequency = min_freq;
    if (bpe) {
        rc = vocab_bpe(&o, specials, out, files_dir, files, n_files);
        free(files);
        return rc;
    }
    o.limit_alphabet = limit < 0 ? 1000 : (int32_t)limit;
    o.text.lowercase = !cased;
    vt_vocab_builder *b = vt_vb_create(&o);
    vt_status st = b ? VT_OK : vt_last_status();
    for (int i = 0; st == VT_OK && i < n_files; i++) st = vt_vb_add_file(b, files[i]);
    vt_wp_vocab *v = st == VT_OK ? vt_vb_train(b) : NULL;
    if (v) st = vt_wp_vocab_save(v, out);
    rc = 0;
    if (!v || st != VT_OK) rc = cli_fail("%s", vt_last_error());
    else
        printf("%s: %d tokens from %lld words (%zu distinct) in %d file%s\n", out, vt_wp_vocab_size(v),
               (long long)vt_vb_total_words(b), vt_vb_distinct_words(b), n_files, n_files == 1 ? "" : "s");
    vt_wp_vocab_free(v);
    vt_vb_free(b);
    free(files);
    return rc;
}
