/* verto pretrain: masked-LM + next-sentence pretraining from prepared shards,
 * or the masked LM alone from shards prepared with --objective mlm (RoBERTa's
 * recipe, and the only one for the families without NSP). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dist_job.h"
#include "cli/dp_args.h"
#include "verto/dist.h"
#include "verto/pretrain_data.h"
#include "verto/trainer.h"

/* The trainer's callbacks over a vt_pt_run. */
typedef struct run_ctx {
    vt_pt_run *run;
    int64_t eval_batches;
} run_ctx;

static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *batch, int64_t *tokens) {
    return vt_pt_run_batch(((run_ctx *)ctx)->run, first, count, batch, tokens);
}

/* DP-SGD's examples: one training sequence each (vt_pt_run_example). */
static vt_status get_example(void *ctx, int64_t example, vt_bert_batch *batch) {
    return vt_pt_run_example(((run_ctx *)ctx)->run, example, batch);
}

#define DP_UNIT "one pretraining sequence (an instance of prepare-pretraining)"
#define DP_COVERS                                                                                                      \
    "the pretraining sequences of --data, one sequence at a time: a document yields several sequences, and "         \
    "--dupe-factor copies of each, so a document (or a person's text) of k sequences is protected as a group of "    \
    "k, epsilon growing about k-fold; not the --eval-data sequences, whose figures metrics.jsonl reports"

static vt_status evaluate(void *ctx, vt_bert *b, vt_eval_result *r) {
    run_ctx *e = ctx;
    vt_pt_eval ev;
    vt_status st = vt_pt_run_evaluate(e->run, b, e->eval_batches, &ev);
    if (st != VT_OK) return st;
    static const char *const NAMES[] = {"mlm_loss", "mlm_accuracy", "nsp_accuracy"};
    double values[] = {ev.mlm_loss, ev.mlm_accuracy, ev.nsp_accuracy};
    r->n = vt_pt_run_has_nsp(e->run) ? 3 : 2; /* MLM alone: no NSP accuracy */
    for (int i = 0; i < r->n; i++) {
        snprintf(r->names[i], sizeof r->names[i], "%s", NAMES[i]);
        r->values[i] = values[i];
    }
    r->score = -ev.mlm_loss;
    return VT_OK;
}

/* DIR/config.json. */
static vt_status init_config(const char *dir, vt_bert_config *c) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return vt_error(VT_ERR_INVALID_ARG, "model directory name too long: %s", dir);
    return vt_bert_config_read(path, c);
}

/* Domain-adaptive pretraining often starts from a directory that ships the
 * encoder alone (a sentence-transformers package, a bare BertModel): the
 * loader initialised the heads it lacked as transformers' _init_weights does;
 * say which, so that nobody mistakes them for trained ones. */
static void report_new_heads(const char *init, const vt_bert *model, const vt_bert_load_info *info) {
    if (info->n_new == 0) return;
    bool mlm = false; /* the new tensors include the MLM head (BERT's, RoBERTa's or DistilBERT's names) */
    for (int i = 0; i < info->n_new && i < VT_BERT_LOAD_NOTES; i++)
        mlm |= strstr(info->new_params[i], "predictions") || strstr(info->new_params[i], "lm_head") ||
               strstr(info->new_params[i], "vocab_");
    fprintf(stderr,
            "note: %s has no trained %s head: %d tensor%s start%s freshly initialised (normal(0, initializer_range), "
            "LayerNorm 1 and 0, biases 0%s): ",
            init, vt_bert_config_arch_name(vt_bert_get_config(model)), info->n_new, info->n_new == 1 ? "" : "s",
            info->n_new == 1 ? "s" : "", mlm ? "; the decoder tied to the word embeddings" : "");
    for (int i = 0; i < info->n_new && i < VT_BERT_LOAD_NOTES; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", info->new_params[i]);
    fprintf(stderr, "%s\n", info->n_new > VT_BERT_LOAD_NOTES ? ", ..." : "");
}

/* --steps 0: the starting model (its heads added where DIR lacks them)
 * written to OUT in the family's Hugging Face layout, without training. */
static vt_status write_start(const vt_bert *model, const char *init, const char *out) {
    vt_status st = vt_bert_save(model, out);
    if (st == VT_OK) st = vt_bert_copy_tokenizer_files(init, out, NULL);
    if (st == VT_OK) printf("wrote %s (no training: --steps 0)\n", out);
    return st;
}

int cmd_pretrain(int argc, char **argv) {
    if (cli_pretrain_is_clm(argc, argv)) return cli_pretrain_clm(argc, argv); /* GPT-2: cmd_clm.c */
    const char *init = NULL, *data = NULL, *eval_data = NULL, *out = NULL, *precision = "fp32";
    int64_t steps = 1000, batch = 32, accum = 1, warmup = -1, seed = 42, threads = 0, log_every = 10;
    int64_t eval_every = 0, eval_batches = 20, save_every = 0, keep = 3, group_by_length = 0;
    double lr = 1e-4, weight_decay = 0.01, clip = 1.0, dist_timeout = VT_DIST_DEFAULT_TIMEOUT;
    bool resume = false, zero1 = false;
    vt_dp_request dp_req = {.noise_multiplier = -1}; /* -1: unset */
    const char *dp_sampling = NULL;
    const cli_option opts[] = {
        {"--init", CLI_STRING, &init, "DIR",
         "model to start from: a verto init directory or any BERT, RoBERTa, XLM-RoBERTa or DistilBERT directory"},
        {"--data", CLI_STRING, &data, "DIR", "shards written by verto prepare-pretraining"},
        {"-o|--output", CLI_STRING, &out, "DIR", "output directory (model, checkpoints, metrics.jsonl)"},
        {"--steps", CLI_INT, &steps, "N",
         "optimizer steps (default 1000; 0: write the starting model, heads added where DIR lacks them, and stop)", 0,
         1e12},
        {"--batch-size", CLI_INT, &batch, "N", "sequences per micro-batch and rank (default 32)", 1, 1e6},
        {"--grad-accum", CLI_INT, &accum, "N", "micro-batches per step (default 1)", 1, 1e6},
        {"--lr", CLI_FLOAT, &lr, "LR", "peak learning rate (default 1e-4)", 1e-12, 10},
        {"--warmup-steps", CLI_INT, &warmup, "N", "linear warmup (default: 10% of the steps)", 0, 1e12},
        {"--weight-decay", CLI_FLOAT, &weight_decay, "W", "AdamW decay, not on biases/LayerNorm (default 0.01)", 0, 1},
        {"--clip", CLI_FLOAT, &clip, "NORM", "clip the global gradient norm (default 1.0; 0 = off)", 0, 1e6},
        {"--seed", CLI_INT, &seed, "N", "data order, masking and dropout (default 42)", 0, 9e15},
        {"--group-by-length", CLI_INT, &group_by_length, "G",
         "read G batches ahead and batch their sequences by length, so that batches pad less (default 0: off)", 0,
         65536},
        {"--precision", CLI_STRING, &precision, "fp32|bf16", "matrix products in fp32 (default) or in bf16 with f32 accumulation"},
        {"--threads", CLI_INT, &threads, "N", "OpenMP threads (default: all cores, shared by a machine's ranks)", 1, 4096},
        {"--eval-data", CLI_STRING, &eval_data, "DIR", "held-out shards for evaluation"},
        {"--eval-every", CLI_INT, &eval_every, "N", "evaluate every N steps (default: at the end)", 0, 1e12},
        {"--eval-batches", CLI_INT, &eval_batches, "N", "batches per evaluation (default 20)", 1, 1e9},
        {"--save-every", CLI_INT, &save_every, "N", "checkpoint every N steps (default: none)", 0, 1e12},
        {"--keep", CLI_INT, &keep, "K", "checkpoints to keep (default 3)", 1, 1e6},
        {"--log-every", CLI_INT, &log_every, "N", "metrics.jsonl line every N steps (default 10)", 1, 1e12},
        {"--resume", CLI_FLAG, &resume, NULL, "continue from the latest checkpoint in the output directory"},
        {"--zero1", CLI_FLAG, &zero1, NULL, "under mpirun: shard the optimizer state over the ranks (ZeRO stage 1)"},
        {"--dist-timeout", CLI_FLOAT, &dist_timeout, "SEC", "under mpirun: fail when other ranks stay silent this long (default 300)", 1, 1e6},
        CLI_DP_REQUEST_OPTIONS(dp_req, dp_sampling),
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto pretrain --init DIR --data SHARDS -o OUT [options]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (cli_dp_request(&dp_req, dp_sampling, false)) return 1;
    bool private = dp_req.max_grad_norm > 0;
    if (!init || !out || (!data && steps > 0)) return cli_fail("pretrain needs --init DIR, --data SHARDS and -o OUT");
    vt_precision prec;
    if (cli_train_precision(precision, &prec)) return 1;
    vt_status st = cli_join_job(dist_timeout, threads);
    if (st != VT_OK) return cli_leave_job(st);
    int64_t ranks = vt_dist_size();

    vt_pt_dataset *train = NULL, *held_out = NULL;
    vt_pt_run *run = NULL;
    vt_bert *model = NULL;
    vt_tokenizer *tok = vt_tok_load(init, NULL);
    const vt_wp_vocab *vocab = tok ? vt_tok_vocab(tok) : NULL;
    st = tok ? VT_OK : vt_last_status();
    if (st == VT_OK && data && !(train = vt_pt_open(data, vocab))) st = vt_last_status();
    if (st == VT_OK && eval_data && !(held_out = vt_pt_open(eval_data, vocab))) st = vt_last_status();
    if (st == VT_OK && train && vt_pt_size(train) == 0) st = vt_error(VT_ERR_INVALID_ARG, "%s holds no instances", data);
    /* The heads the data trains: MLM + NSP (BertForPreTraining), or the masked LM alone. A config
     * that does not read here (an architecture verto lacks) is the loader's to report. */
    vt_bert_config file;
    bool nsp = st == VT_OK && train && vt_pt_get_info(train)->objective == VT_PT_MLM_NSP;
    if (nsp && init_config(init, &file) == VT_OK && file.family != VT_FAMILY_BERT)
        st = vt_error(VT_ERR_INVALID_ARG,
                      "%s was prepared for MLM + NSP (sentence pairs), but %s is a %s, which has no next-sentence "
                      "head: prepare the data with --objective mlm",
                      data, init, vt_bert_family_name(file.family));
    int arch = nsp ? VT_BERT_FOR_PRETRAINING : VT_BERT_FOR_MASKED_LM;
    vt_bert_load_info info;
    if (st == VT_OK && !(model = vt_bert_load_ex(init, arch, 0, (uint64_t)seed, &info))) st = vt_last_status();
    if (st == VT_OK && vt_dist_rank() == 0 && !resume) report_new_heads(init, model, &info);
    if (st == VT_OK && steps == 0) {
        st = vt_dist_rank() == 0 ? write_start(model, init, out) : VT_OK;
        vt_bert_free(model);
        vt_pt_close(train);
        vt_pt_close(held_out);
        vt_tok_free(tok);
        return cli_leave_job(st);
    }
    if (st == VT_OK) st = vt_bert_set_precision(model, prec);
    int32_t max_len = st == VT_OK && train ? vt_pt_get_info(train)->max_seq_length : 0;
    if (st == VT_OK && max_len > vt_bert_max_length(vt_bert_get_config(model)))
        st = vt_error(VT_ERR_INVALID_ARG, "%s has sequences of %d tokens, more than the model's %d positions", data,
                      max_len, vt_bert_max_length(vt_bert_get_config(model)));
    vt_pt_run_options ro = {.seed = (uint64_t)seed, .batch_size = batch, .group_by_length = group_by_length};
    if (st == VT_OK && !(run = vt_pt_run_new(train, held_out, tok, &ro)))
        st = vt_last_status();
    run_ctx ctx = {.run = run, .eval_batches = eval_batches};
    if (st == VT_OK && private && zero1 && ranks > 1)
        st = vt_error(VT_ERR_INVALID_ARG, "DP-SGD with --zero1 is not available (every rank holds the whole private "
                                          "gradient)");
    if (st == VT_OK) {
        char args[1024];
        snprintf(args, sizeof args,
                 "{\"command\": \"pretrain\", \"steps\": %lld, \"batch_size\": %lld, \"grad_accum\": %lld, \"lr\": %g, "
                 "\"seed\": %lld, \"ranks\": %lld, \"global_batch\": %lld, \"group_by_length\": %lld}",
                 (long long)steps, (long long)batch, (long long)accum, lr, (long long)seed, (long long)ranks,
                 (long long)(batch * ranks * accum), (long long)group_by_length);
        vt_trainer_options o;
        vt_trainer_options_default(&o);
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
        o.eval_every = held_out ? (eval_every ? eval_every : steps) : 0;
        o.save_every = save_every;
        o.keep_checkpoints = (int)keep;
        o.resume = resume;
        o.zero1 = zero1;
        o.tokenizer_dir = init;
        o.args_json = args;
        o.log = stdout;
        o.get_batch = get_batch;
        o.evaluate = held_out ? evaluate : NULL;
        o.ctx = &ctx;
        bool lead = vt_dist_rank() == 0;
        vt_dp_options dp;
        vt_privacy_spent spent;
        if (private) /* one example is one pretraining sequence; accumulation runs the sampled batch in micro-batches */
            st = vt_dp_plan(&dp_req, vt_pt_size(train), batch * accum * ranks, accum > 1 ? batch : 0, steps,
                            (uint64_t)seed, DP_UNIT, DP_COVERS, &dp, &spent);
        if (st == VT_OK && private) {
            o.dp = &dp;
            o.get_example = get_example;
            char line[512];
            vt_dp_describe(&dp, steps, &spent, line, sizeof line);
            if (lead) printf("%s\n", line);
        }
        if (lead && !nsp) printf("objective: the masked LM alone (%s)\n", vt_bert_config_arch_name(vt_bert_get_config(model)));
        if (lead && ranks > 1)
            printf("pretraining %s on %lld instances: %lld steps of %lld x %lld ranks x %lld sequences (global batch %lld)\n",
                   init, (long long)vt_pt_size(train), (long long)steps, (long long)batch, (long long)ranks,
                   (long long)accum, (long long)(batch * ranks * accum));
        else if (lead)
            printf("pretraining %s on %lld instances: %lld steps of %lld x %lld sequences (global batch %lld)\n", init,
                   (long long)vt_pt_size(train), (long long)steps, (long long)batch, (long long)accum,
                   (long long)(batch * accum));
        bool stopped = false;
        if (st == VT_OK) st = vt_train(&model, &o, &stopped);
        if (st == VT_OK && !stopped && lead) printf("wrote %s\n", out);
        if (st == VT_OK && lead && !private) /* (DP-SGD's examples come one at a time: no batches to pad) */
            printf("padding: %.1f%% of this run's batch positions%s\n", 100.0 * vt_pt_run_padding(run),
                   group_by_length > 1 ? "" : " (--group-by-length 64 batches sequences of like length)");
    }
    vt_pt_run_free(run);
    vt_bert_free(model);
    vt_pt_close(train);
    vt_pt_close(held_out);
    vt_tok_free(tok);
    return cli_leave_job(st);
}
