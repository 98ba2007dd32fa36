/* libFuzzer target: the labelled-data readers (vt_labelled_parse) for TSV,
 * CSV and JSONL. The first input byte chooses the format and options (bits
 * 0-1: format tsv/csv/jsonl/jsonl; bit 2: skip_bad_rows; bit 3: follow a
 * label map; bit 4: first-seen order; bit 5: unlabelled; bit 6: a second-text
 * column; bit 7: a second byte follows, choosing the label kind in bits 0-1:
 * single / multi / regression / multi, and the multi-label separator in bits
 * 2-3: "," / "|" / " ; " / ","); the rest is the file. Any input must give
 * VT_OK with a consistent data set (n > 0, NUL-terminated valid UTF-8 texts
 * of the stated lengths, label ids in range, distinct label names, lines
 * increasing; multi-label: a 0/1 matrix of n x num_labels; regression: finite
 * targets and no label map) or an error whose message names the file; never
 * a crash, leak or sanitizer report.
 * Seeds: fuzz/corpus/labelled/. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verto/dataset.h"
#include "verto/error.h"

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
    if (!t || strlen(t) != len || !valid_utf8((const unsigned char *)t, len)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0], sel2 = 0;
    size_t skip = 1;
    if (sel & 128) {
        if (size < 2) return 0;
        sel2 = data[1];
        skip = 2;
    }
    static const vt_data_format FORMATS[4] = {VT_DATA_TSV, VT_DATA_CSV, VT_DATA_JSONL, VT_DATA_JSONL};
    static const char *const MAP[] = {"ham", "spam", "1", "x"};
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.format = FORMATS[sel & 3];
    o.skip_bad_rows = sel & 4;
    if (sel & 8) {
        o.id2label = MAP;
        o.num_labels = 4;
    }
    o.order = sel & 16 ? VT_LABELS_FIRST_SEEN : VT_LABELS_SORTED;
    o.unlabelled = sel & 32;
    if (sel & 64) o.text_b_column = "b";
    o.max_labels = 1000;
    static const vt_label_kind KINDS[4] = {VT_LABEL_SINGLE, VT_LABEL_MULTI, VT_LABEL_REGRESSION, VT_LABEL_MULTI};
    static const char *const SEPS[4] = {NULL, "|", " ; ", ","};
    o.kind = KINDS[sel2 & 3];
    o.label_separator = SEPS[(sel2 >> 2) & 3];
    int labels = !o.unlabelled && o.kind != VT_LABEL_REGRESSION; /* a label map is read */
    vt_labelled d;
    vt_status st = vt_labelled_parse((const char *)data + skip, size - skip, "fuzz", &o, &d);
    if (st != VT_OK) {
        if (!strstr(vt_last_error(), "fuzz") || d.n || d.text || d.id2label || d.multi_hot || d.target) abort();
        return 0;
    }
    if (d.n == 0 || d.format != o.format || d.kind != o.kind) abort();
    if (labels ? d.num_labels < 1 || !d.id2label : d.num_labels || d.id2label) abort();
    if (!!d.label != (!o.unlabelled && o.kind == VT_LABEL_SINGLE)) abort();
    if (!!d.multi_hot != (!o.unlabelled && o.kind == VT_LABEL_MULTI)) abort();
    if (!!d.target != (!o.unlabelled && o.kind == VT_LABEL_REGRESSION)) abort();
    if ((sel & 8) && labels && d.num_labels != 4) abort();
    for (int i = 0; i < d.num_labels; i++) {
        check_text(d.id2label[i], strlen(d.id2label[i]));
        for (int j = 0; j < i; j++)
            if (!strcmp(d.id2label[i], d.id2label[j])) abort();
    }
    for (size_t i = 0; i < d.n; i++) {
        check_text(d.text[i], d.text_len[i]);
        if (d.text_b && d.text_b[i]) check_text(d.text_b[i], d.text_b_len[i]);
        if (d.label && (d.label[i] < 0 || d.label[i] >= d.num_labels)) abort();
        for (int j = 0; d.multi_hot && j < d.num_labels; j++)
            if (d.multi_hot[i * (size_t)d.num_labels + (size_t)j] > 1) abort();
        if (d.target && !isfinite(d.target[i])) abort();
        if (d.line[i] < 1 || (i && d.line[i] <= d.line[i - 1])) abort();
    }
    if (!o.skip_bad_rows && d.n_skipped) abort();
    vt_labelled_free(&d);
    return 0;
}
