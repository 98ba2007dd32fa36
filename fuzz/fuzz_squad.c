/* libFuzzer target: the SQuAD reader (vt_squad_parse: JSON and JSONL), and
 * what follows it on whatever it accepts: features for training and
 * evaluation (a small WordPiece tokenizer, windows of 24 tokens), the
 * post-processing and the pipeline's answers over logits made from the
 * input, and the scores. The first byte picks the options (bits 0-1 format
 * auto/json/jsonl/auto, bit 2 skip_bad_rows, bits 3-4 version 0/1/2/0, bit 5
 * context first, bit 6 v2 post-processing). Checks: a parsed set is
 * consistent (n > 0; ids non-empty, distinct; each answer's bytes are the
 * context's at byte_start, which is character `start`; impossible questions
 * only in v2), errors name the file and leave the output empty; features lie
 * inside their inputs; predictions are substrings of the context; scores are
 * percentages. Seeds: fuzz/corpus/squad/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/error.h"
#include "verto/squad.h"
#include "verto/tokenizer.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\nwhat\n?\n.\na\nb\n##a\n##b\nab\n##ab\n"
                            "é\ne\n中\n##s\nis\n";

static vt_tokenizer *tok;

static void check_data(const vt_squad *d) {
    CHECK(d->n > 0 && (d->version == 1 || d->version == 2));
    size_t impossible = 0;
    for (size_t q = 0; q < d->n; q++) {
        const vt_squad_example *e = &d->ex[q];
        CHECK(e->id && e->id[0] && e->question && strlen(e->question) == e->question_len && e->question_len > 0);
        CHECK(e->context < d->n_contexts);
        for (size_t r = 0; r < q && r < 64; r++) CHECK(strcmp(d->ex[r].id, e->id));
        const char *ctx = d->contexts[e->context];
        size_t clen = d->context_len[e->context];
        CHECK(strlen(ctx) == clen);
        impossible += e->n_answers == 0;
        CHECK(e->first_answer + (size_t)e->n_answers <= d->n_answers);
        for (int32_t k = 0; k < e->n_answers; k++) {
            const vt_squad_answer *a = &d->answers[e->first_answer + (size_t)k];
            CHECK(a->len > 0 && strlen(a->text) == a->len && a->byte_start >= 0);
            CHECK((size_t)a->byte_start + a->len <= clen && !memcmp(ctx + a->byte_start, a->text, a->len));
            int64_t chars = 0;
            for (int64_t i = 0; i < a->byte_start; i++) chars += ((unsigned char)ctx[i] & 0xC0) != 0x80;
            CHECK(chars == a->start);
        }
    }
    CHECK(impossible == d->n_impossible);
    CHECK(d->version == 2 || impossible == 0);
}

static void check_features(const vt_squad *d, const vt_qa_features *f, bool train) {
    for (size_t i = 0; i < f->n; i++) {
        CHECK(f->example[i] >= 0 && (size_t)f->example[i] < d->n);
        CHECK(f->first[i + 1] > f->first[i] && vt_qa_feature_len(f, i) <= 24);
        if (train) {
            CHECK(f->start_position[i] >= 0 && f->start_position[i] < vt_qa_feature_len(f, i));
            CHECK(f->end_position[i] >= 0 && f->end_position[i] < vt_qa_feature_len(f, i));
            continue;
        }
        size_t clen;
        vt_squad_context(d, (size_t)f->example[i], &clen);
        for (int64_t r = f->first[i]; r < f->first[i + 1]; r++)
            if (vt_qa_in_context(f, r)) CHECK(f->byte_start[r] <= f->byte_end[r] && (size_t)f->byte_end[r] <= clen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (!tok) {
        vt_wp_vocab *v = vt_wp_vocab_from_buffer(VOCAB, sizeof VOCAB - 1, "fuzz vocab");
        tok = vt_tok_create(v, NULL);
        CHECK(tok);
    }
    unsigned sel = data[0];
    static const vt_squad_format FORMATS[4] = {VT_SQUAD_AUTO, VT_SQUAD_JSON, VT_SQUAD_JSONL, VT_SQUAD_AUTO};
    static const int VERSIONS[4] = {0, 1, 2, 0};
    vt_squad_options o;
    vt_squad_options_default(&o);
    o.format = FORMATS[sel & 3];
    o.skip_bad_rows = sel & 4;
    o.version = VERSIONS[(sel >> 3) & 3];
    vt_squad d;
    vt_status st = vt_squad_parse((const char *)data + 1, size - 1, "fuzz.json", &o, &d);
    if (st != VT_OK) {
        CHECK(strstr(vt_last_error(), "fuzz") && d.n == 0 && !d.ex && !d.contexts && !d.answers);
        return 0;
    }
    check_data(&d);
    if (!o.skip_bad_rows) CHECK(d.n_skipped == 0);

    vt_qa_options qo;
    vt_qa_options_default(&qo);
    qo.max_length = 24;
    qo.doc_stride = 4;
    qo.context_first = sel & 32;
    vt_qa_features tr, ev;
    vt_qa_features_init(&tr);
    vt_qa_features_init(&ev);
    if (vt_qa_features_build(tok, &d, &qo, true, &tr) == VT_OK) check_features(&d, &tr, true);
    if (vt_qa_features_build(tok, &d, &qo, false, &ev) == VT_OK && ev.n) {
        check_features(&d, &ev, false);
        size_t rows = (size_t)ev.first[ev.n];
        float *sl = malloc(rows * sizeof *sl), *el = malloc(rows * sizeof *el);
        CHECK(sl && el);
        for (size_t r = 0; r < rows; r++) { /* logits from the input bytes */
            sl[r] = (float)(data[(r * 7 + 1) % size] % 17) - 8.0f;
            el[r] = (float)(data[(r * 13 + 2) % size] % 19) - 9.0f;
        }
        vt_qa_post_options po;
        vt_qa_post_options_default(&po);
        po.version_2_with_negative = sel & 64;
        po.n_best_size = 5;
        vt_qa_predictions p;
        CHECK(vt_qa_postprocess(&d, &ev, sl, el, 0, &po, &p) == VT_OK && p.n == d.n);
        const char **pred = malloc(d.n * sizeof *pred);
        CHECK(pred);
        for (size_t q = 0; q < d.n; q++) {
            size_t clen;
            const char *ctx = vt_squad_context(&d, q, &clen);
            CHECK(p.p[q].n_best >= 1);
            CHECK(!strcmp(p.p[q].text, "empty") || strstr(ctx, p.p[q].text));
            pred[q] = p.p[q].text;
        }
        /* the pipeline's answers, question by question */
        size_t fi = 0;
        for (size_t q = 0; q < d.n; q++) {
            size_t count = 0;
            while (fi + count < ev.n && ev.example[fi + count] == (int32_t)q) count++;
            size_t clen;
            const char *ctx = vt_squad_context(&d, q, &clen);
            vt_qa_pipeline_options pp;
            vt_qa_pipeline_options_default(&pp);
            pp.top_k = 2;
            pp.handle_impossible_answer = sel & 64;
            vt_qa_answer ans[2];
            int32_t n;
            const float *s0 = sl + (count ? ev.first[fi] : 0), *e0 = el + (count ? ev.first[fi] : 0);
            CHECK(vt_qa_pipeline_answer(&ev, fi, count, ctx, clen, s0, e0, 0, &pp, ans, &n) == VT_OK && n <= 2);
            for (int32_t i = 0; i < n; i++) CHECK(strstr(ctx, ans[i].answer) && !isnan(ans[i].score));
            vt_qa_answers_free(ans, n);
            fi += count;
        }
        vt_squad_scores sc;
        double *na = malloc(d.n * sizeof *na);
        CHECK(na);
        for (size_t q = 0; q < d.n; q++) na[q] = (double)(data[q % size] % 5) / 4.0;
        /* every question has a prediction, and v1 data have no impossible question: it cannot fail */
        CHECK(vt_squad_evaluate(&d, pred, na, NULL, NULL, NULL, &sc) == VT_OK);
        CHECK(sc.exact >= 0 && sc.exact <= 100 && sc.f1 >= 0 && sc.f1 <= 100 + 1e-9 && sc.total == (int64_t)d.n);
        free(na);
        free(pred);
        vt_qa_predictions_free(&p);
        free(sl);
        free(el);
    }
    vt_qa_features_free(&tr);
    vt_qa_features_free(&ev);
    vt_squad_free(&d);
    return 0;
}
