/* Entities and entity metrics against seqeval 1.2.2 (tests/ref/gen_ner.py):
 * for generated tag sequences of every scheme (IOB1, IOB2, IOE1, IOE2,
 * IOBES, BILOU) with corrupted predictions, tags of no scheme, all-O data and
 * a tag that strict mode refuses: the per-type precision / recall / F1 /
 * support, the micro / macro / weighted averages, precision_score /
 * recall_score / f1_score and accuracy_score in the default and the strict
 * mode must agree within 1e-12 (the same divisions; numpy's pairwise sums
 * may round the last bit of a mean differently), the entities exactly; the
 * CoNLL and JSONL files of one case, read by vt_tagged_load, must give the
 * same figures. Plus the confusion's sums, the printers, and small checks of
 * the scheme functions. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/ner.h"
#include "verto/ner_metrics.h"
#include "verto/tagged.h"
#include "vt_test.h"

#define TOL 1e-12

static const cJSON *item(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) fail_msg("reference: no \"%s\"", key);
    return v;
}

/* A JSON number, or NaN for null. */
static double number(const cJSON *v) { return cJSON_IsNull(v) ? NAN : v->valuedouble; }

static void expect_close(const char *what, double got, double want) {
    bool ok = isnan(want) ? isnan(got) : fabs(got - want) <= TOL;
    if (!ok) fail_msg("%s: got %.17g, seqeval %.17g", what, got, want);
}

static int32_t *int_array(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    assert_non_null(v);
    size_t i = 0;
    for (const cJSON *x = a->child; x; x = x->next) v[i++] = (int32_t)x->valueint;
    return v;
}

/* A seqeval classification_report row against ours. */
static void check_row(const char *ctx, const char *row, const cJSON *want, double p, double r, double f, int64_t s) {
    char what[256];
    snprintf(what, sizeof what, "%s %s precision", ctx, row);
    expect_close(what, p, number(item(want, "precision")));
    snprintf(what, sizeof what, "%s %s recall", ctx, row);
    expect_close(what, r, number(item(want, "recall")));
    snprintf(what, sizeof what, "%s %s f1", ctx, row);
    expect_close(what, f, number(item(want, "f1-score")));
    if (s != (int64_t)item(want, "support")->valuedouble)
        fail_msg("%s %s support: got %lld, seqeval %g", ctx, row, (long long)s, item(want, "support")->valuedouble);
}

static void check_confusion(const vt_ner_metrics *m) {
    int T = m->n_types;
    for (int t = 0; t < T; t++) {
        int64_t row = 0, col = 0;
        for (int u = 0; u <= T; u++) {
            row += m->confusion[(size_t)t * (size_t)(T + 1) + (size_t)u];
            col += m->confusion[(size_t)u * (size_t)(T + 1) + (size_t)t];
        }
        assert_int_equal(row, m->per_type[t].support);
        assert_int_equal(col, m->per_type[t].predicted);
        assert_int_equal(m->confusion[(size_t)t * (size_t)(T + 1) + (size_t)t], m->per_type[t].correct);
    }
    assert_int_equal(m->confusion[(size_t)T * (size_t)(T + 1) + (size_t)T], 0);
}

/* Our metrics against one mode's expectations ("default" or "strict"). */
static void check_metrics(const char *ctx, const vt_ner_metrics *m, const cJSON *want) {
    const cJSON *rep = item(want, "report");
    int rows = 0;
    for (const cJSON *r = rep->child; r; r = r->next) rows += !strstr(r->string, " avg");
    if (rows != m->n_types) fail_msg("%s: %d entity types, seqeval %d", ctx, m->n_types, rows);
    int t = 0;
    for (const cJSON *r = rep->child; r; r = r->next) { /* seqeval's rows come sorted, as ours */
        if (strstr(r->string, " avg")) continue;
        const vt_ner_type_metrics *pt = &m->per_type[t++];
        if (strcmp(pt->type, r->string)) fail_msg("%s: type %d is '%s', seqeval '%s'", ctx, t - 1, pt->type, r->string);
        check_row(ctx, r->string, r, pt->precision, pt->recall, pt->f1, pt->support);
    }
    check_row(ctx, "micro avg", item(rep, "micro avg"), m->micro_precision, m->micro_recall, m->micro_f1, m->support);
    check_row(ctx, "macro avg", item(rep, "macro avg"), m->macro_precision, m->macro_recall, m->macro_f1, m->support);
    check_row(ctx, "weighted avg", item(rep, "weighted avg"), m->weighted_precision, m->weighted_recall,
              m->weighted_f1, m->support);
    char what[256];
    snprintf(what, sizeof what, "%s precision_score", ctx);
    expect_close(what, m->micro_precision, number(item(want, "precision")));
    snprintf(what, sizeof what, "%s recall_score", ctx);
    expect_close(what, m->micro_recall, number(item(want, "recall")));
    snprintf(what, sizeof what, "%s f1_score", ctx);
    expect_close(what, m->micro_f1, number(item(want, "f1")));
    cJSON *acc = cJSON_GetObjectItemCaseSensitive(want, "accuracy");
    if (acc) {
        snprintf(what, sizeof what, "%s accuracy_score", ctx);
        expect_close(what, m->accuracy, acc->valuedouble);
    }
    check_confusion(m);
}

/* The gold entities, by vt_ner_entities, against get_entities / Entities. */
static void check_entities(const cJSON *c, const char *const *labels, const int32_t *gold, const size_t *start,
                           size_t n) {
    const char *name = item(c, "name")->valuestring;
    /* default mode: the sentences flattened with an "O" after each, as seqeval reads them */
    size_t total = start[n] + n, k = 0;
    const char **flat = malloc(total * sizeof *flat);
    assert_non_null(flat);
    for (size_t s = 0; s < n; s++) {
        for (size_t t = start[s]; t < start[s + 1]; t++) flat[k++] = labels[gold[t]];
        flat[k++] = "O";
    }
    vt_ner_entity *e;
    size_t ne;
    assert_int_equal(vt_ner_entities(flat, total, VT_NER_DEFAULT, VT_SCHEME_AUTO, &e, &ne), VT_OK);
    const cJSON *want = item(c, "entities");
    if ((int)ne != cJSON_GetArraySize(want)) fail_msg("%s: %zu entities, get_entities %d", name, ne, cJSON_GetArraySize(want));
    size_t i = 0;
    for (const cJSON *w = want->child; w; w = w->next, i++) {
        const char *type = cJSON_GetArrayItem(w, 0)->valuestring;
        if ((size_t)e[i].type_len != strlen(type) || memcmp(e[i].type, type, strlen(type)) ||
            e[i].start != cJSON_GetArrayItem(w, 1)->valueint || e[i].end != cJSON_GetArrayItem(w, 2)->valueint)
            fail_msg("%s: entity %zu is (%.*s, %d, %d), get_entities (%s, %d, %d)", name, i, e[i].type_len, e[i].type,
                     e[i].start, e[i].end, type, cJSON_GetArrayItem(w, 1)->valueint, cJSON_GetArrayItem(w, 2)->valueint);
    }
    free(e);
    free(flat);
    const cJSON *strict = cJSON_GetObjectItemCaseSensitive(c, "strict_entities");
    if (!strict) return;
    vt_tag_scheme scheme;
    assert_true(vt_tag_scheme_parse(item(c, "scheme")->valuestring, &scheme));
    const cJSON *w = strict->child;
    for (size_t s = 0; s < n; s++) {
        const char **tags = malloc((start[s + 1] - start[s] + 1) * sizeof *tags);
        assert_non_null(tags);
        for (size_t t = start[s]; t < start[s + 1]; t++) tags[t - start[s]] = labels[gold[t]];
        assert_int_equal(vt_ner_entities(tags, start[s + 1] - start[s], VT_NER_STRICT, scheme, &e, &ne), VT_OK);
        for (size_t j = 0; j < ne; j++, w = w->next) {
            if (!w || cJSON_GetArrayItem(w, 0)->valueint != (int)s) fail_msg("%s: sentence %zu has more strict entities", name, s);
            const char *type = cJSON_GetArrayItem(w, 1)->valuestring;
            if ((size_t)e[j].type_len != strlen(type) || memcmp(e[j].type, type, strlen(type)) ||
                e[j].start != cJSON_GetArrayItem(w, 2)->valueint || e[j].end != cJSON_GetArrayItem(w, 3)->valueint)
                fail_msg("%s: sentence %zu strict entity %zu differs", name, s, j);
        }
        free(e);
        free(tags);
    }
    if (w) fail_msg("%s: seqeval finds more strict entities", name);
}

static void test_seqeval_cases(void **state) {
    (void)state;
    cJSON *cases = ref_json("ner_seqeval.json");
    int n_cases = 0;
    for (const cJSON *c = cases->child; c; c = c->next, n_cases++) {
        const char *name = item(c, "name")->valuestring;
        const cJSON *lab = item(c, "labels");
        int K = cJSON_GetArraySize(lab);
        const char **labels = malloc((size_t)K * sizeof *labels);
        assert_non_null(labels);
        int k = 0;
        for (const cJSON *l = lab->child; l; l = l->next) labels[k++] = l->valuestring;
        size_t ng, np, ns;
        int32_t *gold = int_array(item(c, "gold"), &ng), *pred = int_array(item(c, "pred"), &np);
        int32_t *st = int_array(item(c, "start"), &ns);
        size_t *start = malloc(ns * sizeof *start);
        assert_non_null(start);
        for (size_t i = 0; i < ns; i++) start[i] = (size_t)st[i];
        size_t n = ns - 1;
        vt_ner_metrics m;
        char ctx[128];
        snprintf(ctx, sizeof ctx, "%s default", name);
        if (vt_ner_metrics_compute(labels, K, gold, pred, start, n, VT_NER_DEFAULT, VT_SCHEME_AUTO, &m) != VT_OK)
            fail_msg("%s: %s", ctx, vt_last_error());
        check_metrics(ctx, &m, item(c, "default"));
        printf("    %-14s %zu sentences, %lld gold entities: default P %.4f R %.4f F1 %.4f", name, n,
               (long long)m.support, m.micro_precision, m.micro_recall, m.micro_f1);
        vt_ner_metrics_free(&m);
        check_entities(c, labels, gold, start, n);
        const cJSON *scheme_name = cJSON_GetObjectItemCaseSensitive(c, "scheme");
        if (scheme_name) {
            vt_tag_scheme scheme;
            assert_true(vt_tag_scheme_parse(scheme_name->valuestring, &scheme));
            snprintf(ctx, sizeof ctx, "%s strict", name);
            vt_status s = vt_ner_metrics_compute(labels, K, gold, pred, start, n, VT_NER_STRICT, scheme, &m);
            if (cJSON_GetObjectItemCaseSensitive(c, "strict_error")) {
                assert_int_equal(s, VT_ERR_INVALID_ARG); /* seqeval raises ValueError */
                assert_non_null(strstr(vt_last_error(), "E-PER"));
                printf("; strict: refused (%s)", vt_last_error());
            } else {
                if (s != VT_OK) fail_msg("%s: %s", ctx, vt_last_error());
                check_metrics(ctx, &m, item(c, "strict"));
                printf("; strict F1 %.4f", m.micro_f1);
                vt_ner_metrics_free(&m);
            }
        }
        printf("\n");
        free(labels), free(gold), free(pred), free(st), free(start);
    }
    assert_true(n_cases >= 9);
    cJSON_Delete(cases);
}

/* The IOB2 case as files: gold CoNLL (detected IOB2, sorted labels), predictions JSONL following its map. */
static void test_files(void **state) {
    (void)state;
    char path[4096];
    vt_tagged gold, pred;
    if (vt_tagged_load(ref_file_path("ner_files_gold.conll", path, sizeof path), NULL, &gold) != VT_OK)
        fail_msg("%s", vt_last_error());
    assert_int_equal(gold.scheme, VT_SCHEME_IOB2);
    for (int i = 1; i < gold.num_labels; i++) assert_true(strcmp(gold.id2label[i - 1], gold.id2label[i]) < 0);
    vt_tagged_options o;
    vt_tagged_options_default(&o);
    o.id2label = (const char *const *)gold.id2label;
    o.num_labels = gold.num_labels;
    if (vt_tagged_load(ref_file_path("ner_files_pred.jsonl", path, sizeof path), &o, &pred) != VT_OK)
        fail_msg("%s", vt_last_error());
    assert_int_equal(gold.n, pred.n);
    for (size_t s = 0; s <= gold.n; s++) assert_int_equal(gold.start[s], pred.start[s]);
    cJSON *cases = ref_json("ner_seqeval.json");
    const cJSON *c = cases->child;
    while (c && strcmp(item(c, "name")->valuestring, "IOB2")) c = c->next;
    assert_non_null(c);
    vt_ner_metrics m;
    const char *const *labels = (const char *const *)gold.id2label;
    assert_int_equal(vt_ner_metrics_compute(labels, gold.num_labels, gold.tag, pred.tag, gold.start, gold.n,
                                            VT_NER_DEFAULT, VT_SCHEME_AUTO, &m), VT_OK);
    check_metrics("files default", &m, item(c, "default"));
    vt_ner_metrics_free(&m);
    assert_int_equal(vt_ner_metrics_compute(labels, gold.num_labels, gold.tag, pred.tag, gold.start, gold.n,
                                            VT_NER_STRICT, VT_SCHEME_AUTO, &m), VT_OK);
    assert_int_equal(m.scheme, VT_SCHEME_IOB2);
    check_metrics("files strict", &m, item(c, "strict"));
    printf("    files: %zu sentences, %zu tokens read back; strict F1 %.4f as seqeval\n", gold.n, gold.n_tokens,
           m.micro_f1);
    vt_ner_metrics_free(&m);
    cJSON_Delete(cases);
    vt_tagged_free(&gold);
    vt_tagged_free(&pred);
}

/* The printers: the JSON reads back with the same figures; the table names every type. */
static void test_print(void **state) {
    (void)state;
    static const char *const labels[] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
    static const int32_t gold[] = {1, 2, 0, 3, 0, 1, 0, 3, 4};
    static const int32_t pred[] = {1, 2, 0, 1, 0, 1, 2, 0, 0};
    static const size_t start[] = {0, 5, 9};
    vt_ner_metrics m;
    assert_int_equal(vt_ner_metrics_compute(labels, 5, gold, pred, start, 2, VT_NER_DEFAULT, 0, &m), VT_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vt_ner_metrics_print_json(&m, f);
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    if (!j) fail_msg("not JSON: %s", buf);
    assert_true(fabs(item(j, "f1")->valuedouble - m.micro_f1) == 0);
    assert_true(fabs(item(item(item(j, "per_type"), "PER"), "recall")->valuedouble - m.per_type[1].recall) == 0);
    assert_int_equal(cJSON_GetArraySize(item(j, "confusion")), m.n_types + 1);
    /* LOC's 2 gold entities: one predicted as PER on the same span, one missed */
    const cJSON *loc = cJSON_GetArrayItem(item(j, "confusion"), 0);
    assert_int_equal(cJSON_GetArrayItem(loc, 1)->valueint, 1);
    assert_int_equal(cJSON_GetArrayItem(loc, 2)->valueint, 1);
    cJSON_Delete(j);
    free(buf);
    f = open_memstream(&buf, &len);
    vt_ner_metrics_print(&m, f);
    fclose(f);
    assert_non_null(strstr(buf, "LOC"));
    assert_non_null(strstr(buf, "weighted avg"));
    assert_non_null(strstr(buf, "none"));
    printf("%s", buf);
    free(buf);
    vt_ner_metrics_free(&m);
}

static void test_schemes(void **state) {
    (void)state;
    static const char *const iob[] = {"O", "B-PER", "I-PER"}, *const bioes[] = {"O", "S-X", "B-X", "E-X"},
                             *const bilou[] = {"U-X", "O"}, *const mixed[] = {"E-X", "L-X"},
                             *const pos[] = {"NN", "VB", "-LRB-"}, *const ioe[] = {"I-X", "E-X"};
    vt_tag_scheme s;
    assert_int_equal(vt_tag_scheme_detect(iob, 3, NULL, NULL, 0, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOB2);
    static const int32_t starts_with_i[] = {0, 2, 2, 0}; /* "O I-PER I-PER O": the entity starts with I- */
    static const size_t st[] = {0, 4};
    assert_int_equal(vt_tag_scheme_detect(iob, 3, starts_with_i, st, 1, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOB1);
    static const int32_t well_formed[] = {0, 1, 2, 0};
    assert_int_equal(vt_tag_scheme_detect(iob, 3, well_formed, st, 1, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOB2);
    /* one stray I- start against two B- starts after O: noisy BIO, still IOB2 */
    static const int32_t noisy[] = {0, 2, 0, 1, 2, 0, 1};
    static const size_t st7[] = {0, 7};
    assert_int_equal(vt_tag_scheme_detect(iob, 3, noisy, st7, 1, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOB2);
    static const char *const ioe_o[] = {"O", "I-X", "E-X"};
    static const int32_t ioe1[] = {1, 0, 1, 2, 1}; /* entities ending with I-; E- only before the same type */
    static const size_t st5[] = {0, 5};
    assert_int_equal(vt_tag_scheme_detect(ioe_o, 3, ioe1, st5, 1, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOE1);
    static const int32_t ioe2[] = {1, 2, 0, 2, 0};
    assert_int_equal(vt_tag_scheme_detect(ioe_o, 3, ioe2, st5, 1, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOE2);
    assert_int_equal(vt_tag_scheme_detect(bioes, 4, NULL, NULL, 0, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOBES);
    assert_int_equal(vt_tag_scheme_detect(bilou, 2, NULL, NULL, 0, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_BILOU);
    assert_int_equal(vt_tag_scheme_detect(ioe, 2, NULL, NULL, 0, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_IOE2);
    assert_int_equal(vt_tag_scheme_detect(pos, 3, NULL, NULL, 0, &s), VT_OK);
    assert_int_equal(s, VT_SCHEME_NONE);
    assert_int_equal(vt_tag_scheme_detect(mixed, 2, NULL, NULL, 0, &s), VT_ERR_FORMAT);
    assert_true(vt_tag_valid(VT_SCHEME_IOB2, "B-PER") && vt_tag_valid(VT_SCHEME_IOB2, "O"));
    assert_false(vt_tag_valid(VT_SCHEME_IOB2, "E-PER") || vt_tag_valid(VT_SCHEME_IOB2, "X-PER") ||
                 vt_tag_valid(VT_SCHEME_IOB2, "B-") || vt_tag_valid(VT_SCHEME_IOB2, "B"));
    assert_true(vt_tag_valid(VT_SCHEME_NONE, "anything") && !vt_tag_valid(VT_SCHEME_NONE, ""));
    assert_true(vt_tag_scheme_parse("bio", &s) && s == VT_SCHEME_IOB2);
    assert_true(vt_tag_scheme_parse("BIOES", &s) && s == VT_SCHEME_IOBES);
    assert_false(vt_tag_scheme_parse("BMES", &s));
    /* bad input to the metrics */
    static const int32_t g[] = {0, 7}, p[] = {0, 0};
    static const size_t s2[] = {0, 2};
    vt_ner_metrics m;
    assert_int_equal(vt_ner_metrics_compute(iob, 3, g, p, s2, 1, VT_NER_DEFAULT, 0, &m), VT_ERR_INVALID_ARG);
    assert_null(m.per_type);
    static const size_t empty[] = {0, 0};
    assert_int_equal(vt_ner_metrics_compute(iob, 3, g, p, empty, 1, VT_NER_DEFAULT, 0, &m), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_ner_metrics_compute(pos, 3, p, p, s2, 1, VT_NER_STRICT, VT_SCHEME_AUTO, &m),
                     VT_ERR_INVALID_ARG); /* strict needs a scheme; "NN" follows none */
    vt_ner_entity *e;
    size_t ne;
    static const char *const bad[] = {"B-PER", ""};
    assert_int_equal(vt_ner_entities(bad, 2, VT_NER_DEFAULT, 0, &e, &ne), VT_ERR_INVALID_ARG);
    assert_int_equal(vt_ner_entities(iob, 3, VT_NER_STRICT, VT_SCHEME_AUTO, &e, &ne), VT_ERR_INVALID_ARG);
    static const char *const notprefix[] = {"PER"};
    assert_int_equal(vt_ner_entities(notprefix, 1, VT_NER_STRICT, VT_SCHEME_IOB2, &e, &ne), VT_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqeval_cases),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_schemes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
