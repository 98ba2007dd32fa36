/* The generation session and the GPT-2 cache's per-slot calls, on a random
 * GPT-2 (vocabulary: the 256 byte-level symbols + <|endoftext|>, no merges):
 * - prefill_slot / step_slots give the logits of the whole-batch prefill and
 *   step (1e-5 abs: the same arithmetic, products over other row counts);
 * - a request's tokens are the same alone, in a session where others join
 *   and leave between its steps (continuous batching), and after a release
 *   and re-add, greedy and seeded sampling alike;
 * - the streamed pieces (vt_gen_take_text) join into the final text, never
 *   show a stop string, and the stop string cuts the text of the run without
 *   it; finish reasons;
 * - bad requests: full session, too long, ids outside the vocabulary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/generate.h"
#include "vt_test.h"

enum { V = 257, EOT = 256 };

static void put_utf8(char **p, unsigned cp) {
    if (cp < 0x80) *(*p)++ = (char)cp;
    else {
        *(*p)++ = (char)(0xC0 | (cp >> 6));
        *(*p)++ = (char)(0x80 | (cp & 0x3F));
    }
}

/* tokenizers' byte-level BPE with the 256 byte symbols (GPT-2's
 * bytes_to_unicode) and no merges: one token per byte. */
static vt_tokenizer *byte_tokenizer(void) {
    static char json[16384];
    char *p = json;
    p += sprintf(p, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":%d,\"content\":\"<|endoftext|>\",\"single_word\":false,"
                    "\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":true}],\"normalizer\":null,"
                    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                    "\"use_regex\":true},\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":"
                    "true,\"trim_offsets\":true,\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"dropout\":null,"
                    "\"unk_token\":null,\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
                    "\"byte_fallback\":false,\"vocab\":{", EOT);
    unsigned extra = 0;
    for (unsigned b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        unsigned cp = printable ? b : 256 + extra++;
        *p++ = '"';
        if (cp == '"' || cp == '\\') *p++ = '\\';
        put_utf8(&p, cp);
        p += sprintf(p, "\":%u,", b);
    }
    p += sprintf(p, "\"<|endoftext|>\":%d},\"merges\":[]}}", EOT);
    vt_tokenizer *t = vt_tok_from_json(json, (size_t)(p - json), "byte tokenizer", NULL);
    if (!t) fail_msg("tokenizer: %s", vt_last_error());
    return t;
}

static vt_gpt2 *model(void) {
    vt_gpt2_config c;
    vt_gpt2_config_default(&c);
    c.vocab_size = V, c.n_positions = 64, c.n_embd = 32, c.n_layer = 2, c.n_head = 4;
    c.bos_token_id = c.eos_token_id = EOT;
    c.initializer_range = 0.3f; /* decisive logits: greedy choices are not near-ties */
    c.resid_pdrop = c.embd_pdrop = c.attn_pdrop = 0;
    vt_gpt2 *m = vt_gpt2_new(&c, 5);
    if (!m) fail_msg("model: %s", vt_last_error());
    return m;
}

static const char *PROMPTS[] = {"Hello there", "a", "The quick brown fox jumps", "12345 6789"};
enum { NP = 4 };

static void ids_of(const char *s, int32_t *ids, int64_t *n) {
    *n = (int64_t)strlen(s);
    for (int64_t i = 0; i < *n; i++) ids[i] = (unsigned char)s[i]; /* one token per byte */
}

static void test_slot_calls(void **state) {
    (void)state;
    vt_gpt2 *m = model();
    int32_t ids[3 * 32] = {0}, lens[3];
    for (int b = 0; b < 3; b++) {
        int64_t n;
        ids_of(PROMPTS[b == 1 ? 2 : b], ids + b * 32, &n);
        lens[b] = (int32_t)n;
    }
    vt_gpt2_cache *whole = vt_gpt2_cache_new(m, 3, 48), *slots = vt_gpt2_cache_new(m, 4, 48);
    assert_non_null(whole);
    assert_non_null(slots);
    float *lw = malloc(3 * V * sizeof(float)), *ls = malloc(3 * V * sizeof(float));
    assert_int_equal(vt_gpt2_prefill(m, whole, ids, 32, lens, lw), VT_OK);
    /* sequence b of the whole batch into slot 3 - b */
    for (int b = 0; b < 3; b++) {
        assert_int_equal(vt_gpt2_prefill_slot(m, slots, 3 - b, ids + b * 32, lens[b], ls + b * V), VT_OK);
        assert_int_equal(vt_gpt2_cache_lengths(slots)[3 - b], lens[b]);
    }
    assert_close_abs("prefill_slot logits", ls, lw, 3 * V, 1e-5);
    int32_t tok[3] = {7, 100, 33};
    assert_int_equal(vt_gpt2_step(m, whole, tok, lw), VT_OK);
    int64_t order[3] = {1, 3, 2}; /* sequences 2, 0, 1 of the whole batch */
    int32_t tok_s[3] = {tok[2], tok[0], tok[1]};
    assert_int_equal(vt_gpt2_step_slots(m, slots, order, 3, tok_s, ls), VT_OK);
    assert_close_abs("step_slots row 0", ls, lw + 2 * V, V, 1e-5);
    assert_close_abs("step_slots row 1", ls + V, lw, V, 1e-5);
    assert_close_abs("step_slots row 2", ls + 2 * V, lw + V, V, 1e-5);
    /* only the listed sequences move; an empty or repeated one is refused */
    int64_t one[1] = {3};
    assert_int_equal(vt_gpt2_step_slots(m, slots, one, 1, tok, ls), VT_OK);
    assert_int_equal(vt_gpt2_cache_lengths(slots)[3], lens[0] + 2);
    assert_int_equal(vt_gpt2_cache_lengths(slots)[1], lens[2] + 1);
    int64_t zero[1] = {0}, twice[2] = {1, 1};
    assert_int_equal(vt_gpt2_step_slots(m, slots, zero, 1, tok, ls), VT_ERR_STATE);
    assert_int_equal(vt_gpt2_step_slots(m, slots, twice, 2, tok, ls), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gpt2_cache_reset_slot(slots, 3), VT_OK);
    assert_int_equal(vt_gpt2_cache_lengths(slots)[3], 0);
    assert_int_equal(vt_gpt2_cache_reset_slot(slots, 4), VT_ERR_INVALID_ARG);
    free(lw);
    free(ls);
    vt_gpt2_cache_free(whole);
    vt_gpt2_cache_free(slots);
    vt_gpt2_free(m);
}

typedef struct run {
    int32_t tokens[64];
    int64_t n;
    char text[1024], streamed[1024];
    size_t streamed_len;
    vt_finish_reason finish;
} run;

static void request(vt_gen_request *r, int i, bool sample, const char *const *stops, int n_stops, int32_t *buf) {
    vt_gen_request_default(r);
    int64_t n;
    ids_of(PROMPTS[i], buf, &n);
    r->prompt = buf, r->n_prompt = n;
    r->max_new_tokens = 20 + 3 * i;
    r->eos_id = EOT;
    r->seed = 100 + (uint64_t)i;
    r->sampling.do_sample = sample;
    r->sampling.temperature = 0.8f;
    r->sampling.top_k = 40;
    r->stops = stops, r->n_stops = n_stops;
}

static void take(vt_gen_session *s, int64_t slot, run *out) {
    size_t len;
    const char *t = vt_gen_take_text(s, slot, &len);
    memcpy(out->streamed + out->streamed_len, t, len);
    out->streamed_len += len;
}

static void finish_run(vt_gen_session *s, int64_t slot, run *out) {
    take(s, slot, out);
    vt_gen_slot_info info;
    assert_int_equal(vt_gen_slot(s, slot, &info), VT_OK);
    out->n = info.n_tokens;
    memcpy(out->tokens, info.tokens, (size_t)info.n_tokens * sizeof(int32_t));
    memcpy(out->text, info.text, info.text_len);
    out->text[info.text_len] = '\0';
    out->finish = info.finish;
    assert_int_equal(vt_gen_release(s, slot), VT_OK);
}

/* Each request alone in a one-slot session. */
static void alone(vt_gpt2 *m, const vt_tokenizer *t, bool sample, const char *const *stops, int n_stops, run *out) {
    vt_gen_session *s = vt_gen_session_new(m, t, 1, 64);
    assert_non_null(s);
    for (int i = 0; i < NP; i++) {
        int32_t buf[64];
        vt_gen_request r;
        request(&r, i, sample, stops, n_stops, buf);
        int64_t slot;
        memset(&out[i], 0, sizeof out[i]);
        assert_int_equal(vt_gen_add(s, &r, &slot), VT_OK);
        assert_int_equal(vt_gen_add(s, &r, &slot), VT_ERR_STATE); /* the one slot is taken */
        while (vt_gen_running(s)) {
            take(s, slot, &out[i]);
            assert_int_equal(vt_gen_step(s), VT_OK);
        }
        finish_run(s, slot, &out[i]);
    }
    vt_gen_session_free(s);
}

/* The same requests in a 3-slot session, joining one per step and leaving
 * as they finish; request 1 is first added, dropped after 2 steps, re-added. */
static void together(vt_gpt2 *m, const vt_tokenizer *t, bool sample, const char *const *stops, int n_stops,
                     run *out) {
    vt_gen_session *s = vt_gen_session_new(m, t, 3, 64);
    assert_non_null(s);
    int32_t bufs[NP][64];
    int64_t slot_of[NP] = {-1, -1, -1, -1}, dropped = -1;
    int next = 0, done = 0, steps = 0;
    memset(out, 0, NP * sizeof *out);
    while (done < NP) {
        if (next < NP && vt_gen_used(s) < 3) {
            vt_gen_request r;
            request(&r, next, sample, stops, n_stops, bufs[next]);
            assert_int_equal(vt_gen_add(s, &r, &slot_of[next]), VT_OK);
            next++;
        }
        if (steps == 2 && dropped < 0 && slot_of[1] >= 0) { /* a client gone: free its slot, send it again later */
            dropped = slot_of[1];
            assert_int_equal(vt_gen_release(s, dropped), VT_OK);
            memset(&out[1], 0, sizeof out[1]);
            vt_gen_request r;
            request(&r, 1, sample, stops, n_stops, bufs[1]);
            assert_int_equal(vt_gen_add(s, &r, &slot_of[1]), VT_OK);
        }
        for (int i = 0; i < next; i++) {
            if (slot_of[i] < 0) continue;
            vt_gen_slot_info info;
            vt_gen_slot(s, slot_of[i], &info);
            if (info.finish == VT_FINISH_NONE) {
                take(s, slot_of[i], &out[i]);
                continue;
            }
            finish_run(s, slot_of[i], &out[i]);
            slot_of[i] = -1;
            done++;
        }
        assert_int_equal(vt_gen_step(s), VT_OK);
        steps++;
    }
    assert_int_equal(vt_gen_used(s), 0);
    vt_gen_session_free(s);
}

static void same_runs(const run *a, const run *b, const char *what) {
    for (int i = 0; i < NP; i++) {
        if (a[i].n != b[i].n || memcmp(a[i].tokens, b[i].tokens, (size_t)a[i].n * sizeof(int32_t)) != 0 ||
            strcmp(a[i].text, b[i].text) != 0 || a[i].finish != b[i].finish)
            fail_msg("%s: request %d differs (%lld vs %lld tokens)", what, i, (long long)a[i].n, (long long)b[i].n);
        if (a[i].streamed_len != strlen(a[i].text) || memcmp(a[i].streamed, a[i].text, a[i].streamed_len) != 0)
            fail_msg("%s: request %d's streamed pieces do not join into its text", what, i);
    }
}

static void test_batching_equals_alone(void **state) {
    (void)state;
    vt_gpt2 *m = model();
    vt_tokenizer *t = byte_tokenizer();
    run a[NP], b[NP];
    for (int sample = 0; sample < 2; sample++) {
        alone(m, t, sample, NULL, 0, a);
        together(m, t, sample, NULL, 0, b);
        same_runs(a, a, "alone");
        same_runs(b, b, "together");
        same_runs(a, b, sample ? "sampled: alone vs together" : "greedy: alone vs together");
        for (int i = 0; i < NP; i++)
            assert_true(a[i].finish == VT_FINISH_EOS ? a[i].tokens[a[i].n - 1] == EOT
                                                     : a[i].finish == VT_FINISH_LENGTH && a[i].n == 20 + 3 * i);
    }
    vt_tok_free(t);
    vt_gpt2_free(m);
}

static void test_stop_strings(void **state) {
    (void)state;
    vt_gpt2 *m = model();
    vt_tokenizer *t = byte_tokenizer();
    run plain[NP], cut[NP], cut2[NP];
    alone(m, t, true, NULL, 0, plain);
    /* a stop string from the middle of request 2's text */
    size_t len = strlen(plain[2].text);
    assert_true(len >= 6);
    char stop[3] = {plain[2].text[len / 2], plain[2].text[len / 2 + 1], 0};
    const char *stops[] = {"", stop, "never there"};
    alone(m, t, true, stops, 3, cut);
    together(m, t, true, stops, 3, cut2);
    same_runs(cut, cut2, "with stop strings: alone vs together");
    const char *at = strstr(plain[2].text, stop);
    assert_non_null(at);
    assert_int_equal(cut[2].finish, VT_FINISH_STOP);
    assert_int_equal(strlen(cut[2].text), (size_t)(at - plain[2].text));
    assert_memory_equal(cut[2].text, plain[2].text, strlen(cut[2].text));
    for (int i = 0; i < NP; i++) {
        assert_null(strstr(cut[i].streamed, stop));
        /* the tokens are the run's own up to where it stopped */
        assert_true(cut[i].n <= plain[i].n);
        assert_memory_equal(cut[i].tokens, plain[i].tokens, (size_t)cut[i].n * sizeof(int32_t));
    }
    vt_tok_free(t);
    vt_gpt2_free(m);
}

static void test_bad_requests(void **state) {
    (void)state;
    vt_gpt2 *m = model();
    vt_tokenizer *t = byte_tokenizer();
    vt_gen_session *s = vt_gen_session_new(m, t, 2, 16);
    assert_non_null(s);
    int32_t buf[64];
    vt_gen_request r;
    int64_t slot;
    request(&r, 0, false, NULL, 0, buf);
    r.max_new_tokens = 6; /* 11 prompt tokens + 6 - 1 = 16: fits */
    assert_int_equal(vt_gen_add(s, &r, &slot), VT_OK);
    r.max_new_tokens = 7;
    assert_int_equal(vt_gen_add(s, &r, &slot), VT_ERR_INVALID_ARG);
    r.max_new_tokens = 0;
    assert_int_equal(vt_gen_add(s, &r, &slot), VT_ERR_INVALID_ARG);
    r.max_new_tokens = 2;
    buf[0] = V;
    assert_int_equal(vt_gen_add(s, &r, &slot), VT_ERR_INVALID_ARG);
    buf[0] = 'H';
    r.sampling.do_sample = true, r.sampling.top_p = 2;
    assert_int_equal(vt_gen_add(s, &r, &slot), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_gen_used(s), 1);
    assert_int_equal(vt_gen_release(s, 5), VT_ERR_INVALID_ARG);
    vt_gen_session_free(s); /* with a request still running: freed */
    assert_null(vt_gen_session_new(m, t, 0, 16));
    assert_null(vt_gen_session_new(m, t, 1, 65));
    vt_tok_free(t);
    vt_gpt2_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_calls),
        cmocka_unit_test(test_batching_equals_alone),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
