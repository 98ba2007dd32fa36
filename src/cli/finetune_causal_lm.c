/* verto finetune --task causal-lm: LoRA or full fine-tuning of a GPT-2 on
 * prompt/completion JSONL (verto/causal_lm.h does the work). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dist_job.h"
#include "cli/gpt2_commands.h"
#include "verto/causal_lm.h"
#include "verto/dist.h"
#include "verto/gpt2.h"

bool cli_wants_causal_lm(int argc, char **argv) {
    const char *task = cli_option_value(argc, argv, "--task");
    return task && !strcmp(task, "causal-lm");
}

typedef struct clm_args {
    vt_clm_options o;
    const char *model, *train, *dev, *task, *targets, *precision, *base_precision, *schedule;
    int64_t max_len, rank, seed, keep, threads;
    double alpha, dropout, dist_timeout;
} clm_args;

/* The end-of-text id: the config's eos_token_id. */
static vt_status load_sets(const clm_args *a, vt_clm_set *train, vt_clm_set *dev) {
    vt_gpt2_config c;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", a->model);
    vt_status st = vt_gpt2_config_read(path, &c);
    if (st == VT_OK && c.eos_token_id < 0)
        st = vt_error(VT_ERR_INVALID_ARG, "%s: eos_token_id is null; causal-LM examples end with it", path);
    vt_tokenizer *tok = st == VT_OK ? vt_tok_load(a->model, NULL) : NULL;
    if (st == VT_OK && !tok) st = vt_last_status();
    int32_t max_len = (int32_t)(a->max_len < c.n_positions ? a->max_len : c.n_positions);
    if (st == VT_OK) st = vt_clm_load(a->train, tok, max_len, (int32_t)c.eos_token_id, train);
    if (st == VT_OK && a->dev) st = vt_clm_load(a->dev, tok, max_len, (int32_t)c.eos_token_id, dev);
    if (st == VT_OK && train->truncated + dev->truncated)
        fprintf(stderr, "note: %zu training and %zu dev examples lost prompt tokens on the left to fit %d tokens\n",
                train->truncated, dev->truncated, max_len);
    vt_tok_free(tok);
    return st;
}

int cmd_finetune_causal_lm(int argc, char **argv) {
    clm_args a = {.max_len = 512, .rank = 8, .seed = 42, .alpha = 16, .dropout = 0.05, .targets = "c_attn",
                  .precision = "fp32", .schedule = "linear", .keep = 2, .dist_timeout = 300};
    vt_clm_options_default(&a.o);
    double lr = a.o.lr, warmup = 0, decay = 0, clip = a.o.max_grad_norm;
    const cli_option opts[] = {
        {"--task", CLI_STRING, &a.task, "causal-lm", "causal-LM fine-tuning on prompt/completion JSONL"},
        {"--model|--init", CLI_STRING, &a.model, "DIR", "a GPT-2 directory with its tokenizer (config.json, model.safetensors, tokenizer.json)"},
        {"--train", CLI_STRING, &a.train, "FILE", "JSONL rows {\"prompt\": ..., \"completion\": ...}"},
        {"--dev", CLI_STRING, &a.dev, "FILE", "the same; its loss and perplexity after each epoch go to metrics.jsonl"},
        {"-o|--output", CLI_STRING, &a.o.out_dir, "DIR", "output: a PEFT adapter (or, with --lora-rank 0, a whole model), tokenizer files, metrics.jsonl"},
        {"--lora-rank", CLI_INT, &a.rank, "R", "adapter rank (default 8); 0: full fine-tuning of every weight", 0, 65536},
        {"--lora-alpha", CLI_FLOAT, &a.alpha, "A", "the branch is scaled by A / R (default 16)", 1e-6, 1e6},
        {"--lora-dropout", CLI_FLOAT, &a.dropout, "P", "dropout on the adapter's input in training (default 0.05)", 0, 0.999},
        {"--lora-targets", CLI_STRING, &a.targets, "LIST",
         "Conv1D modules to adapt, PEFT's suffix match: c_attn (default), c_proj (attn.c_proj and mlp.c_proj), c_fc, attn.c_proj, mlp.c_proj"},
        {"--max-seq-length", CLI_INT, &a.max_len, "N", "prompt + completion + end-of-text; longer examples lose prompt tokens on the left (default 512, at most n_positions)", 2, 1e7},
        {"--epochs", CLI_INT, &a.o.epochs, "N", "passes over the training data (default 1)", 1, 1e6},
        {"--batch-size", CLI_INT, &a.o.batch_size, "N", "examples per micro-batch (default 8)", 1, 65536},
        {"--grad-accum", CLI_INT, &a.o.grad_accum, "N", "micro-batches per update (default 1)", 1, 65536},
        {"--lr", CLI_FLOAT, &lr, "LR", "peak learning rate (default 2e-4)", 1e-12, 10},
        {"--warmup-ratio", CLI_FLOAT, &warmup, "R", "fraction of updates for linear warmup (default 0)", 0, 1},
        {"--schedule", CLI_STRING, &a.schedule, "linear|constant", "learning rate after the warmup (default linear decay to 0)"},
        {"--weight-decay", CLI_FLOAT, &decay, "W", "AdamW decay, not on biases and LayerNorms (default 0)", 0, 1},
        {"--max-grad-norm", CLI_FLOAT, &clip, "C", "clip the gradient's global norm (default 1; 0: off)", 0, 1e9},
        {"--seed", CLI_INT, &a.seed, "N", "adapter initialisation, data order and dropout (default 42)", 0, 9e15},
        {"--precision", CLI_STRING, &a.precision, "fp32|bf16", "the model's matrix products (LoRA branches stay f32)"},
        {"--base-precision", CLI_STRING, &a.base_precision, "fp32|bf16", "LoRA: the frozen base's matrix products (same as --precision)"},
        {"--save-every", CLI_INT, &a.o.save_every, "N", "a checkpoint every N updates (default 0: at each epoch's end only)", 0, 1e12},
        {"--keep-checkpoints", CLI_INT, &a.keep, "N", "the newest N checkpoints kept (default 2)", 1, 1e6},
        {"--resume", CLI_FLAG, &a.o.resume, NULL, "continue exactly from the latest checkpoint in the output directory (same options)"},
        {"--threads", CLI_INT, &a.threads, "N", "OpenMP threads (default: all cores, shared by a machine's ranks)", 1, 4096},
        {"--dist-timeout", CLI_FLOAT, &a.dist_timeout, "SEC", "under mpirun: fail when other ranks stay silent this long (default 300)", 1, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto finetune --task causal-lm --model DIR --train FILE [--dev FILE] -o OUT [options]",
                       NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!a.model || !a.train || !a.o.out_dir) return cli_fail("finetune --task causal-lm needs --model DIR, --train FILE and -o OUT");
    if (!cli_is_gpt2_dir(a.model)) return cli_fail("%s: not a GPT-2 directory (config.json with model_type \"gpt2\")", a.model);
    if (a.base_precision && strcmp(a.base_precision, a.precision) && strcmp(a.precision, "fp32"))
        return cli_fail("--precision %s and --base-precision %s disagree", a.precision, a.base_precision);
    if (cli_train_precision(a.base_precision ? a.base_precision : a.precision, &a.o.precision)) return 1;
    if (strcmp(a.schedule, "linear") && strcmp(a.schedule, "constant"))
        return cli_fail("--schedule takes linear or constant, not '%s'", a.schedule);
    a.o.constant_schedule = !strcmp(a.schedule, "constant");
    a.o.lr = (float)lr;
    a.o.warmup_ratio = (float)warmup;
    a.o.weight_decay = (float)decay;
    a.o.max_grad_norm = (float)clip;
    a.o.seed = (uint64_t)a.seed;
    a.o.lora = (vt_gpt2_lora_config){.rank = a.rank, .alpha = (float)a.alpha, .dropout = (float)a.dropout};
    if (a.rank > 0 && vt_gpt2_lora_parse_targets(a.targets, &a.o.lora.targets) != VT_OK)
        return cli_fail("--lora-targets: %s", vt_last_error());
    a.o.keep_checkpoints = (int)a.keep;
    char args[512];
    snprintf(args, sizeof args,
             "{\"command\": \"finetune\", \"task\": \"causal-lm\", \"epochs\": %lld, \"batch_size\": %lld, "
             "\"grad_accum\": %lld, \"lr\": %g, \"seed\": %lld, \"lora_rank\": %lld}",
             (long long)a.o.epochs, (long long)a.o.batch_size, (long long)a.o.grad_accum, lr, (long long)a.seed,
             (long long)a.rank);
    a.o.args_json = args;
    vt_status st = cli_join_job(a.dist_timeout, a.threads);
    if (st != VT_OK) return cli_leave_job(st);
    const bool lead = vt_dist_rank() == 0;
    a.o.log = lead ? stdout : NULL;
    vt_clm_set train = {0}, dev = {0};
    st = load_sets(&a, &train, &dev);
    if (st == VT_OK && lead)
        printf("%zu training and %zu dev examples; %s; %d rank(s) x %lld examples x %lld accumulation a step\n",
               train.n, dev.n, a.rank > 0 ? "LoRA adapter, base frozen" : "full fine-tuning", vt_dist_size(),
               (long long)a.o.batch_size, (long long)a.o.grad_accum);
    bool stopped = false;
    if (st == VT_OK) st = vt_clm_finetune(a.model, &train, a.dev ? &dev : NULL, &a.o, &stopped);
    vt_clm_free(&train);
    vt_clm_free(&dev);
    if (st == VT_OK && !stopped && lead) printf("wrote %s\n", a.o.out_dir);
    return cli_leave_job(st);
}

int cmd_merge_lora(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *out = NULL;
    const cli_option opts[] = {
        {"--model", CLI_STRING, &model, "DIR", "the base GPT-2 directory"},
        {"--adapter", CLI_STRING, &adapter, "DIR", "a PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors)"},
        {"-o|--output", CLI_STRING, &out, "DIR", "the merged model (W + alpha / r * B A), with the base's tokenizer files"},
        {0}};
    int rc = cli_parse(argc, argv, opts, "verto merge-lora --model DIR --adapter DIR -o OUT", NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!model || !adapter || !out) return cli_fail("merge-lora needs --model DIR, --adapter DIR and -o OUT");
    vt_gpt2 *m = vt_gpt2_load(model);
    vt_status st = m ? vt_gpt2_lora_load(m, adapter) : vt_last_status();
    if (st == VT_OK) st = vt_gpt2_lora_merge(m);
    if (st == VT_OK) st = vt_gpt2_save(m, out);
    if (st == VT_OK) st = vt_bert_copy_tokenizer_files(model, out, NULL);
    vt_gpt2_free(m);
    if (st != VT_OK) return cli_fail("%s", vt_last_error());
    printf("wrote %s: %s merged into %s\n", out, adapter, model);
    return 0;
}
