/* The tagged-data reader (verto/tagged.h): CoNLL files as CoNLL-2003 ships
 * them (4 columns, -DOCSTART-, CRLF, a byte-order mark), tab-separated
 * files, JSONL with "tags", "ner_tags" and integer tags; label order, scheme
 * detection and checking; every kind of bad row as an error naming its
 * file:line, or left out and counted with skip_bad_rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/tagged.h"
#include "vt_test.h"

static vt_tagged parse_ok(const char *name, const char *text, const vt_tagged_options *o) {
    vt_tagged d;
    if (vt_tagged_parse(text, strlen(text), name, o, &d) != VT_OK) fail_msg("%s: %s", name, vt_last_error());
    return d;
}

/* Parsing must fail with `status` and a message holding `want`. */
static void parse_fails(const char *name, const char *text, const vt_tagged_options *o, vt_status status,
                        const char *want) {
    vt_tagged d;
    vt_status st = vt_tagged_parse(text, strlen(text), name, o, &d);
    if (st != status || !strstr(vt_last_error(), want))
        fail_msg("%s: status %d, message '%s'; wanted %d with '%s'", name, st, vt_last_error(), status, want);
    assert_int_equal(d.n, 0);
    assert_null(d.token);
    assert_null(d.id2label);
    printf("    %-34s %s\n", name, vt_last_error());
}

static const char *tag_of(const vt_tagged *d, size_t k) { return d->id2label[d->tag[k]]; }

static void test_conll2003(void **state) {
    (void)state;
    const char *text = "\xEF\xBB\xBF-DOCSTART- -X- -X- O\r\n\r\n"
                       "EU NNP B-NP B-ORG\r\n"
                       "rejects VBZ B-VP O  \r\n"
                       "German JJ B-NP B-MISC\r\n"
                       "\r\n"
                       "Peter NNP B-NP B-PER\r\n"
                       "Blackburn NNP I-NP I-PER\r\n"
                       "   \r\n"
                       "-DOCSTART- -X- -X- O\r\n"
                       "BRUSSELS NNP B-NP B-LOC\r\n"
                       "-DOCSTART- -X- -X- O\n" /* a marker ends a sentence too */
                       "Café NNP B-NP B-PER";   /* no final newline */
    vt_tagged d = parse_ok("eng.train.conll", text, NULL);
    assert_int_equal(d.format, VT_TAGGED_CONLL);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.n_tokens, 7);
    static const size_t start[] = {0, 3, 5, 6, 7};
    static const int64_t line[] = {3, 7, 11, 13};
    for (int s = 0; s <= 4; s++) assert_int_equal(d.start[s], start[s]);
    for (int s = 0; s < 4; s++) assert_int_equal(d.line[s], line[s]);
    static const char *const toks[] = {"EU", "rejects", "German", "Peter", "Blackburn", "BRUSSELS", "Café"};
    static const char *const tags[] = {"B-ORG", "O", "B-MISC", "B-PER", "I-PER", "B-LOC", "B-PER"};
    for (int k = 0; k < 7; k++) {
        assert_string_equal(d.token[k], toks[k]);
        assert_int_equal(d.token_len[k], strlen(toks[k]));
        assert_string_equal(tag_of(&d, k), tags[k]);
    }
    /* sorted bytewise, as run_ner.py sorts string labels */
    static const char *const sorted[] = {"B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER", "O"};
    assert_int_equal(d.num_labels, 6);
    for (int i = 0; i < 6; i++) assert_string_equal(d.id2label[i], sorted[i]);
    assert_int_equal(d.scheme, VT_SCHEME_IOB2);
    assert_int_equal(vt_tagged_label_id(&d, "O"), 5);
    vt_tagged_free(&d);

    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.order = VT_LABELS_FIRST_SEEN;
    d = parse_ok("x.conll", text, &o);
    static const char *const seen[] = {"B-ORG", "O", "B-MISC", "B-PER", "I-PER", "B-LOC"};
    for (int i = 0; i < 6; i++) assert_string_equal(d.id2label[i], seen[i]);
    vt_tagged_free(&d);
}

static void test_tabs_and_schemes(void **state) {
    (void)state;
    /* TABs: a token may hold spaces; spaces around fields go */
    vt_tagged d = parse_ok("wnut.tsv", "New York\t B-location \nis\tO\n\n@user\tB-person\n", NULL);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.token[0], "New York");
    assert_string_equal(tag_of(&d, 0), "B-location");
    vt_tagged_free(&d);
    /* an entity starting with I-: IOB1 (the original CoNLL-2003 files) */
    d = parse_ok("iob1.iob", "U.N. I-ORG\nofficial O\nEkeus I-PER\nheads O\nfor O\nBaghdad I-LOC\n", NULL);
    assert_int_equal(d.scheme, VT_SCHEME_IOB1);
    vt_tagged_free(&d);
    d = parse_ok("bioes.bio", "a S-PER\nb B-LOC\nc E-LOC\nd O\n", NULL);
    assert_int_equal(d.scheme, VT_SCHEME_IOBES);
    vt_tagged_free(&d);
    d = parse_ok("pos.txt", "The DT\ndog NN\n( -LRB-\n", NULL); /* POS tags: no scheme */
    assert_int_equal(d.scheme, VT_SCHEME_NONE);
    vt_tagged_free(&d);
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.unlabelled = true;
    d = parse_ok("words.conll", "EU\nrejects x y\n\nlamb\n", &o);
    assert_int_equal(d.n, 2);
    assert_null(d.tag);
    assert_int_equal(d.num_labels, 0);
    assert_string_equal(d.token[1], "rejects");
    vt_tagged_free(&d);
}

static void test_jsonl(void **state) {
    (void)state;
    const char *text = "{\"tokens\": [\"EU\", \"rejects\"], \"tags\": [\"B-ORG\", \"O\"], \"id\": 7}\n"
                       "\n"
                       "{\"tokens\": [], \"tags\": []}\r\n"
                       "{\"tokens\": [\"K\\u00f6ln\"], \"ner_tags\": [\"B-LOC\"]}\n";
    vt_tagged d = parse_ok("train.jsonl", text, NULL);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_tokens, 3);
    assert_int_equal(d.start[1], 2);
    assert_int_equal(d.start[2], 2); /* a sentence of no tokens */
    assert_int_equal(d.line[2], 4);
    assert_string_equal(d.token[2], "Köln");
    assert_string_equal(tag_of(&d, 2), "B-LOC");
    vt_tagged_free(&d);
    /* integer tags (HF datasets' exports) index a given map */
    static const char *const map[] = {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"};
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.id2label = map;
    o.num_labels = 9;
    d = parse_ok("conll2003.json", "{\"tokens\": [\"EU\", \"rejects\", \"German\"], \"ner_tags\": [3, 0, 7]}\n", &o);
    assert_int_equal(d.num_labels, 9); /* the map as it is */
    assert_string_equal(tag_of(&d, 0), "B-ORG");
    assert_string_equal(tag_of(&d, 2), "B-MISC");
    assert_int_equal(d.tag[2], 7);
    vt_tagged_free(&d);
    o.tokens_key = "words";
    o.tags_key = "labels";
    d = parse_ok("x.ndjson", "{\"words\": [\"a\"], \"labels\": [\"O\"], \"tags\": [5]}\n", &o);
    assert_int_equal(d.tag[0], 0);
    vt_tagged_free(&d);
}

static void test_errors(void **state) {
    (void)state;
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    parse_fails("one_field.conll", "EU B-ORG\nrejects\n", NULL, VT_ERR_FORMAT, "one_field.conll:2: a token without a tag");
    parse_fails("lengths.jsonl", "{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n",
                NULL, VT_ERR_FORMAT, "lengths.jsonl:2: 2 tokens but 1 tags");
    parse_fails("utf8.conll", "a O\n\nb\xC3\x28 O\n", NULL, VT_ERR_FORMAT, "utf8.conll:3: invalid UTF-8 in a token");
    parse_fails("nul.jsonl", "{\"tokens\": [\"a\\u0000\"], \"tags\": [\"O\"]}\n", NULL, VT_ERR_FORMAT, "nul.jsonl:1:");
    parse_fails("xper.conll", "a B-PER\nb I-PER\n\nc O\nd X-PER\n", NULL, VT_ERR_FORMAT,
                "xper.conll:5: tag 'X-PER' is not a tag of scheme IOB2");
    o.scheme = VT_SCHEME_IOB2;
    parse_fails("e_in_iob2.conll", "a B-PER\nb E-PER\n", &o, VT_ERR_FORMAT,
                "e_in_iob2.conll:2: tag 'E-PER' is not a tag of scheme IOB2");
    parse_fails("e_in_iob2.jsonl", "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"B-PER\", \"E-PER\"]}\n", &o,
                VT_ERR_FORMAT, "e_in_iob2.jsonl:1: tag 'E-PER'");
    o.scheme = VT_SCHEME_AUTO;
    parse_fails("mixed.conll", "a E-PER\nb L-PER\n", NULL, VT_ERR_FORMAT, "mixed.conll: the tags mix prefixes");
    static const char *const map[] = {"O", "B-PER"};
    o.id2label = map;
    o.num_labels = 2;
    parse_fails("unknown.conll", "a O\nb B-FOO\n", &o, VT_ERR_FORMAT,
                "unknown.conll:2: tag 'B-FOO' is not in the label map");
    parse_fails("id.jsonl", "{\"tokens\": [\"a\"], \"tags\": [2]}\n", &o, VT_ERR_FORMAT, "id.jsonl:1: tag 2 is not an id");
    parse_fails("int.jsonl", "{\"tokens\": [\"a\"], \"tags\": [0]}\n", NULL, VT_ERR_FORMAT,
                "int.jsonl:1: an integer tag needs a label map");
    parse_fails("json.jsonl", "{\"tokens\": [\"a\"], \"tags\": [\"O\"]\n", NULL, VT_ERR_FORMAT, "json.jsonl:1: invalid JSON");
    parse_fails("notags.jsonl", "{\"tokens\": [\"a\"]}\n", NULL, VT_ERR_FORMAT, "notags.jsonl:1: no \"tags\" (or \"ner_tags\")");
    parse_fails("tokstr.jsonl", "{\"tokens\": [1], \"tags\": [\"O\"]}\n", NULL, VT_ERR_FORMAT, "tokstr.jsonl:1: token 0 is not a string");
    parse_fails("empty_token.conll", "a O\n\tO\n", NULL, VT_ERR_FORMAT, "empty_token.conll:2: empty token");
    parse_fails("empty.conll", "", NULL, VT_ERR_FORMAT, "empty.conll:1: no sentences (the file is empty)");
    parse_fails("blank.conll", "\n  \n-DOCSTART- O\n", NULL, VT_ERR_FORMAT, "blank.conll:1: no sentences");
    parse_fails("no_tokens.jsonl", "\n{\"tokens\": [], \"tags\": []}\n", NULL, VT_ERR_FORMAT,
                "no_tokens.jsonl:2: no tokens (every sentence is empty)");
    parse_fails("data.csv", "a O\n", NULL, VT_ERR_INVALID_ARG, "cannot tell the format");
    vt_tagged_options_default(&o);
    o.max_labels = 2;
    parse_fails("many.conll", "a O\nb B-X\nc I-X\n", &o, VT_ERR_FORMAT, "many.conll:3: tag 'I-X' makes more than 2");
    vt_tagged d;
    assert_int_equal(vt_tagged_load("/nonexistent/x.conll", NULL, &d), VT_ERR_IO);
}

static void test_skip_bad_rows(void **state) {
    (void)state;
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.skip_bad_rows = true;
    const char *text = "a B-PER\nb I-PER\n\n"   /* kept */
                       "c O\nd\ne B-LOC\n\n"    /* line 5: no tag */
                       "f X-ORG\n\n"           /* line 8: no scheme's tag */
                       "g O\nh B-MISC\n";       /* kept */
    vt_tagged d = parse_ok("skip.conll", text, &o);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_skipped, 2);
    assert_int_equal(d.n_notes, 2);
    assert_non_null(strstr(d.notes[0], "skip.conll:5: a token without a tag"));
    assert_non_null(strstr(d.notes[1], "skip.conll:8: tag 'X-ORG'"));
    assert_int_equal(d.line[1], 10);
    assert_string_equal(d.token[2], "g");
    /* tags only the left-out sentences had (B-LOC, X-ORG) are not in the map */
    static const char *const labels[] = {"B-MISC", "B-PER", "I-PER", "O"};
    assert_int_equal(d.num_labels, 4);
    for (int i = 0; i < 4; i++) assert_string_equal(d.id2label[i], labels[i]);
    vt_tagged_free(&d);
    parse_fails("all_bad.jsonl", "{\"tokens\": [\"a\"]}\nnot json\n", &o, VT_ERR_FORMAT,
                "every sentence has a problem (2 left out; first: all_bad.jsonl:1:");
}

static void test_formats(void **state) {
    (void)state;
    assert_int_equal(vt_tagged_format_from_path("data/eng.testa.conll"), VT_TAGGED_CONLL);
    assert_int_equal(vt_tagged_format_from_path("train.txt"), VT_TAGGED_CONLL);
    assert_int_equal(vt_tagged_format_from_path("x.BIO"), VT_TAGGED_CONLL);
    assert_int_equal(vt_tagged_format_from_path("x.JSONL"), VT_TAGGED_JSONL);
    assert_int_equal(vt_tagged_format_from_path("x.csv"), VT_TAGGED_AUTO);
    assert_int_equal(vt_tagged_format_from_path("dir.conll/train"), VT_TAGGED_AUTO);
    vt_tagged_format f;
    assert_true(vt_tagged_format_parse("CoNLL", &f) && f == VT_TAGGED_CONLL);
    assert_true(vt_tagged_format_parse("ndjson", &f) && f == VT_TAGGED_JSONL);
    assert_false(vt_tagged_format_parse("csv", &f));
    assert_string_equal(vt_tagged_format_name(VT_TAGGED_JSONL), "jsonl");
    /* the format given wins over the name */
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.format = VT_TAGGED_CONLL;
    vt_tagged d = parse_ok("stdin", "a O\n", &o);
    assert_int_equal(d.n, 1);
    vt_tagged_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conll2003), cmocka_unit_test(test_tabs_and_schemes), cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_errors),    cmocka_unit_test(test_skip_bad_rows),    cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
