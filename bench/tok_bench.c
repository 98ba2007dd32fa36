/* Tokenizer throughput: MB/s of vt_tok_encode on one thread over a text file
 * of one text per line (what `verto tokenize` reads), with [CLS]/[SEP] and
 * no truncation, as `verto tokenize` encodes.
 *
 *   tok_bench --vocab DIR|FILE --input FILE [--rounds 3] [--name wordpiece]
 *
 * --vocab takes what vt_tok_load does: a model directory, a vocab.txt or a
 * tokenizer.json (byte-level BPE, Unigram, ...); --name labels the result.
 *
 * The file is read into memory first; each round encodes every line and is
 * timed as a whole. MB = 10^6 bytes of the file (newlines included), the
 * same count bench/peer_tokenizers.py divides by. Prints one JSON line with
 * the token total (to check against the peer's). */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "verto/tokenizer.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "bench: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    static const char *const KNOWN[] = {"--vocab", "--input", "--rounds", "--name", NULL};
    bench_check_opts(argc, argv, KNOWN);
    const char *vocab = bench_opt(argc, argv, "--vocab"), *input = bench_opt(argc, argv, "--input");
    int rounds = (int)bench_opt_int(argc, argv, "--rounds", 3, 1, 1000);
    const char *name = bench_opt(argc, argv, "--name") ? bench_opt(argc, argv, "--name") : "wordpiece";
    if (!vocab || !input) {
        fprintf(stderr, "usage: tok_bench --vocab DIR|FILE --input FILE [--rounds N] [--name NAME]\n");
        return 2;
    }
    bench_set_threads(1); /* vt_tok_encode is single-threaded; keep any helper single too */
    vt_tokenizer *tok = vt_tok_load(vocab, NULL);
    if (!tok) bench_die_verto(vocab);
    size_t len;
    char *text = read_all(input, &len);

    vt_tok_encoding enc;
    vt_tok_encoding_init(&enc);
    vt_tok_encode_opts opts;
    vt_tok_encode_opts_default(&opts);
    double *mbps = malloc((size_t)rounds * sizeof *mbps);
    long long tokens = 0, lines = 0;
    for (int r = 0; r < rounds && mbps; r++) {
        tokens = lines = 0;
        double t0 = bench_now();
        for (size_t pos = 0; pos < len;) {
            const char *nl = memchr(text + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - text) : len;
            size_t n = end > pos && text[end - 1] == '\r' ? end - pos - 1 : end - pos;
            if (vt_tok_encode(tok, text + pos, n, NULL, 0, &opts, &enc) != VT_OK) bench_die_verto("encode");
            tokens += enc.len;
            lines++;
            pos = end + 1;
        }
        mbps[r] = (double)len * 1e-6 / (bench_now() - t0);
    }
    if (!mbps) return 1;
    printf("{\"bench\": \"tokenize\", \"tokenizer\": \"%s\", \"system\": \"verto\", \"mode\": \"library\", "
           "\"threads\": 1, \"bytes\": %zu, \"lines\": %lld, \"tokens\": %lld, ",
           name, len, lines, tokens);
    bench_json_array(stdout, "mb_per_s_rounds", mbps, rounds);
    fputs(", ", stdout);
    bench_json_stats(stdout, "mb_per_s", bench_stats_of(mbps, rounds));
    printf(", \"peak_rss_mib\": %.1f}\n", bench_peak_rss_mib());
    free(mbps);
    free(text);
    vt_tok_encoding_free(&enc);
    vt_tok_free(tok);
    return 0;
}
