/* The instruction-set choice and its cap (verto/platform.h): VERTO_MAX_ISA is
 * checked (names it knows, any case; anything else an error naming the
 * value), the ISA in use never exceeds the CPU's or the cap, and with the cap
 * at AVX2 bf16 products are emulated while still computing bf16 arithmetic.
 * The process sets VERTO_MAX_ISA=avx2 before its first kernel call, so on an
 * AVX-512 machine this also runs the AVX2 kernels. */
#include <stdlib.h>
#include <string.h>

#include "vt_test.h"
#include "verto/kernels.h"
#include "verto/platform.h"

static void expect_env(const char *value, vt_status want) {
    setenv("VERTO_MAX_ISA", value, 1);
    vt_clear_error();
    vt_status st = vt_isa_check_env();
    if (st != want) fail_msg("VERTO_MAX_ISA='%s': status %d, want %d (%s)", value, st, want, vt_last_error());
    if (want != VT_OK) assert_non_null(strstr(vt_last_error(), value));
}

static void test_env_values(void **state) {
    (void)state;
    expect_env("avx2", VT_OK);
    expect_env("AVX2", VT_OK);
    expect_env("Avx512", VT_OK);
    expect_env("", VT_OK);
    expect_env("sse4", VT_ERR_INVALID_ARG);
    expect_env("avx512_core", VT_ERR_INVALID_ARG);
    unsetenv("VERTO_MAX_ISA");
    assert_int_equal(vt_isa_check_env(), VT_OK);
    setenv("VERTO_MAX_ISA", "avx2", 1); /* as main set it; decided already anyway */
}

static void test_cap_holds(void **state) {
    (void)state;
    assert_true(vt_cpu_supported());
    assert_int_equal(vt_isa_in_use(), VT_ISA_AVX2); /* capped in main, before any kernel ran */
    assert_true(vt_isa_in_use() <= vt_isa_of_cpu());
    assert_string_equal(vt_isa_name(VT_ISA_AVX2), "avx2");
    assert_string_equal(vt_isa_name(VT_ISA_AVX512), "avx512");
    assert_false(vt_bf16_native()); /* oneDNN is capped with verto */
    assert_string_equal(vt_onednn_isa(), "avx2");
    assert_true(strlen(vt_onednn_version()) >= 5);
}

/* Emulated bf16 still rounds: 1 + 2^-9 is not a bf16, so (1 + 2^-9) * 1
 * comes out as 1, where an f32 product would keep the 2^-9. */
static void test_emulated_bf16_rounds(void **state) {
    (void)state;
    float a = 1.0f + 1.0f / 512, one = 1.0f, c = 0, f32 = 0;
    vt_bf16 a16, one16;
    vt_f32_to_bf16(&a, &a16, 1), vt_f32_to_bf16(&one, &one16, 1);
    assert_int_equal(vt_matmul_bf16(&a16, &one16, NULL, &c, 1, 1, 1, false, false, 0.0f), VT_OK);
    assert_int_equal(vt_matmul(&a, &one, NULL, &f32, 1, 1, 1, false, false, 0.0f), VT_OK);
    assert_true(c == 1.0f && f32 == a);
}

int main(void) {
    setenv("VERTO_MAX_ISA", "avx2", 1);
    (void)vt_isa_in_use(); /* decided here, for the whole process */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_values),
        cmocka_unit_test(test_cap_holds),
        cmocka_unit_test(test_emulated_bf16_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
