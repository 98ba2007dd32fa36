/* safetensors reader and writer (verto/safetensors.h).
 *
 * - every dtype and shape (0-d, empty, 8-d) and metadata survive a round trip
 *   through vt_st_write / vt_st_open, and the header is padded to 8 bytes;
 * - F16 / BF16 / F64 / F32 convert to float32 exactly as PyTorch does,
 *   including subnormals, infinities, NaN and unaligned data;
 * - files written by the Python `safetensors` package (tests/ref/
 *   gen_safetensors.py) read back with the values PyTorch holds;
 * - the Python package loads what verto wrote (a python3 child process);
 * - every malformed file is refused with NULL and a message naming the file
 *   and, where there is one, the tensor. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt_test.h"
#include "verto/error.h"
#include "verto/safetensors.h"

/* ---- helpers ---------------------------------------------------------- */

static void write_bytes(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* An image: 8-byte length, `header` (hlen bytes), then data_len bytes 0..255. */
static unsigned char *image_n(const char *header, size_t hlen, size_t data_len, size_t *len) {
    *len = 8 + hlen + data_len;
    unsigned char *buf = malloc(*len);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++) buf[8 + hlen + i] = (unsigned char)i;
    return buf;
}

static unsigned char *image(const char *header, size_t data_len, size_t *len) {
    return image_n(header, strlen(header), data_len, len);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void assert_contains(const char *msg, const char *want) {
    if (!strstr(msg, want)) fail_msg("message \"%s\" does not contain \"%s\"", msg, want);
}

#define LABEL "bad.safetensors"

/* The image must be refused with a format error naming LABEL, `tensor` (if
 * not NULL) and `what`. */
static void expect_bad_image(const unsigned char *buf, size_t len, const char *tensor, const char *what) {
    vt_clear_error();
    vt_st_file *f = vt_st_open_memory(buf, len, LABEL);
    if (f) {
        vt_st_close(f);
        fail_msg("accepted a bad file (expected \"%s\")", what);
    }
    const char *msg = vt_last_error();
    printf("    refused: %s\n", msg);
    assert_int_equal(vt_last_status(), VT_ERR_FORMAT);
    assert_contains(msg, LABEL);
    if (tensor) {
        char quoted[256];
        snprintf(quoted, sizeof quoted, "tensor '%s'", tensor);
        assert_contains(msg, quoted);
    }
    assert_contains(msg, what);
}

static void expect_bad(const char *header, size_t data_len, const char *tensor, const char *what) {
    size_t len;
    unsigned char *buf = image(header, data_len, &len);
    expect_bad_image(buf, len, tensor, what);
    free(buf);
}

static void expect_good(const char *header, size_t data_len, size_t n_tensors) {
    size_t len;
    unsigned char *buf = image(header, data_len, &len);
    vt_st_file *f = vt_st_open_memory(buf, len, "good");
    if (!f) fail_msg("refused a valid header %s: %s", header, vt_last_error());
    assert_int_equal(vt_st_count(f), n_tensors);
    vt_st_close(f);
    free(buf);
}

static uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

/* Bit-exact equality, except that any NaN matches a NaN of the same sign. */
static void assert_same_f32(const char *what, const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        bool same = isnan(want[i]) ? isnan(got[i]) && signbit(got[i]) == signbit(want[i])
                                   : f32_bits(got[i]) == f32_bits(want[i]);
        if (!same) fail_msg("%s[%lld]: got %a (0x%08x), want %a (0x%08x)", what, (long long)i, got[i], f32_bits(got[i]),
                            want[i], f32_bits(want[i]));
    }
}

/* ---- dtype table -------------------------------------------------------- */

static void test_dtypes(void **state) {
    static const char *names[] = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16", "F32", "F64"};
    static const size_t sizes[] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 2, 2, 4, 8};
    for (int i = 0; i < 13; i++) {
        vt_st_dtype d;
        assert_true(vt_st_dtype_parse(names[i], &d));
        assert_int_equal(d, i);
        assert_string_equal(vt_st_dtype_name(d), names[i]);
        assert_int_equal(vt_st_dtype_size(d), sizes[i]);
    }
    vt_st_dtype d;
    assert_false(vt_st_dtype_parse("f32", &d));
    assert_false(vt_st_dtype_parse("F8_E4M3", &d));
    assert_false(vt_st_dtype_parse("", &d));
}

/* ---- round trip ----------------------------------------------------------- */

/* Deterministic bytes for a tensor. */
static void *pattern(size_t nbytes, unsigned seed) {
    unsigned char *p = malloc(nbytes ? nbytes : 1);
    assert_non_null(p);
    for (size_t i = 0; i < nbytes; i++) p[i] = (unsigned char)(i * 31 + seed * 7 + 3);
    return p;
}

static void test_round_trip(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "rt.safetensors");
    static const int64_t shapes[][VT_ST_MAX_DIMS] = {
        {0}, {5}, {2, 3}, {2, 0, 3}, {1, 2, 1, 1, 1, 1, 2, 1}, {3, 1, 2}, {7},
    };
    static const int ndims[] = {0, 1, 2, 3, 8, 3, 1};
    enum { NSHAPES = 7, NT = 13 * NSHAPES };
    vt_st_entry entries[NT];
    char names[NT][32];
    void *datas[NT];
    size_t nbytes[NT];
    for (int i = 0; i < NT; i++) {
        vt_st_dtype dt = (vt_st_dtype)(i % 13);
        int s = (i / 13 + i) % NSHAPES;
        int64_t numel = 1;
        for (int d = 0; d < ndims[s]; d++) numel *= shapes[s][d];
        nbytes[i] = (size_t)numel * vt_st_dtype_size(dt);
        datas[i] = pattern(nbytes[i], (unsigned)i);
        snprintf(names[i], sizeof names[i], "t%02d.%s", i, vt_st_dtype_name(dt));
        entries[i] = (vt_st_entry){.name = names[i], .dtype = dt, .ndim = ndims[s], .shape = shapes[s], .data = datas[i]};
    }
    static const char *const meta[] = {"format", "pt", "who", "verto \xe2\x9c\x93 \"quoted\" \\ \n"};
    assert_int_equal(vt_st_write(path, entries, NT, meta, 2), VT_OK);

    /* the header length is a multiple of 8, padded with spaces */
    size_t flen;
    unsigned char *raw = read_bytes(path, &flen);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
    assert_int_equal(hlen % 8, 0);
    assert_true(8 + hlen <= flen);
    assert_int_equal(raw[8], '{');
    size_t last = 8 + hlen - 1;
    while (raw[last] == ' ') last--;
    assert_int_equal(raw[last], '}');
    assert_true(8 + hlen - 1 - last < 8);
    free(raw);

    vt_st_file *f = vt_st_open(path);
    if (!f) fail_msg("%s", vt_last_error());
    assert_int_equal(vt_st_count(f), NT);
    assert_string_equal(vt_st_metadata(f, "format"), "pt");
    assert_string_equal(vt_st_metadata(f, "who"), meta[3]);
    assert_null(vt_st_metadata(f, "missing"));
    assert_null(vt_st_find(f, "missing"));
    assert_null(vt_st_at(f, NT));
    for (int i = 0; i < NT; i++) {
        const vt_st_tensor *t = vt_st_find(f, names[i]);
        assert_non_null(t);
        assert_string_equal(t->name, names[i]);
        assert_int_equal(t->dtype, entries[i].dtype);
        assert_int_equal(t->ndim, entries[i].ndim);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            assert_int_equal(t->shape[d], entries[i].shape[d]);
            numel *= t->shape[d];
        }
        assert_int_equal(t->numel, numel);
        assert_int_equal(t->nbytes, nbytes[i]);
        assert_memory_equal(t->data, datas[i], nbytes[i] ? nbytes[i] : 0);
    }
    /* vt_st_at walks the data in order: each tensor starts where the last ended */
    const char *prev_end = vt_st_at(f, 0)->data;
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_at(f, i);
        assert_ptr_equal(t->data, prev_end);
        prev_end = (const char *)t->data + t->nbytes;
    }
    vt_st_close(f);

    /* no tensors, no metadata: "{}" padded */
    assert_int_equal(vt_st_write(path, NULL, 0, NULL, 0), VT_OK);
    f = vt_st_open(path);
    assert_non_null(f);
    assert_int_equal(vt_st_count(f), 0);
    assert_null(vt_st_at(f, 0));
    vt_st_close(f);

    for (int i = 0; i < NT; i++) free(datas[i]);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* ---- conversions ---------------------------------------------------------- */

static void test_to_f32(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "conv.safetensors");
    static const uint16_t h[] = {0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x0400, 0x0001, 0x03FF, 0x8200, 0x7C00, 0xFC00, 0x7E00};
    static const float hf[] = {0.0f, -0.0f, 1.0f, -2.0f, 65504.0f, 0x1p-14f, 0x1p-24f, 0x3ffp-24f, -0x1p-15f,
                               INFINITY, -INFINITY, NAN};
    static const uint16_t b[] = {0x3F80, 0xC040, 0x7F80, 0x0001, 0x7FC0, 0x8000};
    static const float bf[] = {1.0f, -3.0f, INFINITY, 0x1p-133f, NAN, -0.0f};
    static const double d[] = {0.1, -1e300, 1e300, 3.4028235677973366e38, 3.4028235e38, 1e-50, -0.0, 0x1.000001p0};
    static const float df[] = {0.1f, -INFINITY, INFINITY, INFINITY, 3.4028235e38f, 0.0f, -0.0f, 1.0f};
    static const float f[] = {1.5f, -2.25f, 1e-40f, 3.0f, NAN};
    static const uint8_t one = 7;
    static const int32_t ints[] = {1, 2};
    int64_t sh_h = 12, sh_b = 6, sh_d = 8, sh_f = 5, sh_1 = 1, sh_i = 2;
    /* the 1-byte tensor first leaves every later tensor unaligned */
    vt_st_entry e[] = {
        {.name = "pad", .dtype = VT_ST_U8, .ndim = 1, .shape = &sh_1, .data = &one},
        {.name = "h", .dtype = VT_ST_F16, .ndim = 1, .shape = &sh_h, .data = h},
        {.name = "b", .dtype = VT_ST_BF16, .ndim = 1, .shape = &sh_b, .data = b},
        {.name = "d", .dtype = VT_ST_F64, .ndim = 1, .shape = &sh_d, .data = d},
        {.name = "f", .dtype = VT_ST_F32, .ndim = 1, .shape = &sh_f, .data = f},
        {.name = "ints", .dtype = VT_ST_I32, .ndim = 1, .shape = &sh_i, .data = ints},
    };
    assert_int_equal(vt_st_write(path, e, 6, NULL, 0), VT_OK);
    vt_st_file *file = vt_st_open(path);
    assert_non_null(file);
    float out[16];
    const vt_st_tensor *t = vt_st_find(file, "h");
    assert_true(((uintptr_t)t->data & 1) != 0); /* really unaligned */
    assert_int_equal(vt_st_to_f32(t, out), VT_OK);
    assert_same_f32("f16", out, hf, 12);
    assert_int_equal(vt_st_to_f32(vt_st_find(file, "b"), out), VT_OK);
    assert_same_f32("bf16", out, bf, 6);
    assert_int_equal(vt_st_to_f32(vt_st_find(file, "d"), out), VT_OK);
    assert_same_f32("f64", out, df, 8);
    assert_int_equal(vt_st_to_f32(vt_st_find(file, "f"), out), VT_OK);
    assert_same_f32("f32", out, f, 5);
    /* every F16 bit pattern against a formula */
    uint16_t all[1];
    for (uint32_t bits = 0; bits < 65536; bits++) {
        all[0] = (uint16_t)bits;
        vt_st_tensor one_h = {.name = "x", .dtype = VT_ST_F16, .ndim = 0, .numel = 1, .data = all, .nbytes = 2};
        assert_int_equal(vt_st_to_f32(&one_h, out), VT_OK);
        int e5 = (bits >> 10) & 31, m = bits & 1023;
        float mag = e5 == 31 ? (m ? NAN : INFINITY) : e5 ? ldexpf(1.0f + m / 1024.0f, e5 - 15) : ldexpf((float)m, -24);
        float want = (bits & 0x8000) ? -mag : mag;
        assert_same_f32("f16 pattern", out, &want, 1);
    }
    /* integers do not convert; the message names the tensor */
    assert_int_equal(vt_st_to_f32(vt_st_find(file, "ints"), out), VT_ERR_FORMAT);
    assert_contains(vt_last_error(), "ints");
    vt_st_close(file);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* ---- files written by the Python package --------------------------------- */

static void compare_with_expected(const char *file, const char *prefix, const vt_st_file *expected) {
    vt_st_file *f = ref_open(file);
    assert_string_equal(vt_st_metadata(f, "format"), "pt");
    assert_non_null(vt_st_metadata(f, "source"));
    size_t n = vt_st_count(f);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        const vt_st_tensor *t = vt_st_at(f, i);
        char key[256];
        snprintf(key, sizeof key, "%s/%s", prefix, t->name);
        const vt_st_tensor *w = vt_st_find(expected, key);
        if (!w) fail_msg("%s: no expected values for %s", file, key);
        assert_int_equal(t->ndim, w->ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], w->shape[d]);
        int64_t nw = 0;
        float *want = ref_f32(expected, key, &nw);
        float *got = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
        assert_non_null(got);
        assert_int_equal(vt_st_to_f32(t, got), VT_OK);
        assert_int_equal(t->numel, nw);
        assert_same_f32(key, got, want, nw);
        printf("    %-28s %-5s %lld values identical to PyTorch\n", key, vt_st_dtype_name(t->dtype), (long long)nw);
        free(got);
        free(want);
    }
    vt_st_close(f);
}

static void test_read_python_files(void **state) {
    vt_st_file *expected = ref_open("st_expected.safetensors");
    compare_with_expected("st_f32.safetensors", "f32", expected);
    compare_with_expected("st_f16.safetensors", "f16", expected);
    compare_with_expected("st_bf16.safetensors", "bf16", expected);
    compare_with_expected("st_f64.safetensors", "f64", expected);
    vt_st_close(expected);

    vt_st_file *f = ref_open("st_ints.safetensors");
    assert_string_equal(vt_st_metadata(f, "note"), "h\xc3\xa9llo \xe2\x9c\x93");
    assert_int_equal(vt_st_count(f), 10);
    struct {
        const char *name;
        vt_st_dtype dtype;
        size_t n;
        const void *want;
    } cases[] = {
        {"bool", VT_ST_BOOL, 3, (const uint8_t[]){1, 0, 1}},
        {"u8", VT_ST_U8, 3, (const uint8_t[]){0, 1, 255}},
        {"i8", VT_ST_I8, 4, (const int8_t[]){-128, -1, 0, 127}},
        {"i16", VT_ST_I16, 4, (const int16_t[]){-32768, 32767, -2, 3}},
        {"u16", VT_ST_U16, 3, (const uint16_t[]){0, 65535, 1234}},
        {"i32", VT_ST_I32, 3, (const int32_t[]){INT32_MIN, INT32_MAX, 42}},
        {"u32", VT_ST_U32, 3, (const uint32_t[]){0, UINT32_MAX, 7}},
        {"i64", VT_ST_I64, 3, (const int64_t[]){INT64_MIN, INT64_MAX, -5}},
        {"u64", VT_ST_U64, 3, (const uint64_t[]){0, 1, (1ull << 63) + 11}},
        {"f32_among_ints", VT_ST_F32, 2, (const float[]){1.5f, -0.25f}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const vt_st_tensor *t = vt_st_find(f, cases[i].name);
        if (!t) fail_msg("st_ints.safetensors: %s missing", cases[i].name);
        assert_int_equal(t->dtype, cases[i].dtype);
        assert_int_equal(t->numel, cases[i].n);
        assert_int_equal(t->nbytes, cases[i].n * vt_st_dtype_size(t->dtype));
        assert_memory_equal(t->data, cases[i].want, t->nbytes);
    }
    const vt_st_tensor *i16 = vt_st_find(f, "i16");
    assert_int_equal(i16->ndim, 2);
    assert_int_equal(i16->shape[0], 2);
    assert_int_equal(i16->shape[1], 2);
    vt_st_close(f);
}

/* ---- the Python package reads what verto wrote ----------------------------- */

static const char PY_CHECK[] =
    "import sys, torch\n"
    "from safetensors import safe_open\n"
    "from safetensors.torch import load_file\n"
    "path = sys.argv[1]\n"
    "t = load_file(path)\n"
    "with safe_open(path, 'pt') as f:\n"
    "    meta = f.metadata()\n"
    "assert meta == {'format': 'pt', 'who': 'verto \\u2713'}, meta\n"
    "fl = [-1.5, 0.0, 0.25, 3.0, -0.0, 1024.0]\n"
    "want = {\n"
    "  'f16': (torch.float16, fl), 'bf16': (torch.bfloat16, fl), 'f32': (torch.float32, fl), 'f64': (torch.float64, fl),\n"
    "  'bool': (torch.bool, [True, False, True, True, False, False]),\n"
    "  'u8': (torch.uint8, [0, 1, 2, 3, 254, 255]), 'i8': (torch.int8, [-128, -1, 0, 1, 2, 127]),\n"
    "  'i16': (torch.int16, [-32768, -1, 0, 1, 2, 32767]), 'u16': (torch.uint16, [0, 1, 2, 3, 4, 65535]),\n"
    "  'i32': (torch.int32, [-2**31, -1, 0, 1, 2, 2**31 - 1]), 'u32': (torch.uint32, [0, 1, 2, 3, 4, 2**32 - 1]),\n"
    "  'i64': (torch.int64, [-2**63, -1, 0, 1, 2, 2**63 - 1]),\n"
    "}\n"
    "for name, (dt, vals) in want.items():\n"
    "    x = t[name]\n"
    "    assert x.dtype == dt and tuple(x.shape) == (2, 3), (name, x.dtype, x.shape)\n"
    "    got = x.flatten().tolist() if dt not in (torch.uint16, torch.uint32) else x.flatten().to(torch.int64).tolist()\n"
    "    assert got == vals, (name, got, vals)\n"
    "assert torch.signbit(t['f32'].flatten()[4]) and torch.signbit(t['bf16'].flatten()[4])\n"
    "u64 = t['u64']\n"
    "assert u64.dtype == torch.uint64 and tuple(u64.shape) == (6,)\n"
    "assert u64.view(torch.int64).tolist() == [0, 1, 2, 3, -2, -1], u64.view(torch.int64).tolist()\n"
    "assert t['scalar'].shape == () and t['scalar'].item() == 7.5\n"
    "assert tuple(t['empty'].shape) == (2, 0, 3) and t['empty'].dtype == torch.float32\n"
    "assert tuple(t['deep'].shape) == (1, 2, 1, 1, 1, 1, 1, 3) and t['deep'].flatten().tolist() == [9, 8, 7, 6, 5, 4]\n"
    "assert len(t) == 17, sorted(t)\n"
    "print('python safetensors read', len(t), 'tensors OK')\n";

static void test_python_reads_verto(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "from_verto.safetensors"), *script = join(dir, "check.py");
    static const uint16_t h[] = {0xBE00, 0x0000, 0x3400, 0x4200, 0x8000, 0x6400};
    static const uint16_t bf[] = {0xBFC0, 0x0000, 0x3E80, 0x4040, 0x8000, 0x4480};
    static const float f[] = {-1.5f, 0.0f, 0.25f, 3.0f, -0.0f, 1024.0f};
    static const double d[] = {-1.5, 0.0, 0.25, 3.0, -0.0, 1024.0};
    static const uint8_t bo[] = {1, 0, 1, 1, 0, 0}, u8[] = {0, 1, 2, 3, 254, 255};
    static const int8_t i8[] = {-128, -1, 0, 1, 2, 127};
    static const int16_t i16[] = {-32768, -1, 0, 1, 2, 32767};
    static const uint16_t u16[] = {0, 1, 2, 3, 4, 65535};
    static const int32_t i32[] = {INT32_MIN, -1, 0, 1, 2, INT32_MAX};
    static const uint32_t u32[] = {0, 1, 2, 3, 4, UINT32_MAX};
    static const int64_t i64[] = {INT64_MIN, -1, 0, 1, 2, INT64_MAX};
    static const uint64_t u64[] = {0, 1, 2, 3, UINT64_MAX - 1, UINT64_MAX};
    static const float scalar = 7.5f;
    static const uint8_t deep[] = {9, 8, 7, 6, 5, 4};
    static const int64_t s23[] = {2, 3}, s6[] = {6}, s203[] = {2, 0, 3}, s8[] = {1, 2, 1, 1, 1, 1, 1, 3};
    vt_st_entry e[] = {
        {"f16", VT_ST_F16, 2, s23, h},      {"bf16", VT_ST_BF16, 2, s23, bf}, {"f32", VT_ST_F32, 2, s23, f},
        {"f64", VT_ST_F64, 2, s23, d},      {"bool", VT_ST_BOOL, 2, s23, bo}, {"u8", VT_ST_U8, 2, s23, u8},
        {"i8", VT_ST_I8, 2, s23, i8},       {"i16", VT_ST_I16, 2, s23, i16},  {"u16", VT_ST_U16, 2, s23, u16},
        {"i32", VT_ST_I32, 2, s23, i32},    {"u32", VT_ST_U32, 2, s23, u32},  {"i64", VT_ST_I64, 2, s23, i64},
        {"u64", VT_ST_U64, 1, s6, u64},     {"scalar", VT_ST_F32, 0, NULL, &scalar},
        {"empty", VT_ST_F32, 3, s203, NULL}, {"deep", VT_ST_U8, 8, s8, deep},
        {"zz.unicode.\xc3\xa9", VT_ST_U8, 1, (const int64_t[]){1}, u8},
    };
    static const char *const meta[] = {"format", "pt", "who", "verto \xe2\x9c\x93"};
    assert_int_equal(vt_st_write(path, e, sizeof e / sizeof e[0], meta, 2), VT_OK);
    FILE *sf = fopen(script, "w");
    assert_non_null(sf);
    fputs(PY_CHECK, sf);
    fclose(sf);
    const char *py = getenv("PYTHON") ? getenv("PYTHON") : "python3";
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", py, script, path);
    fflush(stdout);
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) fail_msg("`%s` failed (status %d)", cmd, rc);
    unlink(path);
    unlink(script);
    rmdir(dir);
    free(path);
    free(script);
    free(dir);
}

/* ---- malformed files --------------------------------------------------------- */

#define T(dtype, shape, offs) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_bad_header_length(void **state) {
    unsigned char buf[16] = {0};
    expect_bad_image(buf, 0, NULL, "too short");
    expect_bad_image(buf, 7, NULL, "too short");
    /* N = 100,000,001 */
    uint64_t big = VT_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(big >> (8 * i));
    expect_bad_image(buf, 16, NULL, "exceeds the limit");
    memset(buf, 0xFF, 8); /* N = 2^64 - 1: no overflow in 8 + N */
    expect_bad_image(buf, 16, NULL, "exceeds the limit");
    /* N = 100 with 8 bytes after it */
    memset(buf, 0, 8);
    buf[0] = 100;
    expect_bad_image(buf, 16, NULL, "runs past the end");
    /* N exactly the limit but the file is short */
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(VT_ST_MAX_HEADER >> (8 * i));
    expect_bad_image(buf, 16, NULL, "runs past the end");
    buf[0] = 0; /* N = 0: empty header */
    memset(buf, 0, 8);
    expect_bad_image(buf, 8, NULL, "not a JSON object");
}

static void test_bad_json(void **state) {
    expect_bad("{\"a\":", 0, NULL, "not valid JSON");
    expect_bad("{\"a\" 1}", 0, NULL, "not valid JSON");
    expect_bad("{} x", 0, NULL, "not valid JSON");
    expect_bad("{}{}", 0, NULL, "not valid JSON");
    expect_bad("[1, 2]", 0, NULL, "not a JSON object");
    expect_bad("\"str\"", 0, NULL, "not a JSON object");
    expect_bad(" {}", 0, NULL, "not a JSON object"); /* the reference requires '{' first */
    expect_bad("{\"a\":\xff}", 0, NULL, "UTF-8");
    expect_bad("{\"\xc0\xaf\":1}", 0, NULL, "UTF-8");          /* overlong */
    expect_bad("{\"\xed\xa0\x80\":1}", 0, NULL, "UTF-8");      /* surrogate */
    expect_bad("{\"\xf4\x90\x80\x80\":1}", 0, NULL, "UTF-8");  /* above U+10FFFF */
    expect_bad("{\"a\xe2\x9c\":1}", 0, NULL, "UTF-8");         /* cut short */
    expect_bad("{\"a\tb\":1}", 0, NULL, "control character");
    expect_bad("{\"a\\u0000b\":" T("U8", "[0]", "[0,0]") "}", 0, NULL, "\\u0000");
    expect_bad("{\"a\\x\":1}", 0, NULL, "escape");
    expect_bad("{\"a\\ud800\":1}", 0, NULL, "not valid JSON"); /* lone surrogate */
    expect_bad("{\x01}", 0, NULL, "unexpected character");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}", 1, NULL, "malformed number");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.],\"data_offsets\":[0,1]}}", 1, NULL, "malformed number");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[NaN],\"data_offsets\":[0,1]}}", 1, NULL, "unexpected character");
    expect_bad("{\"a\":truth}", 0, NULL, "unexpected character");
    char deep[600];
    strcpy(deep, "{\"a\":" T("U8", "[0]", "[0,0]") ",\"x\":");
    size_t k = strlen(deep);
    for (int i = 0; i < 130; i++) deep[k++] = '[';
    for (int i = 0; i < 130; i++) deep[k++] = ']';
    strcpy(deep + k, "}");
    expect_bad(deep, 0, NULL, "nested");
    /* padding with spaces, unknown fields with any JSON in them, and null metadata are fine */
    expect_good("{\"a\":" T("U8", "[2]", "[0,2]") "}      ", 2, 1);
    expect_good("{\"a\":{\"x\":[1.5e3,-2,{\"y\":null,\"z\":true}],\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, 1);
    expect_good("{\"__metadata__\":null}", 0, 0);
    expect_good("{\"__metadata__\":{}}", 0, 0);
    expect_good("{}", 0, 0);
}

static void test_bad_entries(void **state) {
    expect_bad("{\"w\":5}", 0, "w", "not a JSON object");
    expect_bad("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "w", "no dtype");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, "w", "no shape");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "w", "no data_offsets");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "w", "appears twice");
    /* dtype */
    expect_bad("{\"w\":" T("F8", "[1]", "[0,1]") "}", 1, "w", "unknown dtype 'F8'");
    expect_bad("{\"w\":" T("f32", "[1]", "[0,4]") "}", 4, "w", "unknown dtype");
    expect_bad("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "w", "dtype is not a string");
    /* shape */
    expect_bad("{\"w\":" T("F32", "3", "[0,12]") "}", 12, "w", "shape is not a list");
    expect_bad("{\"w\":" T("F32", "{}", "[0,12]") "}", 12, "w", "shape is not a list");
    expect_bad("{\"w\":" T("F32", "[-1]", "[0,4]") "}", 4, "w", "shape[0] is not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[1,-0]", "[0,4]") "}", 4, "w", "shape[1] is not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[1.0]", "[0,4]") "}", 4, "w", "shape[0] is not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[1.5]", "[0,4]") "}", 4, "w", "shape[0] is not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[1e0]", "[0,4]") "}", 4, "w", "shape[0] is not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[\"1\"]", "[0,4]") "}", 4, "w", "shape[0] is not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[null]", "[0,4]") "}", 4, "w", "shape[0] is not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[18446744073709551616]", "[0,0]") "}", 0, "w", "not a non-negative integer");
    expect_bad("{\"w\":" T("F32", "[0,9223372036854775808]", "[0,0]") "}", 0, "w", "too large");
    expect_bad("{\"w\":" T("U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") "}", 1, "w", "more than 8 dimensions");
    expect_good("{\"w\":" T("U8", "[1,1,1,1,1,1,1,1]", "[0,1]") "}", 1, 1);
    expect_good("{\"w\":" T("U8", "[0,9223372036854775807]", "[0,0]") "}", 0, 1);
    /* data_offsets */
    expect_bad("{\"w\":" T("U8", "[1]", "[0]") "}", 1, "w", "has 1 entries, not two");
    expect_bad("{\"w\":" T("U8", "[1]", "[]") "}", 1, "w", "has 0 entries, not two");
    expect_bad("{\"w\":" T("U8", "[1]", "[0,1,2]") "}", 1, "w", "more than two");
    expect_bad("{\"w\":" T("U8", "[1]", "{}") "}", 1, "w", "data_offsets is not a list");
    expect_bad("{\"w\":" T("U8", "[1]", "[1,0]") "}", 1, "w", "begin is after end");
    expect_bad("{\"w\":" T("U8", "[1]", "[0,1.0]") "}", 1, "w", "data_offsets[1] is not a non-negative integer");
    expect_bad("{\"w\":" T("U8", "[1]", "[-0,1]") "}", 1, "w", "data_offsets[0] is not a non-negative integer");
    /* sizes */
    expect_bad("{\"w\":" T("F32", "[3]", "[0,8]") "}", 8, "w", "hold 8 bytes but shape [3] of F32 needs 12");
    expect_bad("{\"w\":" T("F32", "[2,0]", "[0,8]") "}", 8, "w", "needs 0");
    expect_bad("{\"w\":" T("U8", "[4294967296,4294967296,0]", "[0,0]") "}", 0, "w", "element count");
    expect_bad("{\"w\":" T("U8", "[4294967296,4294967296,0]", "[0,0]") "}", 0, "w", "overflows");
    expect_bad("{\"w\":" T("F32", "[4611686018427387904]", "[0,0]") "}", 0, "w", "byte length");
    expect_good("{\"w\":" T("U8", "[0,4294967296,4294967296]", "[0,0]") "}", 0, 1); /* the reference's order */
    /* names */
    expect_bad("{\"dup\":" T("U8", "[1]", "[0,1]") ",\"dup\":" T("U8", "[1]", "[1,2]") "}", 2, "dup", "appears twice");
    expect_bad("{\"e\":" T("U8", "[0]", "[0,0]") ",\"e\":" T("U8", "[0]", "[0,0]") "}", 0, "e", "appears twice");
}

static void test_bad_layout(void **state) {
    expect_bad("{\"a\":" T("F32", "[1]", "[0,4]") ",\"b\":" T("F32", "[1]", "[8,12]") "}", 12, "b", "gap");
    expect_bad("{\"a\":" T("F32", "[2]", "[0,8]") ",\"b\":" T("F32", "[1]", "[4,8]") "}", 8, "b", "overlap tensor 'a'");
    expect_bad("{\"a\":" T("F32", "[2]", "[0,8]") ",\"b\":" T("F32", "[2]", "[0,8]") "}", 8, "b", "overlap");
    expect_bad("{\"a\":" T("F32", "[1]", "[4,8]") "}", 8, "a", "does not start at offset 0");
    expect_bad("{\"a\":" T("F32", "[1]", "[0,4]") "}", 8, "a", "file holds 8 data bytes");
    expect_bad("{\"a\":" T("F32", "[2]", "[0,8]") "}", 4, "a", "run past");
    expect_bad("{}", 4, NULL, "no tensors");
    expect_bad("{\"__metadata__\":{\"k\":\"v\"}}", 1, NULL, "no tensors");
    /* any header order is fine as long as the data tiles; empty tensors anywhere */
    expect_good("{\"b\":" T("F32", "[1]", "[4,8]") ",\"z\":" T("U8", "[0]", "[4,4]") ",\"a\":" T("F32", "[1]", "[0,4]")
                ",\"e\":" T("U8", "[0]", "[8,8]") "}", 8, 4);
}

static void test_bad_metadata(void **state) {
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, NULL, "__metadata__ value of 'k' is not a string");
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"n\":null}}", 0, NULL, "value of 'n' is not a string");
    expect_bad("{\"__metadata__\":{\"k\":[\"v\"]}}", 0, NULL, "not a string");
    expect_bad("{\"__metadata__\":[\"v\"]}", 0, NULL, "__metadata__ is not a JSON object");
    expect_bad("{\"__metadata__\":\"v\"}", 0, NULL, "__metadata__ is not a JSON object");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, NULL, "__metadata__ appears twice");
    expect_bad("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, NULL, "key 'k' appears twice");
}

/* Files on disk: the message names the path. */
static void test_bad_files_on_disk(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "broken.safetensors");
    /* a good file, then cut short by two bytes */
    static const float v[] = {1, 2, 3};
    int64_t n3 = 3;
    vt_st_entry e = {.name = "weights", .dtype = VT_ST_F32, .ndim = 1, .shape = &n3, .data = v};
    assert_int_equal(vt_st_write(path, &e, 1, NULL, 0), VT_OK);
    size_t len;
    unsigned char *buf = read_bytes(path, &len);
    assert_int_equal(truncate(path, (off_t)len - 2), 0);
    struct {
        size_t keep;
        const char *tensor, *what;
    } cuts[] = {{len - 2, "weights", "run past"}, {len - 12, "weights", "run past"}, {20, NULL, "runs past the end"},
                {8, NULL, "runs past the end"}, {7, NULL, "too short"}, {3, NULL, "too short"}, {0, NULL, "too short"}};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(path, buf, cuts[i].keep);
        vt_clear_error();
        vt_st_file *f = vt_st_open(path);
        if (f) fail_msg("accepted a file cut to %zu bytes", cuts[i].keep);
        printf("    cut to %zu bytes: %s\n", cuts[i].keep, vt_last_error());
        assert_int_equal(vt_last_status(), VT_ERR_FORMAT);
        assert_contains(vt_last_error(), path);
        if (cuts[i].tensor) assert_contains(vt_last_error(), cuts[i].tensor);
        assert_contains(vt_last_error(), cuts[i].what);
    }
    /* one byte too many at the end */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    write_bytes(path, longer, len + 1);
    assert_null(vt_st_open(path));
    assert_contains(vt_last_error(), "weights");
    assert_contains(vt_last_error(), "data bytes");
    free(longer);
    /* the whole file is fine */
    write_bytes(path, buf, len);
    vt_st_file *f = vt_st_open(path);
    assert_non_null(f);
    vt_st_close(f);
    /* missing file and a directory: I/O errors naming the path */
    char *missing = join(dir, "missing.safetensors");
    assert_null(vt_st_open(missing));
    assert_int_equal(vt_last_status(), VT_ERR_IO);
    assert_contains(vt_last_error(), missing);
    assert_null(vt_st_open(dir));
    assert_int_equal(vt_last_status(), VT_ERR_IO);
    assert_contains(vt_last_error(), dir);
    free(missing);
    free(buf);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* ---- the writer refuses what the reader would --------------------------------- */

static void expect_write_fails(const char *path, const vt_st_entry *e, size_t n, const char *const *meta, size_t n_meta,
                               const char *what) {
    vt_clear_error();
    assert_int_not_equal(vt_st_write(path, e, n, meta, n_meta), VT_OK);
    printf("    refused: %s\n", vt_last_error());
    assert_contains(vt_last_error(), path);
    assert_contains(vt_last_error(), what);
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0); /* nothing was created */
}

static void test_writer_rejects(void **state) {
    char *dir = test_tmpdir();
    char *path = join(dir, "w.safetensors");
    static const float v[4] = {0};
    int64_t s1 = 1, neg = -1, big[3] = {4294967296, 4294967296, 2}, huge = INT64_MAX;
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    vt_st_entry two[] = {{"x", VT_ST_F32, 1, &s1, v}, {"x", VT_ST_F32, 1, &s1, v}};
    expect_write_fails(path, two, 2, NULL, 0, "'x' appears twice");
    vt_st_entry e = {"__metadata__", VT_ST_F32, 1, &s1, v};
    expect_write_fails(path, &e, 1, NULL, 0, "__metadata__");
    e = (vt_st_entry){"neg", VT_ST_F32, 1, &neg, v};
    expect_write_fails(path, &e, 1, NULL, 0, "negative");
    e = (vt_st_entry){"big", VT_ST_F32, 3, big, v};
    expect_write_fails(path, &e, 1, NULL, 0, "overflows");
    e = (vt_st_entry){"huge", VT_ST_F32, 1, &huge, v};
    expect_write_fails(path, &e, 1, NULL, 0, "overflows");
    e = (vt_st_entry){"nine", VT_ST_F32, 9, nine, v};
    expect_write_fails(path, &e, 1, NULL, 0, "dimensions");
    e = (vt_st_entry){"dt", (vt_st_dtype)99, 1, &s1, v};
    expect_write_fails(path, &e, 1, NULL, 0, "dtype");
    e = (vt_st_entry){"bad\xff", VT_ST_F32, 1, &s1, v};
    expect_write_fails(path, &e, 1, NULL, 0, "UTF-8");
    e = (vt_st_entry){"nodata", VT_ST_F32, 1, &s1, NULL};
    expect_write_fails(path, &e, 1, NULL, 0, "no data");
    e = (vt_st_entry){"ok", VT_ST_F32, 1, &s1, v};
    static const char *const dup_meta[] = {"k", "a", "k", "b"};
    expect_write_fails(path, &e, 1, dup_meta, 2, "'k' appears twice");
    static const char *const null_meta[] = {"k", NULL};
    expect_write_fails(path, &e, 1, null_meta, 1, "metadata");
    char *nodir = join(dir, "no/such/dir/w.safetensors");
    expect_write_fails(nodir, &e, 1, NULL, 0, "No such file or directory");
    free(nodir);
    rmdir(dir);
    free(path);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_to_f32),
        cmocka_unit_test(test_read_python_files),
        cmocka_unit_test(test_python_reads_verto),
        cmocka_unit_test(test_bad_header_length),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_bad_layout),
        cmocka_unit_test(test_bad_metadata),
        cmocka_unit_test(test_bad_files_on_disk),
        cmocka_unit_test(test_writer_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
