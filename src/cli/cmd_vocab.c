/* verto vocab: train a WordPiece vocabulary (vocab.txt) from text files. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/vocab_builder.h"

int cmd_vocab(int argc, char **argv) {
    const char *out = NULL;
    bool cased = false;
    int64_t size = 0, min_freq = 2, limit = 1000;
    const cli_option opts[] = {
        {"--size", CLI_INT, &size, "N", "number of tokens, the 5 special ones included", 5, 1e8},
        {"--cased", CLI_FLAG, &cased, NULL, "keep case and accents (default: lowercase and strip accents)"},
        {"--min-frequency", CLI_INT, &min_freq, "F", "merge only pairs seen at least F times (default 2)", 0, 1e18},
        {"--limit-alphabet", CLI_INT, &limit, "A", "keep the A most frequent characters, 0 for all (default 1000)", 0, 1e8},
        {"-o|--output", CLI_STRING, &out, "FILE", "where to write vocab.txt (atomically)"},
        {0}};
    char **files = NULL;
    int n_files = 0;
    int rc = cli_parse(argc, argv, opts,
                       "verto vocab --size N [--cased] [--min-frequency F] [--limit-alphabet A] -o vocab.txt FILE...",
                       &files, &n_files);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!out || size == 0 || n_files == 0) {
        free(files);
        return cli_fail("vocab needs --size N, -o FILE and at least one text file");
    }
    vt_vb_options o;
    vt_vb_options_default(&o);
    o.vocab_size = (int32_t)size;
    o.min_frequency = min_freq;
    o.limit_alphabet = (int32_t)limit;
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
