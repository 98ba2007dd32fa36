/* verto tokenize: one line of text in, one line of ids (or tokens, or a JSON
 * object of ids and character offsets) out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/tokenizer.h"

typedef struct tok_ctx {
    const vt_tokenizer *tok;
    vt_tok_encoding enc;
    vt_tok_encode_opts opts;
    bool tokens, json;
    long long line;
} tok_ctx;

/* {"ids": [...], "offsets": [[start, end], ...]}, offsets in code points of the line as tokenizers reports them. */
static void print_json(tok_ctx *c, const char *line, size_t len) {
    vt_tok_offsets_to_chars(line, len, c->enc.offsets, (size_t)c->enc.len * 2);
    fputs("{\"ids\": [", stdout);
    for (int32_t i = 0; i < c->enc.len; i++) printf(i ? ", %d" : "%d", c->enc.ids[i]);
    fputs("], \"offsets\": [", stdout);
    for (int32_t i = 0; i < c->enc.len; i++)
        printf(i ? ", [%d, %d]" : "[%d, %d]", c->enc.offsets[2 * i], c->enc.offsets[2 * i + 1]);
    fputs("]}\n", stdout);
}

static int on_line(const char *line, size_t len, void *ud) {
    tok_ctx *c = ud;
    c->line++;
    if (vt_tok_encode(c->tok, line, len, NULL, 0, &c->opts, &c->enc) != VT_OK)
        return cli_fail("line %lld: %s", c->line, vt_last_error());
    if (c->json) {
        print_json(c, line, len);
        return ferror(stdout) ? cli_fail("writing the output: %s", strerror(errno)) : 0;
    }
    const vt_wp_vocab *v = vt_tok_vocab(c->tok);
    for (int32_t i = 0; i < c->enc.len; i++) {
        if (i) putchar(' ');
        if (c->tokens) fputs(vt_wp_vocab_token(v, c->enc.ids[i]), stdout);
        else printf("%d", c->enc.ids[i]);
    }
    putchar('\n');
    return ferror(stdout) ? cli_fail("writing the output: %s", strerror(errno)) : 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *vocab = NULL, *tokenizer = NULL, *input = NULL;
    bool cased = false, tokens = false, json = false;
    int64_t max_length = 0;
    const cli_option opts[] = {
        {"--tokenizer", CLI_STRING, &tokenizer, "DIR|FILE",
         "a tokenizer.json, or a model directory (its tokenizer.json, else its vocab.txt, vocab.json + merges.txt "
         "or sentencepiece.bpe.model)"},
        {"--vocab", CLI_STRING, &vocab, "FILE", "a bare vocab.txt (and the tokenizer_config.json beside it)"},
        {"--cased", CLI_FLAG, &cased, NULL,
         "with a vocab.txt: keep case and accents (default: tokenizer_config.json's do_lower_case, else uncased)"},
        {"--tokens", CLI_FLAG, &tokens, NULL, "print tokens instead of ids"},
        {"--json", CLI_FLAG, &json, NULL, "print {\"ids\", \"offsets\"} per line, offsets in characters of the line"},
        {"--max-length", CLI_INT, &max_length, "N", "truncate to N tokens, [CLS] and [SEP] included", 1, 2147483647.0},
        {"--input", CLI_STRING, &input, "FILE", "one text per line (default: standard input)"},
        {0}};
    char **args = NULL;
    int n_args = 0;
    int rc = cli_parse(argc, argv, opts,
                       "verto tokenize --tokenizer DIR|FILE | --vocab FILE [--cased] [--tokens | --json] "
                       "[--max-length N] [--input FILE]",
                       &args, &n_args);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    free(args);
    if (n_args > 0) return cli_fail("tokenize reads text from --input or standard input, not arguments");
    if (!vocab == !tokenizer) return cli_fail("tokenize needs one of --tokenizer DIR|FILE and --vocab FILE");
    if (tokens && json) return cli_fail("--tokens and --json are two outputs: choose one");
    const char *path = tokenizer ? tokenizer : vocab;
    vt_tok_options o;
    if (vt_tok_options_from_config(path, &o) != VT_OK) return cli_fail("%s", vt_last_error());
    if (cased) o.lowercase = false;
    vt_tokenizer *tok = vt_tok_load(path, &o);
    if (tok && cased && vt_tok_get_options(tok)->lowercase) {
        vt_tok_free(tok);
        return cli_fail("--cased applies to a vocab.txt: %s holds a tokenizer.json, whose normalizer says its casing",
                        path);
    }
    if (!tok) return cli_fail("%s", vt_last_error());
    FILE *in = stdin;
    if (input && !(in = fopen(input, "rb"))) {
        vt_tok_free(tok);
        return cli_fail("%s: %s", input, strerror(errno));
    }
    tok_ctx c = {.tok = tok, .tokens = tokens, .json = json};
    vt_tok_encoding_init(&c.enc);
    vt_tok_encode_opts_default(&c.opts);
    c.opts.max_length = (int32_t)max_length;
    rc = cli_for_each_line(in, on_line, &c);
    if (!rc && ferror(in)) rc = cli_fail("%s: read error", input ? input : "standard input");
    if (!rc && fflush(stdout) != 0) rc = cli_fail("writing the output: %s", strerror(errno));
    if (in != stdin) fclose(in);
    vt_tok_encoding_free(&c.enc);
    vt_tok_free(tok);
    return rc;
}
