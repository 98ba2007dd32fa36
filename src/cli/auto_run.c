/* verto auto's run (see auto_run.h and docs/auto.md). Order: the baseline
 * (always, its time counted); then, when time is left, a Transformer base (the
 * --init directory, or a BERT-tiny pretrained here from scratch on the train
 * and unlabelled text when there is enough of it); a short measured probe of
 * fine-tuning; the learning-rate/epoch search, each candidate given the epochs
 * that fit the time left, then settings around the best; while time is still
 * left, more pretraining of a base pretrained here and the best setting from
 * it, and settings around the best again; the choice on dev; OUT/best; test
 * figures of the chosen model and the baseline; the report. */
#include "cli/auto_run.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/auto_child.h"
#include "cli/commands.h"
#include "verto/auto.h"
#include "verto/checkpoint.h"
#include "verto/fileio.h"
#include "verto/metrics_log.h"
#include "verto/task.h"

enum { MAX_CANDIDATES = 16, MAX_NOTES = 16, MAX_LEN = 128, MAX_WINDOWS = 8, PROBE_TRAIN = 32, PROBE_DEV = 16,
       SELECT_DEV = 500 /* dev examples a candidate's per-epoch evaluation reads (the choice reads all) */ };
enum { BATCH = 16,            /* fine-tuning examples per step */
       MIN_FINETUNE_STEPS = 200, /* a candidate's epochs are raised to make at least this many steps */
       MAX_FINETUNE_EPOCHS = 40 };
#define MIN_TRANSFORMER_S 30.0     /* less left after the baseline: no Transformer candidate is started */
#define MIN_SCRATCH_BYTES 100000.0 /* text needed to pretrain from scratch (the spam sample has 2.8 MB) */
#define MIN_PRETRAIN_STEPS 20
#define MAX_PRETRAIN_STEPS 100000.0
#define MIN_MORE_PRETRAIN_S 30.0 /* time left for more pretraining below this: not worth a run */
enum { MAX_MORE_ROUNDS = 4, MAX_OWNED = 32 };

/* A base model and how its candidates are fine-tuned. */
typedef struct ft_settings {
    const char *base;
    char base_recipe[400];
    char len_s[16], win_s[16];
    bool from_scratch;
    char prefix[16]; /* of its candidates' names: "", "continued-", "more1-", ... */
    /* a base pretrained here: its shards and learning rate, for more of it (shards NULL otherwise) */
    const char *shards;
    const char *pretrain_lr;
    int64_t pretrain_steps; /* so far */
} ft_settings;

typedef struct job {
    const auto_inputs *in;
    auto_clock clock;
    double reserve_s; /* kept back at the end for the test evaluations, OUT/best and the report */
    vt_auto_candidate c[MAX_CANDIDATES];
    /* (n) each fine-tuning candidate's base and planned setting (base NULL: the baseline) */
    const ft_settings *base[MAX_CANDIDATES];
    double lr[MAX_CANDIDATES];
    int64_t epochs[MAX_CANDIDATES];
    int n;
    char *notes[MAX_NOTES];
    int n_notes;
    char *work;       /* OUT/work */
    char *select_dev; /* WORK/dev-select.jsonl: the candidates' --dev */
    size_t n_select;  /* its examples */
    char *owned[MAX_OWNED]; /* paths the bases point to, freed at the end */
    int n_owned;
} job;

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void note(job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(job *j, const char *fmt, ...) {
    if (j->n_notes == MAX_NOTES) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "auto: %s\n", buf);
    j->notes[j->n_notes++] = strdup(buf);
}

/* p, freed with the job (NULL when p is, or when the job holds too many). */
static char *keep(job *j, char *p) {
    if (p && j->n_owned == MAX_OWNED) {
        free(p);
        return NULL;
    }
    if (p) j->owned[j->n_owned++] = p;
    return p;
}

static double elapsed(const job *j) { return auto_now() - j->clock.t0; }
/* The end of the candidates' time: the budget less the reserve. */
static double candidate_deadline(const job *j) { return j->clock.t0 + j->clock.budget_s - j->reserve_s; }
static double left(const job *j) { return candidate_deadline(j) - auto_now(); }

/* Runs a step; its log goes to WORK/<log_name>.log. */
static auto_child_result step(job *j, const char *const *args, const char *log_name, double deadline, char *why,
                              size_t why_size) {
    char name[128];
    snprintf(name, sizeof name, "%s.log", log_name);
    char *log = join(j->work, name);
    if (!log) {
        snprintf(why, why_size, "out of memory");
        return AUTO_CHILD_FAILED;
    }
    auto_child_result r = auto_child_run(args, log, NULL, deadline, &j->clock, log_name, why, why_size);
    free(log);
    return r;
}

static vt_auto_candidate *add_candidate(job *j, const char *name, const char *recipe) {
    j->base[j->n] = NULL;
    vt_auto_candidate *c = &j->c[j->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->recipe, sizeof c->recipe, "%s", recipe);
    c->start_s = elapsed(j);
    return c;
}

/* `verto eval --json` of c's model on `data` into *into; the JSON kept in
 * WORK/<name>-<tag>.json. false (with the reason in c->note) when it failed. */
static bool evaluate(job *j, vt_auto_candidate *c, const char *data, const char *tag, vt_auto_scores *into,
                     double deadline) {
    char base[128], why[512];
    snprintf(base, sizeof base, "%s-%s-eval", c->name, tag);
    char json_name[160];
    snprintf(json_name, sizeof json_name, "%s.json", base);
    char *json_path = join(j->work, json_name), *log = join(j->work, base);
    char *log_path = log ? malloc(strlen(log) + 5) : NULL;
    bool ok = false;
    if (json_path && log_path) {
        sprintf(log_path, "%s.log", log);
        const char *args[] = {"eval", "--model", c->model_dir, "--data", data, "--json", NULL};
        auto_child_result r = auto_child_run(args, log_path, json_path, deadline, &j->clock, base, why, sizeof why);
        char *text = NULL;
        size_t len = 0;
        if (r == AUTO_CHILD_OK && vt_read_file(json_path, (size_t)1 << 26, &text, &len) == VT_OK &&
            vt_auto_scores_parse(text, len, json_path, into) == VT_OK)
            ok = true;
        else if (r == AUTO_CHILD_OK) snprintf(why, sizeof why, "%s", vt_last_error());
        free(text);
        if (!ok) snprintf(c->note, sizeof c->note, "%s evaluation: %s", tag, why);
    }
    free(json_path);
    free(log);
    free(log_path);
    return ok;
}

static bool has_model(const char *dir) {
    char *p = join(dir, "config.json");
    bool ok = p && access(p, R_OK) == 0;
    free(p);
    return ok;
}

/* ---- the baseline ---- */

static int run_baseline(job *j, const char *cand_root) {
    vt_auto_candidate *c = add_candidate(j, "baseline", "TF-IDF (word 1-2-grams) + logistic regression, C chosen on dev");
    c->model_dir = join(cand_root, "baseline");
    char why[512];
    const char *args[] = {"baseline", "--train", j->in->train, "--dev", j->in->dev, "-o", c->model_dir, NULL};
    double hard = j->clock.t0 + j->clock.budget_s;
    auto_child_result r = step(j, args, "baseline", hard, why, sizeof why);
    if (r == AUTO_CHILD_OK && evaluate(j, c, j->in->dev, "dev", &c->dev, hard)) {
        c->seconds = elapsed(j) - c->start_s;
        c->state = VT_AUTO_DONE;
        return vt_auto_curve_add(c, elapsed(j), c->dev.accuracy) == VT_OK ? 0 : cli_fail("%s", vt_last_error());
    }
    c->seconds = elapsed(j) - c->start_s;
    c->state = r == AUTO_CHILD_DEADLINE ? VT_AUTO_STOPPED : VT_AUTO_FAILED;
    if (r != AUTO_CHILD_OK) snprintf(c->note, sizeof c->note, "%s", why);
    return cli_fail("the baseline did not finish: %s", c->note);
}

/* ---- a base model pretrained here from scratch ---- */

/* WORK/corpus.txt: the training texts (their labels unused) and the
 * unlabelled files, documents separated by blank lines (as vocab and
 * prepare-pretraining read them). */
static char *write_corpus(job *j, double *bytes) {
    char *path = join(j->work, "corpus.txt");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) {
        free(path);
        return NULL;
    }
    *bytes = 0;
    const vt_labelled *t = j->in->train_data;
    for (size_t i = 0; i < t->n; i++) {
        bool blank = true; /* blank lines inside a text would split it: drop them */
        for (size_t k = 0; k < t->text_len[i]; k++) {
            char ch = t->text[i][k];
            if (ch == '\r') continue;
            if (ch == '\n' && blank) continue;
            fputc(ch, f);
            blank = ch == '\n';
        }
        fputs(blank ? "\n" : "\n\n", f);
        *bytes += (double)t->text_len[i];
    }
    for (int u = 0; u < j->in->n_unlabelled; u++) {
        char *text = NULL;
        size_t len = 0;
        if (vt_read_file(j->in->unlabelled[u], (size_t)1 << 32, &text, &len) != VT_OK) continue; /* checked earlier */
        fwrite(text, 1, len, f);
        fputs("\n\n", f);
        *bytes += (double)len;
        free(text);
    }
    if (fclose(f) != 0) {
        free(path);
        return NULL;
    }
    return path;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Seconds a pretraining step takes: from the probe run's metrics.jsonl (the
 * time between its first and last step, start-up left out), else `fallback`. */
static double step_seconds(const char *run_dir, double fallback) {
    char *path = join(run_dir, "metrics.jsonl");
    vt_metrics_log log;
    double s = fallback;
    if (path && vt_metrics_log_read(path, &log) == VT_OK) {
        const vt_metric_series *loss = vt_metrics_log_find(&log, "loss", false);
        if (loss && loss->n >= 2 && loss->step[loss->n - 1] > loss->step[0] && isfinite(loss->time[0]) &&
            isfinite(loss->time[loss->n - 1]))
            s = (loss->time[loss->n - 1] - loss->time[0]) / (loss->step[loss->n - 1] - loss->step[0]);
        vt_metrics_log_free(&log);
    }
    vt_clear_error();
    free(path);
    return s;
}

/* Pretrains init on the shards into model for the steps that `share` of
 * the time left allows, measured by a 4-step probe run (into probe_dir).
 * The run is stopped at 1.25 x its share (the probe misjudges a machine whose
 * load changes); a stopped run's checkpoint is its result. Returns the steps
 * run with the directory to use in result (model, or its checkpoint), or 0
 * with a note (`what` names the stage) saying why not. */
static int64_t pretrain_measured(job *j, const char *init, const char *shards, const char *probe_dir,
                                 const char *model, const char *lr, double share, const char *what, char *result,
                                 size_t result_size) {
    char why[512], steps_s[32], warm_s[32];
    const char *probe_args[] = {"pretrain", "--init", init, "--data", shards, "-o", probe_dir, "--steps", "4",
                                "--batch-size", "32", "--lr", lr, "--log-every", "1", NULL};
    double t = auto_now();
    auto_child_result r = step(j, probe_args, base_name(probe_dir), candidate_deadline(j), why, sizeof why);
    double per_step = step_seconds(probe_dir, (auto_now() - t) / 4);
    if (r != AUTO_CHILD_OK) {
        note(j, "%s: the probe run: %s", what, why);
        return 0;
    }
    double s = floor(share * left(j) / per_step);
    int64_t steps = s > MAX_PRETRAIN_STEPS ? (int64_t)MAX_PRETRAIN_STEPS : (int64_t)s;
    if (steps < MIN_PRETRAIN_STEPS) {
        note(j, "%s skipped: %.2f s a step (measured over 4 steps), %.0f s left allow %lld steps (< %d)", what,
             per_step, left(j), (long long)steps, MIN_PRETRAIN_STEPS);
        return 0;
    }
    snprintf(steps_s, sizeof steps_s, "%lld", (long long)steps);
    snprintf(warm_s, sizeof warm_s, "%lld", (long long)(steps / 10));
    const char *args[] = {"pretrain", "--init", init, "--data", shards, "-o", model, "--steps", steps_s,
                          "--batch-size", "32", "--lr", lr, "--warmup-steps", warm_s, "--seed", "1",
                          "--group-by-length", "64", NULL};
    double deadline = fmin(candidate_deadline(j), auto_now() + 1.25 * share * left(j));
    r = step(j, args, base_name(model), deadline, why, sizeof why); /* logged as WORK/<model's name>.log */
    snprintf(result, result_size, "%s", model);
    if (r == AUTO_CHILD_DEADLINE && !has_model(model)) { /* stopped on SIGTERM: its checkpoint */
        int64_t done = vt_ckpt_latest(model, result, result_size);
        if (done > 0 && has_model(result)) {
            note(j, "%s stopped at its time share after %lld of %lld steps (the machine ran slower than the probe); "
                    "its checkpoint is the base", what, (long long)done, (long long)steps);
            return done;
        }
    }
    if (r != AUTO_CHILD_OK || !has_model(model)) {
        note(j, "%s did not finish: %s", what, why[0] ? why : "no model written");
        return 0;
    }
    return steps;
}

/* Pretrains BERT-tiny on the corpus into s (base, recipe, shards); false
 * with a note saying why not. */
static bool pretrain_from_scratch(job *j, ft_settings *s) {
    double bytes = 0;
    char *corpus = write_corpus(j, &bytes);
    if (!corpus) {
        note(j, "from-scratch pretraining skipped: cannot write %s/corpus.txt", j->work);
        return false;
    }
    if (bytes < MIN_SCRATCH_BYTES) {
        note(j, "no --init and only %.0f bytes of text (train + unlabelled; from-scratch pretraining needs %.0f): "
                "baseline only",
             bytes, MIN_SCRATCH_BYTES);
        free(corpus);
        return false;
    }
    double t_start = auto_now();
    char *vocab = join(j->work, "vocab.txt"), *shards = keep(j, join(j->work, "shards")),
         *init = join(j->work, "bert-init"), *probe = join(j->work, "pretrain-probe"),
         *model = join(j->work, "bert-scratch");
    char why[512];
    bool ok = vocab && shards && init && probe && model;
    const char *vocab_args[] = {"vocab", "--size", "4000", "-o", vocab, corpus, NULL};
    const char *prep_args[] = {"prepare-pretraining", "--vocab", vocab, "-o", shards, "--max-seq-length", "128",
                               "--dupe-factor", "2", "--seed", "1", "-q", corpus, NULL};
    const char *init_args[] = {"init", "--config", "tiny", "--vocab", vocab, "-o", init, "--seed", "1", NULL};
    const char *const *stages[] = {vocab_args, prep_args, init_args};
    const char *names[] = {"vocab", "prepare-pretraining", "init"};
    for (int k = 0; ok && k < 3; k++) {
        auto_child_result r = step(j, stages[k], names[k], candidate_deadline(j), why, sizeof why);
        if (r != AUTO_CHILD_OK) {
            note(j, "from-scratch pretraining: %s: %s", names[k], why);
            ok = false;
        }
    }
    char result[4096];
    int64_t steps = ok ? pretrain_measured(j, init, shards, probe, model, "5e-4", 0.4, "from-scratch pretraining",
                                           result, sizeof result) : 0;
    ok = steps > 0;
    if (ok) {
        snprintf(s->base_recipe, sizeof s->base_recipe,
                 "BERT-tiny (L2/H128) pretrained here from scratch (4000-token vocabulary, %lld MLM+NSP steps on %.0f "
                 "bytes of text, %.0f s)",
                 (long long)steps, bytes, auto_now() - t_start);
        note(j, "base model: %s", s->base_recipe);
        ok = (s->base = keep(j, strdup(result))) != NULL;
        s->from_scratch = true;
        s->shards = shards;
        s->pretrain_lr = "5e-4";
        s->pretrain_steps = steps;
    }
    free(corpus);
    free(vocab);
    free(init);
    free(probe);
    free(model);
    return ok;
}

/* Continued (domain-adaptive) pretraining of --init on the training texts
 * and the unlabelled files, with the init's own tokenizer and MLM head (a
 * fresh one, which pretrain adds, when the directory is an encoder alone), for
 * the steps 30% of the time left allows, into cont (base, recipe, shards; its
 * other settings those of --init's). false with a note when it did not run. */
static bool continue_pretraining(job *j, ft_settings *cont) {
    double bytes = 0, t_start = auto_now();
    const char *len_s = cont->len_s;
    char *corpus = write_corpus(j, &bytes);
    char *shards = keep(j, join(j->work, "shards-continued")), *probe = join(j->work, "continued-probe"),
         *model = join(j->work, "bert-continued");
    char why[512];
    bool ok = corpus && shards && probe && model;
    if (!ok) note(j, "continued pretraining skipped: cannot write %s", j->work);
    if (ok) {
        const char *prep_args[] = {"prepare-pretraining", "--tokenizer", j->in->init, "-o", shards,
                                   "--max-seq-length", len_s, "--dupe-factor", "2", "--seed", "1", "-q", corpus, NULL};
        if (step(j, prep_args, "prepare-continued", candidate_deadline(j), why, sizeof why) != AUTO_CHILD_OK) {
            note(j, "continued pretraining: prepare-pretraining: %s", why);
            ok = false;
        }
    }
    char result[4096];
    int64_t steps = ok ? pretrain_measured(j, j->in->init, shards, probe, model, "1e-4", 0.3, "continued pretraining",
                                           result, sizeof result) : 0;
    free(corpus);
    free(probe);
    free(model);
    if (steps <= 0 || !(cont->base = keep(j, strdup(result)))) return false;
    snprintf(cont->base_recipe, sizeof cont->base_recipe,
             "%s after continued MLM+NSP pretraining on the task's text (%lld steps, lr 1e-4, %.0f bytes, %.0f s)",
             j->in->init, (long long)steps, bytes, auto_now() - t_start);
    snprintf(cont->prefix, sizeof cont->prefix, "continued-");
    cont->shards = shards;
    cont->pretrain_lr = "1e-4";
    cont->pretrain_steps = steps;
    note(j, "continued pretraining: %s", cont->base_recipe);
    return true;
}

/* ---- fine-tuning ---- */

/* Tokens of the 90th-percentile training text, estimated as 1.3 per
 * whitespace-separated word (word pieces split some words). */
static double p90_tokens(const vt_labelled *t) {
    double *w = malloc(t->n * sizeof *w);
    if (!w || !t->n) {
        free(w);
        return 0;
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t words = 0;
        bool in = false;
        for (size_t k = 0; k < t->text_len[i]; k++) {
            bool space = strchr(" \t\r\n", t->text[i][k]) != NULL;
            if (!space && !in) words++;
            in = !space;
        }
        w[i] = 1.3 * (double)words;
    }
    for (size_t i = 1; i < t->n; i++) /* insertion sort: a few thousand values */
        for (size_t k = i; k > 0 && w[k - 1] > w[k]; k--) {
            double x = w[k];
            w[k] = w[k - 1];
            w[k - 1] = x;
        }
    double p = w[(size_t)(0.9 * (double)(t->n - 1))];
    free(w);
    return p;
}

/* WORK/<name>: at most `max` dev examples, evenly spaced through the file
 * (dev files are often sorted by label or source), as JSONL; *n how many. */
static char *write_dev_part(job *j, const char *name, size_t max, size_t *n) {
    const vt_labelled *d = j->in->dev_data;
    char *path = join(j->work, name);
    FILE *f = path ? fopen(path, "w") : NULL;
    *n = d->n < max ? d->n : max;
    for (size_t k = 0; f && k < *n; k++) {
        size_t i = k * d->n / *n;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", d->text[i]);
        cJSON_AddStringToObject(o, "label", d->id2label[d->label[i]]);
        char *s = cJSON_PrintUnformatted(o);
        if (s) fprintf(f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    if (!f || fclose(f) != 0) {
        free(path);
        return NULL;
    }
    return path;
}

static auto_child_result finetune(job *j, const ft_settings *s, const char *train, const char *dev, const char *out,
                                  double lr, int64_t epochs, const char *max_train, const char *what, char *why,
                                  size_t why_size) {
    char lr_s[32], ep_s[32];
    snprintf(lr_s, sizeof lr_s, "%g", lr);
    snprintf(ep_s, sizeof ep_s, "%lld", (long long)epochs);
    char batch_s[16], patience_s[32];
    snprintf(batch_s, sizeof batch_s, "%d", BATCH);
    const char *args[32] = {"finetune", "--init", s->base, "--train", train, "--dev", dev, "-o", out,
                            "--epochs", ep_s, "--batch-size", batch_s, "--lr", lr_s, "--max-seq-length", s->len_s,
                            "--max-windows", s->win_s, "--seed", "1"};
    int n = 21;
    if (epochs >= 8) { /* the many epochs of a small training set: stop when dev stops improving */
        snprintf(patience_s, sizeof patience_s, "%lld", (long long)(epochs / 4 > 3 ? epochs / 4 : 3));
        args[n++] = "--early-stopping";
        args[n++] = patience_s;
    }
    if (max_train) {
        args[n++] = "--max-train-examples";
        args[n++] = max_train;
    }
    args[n] = NULL;
    return step(j, args, what, candidate_deadline(j), why, why_size);
}

/* One fine-tuning candidate from base s at (lr, planned epochs), named by
 * s's prefix and the settings, with the epochs that fit the time left;
 * *epoch_s is the estimated time of an epoch, measured again when the
 * candidate finishes. */
static void run_candidate(job *j, const ft_settings *s, const char *cand_root, double lr, int64_t planned,
                          double *epoch_s) {
    char why[512], name[48], recipe[640];
    snprintf(name, sizeof name, "%sfinetune-lr%g-ep%lld", s->prefix, lr, (long long)planned);
    int64_t e = vt_auto_fit_epochs(planned, *epoch_s, left(j));
    snprintf(recipe, sizeof recipe, "fine-tuned from %s: lr %g, %lld epochs, batch %d, %s tokens x %s windows",
             s->base_recipe, lr, (long long)(e ? e : planned), BATCH, s->len_s, s->win_s);
    int i = j->n;
    vt_auto_candidate *c = add_candidate(j, name, recipe);
    j->base[i] = s;
    j->lr[i] = lr;
    j->epochs[i] = planned;
    if (!e) {
        c->state = VT_AUTO_SKIPPED;
        snprintf(c->note, sizeof c->note, "an epoch takes about %.0f s, %.0f s were left", *epoch_s, fmax(0, left(j)));
        return;
    }
    if (e < planned) snprintf(c->note, sizeof c->note, "%lld of %lld epochs fit the time left", (long long)e,
                              (long long)planned);
    c->model_dir = join(cand_root, name);
    auto_child_result r = finetune(j, s, j->in->train, j->select_dev, c->model_dir, lr, e, NULL, name, why, sizeof why);
    c->seconds = elapsed(j) - c->start_s;
    char *metrics = join(c->model_dir, "metrics.jsonl");
    if (metrics && vt_auto_curve_from_metrics(c, metrics, c->start_s) != VT_OK)
        fprintf(stderr, "auto: warning: %s\n", vt_last_error());
    free(metrics);
    if (r == AUTO_CHILD_FAILED) {
        c->state = VT_AUTO_FAILED;
        snprintf(c->note, sizeof c->note, "%s", why);
        return;
    }
    if (r == AUTO_CHILD_DEADLINE) {
        if (!has_model(c->model_dir)) {
            c->state = VT_AUTO_STOPPED;
            snprintf(c->note, sizeof c->note, "%s, before its first epoch ended", why);
            return;
        }
        snprintf(c->note, sizeof c->note, "%s; its best epoch so far is kept", why);
    }
    double eval_deadline = candidate_deadline(j) + j->reserve_s / 2;
    if (evaluate(j, c, j->in->dev, "dev", &c->dev, eval_deadline)) c->state = VT_AUTO_DONE;
    else c->state = VT_AUTO_FAILED;
    c->seconds = elapsed(j) - c->start_s;
    /* measured: its time over the epochs it ran (one dev evaluation each; early stopping may stop it before
     * e), with a small margin. It replaces the probe's estimate, which is far too high where a tiny run is
     * mostly start-up (State of the Union, 100 labels: 8 s an epoch estimated, 0.6 s measured), and cut
     * later candidates' epochs for time that was there. */
    if (r == AUTO_CHILD_OK && c->n_curve > 0) *epoch_s = 1.2 * c->seconds / (double)c->n_curve;
}

/* Candidates [from, to) of the grid for base s, each planned with at least
 * MIN_FINETUNE_STEPS steps. */
static void run_grid(job *j, const ft_settings *s, const char *cand_root, double *epoch_s, int from, int to) {
    double lr[4];
    int64_t epochs[4];
    int n_grid = vt_auto_grid(s->from_scratch, lr, epochs, 4);
    for (int g = from; g < to && g < n_grid && j->n < MAX_CANDIDATES; g++) {
        int64_t planned = vt_auto_epochs_for(epochs[g], j->in->train_data->n, BATCH, MIN_FINETUNE_STEPS,
                                             MAX_FINETUNE_EPOCHS);
        bool seen = false; /* raised to the same epochs, two settings of the grid can meet */
        for (int i = 0; i < j->n; i++) seen |= j->base[i] == s && j->lr[i] == lr[g] && j->epochs[i] == planned;
        if (!seen) run_candidate(j, s, cand_root, lr[g], planned, epoch_s);
    }
}

/* The best finished candidate fine-tuned from s (an index into j->c), or -1. */
static int best_from(const job *j, const ft_settings *s) {
    int best = -1;
    for (int i = 0; i < j->n; i++)
        if (j->base[i] == s && j->c[i].state == VT_AUTO_DONE &&
            (best < 0 || vt_auto_choose((const vt_auto_candidate[]){j->c[best], j->c[i]}, 2) == 1))
            best = i;
    return best;
}

/* While time is left after the grid: settings around the best fine-tuned
 * candidate so far (vt_auto_next_setting), from its base, until none is
 * left untried or the next does not fit. With `only`, around the best from
 * that base (one just pretrained further), and only settings whose epochs
 * all fit: a few epochs of a setting say little, and the time left is the
 * next round's. */
static void refine(job *j, const ft_settings *only, const char *cand_root, double *epoch_s) {
    while (j->n < MAX_CANDIDATES) {
        int best = only ? best_from(j, only) : j->n > 1 ? vt_auto_choose(j->c + 1, j->n - 1) : -1;
        if (best < 0) return;
        if (!only) best += 1; /* c[0] is the baseline */
        const ft_settings *s = j->base[best];
        double tried_lr[MAX_CANDIDATES], lr;
        int64_t tried_epochs[MAX_CANDIDATES], epochs;
        int n_tried = 0;
        for (int i = 0; i < j->n; i++)
            if (j->base[i] == s) {
                tried_lr[n_tried] = j->lr[i];
                tried_epochs[n_tried++] = j->epochs[i];
            }
        if (!vt_auto_next_setting(j->lr[best], j->epochs[best], tried_lr, tried_epochs, n_tried, MAX_FINETUNE_EPOCHS,
                                  &lr, &epochs)) {
            note(j, "the search ended with %.0f s left: every setting around the best (lr %g, %lld epochs) was tried",
                 fmax(0, left(j)), j->lr[best], (long long)j->epochs[best]);
            return;
        }
        int64_t fit = vt_auto_fit_epochs(epochs, *epoch_s, left(j));
        if (!fit || (only && fit < epochs)) return; /* not even an epoch fits, or not all of them */
        run_candidate(j, s, cand_root, lr, epochs, epoch_s);
    }
}

/* When the search ends with time left: more pretraining of `pre` (a base
 * pretrained here, from scratch or continued; NULL: none, and the time stays
 * unused), the best setting fine-tuned from the result, then settings around
 * the best from the result; repeated, each round continuing the last, while a round
 * fits. Pretraining is the lever with few labels, so the time goes there. */
static void spend_time_left(job *j, const ft_settings *pre, const char *cand_root, double *epoch_s) {
    ft_settings more[MAX_MORE_ROUNDS];
    for (int round = 0; round < MAX_MORE_ROUNDS && j->n < MAX_CANDIDATES; round++) {
        const ft_settings *from = round ? &more[round - 1] : pre;
        int best = from ? best_from(j, from) : -1;
        if (best < 0) {
            note(j, "%.0f s left unused: %s", fmax(0, left(j)),
                 !pre ? "no base was pretrained here to pretrain further (that needs --unlabelled text with --init, "
                        "or no --init)"
                      : "no candidate from the pretrained base finished, so there is no setting to repeat");
            return;
        }
        /* the same setting from a better base takes about as long as it did (early stopping included) */
        double finetune_s = j->c[best].seconds, share = vt_auto_more_pretraining_share(left(j), finetune_s,
                                                                                       MIN_MORE_PRETRAIN_S);
        if (share <= 0) {
            note(j, "%.0f s left unused: too little for %.0f s more pretraining and the %.0f s fine-tuning after it",
                 fmax(0, left(j)), MIN_MORE_PRETRAIN_S, finetune_s);
            return;
        }
        ft_settings *s = &more[round];
        *s = *from;
        char what[64], probe_name[32], model_name[32], result[4096];
        snprintf(s->prefix, sizeof s->prefix, "more%c-", (char)('1' + round)); /* (rounds 1 to MAX_MORE_ROUNDS < 10) */
        snprintf(what, sizeof what, "more pretraining (round %d)", round + 1);
        snprintf(probe_name, sizeof probe_name, "more%d-probe", round + 1);
        snprintf(model_name, sizeof model_name, "bert-more%d", round + 1);
        char *probe = join(j->work, probe_name), *model = join(j->work, model_name);
        double t_start = auto_now();
        int64_t steps = probe && model ? pretrain_measured(j, from->base, from->shards, probe, model, from->pretrain_lr,
                                                           share, what, result, sizeof result)
                                       : 0;
        free(probe);
        free(model);
        if (steps <= 0 || !(s->base = keep(j, strdup(result)))) return;
        s->pretrain_steps = from->pretrain_steps + steps;
        snprintf(s->base_recipe, sizeof s->base_recipe, "%.260s, then %lld more MLM+NSP steps (lr %s, %.0f s; %lld in all)",
                 from->base_recipe, (long long)steps, from->pretrain_lr, auto_now() - t_start,
                 (long long)s->pretrain_steps);
        note(j, "%s: %lld more steps from %s (%lld in all), then lr %g / %lld epochs from it", what, (long long)steps,
             from->base, (long long)s->pretrain_steps, j->lr[best], (long long)j->epochs[best]);
        run_candidate(j, s, cand_root, j->lr[best], j->epochs[best], epoch_s);
        refine(j, s, cand_root, epoch_s);
    }
}

/* The probe, then the search: the grid's first candidate from the base, one
 * from the base after continued pretraining (when --init is a masked LM or an
 * encoder alone and --unlabelled text is given), the rest of the grid, then
 * settings around the best while time is left. */
static void search(job *j, const ft_settings *s, const char *cand_root) {
    char why[512];
    size_t n_probe = 0;
    char *dev_probe = write_dev_part(j, "dev-probe.jsonl", PROBE_DEV, &n_probe), *probe_dir = join(j->work, "finetune-probe");
    /* a candidate picks its best epoch on at most SELECT_DEV dev examples: reading a large dev set after each of
     * a small training set's many epochs would take most of its time */
    j->select_dev = write_dev_part(j, "dev-select.jsonl", SELECT_DEV, &j->n_select);
    if (!dev_probe || !probe_dir || !j->select_dev) {
        note(j, "fine-tuning skipped: cannot write %s", j->work);
        free(dev_probe);
        free(probe_dir);
        return;
    }
    /* a short measured run: 1 epoch of 32 training examples and 16 dev ones */
    double t = auto_now();
    char probe_n[16];
    snprintf(probe_n, sizeof probe_n, "%d", PROBE_TRAIN);
    auto_child_result r = finetune(j, s, j->in->train, dev_probe, probe_dir, 1e-4, 1, probe_n, "finetune-probe", why,
                                   sizeof why);
    double t_probe = auto_now() - t;
    free(dev_probe);
    free(probe_dir);
    if (r != AUTO_CHILD_OK) {
        note(j, "fine-tuning skipped: the probe run (1 epoch of %d examples) %s", PROBE_TRAIN,
             r == AUTO_CHILD_DEADLINE ? "did not fit the budget" : why);
        return;
    }
    size_t n_train = j->in->train_data->n, n_dev = j->n_select;
    size_t probe_train = n_train < PROBE_TRAIN ? n_train : PROBE_TRAIN;
    /* scaled by examples, with a margin of 1.5: texts differ in length (windows), the machine's load varies,
     * and a candidate stopped in its first epoch is time lost */
    double epoch_s = 1.5 * t_probe * (double)(n_train + n_dev) / (double)(probe_train + n_probe);
    note(j, "fine-tuning probe: %.1f s for 1 epoch of %zu train + %zu dev examples; an epoch of all %zu + %zu "
            "estimated at %.0f s (x 1.5 margin)",
         t_probe, probe_train, n_probe, n_train, n_dev, epoch_s);
    run_grid(j, s, cand_root, &epoch_s, 0, 1);
    const char *init = j->in->init;
    vt_task_kind kind = VT_TASK_FEATURES;
    if (init && vt_task_kind_of_dir(init, &kind) != VT_OK) vt_clear_error();
    if (init && !j->in->n_unlabelled)
        note(j, "continued pretraining of --init not tried: it needs --unlabelled text of the domain");
    else if (init && kind != VT_TASK_FILL_MASK && kind != VT_TASK_FEATURES)
        note(j, "continued pretraining of --init not tried: %s is a fine-tuned model (%s), not a masked LM or an "
                "encoder", init, vt_task_kind_name(kind));
    ft_settings cont = *s;
    bool continued = init && j->in->n_unlabelled && (kind == VT_TASK_FILL_MASK || kind == VT_TASK_FEATURES) &&
                     continue_pretraining(j, &cont);
    if (continued) run_grid(j, &cont, cand_root, &epoch_s, 0, 1);
    run_grid(j, s, cand_root, &epoch_s, 1, 4);
    refine(j, NULL, cand_root, &epoch_s);
    spend_time_left(j, continued ? &cont : s->shards ? s : NULL, cand_root, &epoch_s);
}

/* The base model's positions decide the window length (at most 128). */
static void window_settings(job *j, ft_settings *s) {
    int64_t len = MAX_LEN;
    char *cfg = s->base ? join(s->base, "config.json") : NULL, *text = NULL;
    size_t n = 0;
    if (cfg && vt_read_file(cfg, (size_t)1 << 24, &text, &n) == VT_OK) {
        cJSON *o = cJSON_ParseWithLength(text, n);
        const cJSON *pos = cJSON_GetObjectItemCaseSensitive(o, "max_position_embeddings");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "model_type");
        if (cJSON_IsNumber(pos)) {
            int64_t p = (int64_t)pos->valuedouble;
            if (cJSON_IsString(type) && strstr(type->valuestring, "roberta")) p -= 2; /* padding_idx offset */
            if (p >= 16 && p < len) len = p;
        }
        cJSON_Delete(o);
    }
    vt_clear_error();
    free(cfg);
    free(text);
    double tokens = p90_tokens(j->in->train_data);
    int32_t w = vt_auto_windows(tokens, (int32_t)len, MAX_WINDOWS);
    snprintf(s->len_s, sizeof s->len_s, "%lld", (long long)len);
    snprintf(s->win_s, sizeof s->win_s, "%d", w);
    if (w > 1)
        note(j, "long texts: the 90th-percentile training text has about %.0f tokens (1.3 per word), so texts are "
                "read as up to %d windows of %lld tokens",
             tokens, w, (long long)len);
}

/* ---- OUT/best ---- */

/* Copies the regular files of src into dst (its old regular files removed first). */
static vt_status copy_model(const char *src, const char *dst) {
    vt_status st = vt_mkdir_p(dst);
    DIR *d = st == VT_OK ? opendir(dst) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        char *p = join(dst, e->d_name);
        struct stat sb;
        if (p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(p);
        free(p);
    }
    if (d) closedir(d);
    d = st == VT_OK ? opendir(src) : NULL;
    if (st == VT_OK && !d) st = vt_error(VT_ERR_IO, "%s: cannot read the directory", src);
    for (struct dirent *e; st == VT_OK && d && (e = readdir(d));) {
        char *from = join(src, e->d_name), *to = join(dst, e->d_name), *text = NULL;
        struct stat sb;
        size_t n = 0;
        if (!from || !to) st = vt_error(VT_ERR_NOMEM, "out of memory");
        else if (stat(from, &sb) == 0 && S_ISREG(sb.st_mode) && (st = vt_read_file(from, (size_t)1 << 34, &text, &n)) == VT_OK)
            st = vt_write_file_atomic(to, text, n);
        free(text);
        free(from);
        free(to);
    }
    if (d) closedir(d);
    return st;
}

/* ---- the whole run ---- */

int auto_run(const auto_inputs *in) {
    job j = {.in = in};
    j.clock = (auto_clock){auto_now(), in->budget_s};
    j.reserve_s = fmax(10.0, 0.1 * in->budget_s);
    char *cand_root = join(in->out, "candidates");
    j.work = join(in->out, "work");
    int rc = 0;
    if (!cand_root || !j.work) rc = cli_fail("out of memory");
    if (!rc && (vt_mkdir_p(cand_root) != VT_OK || vt_mkdir_p(j.work) != VT_OK)) rc = cli_fail("%s", vt_last_error());
    if (!rc) rc = run_baseline(&j, cand_root);
    if (!rc) {
        if (left(&j) < MIN_TRANSFORMER_S) {
            note(&j, "baseline only: %.0f s of the %.0f s budget were left after the baseline (%.0f s kept for the "
                     "test evaluation and the report), and a Transformer candidate needs at least %.0f s",
                 fmax(0, j.clock.t0 + in->budget_s - auto_now()), in->budget_s, j.reserve_s, MIN_TRANSFORMER_S);
        } else {
            ft_settings s = {.base = in->init};
            if (in->init) snprintf(s.base_recipe, sizeof s.base_recipe, "%s", in->init);
            else pretrain_from_scratch(&j, &s);
            if (s.base) {
                window_settings(&j, &s);
                search(&j, &s, cand_root);
            }
        }
    }
    int chosen = rc ? -1 : vt_auto_choose(j.c, j.n);
    char *best = join(in->out, "best");
    if (!rc && chosen >= 0) {
        if (copy_model(j.c[chosen].model_dir, best) != VT_OK) rc = cli_fail("%s", vt_last_error());
    }
    if (!rc && chosen >= 0 && in->test) { /* figures reported after the choice, never used for it */
        double hard = j.clock.t0 + in->budget_s;
        vt_auto_candidate *win = &j.c[chosen];
        char *dir = win->model_dir;
        win->model_dir = best; /* the directory the user keeps is the one measured */
        evaluate(&j, win, in->test, "test", &win->test, hard);
        win->model_dir = dir;
        if (chosen != 0) evaluate(&j, &j.c[0], in->test, "test", &j.c[0].test, hard);
        if (!win->test.present || !j.c[0].test.present)
            note(&j, "a test evaluation did not finish within the budget (see the candidates' notes)");
    }
    if (!rc) {
        vt_auto_report r = {.train = in->train, .dev = in->dev, .test = in->test, .init = in->init,
                            .budget_s = in->budget_s, .total_s = elapsed(&j), .c = j.c, .n = j.n, .chosen = chosen,
                            .notes = (const char *const *)j.notes, .n_notes = j.n_notes};
        if (vt_auto_write_report(&r, in->out) != VT_OK) rc = cli_fail("%s", vt_last_error());
    }
    if (!rc) {
        printf("auto: %d candidates in %.1f s of %.0f s\n", j.n, elapsed(&j), in->budget_s);
        for (int i = 0; i < j.n; i++) {
            printf("  %-24s %-8s", j.c[i].name, vt_auto_state_name(j.c[i].state));
            if (j.c[i].dev.present) printf(" dev macro F1 %.4f accuracy %.4f", j.c[i].dev.macro_f1, j.c[i].dev.accuracy);
            if (j.c[i].test.present) printf("  test accuracy %.4f (not used for choosing)", j.c[i].test.accuracy);
            printf("%s\n", i == chosen ? "  <- chosen" : "");
        }
        printf("wrote %s/best, %s/report.md, %s/report.html\n", in->out, in->out, in->out);
    }
    for (int i = 0; i < j.n; i++) vt_auto_candidate_free(&j.c[i]);
    for (int i = 0; i < j.n_notes; i++) free(j.notes[i]);
    for (int i = 0; i < j.n_owned; i++) free(j.owned[i]);
    free(best);
    free(cand_root);
    free(j.work);
    free(j.select_dev);
    return rc;
}
