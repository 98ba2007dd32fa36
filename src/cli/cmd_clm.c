/* verto pretrain --objective clm (causal-LM pretraining of a GPT-2 directory
 * on clm shards) and verto perplexity (strided sliding-window perplexity). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dist_job.h"
#include "cli/gpt2_commands.h"
#include "core/utf8.h"
#include "verto/clm_train.h"
#include "verto/dist.h"
#include "verto/fileio.h"
#include "verto/tokenizer.h"

bool cli_pretrain_is_clm(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--objective=clm") || (!strcmp(argv[i], "--objective") && i + 1 < argc && !strcmp(argv[i + 1], "clm")))
            return true;
        if ((!strcmp(argv[i], "--model") || !strcmp(argv[i], "--init")) && i + 1 < argc && cli_is_gpt2_dir(argv[i + 1]))
            return true;
    }
    return false;
}

/* Opens a clm dataset and a reader over it; errors when the shards hold another objective. */
static vt_status open_blocks(const char *dir, const vt_tokenizer *tok, uint64_t seed, int64_t batch,
                             vt_pt_dataset **ds, vt_pt_clm_reader **reader) {
    if (!(*ds = vt_pt_open(dir, vt_tok_vocab(tok)))) return vt_last_status();
    if (vt_pt_get_info(*ds)->objective != VT_PT_CLM)
        return vt_error(VT_ERR_INVALID_ARG, "%s was prepared for %s; causal-LM pretraining needs shards prepared with "
                                            "--objective clm", dir, vt_pt_objective_name(vt_pt_get_info(*ds)->objective));
    if (vt_pt_size(*ds) == 0) return vt_error(VT_ERR_INVALID_ARG, "%s holds no blocks", dir);
    return (*reader = vt_pt_clm_reader_new(*ds, seed, batch)) ? VT_OK : vt_last_status();
}

int cli_pretrain_clm(int argc, char **argv) {
    const char *init = NULL, *data = NULL, *eval_data = NULL, *out = NULL, *precision = "fp32", *objective = "clm";
    int64_t steps = 1000, batch = 8, accum = 1, warmup = -1, seed = 42, threads = 0, log_every = 10;
    int64_t eval_every = 0, eval_blocks = 64, save_every = 0, keep = 3;
    double lr = 1e-4, weight_decay = 0.01, clip = 1.0, dist_timeout = VT_DIST_DEFAULT_TIMEOUT;
    bool resume = false;
    const cli_option opts[] = {
        {"--model|--init", CLI_STRING, &init, "DIR", "GPT-2 directory to start from (verto init --config gpt2-tiny|mini|small, or any)"},
        {"--objective", CLI_STRING, &objective, "clm", "the causal LM (the shards must be prepared with --objective clm)"},
        {"--data", CLI_STRING, &data, "DIR", "shards written by verto prepare-pretraining --objective clm"},
        {"-o|--output", CLI_STRING, &out, "DIR", "output directory (model, checkpoints, metrics.jsonl)"},
        {"--steps", CLI_INT, &steps, "N", "optimizer steps (default 1000)", 1, 1e12},
        {"--batch-size", CLI_INT, &batch, "N", "blocks per micro-batch and rank (default 8)", 1, 1e6},
        {"--grad-accum", CLI_INT, &accum, "N", "micro-batches per step (default 1)", 1, 1e6},
        {"--lr", CLI_FLOAT, &lr, "LR", "peak learning rate (default 1e-4)", 1e-12, 10},
        {"--warmup-steps", CLI_INT, &warmup, "N", "linear warmup (default: 10% of the steps)", 0, 1e12},
        {"--weight-decay", CLI_FLOAT, &weight_decay, "W", "AdamW decay, not on biases/LayerNorms (default 0.01)", 0, 1},
        {"--clip", CLI_FLOAT, &clip, "NORM", "clip the global gradient norm (default 1.0; 0 = off)", 0, 1e6},
        {"--seed", CLI_INT, &seed, "N", "data order and dropout (default 42)", 0, 9e15},
        {"--precision", CLI_STRING, &precision, "fp32|bf16", "matrix products in fp32 (default) or bf16 with f32 accumulation"},
        {"--threads", CLI_INT, &threads, "N", "OpenMP threads (default: all cores, shared by a machine's ranks)", 1, 4096},
        {"--eval-data", CLI_STRING, &eval_data, "DIR", "held-out clm shards: loss and perplexity in metrics.jsonl"},
        {"--eval-every", CLI_INT, &eval_every, "N", "evaluate every N steps (default: at the end)", 0, 1e12},
        {"--eval-blocks", CLI_INT, &eval_blocks, "N", "held-out blocks per evaluation (default 64)", 1, 1e12},
        {"--save-every", CLI_INT, &save_every, "N", "checkpoint every N steps (default: none)", 0, 1e12},
        {"--keep", CLI_INT, &keep, "K", "checkpoints to keep (default 3)", 1, 1e6},
        {"--log-every", CLI_INT, &log_every, "N", "metrics.jsonl line every N steps (default 10)", 1, 1e12},
        {"--resume", CLI_FLAG, &resume, NULL, "continue from the latest checkpoint in the output directory"},
        {"--dist-timeout", CLI_FLOAT, &dist_timeout, "SEC", "under mpirun: fail when other ranks stay silent this long (default 300)", 1, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto pretrain --objective clm --model DIR --data SHARDS -o OUT [options]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (strcmp(objective, "clm")) return cli_fail("a GPT-2 model trains with --objective clm, not %s", objective);
    if (!init || !data || !out) return cli_fail("pretrain --objective clm needs --model DIR, --data SHARDS and -o OUT");
    if (!cli_is_gpt2_dir(init)) return cli_fail("%s is not a GPT-2 directory (config.json with model_type \"gpt2\")", init);
    vt_precision prec;
    if (cli_train_precision(precision, &prec)) return 1;
    vt_status st = cli_join_job(dist_timeout, threads);
    if (st != VT_OK) return cli_leave_job(st);

    vt_pt_dataset *train = NULL, *held_out = NULL;
    vt_pt_clm_reader *train_blocks = NULL, *eval_blocks_reader = NULL;
    vt_gpt2 *model = NULL;
    vt_tokenizer *tok = vt_tok_load(init, NULL);
    st = tok ? VT_OK : vt_last_status();
    if (st == VT_OK) st = open_blocks(data, tok, (uint64_t)seed, batch, &train, &train_blocks);
    if (st == VT_OK && eval_data) st = open_blocks(eval_data, tok, (uint64_t)seed, batch, &held_out, &eval_blocks_reader);
    if (st == VT_OK && !(model = vt_gpt2_load(init))) st = vt_last_status();
    if (st == VT_OK) st = vt_gpt2_set_precision(model, prec);
    if (st == VT_OK) {
        int64_t ranks = vt_dist_size();
        char args[1024];
        snprintf(args, sizeof args,
                 "{\"command\": \"pretrain\", \"objective\": \"clm\", \"steps\": %lld, \"batch_size\": %lld, "
                 "\"grad_accum\": %lld, \"lr\": %g, \"seed\": %lld, \"ranks\": %lld, \"global_batch\": %lld}",
                 (long long)steps, (long long)batch, (long long)accum, lr, (long long)seed, (long long)ranks,
                 (long long)(batch * ranks * accum));
        vt_clm_train_options o;
        vt_clm_train_options_default(&o);
        o.out_dir = out;
        o.steps = steps;
        o.batch_size = batch;
        o.grad_accum = accum;
        o.lr = (float)lr;
        o.weight_decay = (float)weight_decay;
        o.clip_norm = (float)clip;
        o.warmup_steps = warmup >= 0 ? warmup : steps / 10;
        o.seed = (uint64_t)seed;
        o.log_every = log_every;
        o.eval_every = eval_every;
        o.eval_blocks = eval_blocks;
        o.save_every = save_every;
        o.keep_checkpoints = (int)keep;
        o.resume = resume;
        o.tokenizer_dir = init;
        o.args_json = args;
        o.log = stdout;
        o.train = train_blocks;
        o.eval = eval_blocks_reader;
        o.eval_size = held_out ? vt_pt_size(held_out) : 0;
        if (vt_dist_rank() == 0)
            printf("causal-LM pretraining of %s on %lld blocks of %lld tokens: %lld steps of %lld x %lld ranks x %lld "
                   "blocks (global batch %lld)\n",
                   init, (long long)vt_pt_size(train), (long long)vt_pt_clm_block_length(train_blocks),
                   (long long)steps, (long long)batch, (long long)ranks, (long long)accum,
                   (long long)(batch * ranks * accum));
        bool stopped = false;
        st = vt_clm_train(&model, &o, &stopped);
        if (st == VT_OK && !stopped && vt_dist_rank() == 0) printf("wrote %s\n", out);
    }
    vt_gpt2_free(model);
    vt_pt_clm_reader_free(train_blocks);
    vt_pt_clm_reader_free(eval_blocks_reader);
    vt_pt_close(train);
    vt_pt_close(held_out);
    vt_tok_free(tok);
    return cli_leave_job(st);
}

int cmd_perplexity(int argc, char **argv) {
    const char *dir = NULL;
    int64_t stride = 0, max_length = 0, threads = 0;
    bool json = false;
    char **pos = NULL;
    int n_pos = 0;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &dir, "DIR", "a GPT-2 directory (config.json, model.safetensors, tokenizer files)"},
        {"--max-length", CLI_INT, &max_length, "L", "window length (default: the model's n_positions)", 2, 1e9},
        {"--stride", CLI_INT, &stride, "S", "window step (default: the max length, windows without overlap)", 1, 1e9},
        {"--threads", CLI_INT, &threads, "N", "OpenMP threads (default: all cores)", 1, 4096},
        {"--json", CLI_FLAG, &json, NULL, "print one JSON object"},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto perplexity --model DIR [--stride S] [--max-length L] FILE", &pos, &n_pos);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!dir || n_pos != 1) {
        free(pos);
        return cli_fail("perplexity needs --model DIR and one text FILE (\"-\": standard input)");
    }
    const char *file = pos[0];
    free(pos);
    vt_status st = cli_join_job(VT_DIST_DEFAULT_TIMEOUT, threads);
    if (st != VT_OK) return cli_leave_job(st);
    char *text = NULL;
    size_t len = 0;
    vt_gpt2 *model = NULL;
    vt_tokenizer *tok = NULL;
    vt_tok_encoding enc;
    vt_tok_encoding_init(&enc);
    st = vt_read_file(file, (size_t)1 << 31, &text, &len);
    size_t bad = st == VT_OK ? vt_utf8_invalid_at(text, len) : len;
    if (st == VT_OK && bad < len) st = vt_error(VT_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu", file, bad);
    if (st == VT_OK && !(model = vt_gpt2_load(dir))) st = vt_last_status();
    if (st == VT_OK && !(tok = vt_tok_load(dir, NULL))) st = vt_last_status();
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.add_special_tokens = false; /* as the guide's tokenizer(text): GPT-2's adds none */
    if (st == VT_OK) st = vt_tok_encode(tok, text, len, NULL, 0, &eo, &enc);
    double nll = 0, ppl = 0;
    int64_t scored = 0, L = max_length ? max_length : (model ? vt_gpt2_get_config(model)->n_positions : 0);
    int64_t S = stride ? stride : L;
    if (st == VT_OK) st = vt_clm_perplexity(model, enc.ids, enc.len, L, S, &nll, &ppl, &scored);
    if (st == VT_OK && json)
        printf("{\"perplexity\": %.10g, \"nll\": %.10g, \"tokens\": %d, \"scored\": %lld, \"max_length\": %lld, "
               "\"stride\": %lld}\n", ppl, nll, enc.len, (long long)scored, (long long)L, (long long)S);
    else if (st == VT_OK)
        printf("perplexity %.4f (mean nll %.6f over %lld scored of %d tokens; max length %lld, stride %lld)\n", ppl, nll,
               (long long)scored, enc.len, (long long)L, (long long)S);
    vt_tok_encoding_free(&enc);
    vt_tok_free(tok);
    vt_gpt2_free(model);
    free(text);
    return cli_leave_job(st);
}
