/* Labelled data readers: TSV, CSV (RFC 4180), JSONL; label maps; bad rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verto/dataset.h"
#include "vt_test.h"

static vt_labelled parse_ok(const char *data, const char *name, const vt_labelled_options *o) {
    vt_labelled d;
    vt_status st = vt_labelled_parse(data, strlen(data), name, o, &d);
    if (st != VT_OK) fail_msg("%s: %s", name, vt_last_error());
    return d;
}

/* Parsing fails with VT_ERR_FORMAT and a message containing `want`; the output is left empty. */
static void parse_fails(const char *data, size_t len, const char *name, const vt_labelled_options *o, const char *want) {
    vt_labelled d;
    memset(&d, 0x5a, sizeof d);
    vt_status st = vt_labelled_parse(data, len, name, o, &d);
    if (st == VT_OK) fail_msg("%s parsed but should fail with '%s'", name, want);
    printf("  %s -> %s\n", name, vt_last_error());
    if (!strstr(vt_last_error(), want)) fail_msg("message '%s' lacks '%s'", vt_last_error(), want);
    assert_int_equal(d.n, 0);
    assert_null(d.text);
    assert_null(d.id2label);
}

static void test_tsv(void **state) {
    (void)state;
    vt_labelled d = parse_ok("id\ttext\tlabel\n1\tgood \"film\"\tpos\n2\tbad film\tneg\r\n\n3\tok\tpos", "a.tsv", NULL);
    assert_int_equal(d.format, VT_DATA_TSV);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.text[0], "good \"film\"");
    assert_int_equal(d.text_len[0], 11);
    assert_string_equal(d.text[1], "bad film");
    assert_string_equal(d.text[2], "ok");
    assert_null(d.text_b);
    assert_int_equal(d.num_labels, 2);
    assert_string_equal(d.id2label[0], "neg"); /* sorted */
    assert_string_equal(d.id2label[1], "pos");
    assert_int_equal(d.label[0], 1);
    assert_int_equal(d.label[1], 0);
    assert_int_equal(d.label[2], 1);
    assert_int_equal(d.line[0], 2);
    assert_int_equal(d.line[2], 5);
    assert_int_equal(vt_labelled_label_id(&d, "pos"), 1);
    assert_int_equal(vt_labelled_label_id(&d, "x"), -1);
    int64_t counts[2];
    vt_labelled_label_counts(&d, counts);
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 2);
    vt_labelled_free(&d);
}

static void test_csv_rfc4180(void **state) {
    (void)state;
    const char *csv = "\xEF\xBB\xBF" "text,text_b,label\r\n"
                      "\"a, b\",\"say \"\"hi\"\"\",yes\r\n"
                      "\"two\nlines\r\nhere\",,no\r\n"
                      "plain,x\"y,yes\r\n"
                      "\"\",\"\",no";
    vt_labelled d = parse_ok(csv, "pairs.csv", NULL);
    assert_int_equal(d.format, VT_DATA_CSV);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.text[0], "a, b");
    assert_string_equal(d.text_b[0], "say \"hi\"");
    assert_string_equal(d.text[1], "two\nlines\r\nhere");
    assert_string_equal(d.text_b[1], "");
    assert_string_equal(d.text[2], "plain");
    assert_string_equal(d.text_b[2], "x\"y"); /* a quote inside an unquoted field is literal */
    assert_string_equal(d.text[3], "");
    assert_int_equal(d.line[0], 2);
    assert_int_equal(d.line[1], 3);
    assert_int_equal(d.line[2], 6); /* after the three-line record */
    assert_int_equal(d.line[3], 7);
    assert_string_equal(d.id2label[0], "no");
    assert_string_equal(d.id2label[1], "yes");
    assert_int_equal(d.label[0], 1);
    assert_int_equal(d.label[1], 0);
    vt_labelled_free(&d);
}

static void test_jsonl(void **state) {
    (void)state;
    const char *j = "{\"text\": \"caf\\u00e9\", \"label\": 10, \"id\": 7}\n"
                    "\n   \n"
                    "{\"label\": 2, \"text\": \"x\", \"text_b\": \"y\"}\r\n"
                    "{\"text\": \"z\", \"text_b\": null, \"label\": \"2\"}\n";
    vt_labelled d = parse_ok(j, "d.jsonl", NULL);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.text[0], "caf\xC3\xA9");
    assert_non_null(d.text_b);
    assert_null(d.text_b[0]);
    assert_string_equal(d.text_b[1], "y");
    assert_null(d.text_b[2]);
    assert_int_equal(d.num_labels, 2);
    assert_string_equal(d.id2label[0], "2"); /* integers sort numerically: 2 < 10 */
    assert_string_equal(d.id2label[1], "10");
    assert_int_equal(d.label[0], 1);
    assert_int_equal(d.label[1], 0);
    assert_int_equal(d.label[2], 0);
    assert_int_equal(d.line[1], 4);
    vt_labelled_free(&d);
}

static void test_label_orders(void **state) {
    (void)state;
    const char *t = "text\tlabel\na\tzeta\nb\talpha\nc\tzeta\nd\tmid\n";
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.order = VT_LABELS_FIRST_SEEN;
    vt_labelled d = parse_ok(t, "x.tsv", &o);
    assert_int_equal(d.num_labels, 3);
    assert_string_equal(d.id2label[0], "zeta");
    assert_string_equal(d.id2label[1], "alpha");
    assert_string_equal(d.id2label[2], "mid");
    assert_int_equal(d.label[3], 2);
    vt_labelled_free(&d);

    /* following an existing map: its ids, even for labels the file lacks */
    const char *map[] = {"mid", "zeta", "alpha", "unused"};
    vt_labelled_options_default(&o);
    o.id2label = map;
    o.num_labels = 4;
    d = parse_ok(t, "x.tsv", &o);
    assert_int_equal(d.num_labels, 4);
    assert_string_equal(d.id2label[3], "unused");
    assert_int_equal(d.label[0], 1);
    assert_int_equal(d.label[1], 2);
    assert_int_equal(d.label[3], 0);
    vt_labelled_free(&d);

    o.num_labels = 2; /* mid, zeta: "alpha" on line 3 is unknown */
    parse_fails(t, strlen(t), "x.tsv", &o, "x.tsv:3: label 'alpha' is not in the label map");
    o.skip_bad_rows = true;
    d = parse_ok(t, "x.tsv", &o);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_skipped, 1);
    assert_int_equal(d.n_notes, 1);
    assert_non_null(strstr(d.notes[0], "x.tsv:3:"));
    vt_labelled_free(&d);

    vt_labelled_options_default(&o);
    o.max_labels = 2;
    parse_fails(t, strlen(t), "x.tsv", &o, "x.tsv:5: label 'mid' makes more than 2 distinct labels");
    vt_labelled_options_default(&o);
    o.max_label_bytes = 4;
    parse_fails(t, strlen(t), "x.tsv", &o, "x.tsv:3: label of 5 bytes");
}

static void test_columns_and_unlabelled(void **state) {
    (void)state;
    const char *c = "sentence1,sentence2,gold\nA,B,x\nC,D,y\n";
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.text_column = "sentence1";
    o.text_b_column = "sentence2";
    o.label_column = "gold";
    vt_labelled d = parse_ok(c, "p.csv", &o);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.text[1], "C");
    assert_string_equal(d.text_b[1], "D");
    assert_string_equal(d.id2label[d.label[1]], "y");
    vt_labelled_free(&d);

    o.text_b_column = "hypothesis"; /* named explicitly: must exist */
    parse_fails(c, strlen(c), "p.csv", &o, "p.csv:1: the header has no column 'hypothesis'");
    vt_labelled_options_default(&o);
    parse_fails(c, strlen(c), "p.csv", &o, "p.csv:1: the header has no column 'text'");

    vt_labelled_options_default(&o);
    o.unlabelled = true;
    o.format = VT_DATA_JSONL;
    d = parse_ok("{\"text\": \"only\"}\n{\"text\": \"two\", \"text_b\": \"b\"}", "-", &o);
    assert_int_equal(d.n, 2);
    assert_null(d.label);
    assert_int_equal(d.num_labels, 0);
    assert_null(d.text_b[0]);
    assert_string_equal(d.text_b[1], "b");
    vt_labelled_free(&d);
}

static void test_malformed_rows(void **state) {
    (void)state;
    static const struct { const char *name, *data, *want; } CASES[] = {
        {"cols.tsv", "text\tlabel\na\tb\nc\td\te\n", "cols.tsv:3: 3 fields, but the header has 2"},
        {"cols.csv", "text,label\na,b\nc\n", "cols.csv:3: 1 fields, but the header has 2"},
        {"quote.csv", "text,label\na,b\n\"open,x\nmore\n", "quote.csv:3: unterminated quoted field"},
        {"after.csv", "text,label\n\"a\"b,x\n", "after.csv:2: unexpected character after a closing quote"},
        {"bad.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": }\n", "bad.jsonl:2: invalid JSON"},
        {"trail.jsonl", "{\"text\": \"a\", \"label\": \"x\"} {}\n", "trail.jsonl:1: invalid JSON (text after the JSON value"},
        {"arr.jsonl", "[1, 2]\n", "arr.jsonl:1: not a JSON object"},
        {"notext.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n\n{\"label\": \"x\"}\n", "notext.jsonl:3: no \"text\" field"},
        {"numtext.jsonl", "{\"text\": 5, \"label\": \"x\"}\n", "numtext.jsonl:1: \"text\" is not a string"},
        {"nolabel.jsonl", "{\"text\": \"a\"}\n", "nolabel.jsonl:1: no \"label\" field"},
        {"flabel.jsonl", "{\"text\": \"a\", \"label\": 1.5}\n", "flabel.jsonl:1: \"label\" is neither a string nor an integer"},
        {"blabel.jsonl", "{\"text\": \"a\", \"label\": true}\n", "blabel.jsonl:1: \"label\" is neither"},
        {"tb.jsonl", "{\"text\": \"a\", \"text_b\": 3, \"label\": \"x\"}\n", "tb.jsonl:1: \"text_b\" is neither"},
        {"elabel.tsv", "text\tlabel\na\t\n", "elabel.tsv:2: empty label"},
        {"utf8.tsv", "text\tlabel\nok\tx\nbad \xC3\x28\tx\n", "utf8.tsv:3: invalid UTF-8 (byte 0xC3)"},
        {"utf8.csv", "text,label\n\"line one\nline \xFF two\",x\n", "utf8.csv:3: invalid UTF-8 (byte 0xFF)"},
        {"surr.jsonl", "{\"text\": \"\xED\xA0\x80\", \"label\": \"x\"}\n", "surr.jsonl:1: invalid UTF-8"},
        {"over.csv", "text,label\n\xC0\xAF,x\n", "over.csv:2: invalid UTF-8"},
        {"hdr.csv", "te\xFFxt,label\na,b\n", "hdr.csv:1: header row: invalid UTF-8"},
        {"hdrq.csv", "\"text,label\n", "hdrq.csv:1: header row: unterminated quoted field"},
        {"dup.csv", "text,label,text\na,b,c\n", "dup.csv:1: column 'text' appears twice"},
        {"empty.csv", "", "empty.csv:1: no header row"},
        {"blank.tsv", "\n\n\r\n", "blank.tsv:1: no header row"},
        {"empty.jsonl", "", "empty.jsonl:1: no examples"},
        {"hdronly.tsv", "text\tlabel\n", "hdronly.tsv:1: no examples"},
        {"noext.txt", "text\tlabel\na\tb\n", "cannot tell the format"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        parse_fails(CASES[i].data, strlen(CASES[i].data), CASES[i].name, NULL, CASES[i].want);
    /* a NUL byte inside a row */
    const char nul[] = "text\tlabel\na\0b\tx\n";
    parse_fails(nul, sizeof nul - 1, "nul.tsv", NULL, "nul.tsv:2: NUL byte");
}

static void test_skip_bad_rows(void **state) {
    (void)state;
    const char *j = "{\"text\": \"a\", \"label\": \"x\"}\n"
                    "{\"text\": \"b\", \"label\": }\n"
                    "{\"text\": \"c\", \"label\": \"y\"}\n"
                    "{\"label\": \"y\"}\n"
                    "{\"text\": \"bad \xFF\", \"label\": \"y\"}\n"
                    "{\"text\": \"d\", \"label\": \"x\"}\n";
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.skip_bad_rows = true;
    vt_labelled d = parse_ok(j, "s.jsonl", &o);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_skipped, 3);
    assert_int_equal(d.n_notes, 3);
    assert_non_null(strstr(d.notes[0], "s.jsonl:2: invalid JSON"));
    assert_non_null(strstr(d.notes[1], "s.jsonl:4: no \"text\""));
    assert_non_null(strstr(d.notes[2], "s.jsonl:5: invalid UTF-8"));
    assert_string_equal(d.text[2], "d");
    assert_int_equal(d.line[2], 6);
    vt_labelled_free(&d);

    const char *c = "text,label\na,x\n\"b\"!,x\nc,y,z\nd,y\n\"e,y\n";
    d = parse_ok(c, "s.csv", &o);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_skipped, 3);
    assert_string_equal(d.text[1], "d");
    vt_labelled_free(&d);

    /* nothing left: an error */
    vt_labelled e;
    assert_int_equal(vt_labelled_parse("text,label\na\n", 13, "all.csv", &o, &e), VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), "every row is malformed"));
}

static void test_files(void **state) {
    (void)state;
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/train.jsonl", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("{\"text\": \"hello\", \"label\": \"ham\"}\n{\"text\": \"buy now\", \"label\": \"spam\"}\n", f);
    fclose(f);
    vt_labelled d;
    assert_int_equal(vt_labelled_load(path, NULL, &d), VT_OK);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.id2label[1], "spam");
    vt_labelled_free(&d);
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.max_file_bytes = 10;
    assert_int_equal(vt_labelled_load(path, &o, &d), VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), "train.jsonl"));
    assert_non_null(strstr(vt_last_error(), "the limit of 10"));
    unlink(path);
    assert_int_equal(vt_labelled_load(path, NULL, &d), VT_ERR_IO);
    assert_non_null(strstr(vt_last_error(), "train.jsonl"));
    rmdir(dir);
    free(dir);

    vt_data_format fmt;
    assert_int_equal(vt_data_format_from_path("a/b.CSV"), VT_DATA_CSV);
    assert_int_equal(vt_data_format_from_path("a.b/c"), VT_DATA_AUTO);
    assert_int_equal(vt_data_format_from_path("x.ndjson"), VT_DATA_JSONL);
    assert_true(vt_data_format_parse("tsv", &fmt) && fmt == VT_DATA_TSV);
    assert_false(vt_data_format_parse("xml", &fmt));
    assert_string_equal(vt_data_format_name(VT_DATA_JSONL), "jsonl");
}

/* Many labels: the hash table grows; sorted ids stay consistent. */
static void test_many_labels(void **state) {
    (void)state;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    len += (size_t)snprintf(buf, cap, "text\tlabel\n");
    for (int i = 0; i < 3000; i++) len += (size_t)snprintf(buf + len, cap - len, "t%d\tL%04d\n", i, (i * 7919) % 1000);
    vt_labelled d;
    assert_int_equal(vt_labelled_parse(buf, len, "m.tsv", NULL, &d), VT_OK);
    assert_int_equal(d.num_labels, 1000);
    for (int i = 0; i < 1000; i++) {
        char want[16];
        snprintf(want, sizeof want, "L%04d", i);
        assert_string_equal(d.id2label[i], want);
    }
    for (size_t i = 0; i < d.n; i++) assert_int_equal(d.label[i], (int)((i * 7919) % 1000));
    vt_labelled_free(&d);
    free(buf);
}

/* Row i of a multi-label set as "0101". */
static void assert_row(const vt_labelled *d, size_t i, const char *want) {
    size_t L = (size_t)d->num_labels;
    assert_int_equal(strlen(want), L);
    for (size_t j = 0; j < L; j++)
        if (d->multi_hot[i * L + j] != (uint8_t)(want[j] - '0'))
            fail_msg("row %zu label %zu (%s): got %d, want %c", i, j, d->id2label[j], d->multi_hot[i * L + j], want[j]);
}

static void test_multi_label(void **state) {
    (void)state;
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.kind = VT_LABEL_MULTI;
    /* JSONL: lists (also empty), integers as their decimal text, a string read like a TSV cell, duplicates once */
    const char *j = "{\"text\": \"a\", \"labels\": [\"urgent\", \"billing\"]}\n"
                    "{\"text\": \"b\", \"labels\": []}\n"
                    "{\"text\": \"c\", \"labels\": \"billing, other\"}\n"
                    "{\"text\": \"d\", \"labels\": [\"other\", 7, \"other\"]}\n";
    vt_labelled d = parse_ok(j, "m.jsonl", &o);
    assert_int_equal(d.kind, VT_LABEL_MULTI);
    assert_null(d.label);
    assert_null(d.target);
    assert_non_null(d.multi_hot);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.num_labels, 4);
    assert_string_equal(d.id2label[0], "7"); /* bytewise: "7" < "billing" < "other" < "urgent" */
    assert_string_equal(d.id2label[1], "billing");
    assert_string_equal(d.id2label[3], "urgent");
    assert_row(&d, 0, "0101");
    assert_row(&d, 1, "0000");
    assert_row(&d, 2, "0110");
    assert_row(&d, 3, "1010");
    int64_t counts[4];
    vt_labelled_label_counts(&d, counts);
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 2);
    assert_int_equal(counts[3], 1);
    assert_int_equal(vt_labelled_subsample(&d, 2, 3), VT_OK); /* rows move with their labels */
    assert_int_equal(d.n, 2);
    for (size_t i = 0; i < d.n; i++) {
        static const char *const ROWS[] = {"0101", "0000", "0110", "1010"};
        assert_row(&d, i, ROWS[d.text[i][0] - 'a']);
    }
    vt_labelled_free(&d);

    /* TSV, default ',' with spaces around labels, an empty cell; the label column defaults to "labels" */
    d = parse_ok("text\tlabels\nx\t6,27\ny\t\nz\t 2 , 6 \n", "g.tsv", &o);
    assert_int_equal(d.num_labels, 3);
    assert_string_equal(d.id2label[0], "2"); /* numeric order */
    assert_string_equal(d.id2label[2], "27");
    assert_row(&d, 0, "011");
    assert_row(&d, 1, "000");
    assert_row(&d, 2, "110");
    assert_int_equal(d.line[2], 4);
    vt_labelled_free(&d);

    /* CSV: a quoted joined cell; another separator; first-seen order */
    o.label_separator = "|";
    o.order = VT_LABELS_FIRST_SEEN;
    o.label_column = "tags";
    d = parse_ok("text,tags\n\"hi, there\",b|a\nyo,a\nno,\n", "s.csv", &o);
    assert_int_equal(d.num_labels, 2);
    assert_string_equal(d.id2label[0], "b");
    assert_row(&d, 0, "11");
    assert_row(&d, 1, "01");
    assert_row(&d, 2, "00");
    vt_labelled_free(&d);

    /* following a map: its size and ids; a label outside it is a bad row, skipped or not */
    vt_labelled_options_default(&o);
    o.kind = VT_LABEL_MULTI;
    const char *map[] = {"urgent", "billing", "spam"};
    o.id2label = map;
    o.num_labels = 3;
    const char *t = "text\tlabels\na\tbilling\nb\tbilling,refund\nc\t\nd\turgent,billing\n";
    d = parse_ok("text\tlabels\na\tbilling\nd\turgent,billing\n", "f.tsv", &o);
    assert_int_equal(d.num_labels, 3);
    assert_row(&d, 0, "010");
    assert_row(&d, 1, "110");
    vt_labelled_free(&d);
    parse_fails(t, strlen(t), "f.tsv", &o, "f.tsv:3: label 'refund' is not in the label map (3 labels)");
    o.skip_bad_rows = true;
    d = parse_ok(t, "f.tsv", &o);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_skipped, 1);
    assert_non_null(strstr(d.notes[0], "f.tsv:3: label 'refund'"));
    assert_row(&d, 2, "110");
    vt_labelled_free(&d);

    /* a skipped row adds none of its labels to a new map */
    vt_labelled_options_default(&o);
    o.kind = VT_LABEL_MULTI;
    o.skip_bad_rows = true;
    d = parse_ok("text\tlabels\na\tx\nb\tnew,,x\nc\t\xFF\n", "k.tsv", &o);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.n_skipped, 2);
    assert_int_equal(d.num_labels, 1);
    assert_non_null(strstr(d.notes[0], "k.tsv:3: empty label in the list"));
    assert_non_null(strstr(d.notes[1], "k.tsv:4: invalid UTF-8"));
    vt_labelled_free(&d);

    /* unlabelled ignores the kind */
    o.unlabelled = true;
    d = parse_ok("text\nonly\n", "u.tsv", &o);
    assert_null(d.multi_hot);
    assert_int_equal(d.num_labels, 0);
    vt_labelled_free(&d);

    vt_labelled_options_default(&o);
    o.kind = VT_LABEL_MULTI;
    static const struct { const char *name, *data, *want; } BAD[] = {
        {"e1.tsv", "text\tlabels\na\tx\nb\tx,\n", "e1.tsv:3: empty label in the list"},
        {"e2.csv", "text,labels\na,x\nb,\"x,,y\"\n", "e2.csv:3: empty label in the list"},
        {"q.csv", "text,labels\na,x,y\n", "q.csv:2: 3 fields, but the header has 2 (quote a cell of labels joined by ','"},
        {"n.jsonl", "{\"text\": \"a\", \"labels\": [\"x\", 1.5]}\n", "n.jsonl:1: element 1 of \"labels\" is neither a string nor an integer"},
        {"o.jsonl", "{\"text\": \"a\", \"labels\": {\"x\": 1}}\n", "o.jsonl:1: \"labels\" is neither a list of labels nor a string"},
        {"z.jsonl", "{\"text\": \"a\", \"labels\": null}\n", "z.jsonl:1: \"labels\" is neither"},
        {"es.jsonl", "{\"text\": \"a\", \"labels\": [\"\"]}\n", "es.jsonl:1: empty label in the list"},
        {"nl.jsonl", "{\"text\": \"a\", \"label\": [\"x\"]}\n", "nl.jsonl:1: no \"labels\" field"},
        {"none.tsv", "text\tlabels\na\t\nb\t \n", "none.tsv: no row names a label"},
        {"none.jsonl", "{\"text\": \"a\", \"labels\": []}\n", "none.jsonl: no row names a label"},
        {"col.tsv", "text\tlabel\na\tx\n", "col.tsv:1: the header has no column 'labels'"},
        {"u8.jsonl", "{\"text\": \"a\", \"labels\": [\"ok\", \"\\udc00\"]}\n", "u8.jsonl:1: invalid JSON"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        parse_fails(BAD[i].data, strlen(BAD[i].data), BAD[i].name, &o, BAD[i].want);
    o.max_labels = 2;
    const char *ml = "text\tlabels\na\tx,y\nb\ty,z\n";
    parse_fails(ml, strlen(ml), "ml.tsv", &o, "ml.tsv:3: label 'z' makes more than 2 distinct labels");
    vt_labelled_options_default(&o);
    o.kind = VT_LABEL_MULTI;
    o.max_label_bytes = 3;
    const char *mb = "text\tlabels\na\tx,long\n";
    parse_fails(mb, strlen(mb), "mb.tsv", &o, "mb.tsv:2: label of 4 bytes (at most 3)");
    o.label_separator = "";
    vt_labelled e;
    assert_int_equal(vt_labelled_parse(mb, strlen(mb), "s.tsv", &o, &e), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "separator is empty"));
}

static void test_regression(void **state) {
    (void)state;
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.kind = VT_LABEL_REGRESSION;
    const char *map[] = {"LABEL_0"}; /* a config's map: not used for regression */
    o.id2label = map;
    o.num_labels = 1;
    vt_labelled d = parse_ok("text\ttext_b\tlabel\na\tb\t3.8\nc\td\t -0.25 \ne\tf\t1e-3\ng\th\t+5.\ni\tj\t.5E+2\n", "r.tsv", &o);
    assert_int_equal(d.kind, VT_LABEL_REGRESSION);
    assert_null(d.label);
    assert_null(d.multi_hot);
    assert_null(d.id2label);
    assert_int_equal(d.num_labels, 0);
    assert_int_equal(d.n, 5);
    const double want[] = {3.8, -0.25, 1e-3, 5.0, 50.0};
    for (int i = 0; i < 5; i++) assert_true(d.target[i] == want[i]); /* strtod's nearest double, as Python's float() */
    assert_string_equal(d.text_b[1], "d");
    assert_int_equal(vt_labelled_subsample(&d, 2, 9), VT_OK);
    for (size_t i = 0; i < d.n; i++) assert_true(d.target[i] == want[(d.text[i][0] - 'a') / 2]);
    vt_labelled_free(&d);

    d = parse_ok("{\"text\": \"a\", \"label\": 4}\n{\"text\": \"b\", \"label\": -1.5e2}\n{\"text\": \"c\", \"label\": \"0.125\"}\n",
                 "r.jsonl", &o);
    assert_true(d.target[0] == 4.0 && d.target[1] == -150.0 && d.target[2] == 0.125);
    vt_labelled_free(&d);
    d = parse_ok("text,label\n\"x, y\",\"2.5\"\n", "r.csv", &o);
    assert_true(d.target[0] == 2.5);
    vt_labelled_free(&d);

    static const struct { const char *name, *data, *want; } BAD[] = {
        {"nan.tsv", "text\tlabel\na\t1\nb\tnan\n", "nan.tsv:3: regression target 'nan' is not a number"},
        {"inf.tsv", "text\tlabel\na\tinf\n", "inf.tsv:2: regression target 'inf' is not a number"},
        {"big.tsv", "text\tlabel\na\t1e999\n", "big.tsv:2: regression target '1e999' is beyond the double range"},
        {"hex.csv", "text,label\na,0x10\n", "hex.csv:2: regression target '0x10' is not a number"},
        {"word.csv", "text,label\na,high\n", "word.csv:2: regression target 'high' is not a number"},
        {"tail.csv", "text,label\na,1.5x\n", "tail.csv:2: regression target '1.5x' is not a number"},
        {"exp.csv", "text,label\na,1e\n", "exp.csv:2: regression target '1e' is not a number"},
        {"dot.csv", "text,label\na,.\n", "dot.csv:2: regression target '.' is not a number"},
        {"under.csv", "text,label\na,1_000\n", "under.csv:2: regression target '1_000' is not a number"},
        {"empty.tsv", "text\tlabel\na\t\n", "empty.tsv:2: empty regression target"},
        {"jbig.jsonl", "{\"text\": \"a\", \"label\": 1e400}\n", "jbig.jsonl:1: regression target beyond the double range"},
        {"jnan.jsonl", "{\"text\": \"a\", \"label\": NaN}\n", "jnan.jsonl:1: invalid JSON"},
        {"jstr.jsonl", "{\"text\": \"a\", \"label\": \"Infinity\"}\n", "jstr.jsonl:1: regression target 'Infinity' is not a number"},
        {"jlist.jsonl", "{\"text\": \"a\", \"label\": [1]}\n", "jlist.jsonl:1: \"label\" is neither a number nor a string"},
        {"jnull.jsonl", "{\"text\": \"a\", \"label\": null}\n", "jnull.jsonl:1: \"label\" is neither a number nor a string"},
        {"jno.jsonl", "{\"text\": \"a\"}\n", "jno.jsonl:1: no \"label\" field"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        parse_fails(BAD[i].data, strlen(BAD[i].data), BAD[i].name, &o, BAD[i].want);

    o.skip_bad_rows = true;
    d = parse_ok("text\tlabel\na\t1\nb\tnan\nc\t\nd\t2\ne\t1e999\n", "s.tsv", &o);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_skipped, 3);
    assert_int_equal(d.n_notes, 3);
    assert_non_null(strstr(d.notes[0], "s.tsv:3: regression target 'nan'"));
    assert_non_null(strstr(d.notes[1], "s.tsv:4: empty regression target"));
    assert_non_null(strstr(d.notes[2], "s.tsv:6: regression target '1e999'"));
    assert_true(d.target[1] == 2.0);
    assert_int_equal(d.line[1], 5);
    vt_labelled_free(&d);

    vt_label_kind k;
    assert_true(vt_label_kind_parse("multi-label", &k) && k == VT_LABEL_MULTI);
    assert_true(vt_label_kind_parse("Regression", &k) && k == VT_LABEL_REGRESSION);
    assert_false(vt_label_kind_parse("ner", &k));
    assert_string_equal(vt_label_kind_name(VT_LABEL_SINGLE), "single");
    o.kind = (vt_label_kind)7;
    vt_labelled e;
    assert_int_equal(vt_labelled_parse("text\tlabel\na\t1\n", 15, "k.tsv", &o, &e), VT_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsv),           cmocka_unit_test(test_csv_rfc4180),
        cmocka_unit_test(test_jsonl),         cmocka_unit_test(test_label_orders),
        cmocka_unit_test(test_columns_and_unlabelled), cmocka_unit_test(test_malformed_rows),
        cmocka_unit_test(test_skip_bad_rows), cmocka_unit_test(test_files),
        cmocka_unit_test(test_many_labels),   cmocka_unit_test(test_multi_label),
        cmocka_unit_test(test_regression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
