/* verto prepare-pretraining: raw text -> BERT pretraining shards
 * (see include/verto/pretrain_data.h for the algorithm and the format). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labelled_text.h"
#include "verto/pretrain_data.h"
#include "verto/progress.h"
#include "verto/tokenizer.h"

static void on_progress(int64_t bytes, void *ctx) { vt_progress_update(ctx, bytes); }

/* --verify: reads every shard of a prepared directory against a vocabulary. */
static int verify(const char *dir, const vt_wp_vocab *vocab) {
    vt_pt_dataset *ds = vt_pt_open(dir, vocab);
    if (!ds) return cli_fail("%s", vt_last_error());
    const vt_pt_info *in = vt_pt_get_info(ds);
    int64_t n = vt_pt_size(ds), tokens = 0, masked = 0, random_next = 0;
    for (int64_t i = 0; i < n; i++) {
        vt_pt_instance x;
        if (vt_pt_get(ds, i, &x) != VT_OK) {
            vt_pt_close(ds);
            return cli_fail("%s", vt_last_error());
        }
        tokens += x.n_tokens, masked += x.n_masked, random_next += x.is_random_next;
    }
    if (tokens != in->tokens) {
        vt_pt_close(ds);
        return cli_fail("%s: the shards hold %lld tokens, the manifest says %lld", dir, (long long)tokens,
                        (long long)in->tokens);
    }
    if (in->objective == VT_PT_CLM)
        printf("%s: ok: clm, %d shards, %lld blocks of %d, %lld tokens, end of text id %d\n", dir, (int)in->n_shards,
               (long long)n, (int)in->max_seq_length, (long long)tokens, (int)in->eos_id);
    else
        printf("%s: ok: %s, %d shards, %lld instances, %lld tokens, %lld masked, %.1f%% random next, %s masking\n", dir,
               vt_pt_objective_name(in->objective), (int)in->n_shards, (long long)n, (long long)tokens,
               (long long)masked, n ? 100.0 * (double)random_next / (double)n : 0.0, in->masked ? "static" : "dynamic");
    vt_pt_close(ds);
    return 0;
}

int cmd_prepare_pretraining(int argc, char **argv) {
    vt_pt_options o;
    vt_pt_options_default(&o);
    const char *vocab_path = NULL, *out = NULL, *text_field = NULL, *verify_dir = NULL, *objective = "mlm+nsp";
    const char *eos_token = NULL;
    int64_t msl = o.max_seq_length, maxp = o.mask.max_predictions, dupe = 0, seed = (int64_t)o.seed;
    int64_t per_shard = o.instances_per_shard, window = o.window_tokens, buffer = o.shuffle_buffer;
    double ssp = o.short_seq_prob, mlp = o.mask.masked_lm_prob;
    bool wwm = false, dynamic = false, cased = false, jsonl = false, quiet = false, text_from = false;
    const cli_option opts[] = {
        {"--tokenizer|--vocab", CLI_STRING, &vocab_path, "PATH",
         "the tokenizer: a vocab.txt, a tokenizer.json or a model directory"},
        {"-o|--output", CLI_STRING, &out, "DIR", "output directory (shards + manifest.json)"},
        {"--objective", CLI_STRING, &objective, "mlm+nsp|mlm|clm",
         "BERT's sentence pairs for MLM + NSP (default), or full-length sequences packed for the masked LM alone "
         "(RoBERTa's recipe; dynamic masking), or blocks of --max-seq-length ids for a causal LM (GPT-2's: "
         "documents joined by the end-of-text token, the last partial block dropped)"},
        {"--eos-token", CLI_STRING, &eos_token, "TOKEN",
         "clm: the token after each document (default <|endoftext|>, else </s>)"},
        {"--max-seq-length", CLI_INT, &msl, "N", "tokens per instance, [CLS]/[SEP] included (default 128)", 5,
         VT_PT_MAX_SEQ_LENGTH_LIMIT},
        {"--short-seq-prob", CLI_FLOAT, &ssp, "P", "probability of a shorter target length (default 0.1; mlm+nsp)", 0, 1},
        {"--masked-lm-prob", CLI_FLOAT, &mlp, "P", "fraction of tokens to mask (default 0.15)", 1e-9, 1},
        {"--max-predictions", CLI_INT, &maxp, "N", "most masked tokens per instance (default 20)", 1,
         VT_PT_MAX_SEQ_LENGTH_LIMIT},
        {"--dupe-factor", CLI_INT, &dupe, "N", "passes over the corpus, each masked afresh (default 10; mlm: 1)", 1,
         10000},
        {"--whole-word-mask", CLI_FLAG, &wwm, NULL, "mask all pieces of a word together"},
        {"--dynamic-masking", CLI_FLAG, &dynamic, NULL, "store unmasked instances; masks are drawn at load time"},
        {"--seed", CLI_INT, &seed, "N", "random seed (default 12345)", 0, 9007199254740992.0},
        {"--cased", CLI_FLAG, &cased, NULL, "do not lowercase (a cased vocabulary)"},
        {"--jsonl", CLI_FLAG, &jsonl, NULL, "inputs are JSON Lines, one document per record"},
        {"--text-field", CLI_STRING, &text_field, "F", "JSONL key (or --text-from column) holding the text (default \"text\")"},
        {"--text-from", CLI_FLAG, &text_from, NULL,
         "inputs are labelled sets (TSV, CSV or JSONL, as finetune reads them): their texts, without the labels, "
         "are the documents"},
        {"--instances-per-shard", CLI_INT, &per_shard, "N", "instances per shard file (default 100000)", 1, 1e9},
        {"--window-tokens", CLI_INT, &window, "N", "tokens of documents held at once (default 8388608)", 1, 1e12},
        {"--shuffle-buffer", CLI_INT, &buffer, "N", "instances held for shuffling (default 100000)", 1, 1e9},
        {"--verify", CLI_STRING, &verify_dir, "DIR", "instead: check a prepared directory against --tokenizer"},
        {"-q|--quiet", CLI_FLAG, &quiet, NULL, "no progress bar"},
        {0}};
    char **files = NULL;
    int n_files = 0;
    int rc = cli_parse(argc, argv, opts,
                       "verto prepare-pretraining --tokenizer PATH -o DIR [options] FILE...\n"
                       "       verto prepare-pretraining --verify DIR --tokenizer PATH\n\n"
                       "Text files: one sentence (or line) per line, a blank line between documents.\n"
                       "JSONL (--jsonl): one document per record, its text in --text-field.\n"
                       "Labelled sets (--text-from): one document per row, its text (and text_b) without the label.",
                       &files, &n_files);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!vocab_path) {
        free(files);
        return cli_fail("prepare-pretraining needs --tokenizer (see --help)");
    }
    if (verify_dir) {
        free(files);
        vt_tokenizer *t = vt_tok_load(vocab_path, NULL);
        if (!t) return cli_fail("%s", vt_last_error());
        rc = verify(verify_dir, vt_tok_vocab(t));
        vt_tok_free(t);
        return rc;
    }
    if (!out || n_files < 1) {
        free(files);
        return cli_fail("prepare-pretraining needs -o DIR and at least one input file (see --help)");
    }
    if (text_field && !jsonl && !text_from) {
        free(files);
        return cli_fail("--text-field needs --jsonl or --text-from");
    }
    if (jsonl && text_from) {
        free(files);
        return cli_fail("--jsonl and --text-from exclude each other (--text-from reads JSONL sets too)");
    }
    if (!vt_pt_objective_parse(objective, &o.objective)) {
        free(files);
        return cli_fail("--objective must be mlm+nsp, mlm or clm (got \"%s\")", objective);
    }
    if (eos_token && o.objective != VT_PT_CLM) {
        free(files);
        return cli_fail("--eos-token is for --objective clm");
    }
    o.eos_token = eos_token;
    if (o.objective == VT_PT_MLM) dynamic = true; /* masks drawn afresh each time an instance is read */
    if (dupe == 0) dupe = o.objective != VT_PT_MLM_NSP ? 1 : o.dupe_factor;
    o.max_seq_length = (int32_t)msl;
    o.short_seq_prob = ssp;
    o.mask.masked_lm_prob = mlp;
    o.mask.max_predictions = (int32_t)maxp;
    o.mask.whole_word_mask = wwm;
    o.dynamic_masking = dynamic;
    o.dupe_factor = (int32_t)dupe;
    o.seed = (uint64_t)seed;
    o.instances_per_shard = per_shard;
    o.window_tokens = window;
    o.shuffle_buffer = buffer;
    o.jsonl = jsonl;
    if (text_field) o.text_field = text_field;

    char *texts = NULL; /* --text-from: the sets' texts, gathered in one temporary JSONL file */
    if (text_from) {
        int64_t n_texts = 0;
        if (cli_labelled_texts_to_jsonl(files, n_files, text_field, &texts, &n_texts) != VT_OK) {
            free(files);
            return cli_fail("%s", vt_last_error());
        }
        if (!quiet) fprintf(stderr, "%lld texts from %d labelled set%s\n", (long long)n_texts, n_files, n_files == 1 ? "" : "s");
        files[0] = texts;
        n_files = 1;
        o.jsonl = true;
        o.text_field = "text";
    }
    vt_tok_options to;
    vt_tok_options_default(&to);
    to.lowercase = !cased;
    to.split_special_tokens = true; /* "[SEP]" in the text is text, not structure */
    vt_tokenizer *tok = vt_tok_load(vocab_path, &to);
    if (!tok) {
        if (texts) unlink(texts);
        free(texts);
        free(files);
        const char *msg = vt_last_error();
        return strstr(msg, vocab_path) ? cli_fail("%s", msg) : cli_fail("%s: %s", vocab_path, msg);
    }
    int64_t total = 0;
    for (int i = 0; i < n_files; i++) {
        struct stat sb;
        if (!stat(files[i], &sb) && S_ISREG(sb.st_mode)) total += sb.st_size;
    }
    vt_progress bar;
    vt_progress_start(&bar, stderr, total, "prepare-pretraining");
    bar.unit = "byte";
    vt_pt_stats s;
    vt_status st = vt_pt_prepare(tok, (const char *const *)files, n_files, out, &o, quiet ? NULL : on_progress, &bar, &s);
    if (st == VT_OK && !quiet) vt_progress_finish(&bar);
    vt_tok_free(tok);
    if (texts) unlink(texts);
    free(texts);
    free(files);
    if (st != VT_OK) return cli_fail("%s", vt_last_error());
    if (o.objective == VT_PT_CLM) {
        printf("wrote %s: %lld documents, %lld blocks of %d tokens, %lld shards (clm; the last %lld tokens, a partial "
               "block, dropped)\n",
               out, (long long)s.documents, (long long)s.instances, (int)o.max_seq_length, (long long)s.shards,
               (long long)s.dropped_tokens);
        return 0;
    }
    printf("wrote %s: %lld documents, %lld instances, %lld tokens, %lld shards (%s, %s masking%s, %.1f%% random next, "
           "%lld masked tokens)\n",
           out, (long long)s.documents, (long long)s.instances, (long long)s.tokens, (long long)s.shards,
           vt_pt_objective_name(o.objective), dynamic ? "dynamic" : "static", wwm ? ", whole words" : "",
           s.instances ? 100.0 * (double)s.random_next / (double)s.instances : 0.0, (long long)s.masked);
    return 0;
}
