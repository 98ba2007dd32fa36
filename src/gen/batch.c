/* vt_generate_batch: a queue of requests through one session, a finished
 * request's slot going to the next waiting one between steps. */
#include <stdlib.h>
#include <string.h>

#include "verto/generate.h"

void vt_gen_result_free(vt_gen_result *r) {
    if (!r) return;
    free(r->tokens);
    free(r->text);
    *r = (vt_gen_result){0};
}

/* Copies the finished slot's result into *out. */
static vt_status collect(const vt_gen_session *s, int64_t slot, vt_gen_result *out) {
    vt_gen_slot_info info;
    vt_status st = vt_gen_slot(s, slot, &info);
    if (st != VT_OK) return st;
    out->tokens = malloc((size_t)(info.n_tokens ? info.n_tokens : 1) * sizeof *out->tokens);
    out->text = malloc(info.text_len + 1);
    if (!out->tokens || !out->text) return vt_error(VT_ERR_NOMEM, "out of memory for a generation result");
    memcpy(out->tokens, info.tokens, (size_t)info.n_tokens * sizeof *out->tokens);
    memcpy(out->text, info.text, info.text_len);
    out->text[info.text_len] = '\0';
    out->n_tokens = info.n_tokens;
    out->text_len = info.text_len;
    out->prompt_tokens = info.n_prompt;
    out->finish = info.finish;
    return VT_OK;
}

vt_status vt_generate_batch(vt_gpt2 *m, const vt_tokenizer *tok, const vt_gen_request *reqs, int64_t n,
                            int64_t batch_size, vt_gen_text_fn on_text, void *ctx, vt_gen_result *out) {
    if (!m || !tok || !reqs || !out || n < 1 || batch_size < 1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_generate_batch: needs a model, a tokenizer, requests and a batch size");
    memset(out, 0, (size_t)n * sizeof *out);
    int64_t longest = 1, slots = batch_size < n ? batch_size : n;
    for (int64_t i = 0; i < n; i++) {
        int64_t need = reqs[i].n_prompt + reqs[i].max_new_tokens - 1;
        longest = need > longest ? need : longest;
    }
    int64_t positions = vt_gpt2_get_config(m)->n_positions;
    if (longest > positions)
        return vt_error(VT_ERR_INVALID_ARG, "a prompt and its new tokens need %lld positions, the model has %lld",
                        (long long)longest, (long long)positions);
    vt_gen_session *s = vt_gen_session_new(m, tok, slots, longest);
    int64_t *owner = malloc((size_t)slots * sizeof *owner); /* the request each slot runs, -1: none */
    if (!s || !owner) {
        vt_gen_session_free(s);
        free(owner);
        return s ? vt_error(VT_ERR_NOMEM, "out of memory for a generation batch") : vt_last_status();
    }
    for (int64_t i = 0; i < slots; i++) owner[i] = -1;
    vt_status st = VT_OK;
    int64_t next = 0, done = 0;
    while (st == VT_OK && done < n) {
        while (st == VT_OK && next < n && vt_gen_used(s) < slots) {
            int64_t slot;
            if ((st = vt_gen_add(s, &reqs[next], &slot)) == VT_OK) owner[slot] = next++;
        }
        /* hand out new text, and move finished requests out */
        for (int64_t slot = 0; st == VT_OK && slot < slots; slot++) {
            if (owner[slot] < 0) continue;
            size_t len;
            const char *text = vt_gen_take_text(s, slot, &len);
            vt_gen_slot_info info;
            vt_gen_slot(s, slot, &info);
            bool finished = info.finish != VT_FINISH_NONE;
            if (on_text && (len || finished)) on_text(owner[slot], text, len, finished, ctx);
            if (!finished) continue;
            st = collect(s, slot, &out[owner[slot]]);
            vt_gen_release(s, slot);
            owner[slot] = -1;
            done++;
        }
        if (st == VT_OK && vt_gen_running(s) > 0) st = vt_gen_step(s);
    }
    vt_gen_session_free(s);
    free(owner);
    if (st != VT_OK)
        for (int64_t i = 0; i < n; i++) vt_gen_result_free(&out[i]);
    return st;
}
