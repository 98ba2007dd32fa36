/* libFuzzer target: the tagged-data readers (vt_tagged_parse) for CoNLL and
 * JSONL, then the entity finders and metrics over what they read. The first
 * input byte chooses the format and options (bit 0: CoNLL / JSONL; bit 1:
 * skip_bad_rows; bit 2: follow a label map; bit 3: first-seen order; bit 4:
 * unlabelled; bits 5-7: the scheme, 0 auto, 1 none, 2.. IOB1 .. BILOU);
 * the rest is the file. Any input must give VT_OK with a consistent data
 * set (sentences covering the tokens in order, NUL-terminated valid UTF-8
 * tokens of the stated lengths, tag ids in range, distinct label names
 * valid for the scheme, lines increasing) or an error whose message names
 * the file; then the default- and strict-mode entities of every sentence
 * must lie inside it, and the metrics of the tags against themselves must
 * be perfect. Never a crash, leak or sanitizer report.
 * Seeds: fuzz/corpus/conll/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/error.h"
#include "verto/ner.h"
#include "verto/ner_metrics.h"
#include "verto/tagged.h"

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        int need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
        if (c == 0 || need < 0 || n - i <= (size_t)need) return 0;
        for (int k = 1; k <= need; k++)
            if ((s[i + (size_t)k] & 0xC0) != 0x80) return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += (size_t)need + 1;
    }
    return 1;
}

static void check_text(const char *t, size_t len) {
    if (!t || !len || strlen(t) != len || !valid_utf8((const unsigned char *)t, len)) abort();
}

/* The entities of each sentence lie inside it, in both modes. */
static void check_entities(const vt_tagged *d) {
    const char **tags = malloc((d->n_tokens ? d->n_tokens : 1) * sizeof *tags);
    if (!tags) abort();
    for (size_t k = 0; k < d->n_tokens; k++) tags[k] = d->id2label[d->tag[k]];
    for (size_t s = 0; s < d->n; s++) {
        size_t n = d->start[s + 1] - d->start[s];
        for (int strict = 0; strict < 2; strict++) {
            vt_ner_entity *e;
            size_t ne;
            vt_status st = vt_ner_entities(tags + d->start[s], n, strict ? VT_NER_STRICT : VT_NER_DEFAULT, d->scheme,
                                           &e, &ne);
            if (st != VT_OK) {
                /* strict mode refuses only a scheme-less data set */
                if (!strict || (d->scheme != VT_SCHEME_NONE)) abort();
                continue;
            }
            for (size_t i = 0; i < ne; i++)
                if (e[i].start < 0 || e[i].end <= e[i].start || (size_t)e[i].end > n || e[i].type_len < 1) abort();
            free(e);
        }
    }
    free(tags);
    vt_ner_metrics m;
    if (vt_ner_metrics_compute((const char *const *)d->id2label, d->num_labels, d->tag, d->tag, d->start, d->n,
                               VT_NER_DEFAULT, VT_SCHEME_AUTO, &m) == VT_OK) {
        if (m.accuracy != 1.0 || m.correct != m.support || m.predicted != m.support) abort();
        vt_ner_metrics_free(&m);
    } else if (d->n_tokens) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0];
    static const char *const MAP[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
    static const vt_tag_scheme SCHEMES[8] = {VT_SCHEME_AUTO, VT_SCHEME_NONE,  VT_SCHEME_IOB1,  VT_SCHEME_IOB2,
                                             VT_SCHEME_IOE1, VT_SCHEME_IOE2, VT_SCHEME_IOBES, VT_SCHEME_BILOU};
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.format = sel & 1 ? VT_TAGGED_JSONL : VT_TAGGED_CONLL;
    o.skip_bad_rows = sel & 2;
    if (sel & 4) {
        o.id2label = MAP;
        o.num_labels = 5;
    }
    o.order = sel & 8 ? VT_LABELS_FIRST_SEEN : VT_LABELS_SORTED;
    o.unlabelled = sel & 16;
    o.scheme = SCHEMES[sel >> 5];
    o.max_labels = 1000;
    vt_tagged d;
    vt_status st = vt_tagged_parse((const char *)data + 1, size - 1, "fuzz", &o, &d);
    if (st != VT_OK) {
        if (!strstr(vt_last_error(), "fuzz") || d.n || d.token || d.id2label || d.start) abort();
        return 0;
    }
    if (d.n == 0 || d.format != o.format || d.start[0] != 0 || d.start[d.n] != d.n_tokens) abort();
    if (o.unlabelled ? (d.tag || d.num_labels) : (!d.tag || d.num_labels < 1)) abort();
    if ((sel & 4) && !o.unlabelled && d.num_labels != 5) abort();
    if (!o.unlabelled && o.scheme != VT_SCHEME_AUTO && d.scheme != o.scheme) abort();
    for (int i = 0; i < d.num_labels; i++) {
        check_text(d.id2label[i], strlen(d.id2label[i]));
        if (!vt_tag_valid(d.scheme, d.id2label[i]) && !(sel & 4)) abort(); /* a map may hold more */
        for (int j = 0; j < i; j++)
            if (!strcmp(d.id2label[i], d.id2label[j])) abort();
    }
    for (size_t s = 0; s < d.n; s++) {
        if (d.start[s + 1] < d.start[s]) abort();
        if (d.line[s] < 1 || (s && d.line[s] <= d.line[s - 1])) abort();
    }
    for (size_t k = 0; k < d.n_tokens; k++) {
        check_text(d.token[k], d.token_len[k]);
        if (d.tag && (d.tag[k] < 0 || d.tag[k] >= d.num_labels)) abort();
    }
    if (!o.skip_bad_rows && d.n_skipped) abort();
    if (d.tag) check_entities(&d);
    vt_tagged_free(&d);
    return 0;
}
