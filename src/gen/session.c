/* The generation session: slots over one GPT-2 cache, each with its own
 * sampler, random stream, ids and text; a step batches the running slots
 * into one vt_gpt2_step_slots. */
#include <stdlib.h>
#include <string.h>

#include "verto/generate.h"

typedef struct gen_slot {
    bool used;
    vt_finish_reason finish;
    vt_sampler *sampler;
    vt_rng rng;
    int32_t eos_id;
    int64_t max_new, n_prompt, n_new;
    int32_t *ids;          /* (max_len) prompt then generated: the repetition penalty's context */
    char **stops;          /* (n_stops) owned copies */
    int n_stops;
    char *text;            /* the decoded generated text (vt_tok_decode's) */
    size_t text_len, sent; /* its length; the bytes vt_gen_take_text handed out */
    size_t searched;       /* the text's bytes already searched for stop strings */
} gen_slot;

struct vt_gen_session {
    vt_gpt2 *model;
    const vt_tokenizer *tok;
    vt_gpt2_cache *cache;
    int64_t max_slots, max_len, vocab;
    gen_slot *slots;       /* (max_slots) */
    float *logits;         /* (max_slots, V) */
    int64_t *rows;         /* (max_slots) the running slots of a step */
    int32_t *tokens;       /* (max_slots) their last tokens */
};

void vt_gen_request_default(vt_gen_request *r) {
    *r = (vt_gen_request){.max_new_tokens = 16, .eos_id = -1};
    vt_sampling_options_default(&r->sampling);
}

vt_gen_session *vt_gen_session_new(vt_gpt2 *m, const vt_tokenizer *tok, int64_t max_slots, int64_t max_len) {
    if (!m || !tok || max_slots < 1 || max_slots > 4096) {
        vt_error(VT_ERR_INVALID_ARG, "a generation session needs a model, a tokenizer and 1 to 4096 slots");
        return NULL;
    }
    vt_gen_session *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->model = m;
    s->tok = tok;
    s->max_slots = max_slots;
    s->max_len = max_len;
    s->vocab = vt_gpt2_get_config(m)->vocab_size;
    if (!(s->cache = vt_gpt2_cache_new(m, max_slots, max_len))) {
        free(s);
        return NULL;
    }
    s->slots = calloc((size_t)max_slots, sizeof *s->slots);
    s->logits = malloc((size_t)(max_slots * s->vocab) * sizeof *s->logits);
    s->rows = malloc((size_t)max_slots * sizeof *s->rows);
    s->tokens = malloc((size_t)max_slots * sizeof *s->tokens);
    if (!s->slots || !s->logits || !s->rows || !s->tokens) goto nomem;
    return s;
nomem:
    vt_gen_session_free(s);
    vt_error(VT_ERR_NOMEM, "out of memory for a generation session");
    return NULL;
}

static void slot_clear(gen_slot *g) {
    vt_sampler_free(g->sampler);
    free(g->ids);
    for (int i = 0; i < g->n_stops; i++) free(g->stops[i]);
    free(g->stops);
    free(g->text);
    *g = (gen_slot){0};
}

void vt_gen_session_free(vt_gen_session *s) {
    if (!s) return;
    for (int64_t i = 0; s->slots && i < s->max_slots; i++) slot_clear(&s->slots[i]);
    vt_gpt2_cache_free(s->cache);
    free(s->slots);
    free(s->logits);
    free(s->rows);
    free(s->tokens);
    free(s);
}

int64_t vt_gen_max_slots(const vt_gen_session *s) { return s ? s->max_slots : 0; }
int64_t vt_gen_max_len(const vt_gen_session *s) { return s ? s->max_len : 0; }

int64_t vt_gen_used(const vt_gen_session *s) {
    int64_t n = 0;
    for (int64_t i = 0; s && i < s->max_slots; i++) n += s->slots[i].used;
    return n;
}

int64_t vt_gen_running(const vt_gen_session *s) {
    int64_t n = 0;
    for (int64_t i = 0; s && i < s->max_slots; i++) n += s->slots[i].used && s->slots[i].finish == VT_FINISH_NONE;
    return n;
}

/* Bytes at the end of text that are U+FFFD (EF BF BD) replacement characters:
 * possibly an incomplete character the next token completes. */
static size_t trailing_replacements(const char *text, size_t len) {
    size_t n = 0;
    while (len - n >= 3 && memcmp(text + len - n - 3, "\xEF\xBF\xBD", 3) == 0) n += 3;
    return n;
}

/* Takes the token chosen for slot g: appends it, re-decodes the text, looks
 * for a stop string and decides whether the slot is finished. */
static vt_status accept_token(vt_gen_session *s, gen_slot *g, int32_t token) {
    g->ids[g->n_prompt + g->n_new++] = token;
    const int32_t *gen = g->ids + g->n_prompt;
    size_t n_text = (size_t)g->n_new - (token == g->eos_id); /* the eos token is not text */
    char *text = NULL;
    size_t len = 0;
    vt_status st = vt_tok_decode(s->tok, gen, n_text, false, false, &text, &len);
    if (st != VT_OK) return st;
    /* Stop strings are looked for in the final text only: while running, a
     * trailing U+FFFD may be an incomplete character the next token
     * completes. Only text after the part searched before can hold a new one. */
    bool ends = vt_finish_after(token, g->eos_id, false, g->n_new, g->max_new) != VT_FINISH_NONE;
    size_t stable = ends ? len : len - trailing_replacements(text, len);
    size_t keep = stable;
    bool stopped = vt_stop_find(text, stable, g->searched < stable ? g->searched : stable,
                                (const char *const *)g->stops, g->n_stops, &keep);
    g->searched = stable;
    if (stopped) text[len = keep] = '\0';
    free(g->text);
    g->text = text;
    g->text_len = len;
    g->finish = vt_finish_after(token, g->eos_id, stopped, g->n_new, g->max_new);
    return VT_OK;
}

vt_status vt_gen_add(vt_gen_session *s, const vt_gen_request *r, int64_t *slot) {
    if (!s || !r || !slot) return vt_error(VT_ERR_INVALID_ARG, "vt_gen_add: needs a session, a request and a slot");
    if (!r->prompt || r->n_prompt < 1) return vt_error(VT_ERR_INVALID_ARG, "a generation request needs a prompt of at least one token");
    if (r->max_new_tokens < 1) return vt_error(VT_ERR_INVALID_ARG, "max_new_tokens must be at least 1, not %lld", (long long)r->max_new_tokens);
    if (r->n_prompt + r->max_new_tokens - 1 > s->max_len)
        return vt_error(VT_ERR_INVALID_ARG, "a prompt of %lld tokens and %lld new ones pass the %lld tokens a sequence may hold",
                        (long long)r->n_prompt, (long long)r->max_new_tokens, (long long)s->max_len);
    if (r->n_stops < 0 || (r->n_stops > 0 && !r->stops)) return vt_error(VT_ERR_INVALID_ARG, "bad stop strings");
    for (int64_t i = 0; i < r->n_prompt; i++)
        if (r->prompt[i] < 0 || r->prompt[i] >= s->vocab)
            return vt_error(VT_ERR_INVALID_ARG, "prompt token %d is outside the vocabulary of %lld", r->prompt[i], (long long)s->vocab);
    int64_t free_at = -1;
    for (int64_t i = 0; i < s->max_slots && free_at < 0; i++)
        if (!s->slots[i].used) free_at = i;
    if (free_at < 0) return vt_error(VT_ERR_STATE, "all %lld generation slots are taken", (long long)s->max_slots);
    gen_slot *g = &s->slots[free_at];
    g->sampler = vt_sampler_new(&r->sampling, (int32_t)s->vocab);
    if (!g->sampler) return vt_last_status();
    g->ids = malloc((size_t)(r->n_prompt + r->max_new_tokens) * sizeof *g->ids);
    g->stops = r->n_stops ? calloc((size_t)r->n_stops, sizeof *g->stops) : NULL;
    if (!g->ids || (r->n_stops && !g->stops)) goto nomem;
    for (int i = 0; i < r->n_stops; i++) {
        g->n_stops = i + 1;
        if (!(g->stops[i] = strdup(r->stops[i] ? r->stops[i] : ""))) goto nomem;
    }
    memcpy(g->ids, r->prompt, (size_t)r->n_prompt * sizeof *g->ids);
    g->n_prompt = r->n_prompt;
    g->max_new = r->max_new_tokens;
    g->eos_id = r->eos_id;
    vt_sampling_rng(r->seed, 0, &g->rng);
    float *logits = s->logits + free_at * s->vocab;
    int32_t token;
    vt_status st = vt_gpt2_prefill_slot(s->model, s->cache, free_at, r->prompt, r->n_prompt, logits);
    if (st == VT_OK) st = vt_sampler_next(g->sampler, logits, g->ids, g->n_prompt, &g->rng, &token);
    if (st == VT_OK) {
        g->used = true;
        st = accept_token(s, g, token);
    }
    if (st != VT_OK) {
        slot_clear(g);
        vt_gpt2_cache_reset_slot(s->cache, free_at);
        return st;
    }
    *slot = free_at;
    return VT_OK;
nomem:
    slot_clear(g);
    return vt_error(VT_ERR_NOMEM, "out of memory for a generation request");
}

vt_status vt_gen_step(vt_gen_session *s) {
    if (!s) return vt_error(VT_ERR_INVALID_ARG, "vt_gen_step: no session");
    int64_t n = 0;
    for (int64_t i = 0; i < s->max_slots; i++) {
        gen_slot *g = &s->slots[i];
        if (!g->used || g->finish != VT_FINISH_NONE) continue;
        s->rows[n] = i;
        s->tokens[n++] = g->ids[g->n_prompt + g->n_new - 1];
    }
    if (n == 0) return VT_OK;
    vt_status st = vt_gpt2_step_slots(s->model, s->cache, s->rows, n, s->tokens, s->logits);
    for (int64_t r = 0; st == VT_OK && r < n; r++) {
        gen_slot *g = &s->slots[s->rows[r]];
        int32_t token;
        st = vt_sampler_next(g->sampler, s->logits + r * s->vocab, g->ids, g->n_prompt + g->n_new, &g->rng, &token);
        if (st == VT_OK) st = accept_token(s, g, token);
    }
    return st;
}

static vt_status check_slot(const vt_gen_session *s, int64_t slot) {
    if (!s || slot < 0 || slot >= s->max_slots)
        return vt_error(VT_ERR_INVALID_ARG, "no generation slot %lld", (long long)slot);
    return VT_OK;
}

vt_status vt_gen_slot(const vt_gen_session *s, int64_t slot, vt_gen_slot_info *out) {
    vt_status st = check_slot(s, slot);
    if (st != VT_OK || !out) return st != VT_OK ? st : vt_error(VT_ERR_INVALID_ARG, "vt_gen_slot: no output");
    const gen_slot *g = &s->slots[slot];
    *out = (vt_gen_slot_info){.used = g->used, .finish = g->finish, .tokens = g->ids ? g->ids + g->n_prompt : NULL,
                              .n_tokens = g->n_new, .n_prompt = g->n_prompt, .text = g->text ? g->text : "",
                              .text_len = g->text_len};
    return VT_OK;
}

const char *vt_gen_take_text(vt_gen_session *s, int64_t slot, size_t *len) {
    if (len) *len = 0;
    if (check_slot(s, slot) != VT_OK || !len) return "";
    gen_slot *g = &s->slots[slot];
    if (!g->used || !g->text) return "";
    size_t final = g->text_len;
    if (g->finish == VT_FINISH_NONE) {
        size_t hold = vt_stop_holdback(g->text, g->text_len, (const char *const *)g->stops, g->n_stops);
        size_t bad = trailing_replacements(g->text, g->text_len);
        final -= hold > bad ? hold : bad;
    }
    if (final <= g->sent) return "";
    const char *p = g->text + g->sent;
    *len = final - g->sent;
    g->sent = final;
    return p;
}

vt_status vt_gen_release(vt_gen_session *s, int64_t slot) {
    vt_status st = check_slot(s, slot);
    if (st != VT_OK) return st;
    slot_clear(&s->slots[slot]);
    return vt_gpt2_cache_reset_slot(s->cache, slot);
}
