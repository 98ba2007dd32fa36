/* The RDP accountant against Opacus 1.6 (tests/ref/gen_privacy.py): one-step
 * RDP at single orders, ε and the best order over a grid of noise multipliers,
 * sample rates, steps and δ, histories built one step() at a time, and the
 * solved noise multiplier; then the JSON state (round trip, a file, malformed
 * states) and the argument checks.
 *
 * Tolerances: ε to 1e-6 relative (the bound). verto sums the same
 * series in the same order as Opacus, but its log Φ, erfc and binomial
 * coefficients come from glibc and its own code rather than scipy, so the last
 * bits may differ; each check prints the largest difference it saw. The best
 * order must be the same order. The noise multiplier: Opacus' bisection stops
 * once the solved S spends ε in [target - tolerance, target]; verto runs the
 * same bracket and midpoints, so the same S is expected (to 1e-12 relative),
 * and ε(S) must lie in that band. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/privacy.h"
#include "vt_test.h"

#define EPS_REL_TOL 1e-6
#define RDP_REL_TOL 1e-6
#define NOISE_REL_TOL 1e-12

static double num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNull(v)) return INFINITY; /* the generator writes ε = inf and a NaN order as null */
    if (!cJSON_IsNumber(v)) fail_msg("reference field %s missing", key);
    return v->valuedouble;
}

/* |got - want| / |want|, with equal infinities (or both NaN) 0 and a mismatch infinite. */
static double rel_err(double got, double want) {
    if (isinf(want) || isinf(got) || isnan(got) || isnan(want))
        return (got == want || (isnan(got) && isnan(want))) ? 0 : INFINITY;
    if (want == 0) return fabs(got);
    return fabs(got - want) / fabs(want);
}

static void test_default_orders(void **state) {
    (void)state;
    cJSON *ref = ref_json("privacy.json");
    const cJSON *orders = cJSON_GetObjectItemCaseSensitive(ref, "orders");
    assert_int_equal(cJSON_GetArraySize(orders), VT_PRIVACY_N_ORDERS);
    const double *mine = vt_privacy_default_orders();
    int i = 0;
    for (const cJSON *o = orders->child; o; o = o->next, i++)
        if (mine[i] != o->valuedouble) fail_msg("order %d: %.17g, Opacus %.17g", i, mine[i], o->valuedouble);
    cJSON_Delete(ref);
}

static void test_rdp_single_orders(void **state) {
    (void)state;
    cJSON *ref = ref_json("privacy.json");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(ref, "rdp");
    double worst = 0;
    int n = 0;
    for (const cJSON *r = rows->child; r; r = r->next, n++) {
        double got;
        assert_int_equal(vt_privacy_rdp(num(r, "rate"), num(r, "noise"), num(r, "order"), &got), VT_OK);
        double e = rel_err(got, num(r, "rdp"));
        if (e > RDP_REL_TOL)
            fail_msg("rdp(q=%g, noise=%g, order=%g) = %.17g, Opacus %.17g", num(r, "rate"), num(r, "noise"),
                     num(r, "order"), got, num(r, "rdp"));
        worst = fmax(worst, e);
    }
    printf("  one-step RDP at %d (rate, noise, order): largest relative difference from Opacus %.3g\n", n, worst);
    cJSON_Delete(ref);
}

static void check_spent(const vt_privacy_accountant *acc, const cJSON *r, const char *what, double *worst) {
    vt_privacy_spent s;
    assert_int_equal(vt_privacy_accountant_spent(acc, num(r, "delta"), &s), VT_OK);
    double e = rel_err(s.epsilon, num(r, "epsilon"));
    if (e > EPS_REL_TOL) fail_msg("%s: epsilon %.17g, Opacus %.17g", what, s.epsilon, num(r, "epsilon"));
    if (s.best_order != num(r, "best_order"))
        fail_msg("%s: best order %.17g, Opacus %.17g", what, s.best_order, num(r, "best_order"));
    const double *orders = vt_privacy_default_orders();
    assert_int_equal(s.order_at_edge, s.best_order == orders[0] || s.best_order == orders[VT_PRIVACY_N_ORDERS - 1]);
    *worst = fmax(*worst, e);
}

static void test_epsilon_grid(void **state) {
    (void)state;
    cJSON *ref = ref_json("privacy.json");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(ref, "epsilon");
    double worst = 0;
    int n = 0, infinite = 0, at_edge = 0;
    for (const cJSON *r = rows->child; r; r = r->next, n++) {
        char what[160];
        snprintf(what, sizeof what, "noise %g, rate %g, %g steps, delta %g", num(r, "noise"), num(r, "rate"),
                 num(r, "steps"), num(r, "delta"));
        vt_privacy_accountant *acc = vt_privacy_accountant_new();
        assert_non_null(acc);
        assert_int_equal(vt_privacy_accountant_step(acc, num(r, "noise"), num(r, "rate"), (int64_t)num(r, "steps")),
                         VT_OK);
        check_spent(acc, r, what, &worst);
        infinite += isinf(num(r, "epsilon"));
        at_edge += num(r, "best_order") == 63.0;
        vt_privacy_accountant_free(acc);
    }
    assert_true(n > 800);
    assert_true(infinite > 0 && at_edge > 0); /* the grid reaches noise 0 and the largest order */
    printf("  epsilon over %d cases (%d infinite, %d at order 63): largest relative difference from Opacus %.3g\n", n,
           infinite, at_edge, worst);
    cJSON_Delete(ref);
}

static void test_histories(void **state) {
    (void)state;
    cJSON *ref = ref_json("privacy.json");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(ref, "histories");
    double worst = 0;
    int h = 0;
    for (const cJSON *r = rows->child; r; r = r->next, h++) {
        vt_privacy_accountant *acc = vt_privacy_accountant_new();
        assert_non_null(acc);
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(r, "steps");
        for (const cJSON *c = calls->child; c; c = c->next)
            assert_int_equal(vt_privacy_accountant_step(acc, cJSON_GetArrayItem(c, 0)->valuedouble,
                                                        cJSON_GetArrayItem(c, 1)->valuedouble, 1), VT_OK);
        const cJSON *merged = cJSON_GetObjectItemCaseSensitive(r, "history");
        assert_int_equal(vt_privacy_accountant_entries(acc), (size_t)cJSON_GetArraySize(merged));
        size_t i = 0;
        for (const cJSON *m = merged->child; m; m = m->next, i++) {
            vt_privacy_entry e;
            assert_int_equal(vt_privacy_accountant_entry(acc, i, &e), VT_OK);
            assert_true(e.noise_multiplier == cJSON_GetArrayItem(m, 0)->valuedouble);
            assert_true(e.sample_rate == cJSON_GetArrayItem(m, 1)->valuedouble);
            assert_int_equal(e.steps, (int64_t)cJSON_GetArrayItem(m, 2)->valuedouble);
        }
        assert_int_equal(vt_privacy_accountant_total_steps(acc), cJSON_GetArraySize(calls));
        char what[32];
        snprintf(what, sizeof what, "history %d", h);
        check_spent(acc, r, what, &worst);
        vt_privacy_accountant_free(acc);
    }
    printf("  %d histories of single steps: largest relative difference from Opacus %.3g\n", h, worst);
    cJSON_Delete(ref);
}

static void test_noise_multiplier(void **state) {
    (void)state;
    cJSON *ref = ref_json("privacy.json");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(ref, "noise");
    double worst = 0;
    int n = 0, refused = 0;
    for (const cJSON *r = rows->child; r; r = r->next, n++) {
        double target = num(r, "epsilon"), delta = num(r, "delta"), rate = num(r, "rate"), tol = num(r, "tolerance");
        int64_t steps = (int64_t)num(r, "steps");
        double want = num(r, "noise_multiplier"), got = NAN;
        vt_status st = vt_privacy_noise_multiplier(target, delta, rate, steps, tol, &got);
        if (isinf(want)) { /* Opacus raised: the budget is too low */
            assert_int_equal(st, VT_ERR_INVALID_ARG);
            assert_non_null(strstr(vt_last_error(), "too low"));
            refused++;
            continue;
        }
        assert_int_equal(st, VT_OK);
        double e = rel_err(got, want);
        if (e > NOISE_REL_TOL)
            fail_msg("noise for epsilon %g, delta %g, rate %g, %lld steps: %.17g, Opacus %.17g", target, delta, rate,
                     (long long)steps, got, want);
        worst = fmax(worst, e);
        vt_privacy_accountant *acc = vt_privacy_accountant_new();
        assert_int_equal(vt_privacy_accountant_step(acc, got, rate, steps), VT_OK);
        vt_privacy_spent s;
        assert_int_equal(vt_privacy_accountant_spent(acc, delta, &s), VT_OK);
        assert_true(s.epsilon <= target && s.epsilon >= target - tol);
        vt_privacy_accountant_free(acc);
    }
    assert_true(refused > 0);
    printf("  %d solved noise multipliers (%d refused as Opacus refuses): largest relative difference %.3g\n", n,
           refused, worst);
    cJSON_Delete(ref);
}

static void test_state_round_trip(void **state) {
    (void)state;
    vt_privacy_accountant *acc = vt_privacy_accountant_new();
    assert_non_null(acc);
    /* values whose decimal forms are long: the state must give back the same bits */
    assert_int_equal(vt_privacy_accountant_step(acc, 1.0 / 3.0, 0.1 + 0.2, 7), VT_OK);
    assert_int_equal(vt_privacy_accountant_step(acc, 1.0 / 3.0, 0.1 + 0.2, 5), VT_OK); /* merges */
    assert_int_equal(vt_privacy_accountant_step(acc, 2.0, 0.3, 100), VT_OK);
    assert_int_equal(vt_privacy_accountant_entries(acc), 2);
    vt_privacy_spent before, after;
    assert_int_equal(vt_privacy_accountant_spent(acc, 1e-5, &before), VT_OK);

    char *json = vt_privacy_accountant_to_json(acc);
    assert_non_null(json);
    vt_privacy_accountant *back = vt_privacy_accountant_from_json(json, strlen(json), "state.json");
    assert_non_null(back);
    assert_int_equal(vt_privacy_accountant_entries(back), 2);
    vt_privacy_entry e;
    assert_int_equal(vt_privacy_accountant_entry(back, 0, &e), VT_OK);
    assert_true(e.noise_multiplier == 1.0 / 3.0 && e.sample_rate == 0.1 + 0.2 && e.steps == 12);
    assert_int_equal(vt_privacy_accountant_spent(back, 1e-5, &after), VT_OK);
    assert_true(after.epsilon == before.epsilon && after.best_order == before.best_order);
    /* a resumed run keeps counting: the next step with the same settings extends the last entry */
    assert_int_equal(vt_privacy_accountant_step(back, 2.0, 0.3, 1), VT_OK);
    assert_int_equal(vt_privacy_accountant_entries(back), 2);
    assert_int_equal(vt_privacy_accountant_total_steps(back), 113);

    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/privacy_state.json", dir);
    assert_int_equal(vt_privacy_accountant_save(acc, path), VT_OK);
    vt_privacy_accountant *loaded = vt_privacy_accountant_load(path);
    assert_non_null(loaded);
    assert_int_equal(vt_privacy_accountant_spent(loaded, 1e-5, &after), VT_OK);
    assert_true(after.epsilon == before.epsilon);
    remove(path);
    assert_null(vt_privacy_accountant_load(path));
    assert_non_null(strstr(vt_last_error(), "privacy_state.json"));
    test_remove_dir(dir);

    /* an empty accountant has spent nothing, and writes an empty history */
    vt_privacy_accountant *empty = vt_privacy_accountant_new();
    assert_int_equal(vt_privacy_accountant_spent(empty, 1e-5, &after), VT_OK);
    assert_true(after.epsilon == 0 && after.best_order == 0);
    char *ej = vt_privacy_accountant_to_json(empty);
    vt_privacy_accountant *eb = vt_privacy_accountant_from_json(ej, strlen(ej), "empty.json");
    assert_non_null(eb);
    assert_int_equal(vt_privacy_accountant_entries(eb), 0);

    free(json);
    free(ej);
    vt_privacy_accountant_free(acc);
    vt_privacy_accountant_free(back);
    vt_privacy_accountant_free(loaded);
    vt_privacy_accountant_free(empty);
    vt_privacy_accountant_free(eb);
}

static void test_malformed_states(void **state) {
    (void)state;
    const struct {
        const char *text, *message; /* what the error must mention besides the name */
    } cases[] = {
        {"", "not JSON"},
        {"{\"accountant\": \"rdp\", \"history\": [", "not JSON"},
        {"[]", "must be a JSON object"},
        {"{\"accountant\": \"prv\", \"history\": []}", "accountant"},
        {"{\"history\": []}", "missing key \"accountant\""},
        {"{\"accountant\": \"rdp\", \"history\": [], \"extra\": 1}", "unknown key \"extra\""},
        {"{\"accountant\": \"rdp\", \"accountant\": \"rdp\", \"history\": []}", "appears twice"},
        {"{\"accountant\": \"rdp\", \"history\": {}}", "history must be an array"},
        {"{\"accountant\": \"rdp\", \"history\": [3]}", "history[0] must be an object"},
        {"{\"accountant\": \"rdp\", \"history\": [{\"noise_multiplier\": 1, \"sample_rate\": 0.1}]}",
         "history[0]: missing key \"steps\""},
        {"{\"accountant\": \"rdp\", \"history\": [{\"noise_multiplier\": 1, \"sample_rate\": 0.1, \"steps\": 1}, "
         "{\"noise_multiplier\": -1, \"sample_rate\": 0.1, \"steps\": 1}]}", "history[1].noise_multiplier"},
        {"{\"accountant\": \"rdp\", \"history\": [{\"noise_multiplier\": 1, \"sample_rate\": 1.5, \"steps\": 1}]}",
         "history[0].sample_rate"},
        {"{\"accountant\": \"rdp\", \"history\": [{\"noise_multiplier\": 1, \"sample_rate\": 0.1, \"steps\": 2.5}]}",
         "history[0].steps"},
        {"{\"accountant\": \"rdp\", \"history\": [{\"noise_multiplier\": 1, \"sample_rate\": 0.1, \"steps\": 0}]}",
         "history[0].steps"},
        {"{\"accountant\": \"rdp\", \"history\": [{\"noise_multiplier\": \"1\", \"sample_rate\": 0.1, \"steps\": 1}]}",
         "history[0].noise_multiplier must be a number"},
        {"{\"accountant\": \"rdp\", \"history\": [{\"noise_multiplier\": 1, \"sample_rate\": 0.1, \"steps\": "
         "9007199254740992}, {\"noise_multiplier\": 2, \"sample_rate\": 0.1, \"steps\": 1}]}", "more than 2^53"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vt_privacy_accountant *acc = vt_privacy_accountant_from_json(cases[i].text, strlen(cases[i].text), "bad.json");
        if (acc) fail_msg("accepted %s", cases[i].text);
        assert_int_equal(vt_last_status(), VT_ERR_FORMAT);
        if (!strstr(vt_last_error(), "bad.json") || !strstr(vt_last_error(), cases[i].message))
            fail_msg("error for %s: \"%s\" should name the file and say \"%s\"", cases[i].text, vt_last_error(),
                     cases[i].message);
    }
}

static void test_arguments(void **state) {
    (void)state;
    double r, s;
    assert_int_equal(vt_privacy_rdp(-0.1, 1, 2, &r), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_rdp(0.1, NAN, 2, &r), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_rdp(0.1, 1, 1.0, &r), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_rdp(0.1, 1, INFINITY, &r), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_rdp(0.1, 1e-200, 2.5, &r), VT_ERR_INVALID_ARG); /* its square is 0 */
    assert_int_equal(vt_privacy_rdp(0.5, 1e200, 2.5, &r), VT_ERR_INVALID_ARG);  /* its square is infinite */
    assert_int_equal(vt_privacy_rdp(0.1, 0, 2, &r), VT_OK);
    assert_true(isinf(r));
    vt_privacy_accountant *acc = vt_privacy_accountant_new();
    assert_int_equal(vt_privacy_accountant_step(acc, 1, 1.01, 1), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_accountant_step(acc, INFINITY, 0.1, 1), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_accountant_step(acc, 1, 0.1, 0), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_accountant_entries(acc), 0);
    assert_int_equal(vt_privacy_accountant_step(acc, 1, 0.1, 10), VT_OK);
    vt_privacy_spent sp;
    assert_int_equal(vt_privacy_accountant_spent(acc, 0, &sp), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_accountant_spent(acc, 1, &sp), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_accountant_entry(acc, 1, &(vt_privacy_entry){0}), VT_ERR_INVALID_ARG);
    vt_privacy_accountant_free(acc);
    assert_int_equal(vt_privacy_noise_multiplier(0, 1e-5, 0.01, 100, 0.01, &s), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_noise_multiplier(1, 1e-5, 0, 100, 0.01, &s), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_noise_multiplier(1, 1e-5, 0.01, 0, 0.01, &s), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_noise_multiplier(1, 1e-5, 0.01, 100, 0, &s), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_privacy_noise_multiplier(1, 2, 0.01, 100, 0.01, &s), VT_ERR_INVALID_ARG);
    /* ε from RDP: NaN entries are skipped, all NaN is infinite with a NaN order */
    const double orders[] = {2, 3, 4}, rdp[] = {NAN, 0.5, NAN}, all_nan[] = {NAN, NAN, NAN};
    assert_int_equal(vt_privacy_epsilon_from_rdp(orders, rdp, 3, 1e-5, &sp), VT_OK);
    assert_true(sp.best_order == 3 && !sp.order_at_edge);
    assert_int_equal(vt_privacy_epsilon_from_rdp(orders, all_nan, 3, 1e-5, &sp), VT_OK);
    assert_true(isinf(sp.epsilon) && isnan(sp.best_order));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_orders),   cmocka_unit_test(test_rdp_single_orders),
        cmocka_unit_test(test_epsilon_grid),     cmocka_unit_test(test_histories),
        cmocka_unit_test(test_noise_multiplier), cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_malformed_states), cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
