/* verto pretrain: masked-LM + next-sentence pretraining from prepared shards. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "verto/pretrain_data.h"
#include "cli/dist_job.h"
#include "cli/length_groups.h"
#include "verto/dist.h"
#include "verto/trainer.h"

#define MASK_SALT 0x6d61736bull /* separates masking draws from dropout draws */

typedef struct source {
    vt_pt_dataset *train, *eval;
    vt_pt_batcher *batcher;
    vt_pt_masker *masker;
    length_groups *groups; /* NULL: batches in sample order */
    uint64_t seed;
    int64_t epoch;        /* of the train order currently set, -1 before any */
    int64_t eval_batches, batch_size;
    int64_t real_tokens, batch_cells; /* over the training batches: how much is not padding */
} source;

/* Sample k of the global order is position k % N of epoch k / N, so the
 * order depends on k alone. */
static vt_status read_sample(void *ctx, int64_t k, vt_pt_instance *inst) {
    source *s = ctx;
    int64_t n = vt_pt_size(s->train), epoch = k / n, pos = k % n;
    vt_status st = VT_OK;
    if (epoch != s->epoch) {
        st = vt_pt_shuffle(s->train, s->seed, epoch);
        s->epoch = epoch;
    }
    if (st == VT_OK && vt_pt_tell(s->train) != pos) st = vt_pt_seek(s->train, pos);
    bool end;
    return st == VT_OK ? vt_pt_next(s->train, inst, &end) : st;
}

/* Samples first .. first + count - 1, or with length groups the batch that
 * takes their place. */
static vt_status get_batch(void *ctx, int64_t first, int64_t count, vt_bert_batch *batch, int64_t *tokens) {
    source *s = ctx;
    vt_pt_batcher_reset(s->batcher);
    for (int64_t i = 0; i < count; i++) {
        vt_pt_instance inst;
        int64_t k = first + i;
        vt_status st = s->groups ? length_groups_get(s->groups, first, i, read_sample, s, &inst, &k)
                                 : read_sample(s, k, &inst);
        vt_rng rng;
        vt_rng_seed(&rng, vt_hash64(s->seed ^ MASK_SALT, (uint64_t)k)); /* a sample's masks follow it */
        if (st == VT_OK) st = vt_pt_batcher_add(s->batcher, &inst, &rng);
        if (st != VT_OK) return st;
    }
    vt_status st = vt_pt_batcher_finish(s->batcher, batch);
    *tokens = 0;
    for (int64_t i = 0; st == VT_OK && i < batch->batch * batch->seq_len; i++) *tokens += batch->attention_mask[i];
    s->real_tokens += *tokens;
    s->batch_cells += batch->batch * batch->seq_len;
    return st;
}

/* MLM loss and accuracy and NSP accuracy over the held-out shards (file
 * order, masks drawn from a fixed seed so every evaluation sees the same). */
static vt_status evaluate(void *ctx, vt_bert *b, vt_eval_result *r) {
    source *s = ctx;
    double mlm_loss = 0, mlm_correct = 0, mlm_count = 0, nsp_correct = 0, nsp_count = 0;
    int64_t n = vt_pt_size(s->eval), batches = 0;
    for (int64_t first = 0; first < n && batches < s->eval_batches; first += s->batch_size, batches++) {
        vt_pt_batcher_reset(s->batcher);
        for (int64_t k = first; k < first + s->batch_size && k < n; k++) {
            vt_pt_instance inst;
            vt_rng rng;
            vt_rng_seed(&rng, vt_hash64(MASK_SALT, (uint64_t)k));
            vt_status st = vt_pt_get(s->eval, k, &inst);
            if (st == VT_OK) st = vt_pt_batcher_add(s->batcher, &inst, &rng);
            if (st != VT_OK) return st;
        }
        vt_bert_batch batch;
        vt_bert_outputs out;
        vt_status st = vt_pt_batcher_finish(s->batcher, &batch);
        if (st == VT_OK) st = vt_bert_forward(b, &batch, false, 0, &out);
        if (st != VT_OK) return st;
        mlm_loss += out.mlm_loss * (double)out.mlm_count;
        mlm_correct += (double)out.mlm_correct;
        mlm_count += (double)out.mlm_count;
        nsp_correct += (double)out.nsp_correct;
        nsp_count += (double)batch.batch;
    }
    static const char *const NAMES[] = {"mlm_loss", "mlm_accuracy", "nsp_accuracy"};
    double values[] = {mlm_loss / fmax(mlm_count, 1), mlm_correct / fmax(mlm_count, 1), nsp_correct / fmax(nsp_count, 1)};
    r->n = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(r->names[i], sizeof r->names[i], "%s", NAMES[i]);
        r->values[i] = values[i];
    }
    r->score = -values[0];
    return VT_OK;
}

int cmd_pretrain(int argc, char **argv) {
    const char *init = NULL, *data = NULL, *eval_data = NULL, *out = NULL, *precision = "fp32";
    int64_t steps = 1000, batch = 32, accum = 1, warmup = -1, seed = 42, threads = 0, log_every = 10;
    int64_t eval_every = 0, eval_batches = 20, save_every = 0, keep = 3, group_by_length = 0;
    double lr = 1e-4, weight_decay = 0.01, clip = 1.0, dist_timeout = VT_DIST_DEFAULT_TIMEOUT;
    bool resume = false, zero1 = false;
    const cli_option opts[] = {
        {"--init", CLI_STRING, &init, "DIR", "model to start from: a verto init directory or any BERT directory"},
        {"--data", CLI_STRING, &data, "DIR", "shards written by verto prepare-pretraining"},
        {"-o|--output", CLI_STRING, &out, "DIR", "output directory (model, checkpoints, metrics.jsonl)"},
        {"--steps", CLI_INT, &steps, "N", "optimizer steps (default 1000)", 1, 1e12},
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
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto pretrain --init DIR --data SHARDS -o OUT [options]", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!init || !data || !out) return cli_fail("pretrain needs --init DIR, --data SHARDS and -o OUT");
    vt_precision prec;
    if (cli_precision(precision, &prec)) return 1;
    vt_status st = cli_join_job(dist_timeout, threads);
    if (st != VT_OK) return cli_leave_job(st);
    int64_t ranks = vt_dist_size();

    source src = {.seed = (uint64_t)seed, .epoch = -1, .eval_batches = eval_batches, .batch_size = batch};
    vt_bert *model = NULL;
    vt_tokenizer *tok = vt_tok_load(init, NULL);
    const vt_wp_vocab *vocab = tok ? vt_tok_vocab(tok) : NULL;
    st = tok ? VT_OK : vt_last_status();
    if (st == VT_OK && !(src.train = vt_pt_open(data, vocab))) st = vt_last_status();
    if (st == VT_OK && eval_data && !(src.eval = vt_pt_open(eval_data, vocab))) st = vt_last_status();
    if (st == VT_OK && vt_pt_size(src.train) == 0) st = vt_error(VT_ERR_INVALID_ARG, "%s holds no instances", data);
    if (st == VT_OK && !(model = vt_bert_load(init, VT_BERT_FOR_PRETRAINING, 0, (uint64_t)seed))) st = vt_last_status();
    if (st == VT_OK) st = vt_bert_set_precision(model, prec);
    int32_t max_len = st == VT_OK ? vt_pt_get_info(src.train)->max_seq_length : 0;
    if (st == VT_OK && max_len > vt_bert_get_config(model)->max_position_embeddings)
        st = vt_error(VT_ERR_INVALID_ARG, "%s has sequences of %d tokens, more than the model's %lld positions", data,
                      max_len, (long long)vt_bert_get_config(model)->max_position_embeddings);
    vt_pt_mask_options mask;
    if (st == VT_OK) {
        const vt_pt_info *info = vt_pt_get_info(src.train);
        vt_pt_mask_options_default(&mask);
        mask.masked_lm_prob = info->masked_lm_prob;
        mask.max_predictions = info->max_predictions;
        mask.whole_word_mask = info->whole_word_mask;
        if (!(src.masker = vt_pt_masker_new(vocab, &mask, max_len))) st = vt_last_status();
        else if (!(src.batcher = vt_pt_batcher_new(batch, max_len, vt_tok_special_ids(tok).pad, src.masker)))
            st = vt_last_status();
        else if (group_by_length > 1 &&
                 !(src.groups = length_groups_new(group_by_length, batch, max_len, (uint64_t)seed)))
            st = vt_last_status();
    }
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
        o.eval_every = src.eval ? (eval_every ? eval_every : steps) : 0;
        o.save_every = save_every;
        o.keep_checkpoints = (int)keep;
        o.resume = resume;
        o.zero1 = zero1;
        o.tokenizer_dir = init;
        o.args_json = args;
        o.log = stdout;
        o.get_batch = get_batch;
        o.evaluate = src.eval ? evaluate : NULL;
        o.ctx = &src;
        bool lead = vt_dist_rank() == 0;
        if (lead && ranks > 1)
            printf("pretraining %s on %lld instances: %lld steps of %lld x %lld ranks x %lld sequences (global batch %lld)\n",
                   init, (long long)vt_pt_size(src.train), (long long)steps, (long long)batch, (long long)ranks,
                   (long long)accum, (long long)(batch * ranks * accum));
        else if (lead)
            printf("pretraining %s on %lld instances: %lld steps of %lld x %lld sequences (global batch %lld)\n", init,
                   (long long)vt_pt_size(src.train), (long long)steps, (long long)batch, (long long)accum,
                   (long long)(batch * accum));
        bool stopped = false;
        st = vt_train(&model, &o, &stopped);
        if (st == VT_OK && !stopped && lead) printf("wrote %s\n", out);
        if (st == VT_OK && lead && src.batch_cells)
            printf("padding: %.1f%% of this run's batch positions%s\n",
                   100.0 * (double)(src.batch_cells - src.real_tokens) / (double)src.batch_cells,
                   group_by_length > 1 ? "" : " (--group-by-length 64 batches sequences of like length)");
    }
    length_groups_free(src.groups);
    vt_bert_free(model);
    vt_pt_batcher_free(src.batcher);
    vt_pt_masker_free(src.masker);
    vt_pt_close(src.train);
    vt_pt_close(src.eval);
    vt_tok_free(tok);
    return cli_leave_job(st);
}
