/* The shared utilities of src/core: UTF-8 well-formedness, FNV-1a, the string
 * builder with JSON escaping, strict JSON, and reading a file or standard input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "core/utf8.h"
#include "verto/fileio.h"
#include "vt_test.h"

static void test_utf8(void **state) {
    (void)state;
    assert_int_equal(vt_utf8_invalid_at("", 0), 0);
    assert_true(vt_utf8_valid("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 10));
    assert_true(vt_utf8_valid("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7));
    assert_true(vt_utf8_valid("a\0b", 3)); /* NUL is well-formed; callers refuse it themselves */
    static const struct {
        const char *s;
        size_t len, at;
    } BAD[] = {
        {"ab\x80", 3, 2},          {"\xc0\x80", 2, 0},         {"\xc1\xbf", 2, 0},    {"x\xc3", 2, 1},
        {"\xe0\x9f\xbf", 3, 0},    {"\xed\xa0\x80", 3, 0},     {"\xf0\x8f\xbf\xbf", 4, 0},
        {"\xf4\x90\x80\x80", 4, 0}, {"\xf5\x80\x80\x80", 4, 0}, {"\xe4\xb8", 2, 0},    {"a\xe4\x41\x41", 4, 1},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) assert_int_equal(vt_utf8_invalid_at(BAD[i].s, BAD[i].len), BAD[i].at);
    char buf[16];
    assert_string_equal(vt_utf8_printable("a\tb", buf, sizeof buf), "a?b");
    assert_string_equal(vt_utf8_printable("0123456789abcdefgh", buf, sizeof buf), "0123456789ab...");
}

/* The published FNV-1a test vectors (the shard checksums depend on them). */
static void test_fnv(void **state) {
    (void)state;
    assert_true(vt_fnv1a64(VT_FNV64_INIT, "", 0) == 0xcbf29ce484222325ull);
    assert_true(vt_fnv1a64(VT_FNV64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(vt_fnv1a64(VT_FNV64_INIT, "foobar", 6) == 0x85944171f73967e8ull);
    assert_true(vt_fnv1a32(VT_FNV32_INIT, "a", 1) == 0xe40c292cu);
    assert_true(vt_fnv1a32(VT_FNV32_INIT, "foobar", 6) == 0xbf9cf968u);
    /* continuing equals hashing the concatenation */
    assert_true(vt_fnv1a64(vt_fnv1a64(VT_FNV64_INIT, "foo", 3), "bar", 3) == 0x85944171f73967e8ull);
}

static void test_strbuf(void **state) {
    (void)state;
    vt_sb b = {0};
    size_t len;
    char *empty = vt_sb_take(&b, &len);
    assert_string_equal(empty, "");
    free(empty);
    vt_sb_json_string(&b, "a\"b\\c\n\t\r\x01");
    vt_sb_printf(&b, " %d %s", 42, "x");
    for (int i = 0; i < 100; i++) vt_sb_str(&b, "0123456789"); /* grows past its first block */
    char *s = vt_sb_take(&b, &len);
    assert_int_equal(len, strlen(s));
    assert_int_equal(len, strlen("\"a\\\"b\\\\c\\n\\t\\r\\u0001\" 42 x") + 1000);
    assert_memory_equal(s, "\"a\\\"b\\\\c\\n\\t\\r\\u0001\" 42 x", 26);
    free(s);
    assert_null(b.buf); /* the builder is empty again */
}

static void expect_json(const char *text, const char *why_part) {
    const char *why = NULL;
    size_t at = 99;
    cJSON *root = vt_json_parse(text, strlen(text), &why, &at);
    if (!why_part) {
        if (!root) fail_msg("'%s' refused: %s at %zu", text, why, at);
        cJSON_Delete(root);
        return;
    }
    if (root) fail_msg("'%s' accepted; want an error with '%s'", text, why_part);
    if (!strstr(why, why_part)) fail_msg("'%s': '%s', want '%s'", text, why, why_part);
}

static void test_json(void **state) {
    (void)state;
    expect_json(" {\"a\": [1, 2.5e3, -0, true, null, \"\\u00e9\"]} \n", NULL);
    expect_json("{\"a\": 1} 2", "text after the JSON value");
    expect_json("{\"a\": 1} x", "unexpected character");
    expect_json("{\"a\": 1}{}", "text after the JSON value");
    expect_json("{\"a\": \"x\ny\"}", "raw control character");
    expect_json("{\"a\": \"\\u0000\"}", "\\u0000");
    expect_json("{\"a\": 01}", "malformed number");
    expect_json("{\"a\": tru}", "unexpected character");
    expect_json("{\"a\": 1", "missing token");
    expect_json("{\"a\" 1}", "unexpected or missing token");
    char deep[300] = "";
    for (int i = 0; i < 129; i++) strcat(deep, "[");
    expect_json(deep, "nested more than 128");
    cJSON *dup = vt_json_parse("{\"x\": 1, \"y\": 2, \"x\": 3}", 24, &(const char *){0}, &(size_t){0});
    assert_non_null(dup);
    assert_string_equal(vt_json_repeated_key(dup), "x");
    cJSON_Delete(dup);
}

/* "-" reads standard input, here a pipe holding a file's bytes. */
static void test_read_stdin(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const char text[] = "line one\nline two\n";
    assert_int_equal(write(fds[1], text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    char *got = NULL;
    size_t len = 0;
    vt_status st = vt_read_file("-", 1 << 20, &got, &len);
    dup2(saved, STDIN_FILENO);
    close(saved);
    assert_int_equal(st, VT_OK);
    assert_int_equal(len, sizeof text - 1);
    assert_string_equal(got, text);
    free(got);
    assert_int_equal(vt_read_file("/nonexistent/x", 10, &got, &len), VT_ERR_IO);
    assert_non_null(strstr(vt_last_error(), "/nonexistent/x"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),  cmocka_unit_test(test_fnv),        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_json),  cmocka_unit_test(test_read_stdin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
