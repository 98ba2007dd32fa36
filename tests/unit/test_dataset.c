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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsv),           cmocka_unit_test(test_csv_rfc4180),
        cmocka_unit_test(test_jsonl),         cmocka_unit_test(test_label_orders),
        cmocka_unit_test(test_columns_and_unlabelled), cmocka_unit_test(test_malformed_rows),
        cmocka_unit_test(test_skip_bad_rows), cmocka_unit_test(test_files),
        cmocka_unit_test(test_many_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
