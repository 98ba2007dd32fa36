/* verto finetune --task question-answering: SQuAD training and dev files
 * (JSON or JSON Lines) and run_qa's options; vt_task_finetune_qa does the rest. */
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/dist_job.h"
#include "cli/dp_args.h"
#include "cli/qa_commands.h"
#include "verto/dist.h"
#include "verto/squad.h"
#include "verto/task.h"

typedef struct options {
    vt_finetune_options ft;
    const char *init, *train, *dev, *precision, *task;
    int64_t max_len, doc_stride, max_answer, n_best, freeze, seed, threads;
    double null_threshold, dist_timeout;
    bool v2, skip_bad;
    const char *dp_sampling;
    vt_dp_request dp; /* the --dp- options as given */
} options;

static vt_status load(const options *a, vt_squad *train, vt_squad *dev) {
    vt_squad_options so;
    vt_squad_options_default(&so);
    so.version = a->v2 ? 2 : 0;
    so.skip_bad_rows = a->skip_bad;
    vt_status st = vt_squad_load(a->train, &so, train);
    if (st == VT_OK) {
        so.version = a->v2 ? 2 : train->version; /* dev read as the training data are */
        st = vt_squad_load(a->dev, &so, dev);
    }
    return st;
}

static int run(const options *a) {
    vt_squad train = {0}, dev = {0};
    vt_status st = load(a, &train, &dev);
    if (st == VT_OK) {
        vt_finetune_options o = a->ft;
        o.max_seq_length = (int32_t)a->max_len;
        o.freeze_layers = (int)a->freeze;
        o.seed = (uint64_t)a->seed;
        o.log = stdout;
        vt_qa_train_options qa;
        vt_qa_train_options_default(&qa);
        qa.doc_stride = (int32_t)a->doc_stride;
        qa.max_answer_length = (int32_t)a->max_answer;
        qa.n_best_size = (int32_t)a->n_best;
        qa.null_score_diff_threshold = a->null_threshold;
        qa.version = a->v2 ? 2 : 0;
        st = vt_task_finetune_qa(a->init, &train, &dev, &o, &qa, NULL);
    }
    vt_squad_free(&train);
    vt_squad_free(&dev);
    return cli_leave_job(st);
}

int cmd_finetune_qa(int argc, char **argv) {
    options a = {.max_len = 384, .doc_stride = 128, .max_answer = 30, .n_best = 20, .seed = 42,
                 .dist_timeout = VT_DIST_DEFAULT_TIMEOUT, .precision = "fp32"};
    vt_finetune_options_default(&a.ft);
    a.dp.noise_multiplier = -1; /* unset */
    const cli_option opts[] = {
        {"--init", CLI_STRING, &a.init, "DIR", "any BERT-family directory (BERT, RoBERTa, XLM-RoBERTa, DistilBERT)"},
        {"--task", CLI_STRING, &a.task, "question-answering", "extractive question answering (a span of the context)"},
        {"--train", CLI_STRING, &a.train, "FILE", "SQuAD training data: v1.1 / v2.0 JSON, or JSON Lines (squad / squad_v2 rows)"},
        {"--dev", CLI_STRING, &a.dev, "FILE", "SQuAD development data; the epoch with the best dev F1 is kept"},
        {"-o|--output", CLI_STRING, &a.ft.out_dir, "DIR", "output directory (the best model, metrics.jsonl)"},
        {"--version-2-with-negative", CLI_FLAG, &a.v2, NULL,
         "questions may have no answer (SQuAD v2; default: as the training file says, JSON Lines v1)"},
        {"--max-seq-length", CLI_INT, &a.max_len, "N", "tokens per feature, question included (default 384)", 8, 1e6},
        {"--doc-stride", CLI_INT, &a.doc_stride, "N", "tokens shared by consecutive windows of a long context (default 128)", 0, 1e6},
        {"--max-answer-length", CLI_INT, &a.max_answer, "N", "longest answer in tokens, for dev and later predictions (default 30)", 1, 1e6},
        {"--n-best-size", CLI_INT, &a.n_best, "N", "start and end candidates per feature on dev (default 20)", 1, 1e4},
        {"--null-score-diff-threshold", CLI_FLOAT, &a.null_threshold, "X", "v2 dev: no answer when the null score beats the best by more (default 0)", -1e6, 1e6},
        {"--epochs", CLI_INT, &a.ft.epochs, "N", "passes over the training features (default 3)", 1, 1e6},
        {"--batch-size", CLI_INT, &a.ft.batch_size, "N", "features per step and rank (default 32)", 1, 4096},
        {"--lr", CLI_FLOAT, &a.ft.lr, "LR", "peak learning rate (default 5e-5)", 1e-12, 10},
        {"--warmup-ratio", CLI_FLOAT, &a.ft.warmup_ratio, "R", "fraction of steps for linear warmup (default 0.1)", 0, 1},
        {"--weight-decay", CLI_FLOAT, &a.ft.weight_decay, "W", "AdamW decay (default 0.01)", 0, 1},
        {"--early-stopping", CLI_INT, &a.ft.early_stopping, "N", "stop after N epochs without dev improvement (default: off)", 0, 1e6},
        {"--freeze-layers", CLI_INT, &a.freeze, "K", "freeze the embeddings and the first K layers", 0, 1e4},
        {"--seed", CLI_INT, &a.seed, "N", "head initialisation, data order and dropout (default 42)", 0, 9e15},
        {"--precision", CLI_STRING, &a.precision, "fp32|bf16", "matrix products in fp32 (default) or in bf16 with f32 accumulation"},
        {"--threads", CLI_INT, &a.threads, "N", "OpenMP threads (default: all cores, shared by a machine's ranks)", 1, 4096},
        {"--skip-bad-rows", CLI_FLAG, &a.skip_bad, NULL, "skip and count malformed questions instead of failing"},
        {"--resume", CLI_FLAG, &a.ft.resume, NULL, "continue from the latest checkpoint in the output directory"},
        {"--zero1", CLI_FLAG, &a.ft.zero1, NULL, "under mpirun: shard the optimizer state over the ranks (ZeRO stage 1)"},
        CLI_DP_OPTIONS(a.ft, a.dp, a.dp_sampling),
        {"--dist-timeout", CLI_FLOAT, &a.dist_timeout, "SEC", "under mpirun: fail when other ranks stay silent this long (default 300)", 1, 1e6},
        {0}};
    int rc = cli_parse(argc, argv, opts,
                       "verto finetune --task question-answering --init DIR --train FILE --dev FILE -o OUT [options]",
                       NULL, NULL);
    if (rc != CLI_CONTINUE) return rc == CLI_HELP ? 0 : rc;
    if (!a.init || !a.train || !a.dev || !a.ft.out_dir)
        return cli_fail("finetune needs --init DIR, --train FILE, --dev FILE and -o OUT");
    if (cli_train_precision(a.precision, &a.ft.precision)) return 1;
    if (cli_dp_options(&a.ft, &a.dp, a.dp_sampling)) return 1;
    vt_status st = cli_join_job(a.dist_timeout, a.threads);
    if (st != VT_OK) return cli_leave_job(st);
    return run(&a);
}
