/* verto generate: text continuations of prompts from a GPT-2 directory.
 * One prompt: its text is streamed to stdout as it comes. Several prompts:
 * batched (--batch-size at a time, a finished one's place taken by the next),
 * each printed in input order once it and those before it are done, ended by
 * a newline. --json: one object per prompt, in input order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/text_input.h"
#include "core/strbuf.h"
#include "verto/generate.h"
#include "verto/gpt2.h"
#include "verto/gpt2_lora.h"
#include "verto/tokenizer.h"

typedef struct gen_out {
    int64_t n;
    bool stream;   /* one prompt in plain text: write its text as it comes */
    bool json;
    vt_sb *texts;  /* (n) texts gathered for in-order printing */
    bool *done;    /* (n) */
    int64_t printed;
} gen_out;

static void on_text(int64_t i, const char *text, size_t len, bool done, void *ud) {
    gen_out *o = ud;
    if (o->stream) {
        fwrite(text, 1, len, stdout);
        if (done) fputc('\n', stdout);
        fflush(stdout);
        return;
    }
    if (o->json) return;
    vt_sb_add(&o->texts[i], text, len);
    o->done[i] = done;
    for (; o->printed < o->n && o->done[o->printed]; o->printed++) {
        vt_sb *b = &o->texts[o->printed];
        fwrite(b->buf ? b->buf : "", 1, b->len, stdout);
        fputc('\n', stdout);
    }
    fflush(stdout);
}

static void print_json(const vt_gen_result *r) {
    vt_sb b = {0};
    vt_sb_str(&b, "{\"text\": ");
    vt_sb_json_string(&b, r->text);
    vt_sb_str(&b, ", \"token_ids\": [");
    for (int64_t t = 0; t < r->n_tokens; t++) vt_sb_printf(&b, t ? ", %d" : "%d", r->tokens[t]);
    vt_sb_printf(&b, "], \"finish_reason\": \"%s\", \"prompt_tokens\": %lld}\n", vt_finish_reason_name(r->finish),
                 (long long)r->prompt_tokens);
    size_t len;
    char *s = vt_sb_take(&b, &len);
    if (s) fwrite(s, 1, len, stdout);
    free(s);
}

/* Takes the repeatable --stop STR / --stop=STR out of argv (compacting it). */
static int take_stops(int *argc, char **argv, const char ***stops, int *n_stops) {
    int w = 1;
    for (int r = 1; r < *argc; r++) {
        const char *v = NULL;
        if (strcmp(argv[r], "--stop") == 0) {
            if (r + 1 >= *argc) return cli_fail("--stop needs a string");
            v = argv[++r];
        } else if (strncmp(argv[r], "--stop=", 7) == 0) {
            v = argv[r] + 7;
        } else {
            argv[w++] = argv[r];
            continue;
        }
        const char **p = realloc(*stops, (size_t)(*n_stops + 1) * sizeof *p);
        if (!p) return cli_fail("out of memory");
        *stops = p;
        p[(*n_stops)++] = v;
    }
    *argc = w;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model_dir = NULL, *adapter_dir = NULL, *input = NULL, **stops = NULL, *stop_help = NULL,
               *precision = "fp32";
    int n_stops = 0;
    int64_t max_new = 32, top_k = 0, seed = 0, batch_size = 8;
    double temperature = 1, top_p = 1, rep = 1;
    bool greedy = false, json = false;
    const cli_option OPTS[] = {
        {"--model", CLI_STRING, &model_dir, "DIR", "a GPT-2 model directory with its tokenizer"},
        {"--adapter", CLI_STRING, &adapter_dir, "DIR", "a PEFT LoRA adapter (verto finetune --task causal-lm) applied to the model"},
        {"--input", CLI_STRING, &input, "FILE", "prompts one per line (- : stdin; default: the arguments, else stdin)"},
        {"--max-new-tokens", CLI_INT, &max_new, "N", "tokens to generate at most (default 32)", 1, 1e9},
        {"--temperature", CLI_FLOAT, &temperature, "T", "sampling temperature (default 1)", 1e-6, 1e6},
        {"--top-k", CLI_INT, &top_k, "K", "sample among the K likeliest (default 0: off)", 0, 1e9},
        {"--top-p", CLI_FLOAT, &top_p, "P", "nucleus sampling (default 1: off)", 1e-9, 1},
        {"--repetition-penalty", CLI_FLOAT, &rep, "R", "penalty on tokens already present (default 1: off)", 1e-6, 1e6},
        {"--seed", CLI_INT, &seed, "S", "sampling seed (default 0; every prompt draws from the stream of S)", 0, 1e18},
        {"--stop", CLI_STRING, &stop_help, "STR", "stop before this string (repeatable)"},
        {"--greedy", CLI_FLAG, &greedy, NULL, "the likeliest token each time instead of sampling"},
        {"--json", CLI_FLAG, &json, NULL, "one JSON object per prompt: text, token_ids, finish_reason, prompt_tokens"},
        {"--batch-size", CLI_INT, &batch_size, "B", "prompts decoded together (default 8)", 1, 4096},
        {"--precision", CLI_STRING, &precision, "fp32|bf16",
         "the weights each new token reads: fp32 (default) or bf16 (half the bytes: faster, logits within bf16's "
         "rounding; the prompt's pass stays fp32)"},
        {0}};
    if (take_stops(&argc, argv, &stops, &n_stops) != 0) return 1;
    char **pos = NULL;
    int n_pos = 0;
    int rc = cli_parse(argc, argv, OPTS, "verto generate --model DIR [options] [PROMPT...]", &pos, &n_pos);
    if (rc != CLI_CONTINUE) {
        free(stops);
        return rc == CLI_HELP ? 0 : rc;
    }
    vt_gpt2 *m = NULL;
    vt_tokenizer *tok = NULL;
    cli_lines lines = {0};
    vt_gen_request *reqs = NULL;
    vt_gen_result *res = NULL;
    vt_tok_encoding *enc = NULL;
    gen_out out = {0};
    rc = 1;
    if (!model_dir) {
        cli_fail("--model DIR is required");
        goto end;
    }
    vt_precision decode_precision;
    if (!vt_precision_parse(precision, &decode_precision) || decode_precision == VT_PRECISION_INT8) {
        cli_fail("--precision must be fp32 or bf16, not '%s'", precision);
        goto end;
    }
    if (!(m = vt_gpt2_load(model_dir)) || (adapter_dir && vt_gpt2_lora_load(m, adapter_dir) != VT_OK) ||
        !(tok = vt_tok_load(model_dir, NULL)) || vt_gpt2_set_decode_precision(m, decode_precision) != VT_OK) {
        cli_fail("%s", vt_last_error());
        goto end;
    }
    if (cli_lines_read(input, input ? NULL : pos, input ? 0 : n_pos, &lines) != VT_OK) {
        cli_fail("%s", vt_last_error());
        goto end;
    }
    if (lines.n == 0) {
        cli_fail("no prompts given");
        goto end;
    }
    const vt_gpt2_config *cfg = vt_gpt2_get_config(m);
    size_t n = lines.n;
    reqs = calloc(n, sizeof *reqs);
    res = calloc(n, sizeof *res);
    enc = calloc(n, sizeof *enc);
    out = (gen_out){.n = (int64_t)n, .json = json, .stream = n == 1 && !json, .texts = calloc(n, sizeof(vt_sb)),
                    .done = calloc(n, sizeof(bool))};
    if (!reqs || !res || !enc || !out.texts || !out.done) {
        cli_fail("out of memory");
        goto end;
    }
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.add_special_tokens = false; /* GPT-2 style: no BOS */
    int32_t bos = (int32_t)cfg->bos_token_id;
    for (size_t i = 0; i < n; i++) {
        vt_tok_encoding_init(&enc[i]);
        if (vt_tok_encode(tok, lines.text[i], lines.len[i], NULL, 0, &eo, &enc[i]) != VT_OK) {
            cli_fail("prompt %zu: %s", i + 1, vt_last_error());
            goto end;
        }
        vt_gen_request *r = &reqs[i];
        vt_gen_request_default(r);
        /* an empty prompt starts from the bos token, as transformers' generate() without input ids */
        r->prompt = enc[i].len ? enc[i].ids : &bos;
        r->n_prompt = enc[i].len ? enc[i].len : 1;
        if (!enc[i].len && bos < 0) {
            cli_fail("prompt %zu is empty and the model has no bos_token_id to start from", i + 1);
            goto end;
        }
        r->sampling.do_sample = !greedy;
        r->sampling.temperature = (float)temperature;
        r->sampling.top_k = (int32_t)top_k;
        r->sampling.top_p = (float)top_p;
        r->sampling.repetition_penalty = (float)rep;
        r->seed = (uint64_t)seed;
        r->max_new_tokens = max_new;
        r->stops = stops;
        r->n_stops = n_stops;
        r->eos_id = (int32_t)cfg->eos_token_id;
        if (r->n_prompt + max_new - 1 > cfg->n_positions) {
            cli_fail("prompt %zu: %lld tokens and --max-new-tokens %lld pass the model's %lld positions", i + 1,
                     (long long)r->n_prompt, (long long)max_new, (long long)cfg->n_positions);
            goto end;
        }
    }
    if (vt_generate_batch(m, tok, reqs, (int64_t)n, batch_size, on_text, &out, res) != VT_OK) {
        cli_fail("%s", vt_last_error());
        goto end;
    }
    if (json)
        for (size_t i = 0; i < n; i++) print_json(&res[i]);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_fail("writing the output: %s", strerror(errno));
        goto end;
    }
    rc = 0;
end:
    for (size_t i = 0; enc && i < lines.n; i++) vt_tok_encoding_free(&enc[i]);
    for (size_t i = 0; res && i < lines.n; i++) vt_gen_result_free(&res[i]);
    for (size_t i = 0; out.texts && i < lines.n; i++) vt_sb_free(&out.texts[i]);
    free(out.texts);
    free(out.done);
    free(enc);
    free(res);
    free(reqs);
    cli_lines_free(&lines);
    vt_tok_free(tok);
    vt_gpt2_free(m);
    free(pos);
    free(stops);
    return rc;
}
