/* BERT configs and model directories: defaults, presets, config.json parsing
 * and writing, save/load round trips, the real-world name variants, and every
 * kind of bad file, each of which must fail with a message naming the file
 * and the tensor or key at fault. Needs no Python: the directories are
 * written here (vt_bert_new + vt_bert_save, then corrupted). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vt_test.h"
#include "verto/bert.h"
#include "verto/error.h"
#include "verto/fileio.h"
#include "verto/safetensors.h"
#include "verto/tokenizer.h"

/* ---- helpers ---- */

static void expect_error_msg(vt_status st, const char *what, const char *a, const char *b) {
    const char *msg = vt_last_error();
    printf("    %-28s -> %s\n", what, msg);
    if (st == VT_OK) fail_msg("%s: expected an error", what);
    if (a && !strstr(msg, a)) fail_msg("%s: message \"%s\" does not name \"%s\"", what, msg, a);
    if (b && !strstr(msg, b)) fail_msg("%s: message \"%s\" does not name \"%s\"", what, msg, b);
}

static vt_status parse(const char *json, vt_bert_config *c) {
    return vt_bert_config_parse(json, strlen(json), "cfg.json", c);
}

static void write_text(const char *path, const char *text) {
    if (vt_write_file_atomic(path, text, strlen(text)) != VT_OK) fail_msg("%s", vt_last_error());
}

static void small_config(vt_bert_config *c, vt_bert_arch arch) {
    vt_bert_config_default(c, arch);
    c->vocab_size = 40;
    c->hidden_size = 16;
    c->num_hidden_layers = 2;
    c->num_attention_heads = 2;
    c->intermediate_size = 24;
    c->max_position_embeddings = 16;
}

/* A fresh directory holding a saved small model; *dir_out is owned by the caller. */
static char *saved_model(vt_bert_arch arch, uint64_t seed) {
    char *dir = test_tmpdir();
    vt_bert_config c;
    small_config(&c, arch);
    vt_bert *b = vt_bert_new(&c, seed);
    assert_non_null(b);
    if (vt_bert_save(b, dir) != VT_OK) fail_msg("vt_bert_save: %s", vt_last_error());
    vt_bert_free(b);
    return dir;
}

static void path_in(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
}

static void remove_dir(char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("    (could not remove %s)\n", dir);
    free(dir);
}

/* An editable copy of a safetensors file. */
typedef struct tens {
    char name[160];
    vt_st_dtype dtype;
    int ndim;
    int64_t shape[VT_ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} tens;
typedef struct tset {
    tens t[256];
    size_t n;
} tset;

static tset *tset_read(const char *path) {
    vt_st_file *f = vt_st_open(path);
    if (!f) fail_msg("%s", vt_last_error());
    tset *s = calloc(1, sizeof *s);
    assert_true(vt_st_count(f) <= 256);
    for (size_t i = 0; i < vt_st_count(f); i++) {
        const vt_st_tensor *t = vt_st_at(f, i);
        tens *d = &s->t[s->n++];
        snprintf(d->name, sizeof d->name, "%s", t->name);
        d->dtype = t->dtype;
        d->ndim = t->ndim;
        memcpy(d->shape, t->shape, sizeof d->shape);
        d->nbytes = t->nbytes;
        d->data = malloc(t->nbytes + 1);
        memcpy(d->data, t->data, t->nbytes);
    }
    vt_st_close(f);
    return s;
}

static tens *tset_find(tset *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name)) return &s->t[i];
    fail_msg("tensor %s not in the test file", name);
    return NULL;
}

static void tset_drop(tset *s, const char *name) {
    tens *t = tset_find(s, name);
    free(t->data);
    *t = s->t[--s->n];
}

static tens *tset_add_copy(tset *s, const char *from, const char *name) {
    tens *src = tset_find(s, from), *d = &s->t[s->n++];
    *d = *src;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->data = malloc(src->nbytes + 1);
    memcpy(d->data, src->data, src->nbytes);
    return d;
}

static void tset_write_free(const char *path, tset *s) {
    vt_st_entry e[256];
    for (size_t i = 0; i < s->n; i++)
        e[i] = (vt_st_entry){.name = s->t[i].name, .dtype = s->t[i].dtype, .ndim = s->t[i].ndim,
                             .shape = s->t[i].shape, .data = s->t[i].data};
    const char *meta[] = {"format", "pt"};
    if (vt_st_write(path, e, s->n, meta, 1) != VT_OK) fail_msg("%s", vt_last_error());
    for (size_t i = 0; i < s->n; i++) free(s->t[i].data);
    free(s);
}

static void assert_same_params(vt_bert *a, vt_bert *b, const char *what) {
    int64_t na, nb;
    const float *pa = vt_bert_params(a, &na), *pb = vt_bert_params(b, &nb);
    assert_int_equal(na, nb);
    if (memcmp(pa, pb, (size_t)na * sizeof(float))) fail_msg("%s: parameters differ", what);
}

/* ---- configs ---- */

static void test_defaults(void **state) {
    vt_bert_config c;
    vt_bert_config_default(&c, VT_BERT_FOR_PRETRAINING);
    assert_int_equal(c.vocab_size, 30522);
    assert_int_equal(c.hidden_size, 768);
    assert_int_equal(c.num_hidden_layers, 12);
    assert_int_equal(c.num_attention_heads, 12);
    assert_int_equal(c.intermediate_size, 3072);
    assert_int_equal(c.max_position_embeddings, 512);
    assert_int_equal(c.type_vocab_size, 2);
    assert_int_equal(c.pad_token_id, 0);
    assert_int_equal(c.hidden_act, VT_ACT_GELU);
    assert_true(c.hidden_dropout_prob == 0.1f && c.attention_probs_dropout_prob == 0.1f);
    assert_true(c.initializer_range == 0.02f && c.layer_norm_eps == 1e-12f);
    assert_true(c.classifier_dropout < 0);
    assert_int_equal(c.arch, VT_BERT_FOR_PRETRAINING);
    assert_int_equal(c.num_labels, 2);
    assert_string_equal(c.id2label[0], "LABEL_0");
    assert_string_equal(c.id2label[1], "LABEL_1");
    assert_int_equal(vt_bert_config_check(&c, "defaults"), VT_OK);
}

static void test_presets(void **state) {
    static const struct {
        const char *name;
        int64_t l, h, a;
    } want[] = {{"tiny", 2, 128, 2}, {"mini", 4, 256, 4}, {"small", 4, 512, 8}, {"medium", 8, 512, 8}, {"base", 12, 768, 12}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        vt_bert_config c;
        assert_int_equal(vt_bert_config_preset(&c, want[i].name, 1000), VT_OK);
        assert_int_equal(c.num_hidden_layers, want[i].l);
        assert_int_equal(c.hidden_size, want[i].h);
        assert_int_equal(c.num_attention_heads, want[i].a);
        assert_int_equal(c.intermediate_size, 4 * want[i].h);
        assert_int_equal(c.max_position_embeddings, 512);
        assert_int_equal(c.type_vocab_size, 2);
        assert_int_equal(c.vocab_size, 1000);
        assert_int_equal(vt_bert_config_check(&c, want[i].name), VT_OK);
    }
    vt_bert_config c;
    expect_error_msg(vt_bert_config_preset(&c, "huge", 1000), "unknown preset", "huge", NULL);
    expect_error_msg(vt_bert_config_preset(&c, "tiny", 0), "preset vocab 0", "vocab_size", NULL);
}

static void test_arch_names(void **state) {
    for (int a = VT_BERT_MODEL; a <= VT_BERT_FOR_QUESTION_ANSWERING; a++) {
        vt_bert_arch back;
        assert_true(vt_bert_arch_parse(vt_bert_arch_name((vt_bert_arch)a), &back));
        assert_int_equal(back, a);
    }
    assert_string_equal(vt_bert_arch_name(VT_BERT_FOR_PRETRAINING), "BertForPreTraining");
    assert_string_equal(vt_bert_arch_name(VT_BERT_FOR_QUESTION_ANSWERING), "BertForQuestionAnswering");
    assert_false(vt_bert_arch_parse("BertForNextSentencePrediction", NULL));
    assert_false(vt_bert_arch_parse(NULL, NULL));
}

static void test_parse_minimal(void **state) {
    vt_bert_config c, d;
    assert_int_equal(parse("{}", &c), VT_OK);
    vt_bert_config_default(&d, VT_BERT_MODEL);
    assert_int_equal(c.arch, VT_BERT_MODEL);
    assert_int_equal(c.hidden_size, d.hidden_size);
    assert_int_equal(c.num_labels, 2);
    assert_string_equal(c.id2label[1], "LABEL_1");
}

static const char *REALISTIC =
    "{\n  \"_name_or_path\": \"x\",\n  \"add_cross_attention\": false,\n  \"architectures\": [\"BertForSequenceClassification\"],\n"
    "  \"attention_probs_dropout_prob\": 0.05,\n  \"bos_token_id\": null,\n  \"classifier_dropout\": 0.3,\n"
    "  \"dtype\": \"float32\",\n  \"gradient_checkpointing\": false,\n  \"hidden_act\": \"gelu_new\",\n"
    "  \"hidden_dropout_prob\": 0.2,\n  \"hidden_size\": 96,\n"
    "  \"id2label\": {\"0\": \"neg\", \"1\": \"neu\", \"2\": \"pos\"},\n  \"initializer_range\": 0.03,\n"
    "  \"intermediate_size\": 200,\n  \"is_decoder\": false,\n  \"label2id\": {\"neg\": 0, \"neu\": 1, \"pos\": 2},\n"
    "  \"layer_norm_eps\": 1e-07,\n  \"max_position_embeddings\": 64,\n  \"model_type\": \"bert\",\n"
    "  \"num_attention_heads\": 3,\n  \"num_hidden_layers\": 3,\n  \"pad_token_id\": 1,\n"
    "  \"position_embedding_type\": \"absolute\",\n  \"problem_type\": \"single_label_classification\",\n"
    "  \"tie_word_embeddings\": true,\n  \"torch_dtype\": \"float16\",\n  \"transformers_version\": \"4.40.0\",\n"
    "  \"type_vocab_size\": 1,\n  \"use_cache\": true,\n  \"vocab_size\": 512\n}\n";

static void test_parse_realistic(void **state) {
    vt_bert_config c;
    if (parse(REALISTIC, &c) != VT_OK) fail_msg("%s", vt_last_error());
    assert_int_equal(c.arch, VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    assert_int_equal(c.vocab_size, 512);
    assert_int_equal(c.hidden_size, 96);
    assert_int_equal(c.num_hidden_layers, 3);
    assert_int_equal(c.num_attention_heads, 3);
    assert_int_equal(c.intermediate_size, 200);
    assert_int_equal(c.max_position_embeddings, 64);
    assert_int_equal(c.type_vocab_size, 1);
    assert_int_equal(c.pad_token_id, 1);
    assert_int_equal(c.hidden_act, VT_ACT_GELU_TANH);
    assert_true(c.hidden_dropout_prob == 0.2f && c.attention_probs_dropout_prob == 0.05f);
    assert_true(c.classifier_dropout == 0.3f && c.initializer_range == 0.03f && c.layer_norm_eps == 1e-7f);
    assert_int_equal(c.num_labels, 3);
    assert_string_equal(c.id2label[0], "neg");
    assert_string_equal(c.id2label[2], "pos");
}

static void test_parse_labels(void **state) {
    vt_bert_config c;
    assert_int_equal(parse("{\"num_labels\": 5}", &c), VT_OK);
    assert_int_equal(c.num_labels, 5);
    assert_string_equal(c.id2label[4], "LABEL_4");
    assert_int_equal(parse("{\"label2id\": {\"b\": 1, \"a\": 0}}", &c), VT_OK);
    assert_int_equal(c.num_labels, 2);
    assert_string_equal(c.id2label[0], "a");
    assert_string_equal(c.id2label[1], "b");
    /* id2label wins over num_labels, as in transformers */
    assert_int_equal(parse("{\"num_labels\": 7, \"id2label\": {\"1\": \"y\", \"0\": \"x\"}, \"label2id\": null}", &c),
                     VT_OK);
    assert_int_equal(c.num_labels, 2);
    assert_string_equal(c.id2label[1], "y");
    /* one label: regression */
    assert_int_equal(parse("{\"architectures\": [\"BertForSequenceClassification\"], \"num_labels\": 1, "
                           "\"problem_type\": \"regression\"}",
                           &c),
                     VT_OK);
    assert_int_equal(c.num_labels, 1);
}

/* problem_type as transformers writes it: read, kept and written back, null
 * while unset; the checks that go with each. */
static void test_problem_type_roundtrip(void **state) {
    static const struct {
        const char *json;
        vt_bert_problem want;
    } cases[] = {
        {"{\"architectures\": [\"BertForSequenceClassification\"], \"num_labels\": 1, \"problem_type\": \"regression\"}",
         VT_PROBLEM_REGRESSION},
        {"{\"architectures\": [\"BertForSequenceClassification\"], \"num_labels\": 3, \"problem_type\": \"regression\"}",
         VT_PROBLEM_REGRESSION},
        {"{\"architectures\": [\"BertForSequenceClassification\"], \"problem_type\": \"single_label_classification\"}",
         VT_PROBLEM_SINGLE_LABEL},
        {"{\"architectures\": [\"BertForSequenceClassification\"], \"num_labels\": 4, "
         "\"problem_type\": \"multi_label_classification\"}",
         VT_PROBLEM_MULTI_LABEL},
        {"{\"architectures\": [\"BertForSequenceClassification\"], \"num_labels\": 1, "
         "\"problem_type\": \"multi_label_classification\"}",
         VT_PROBLEM_MULTI_LABEL},
        {"{\"architectures\": [\"BertForSequenceClassification\"], \"problem_type\": null}", VT_PROBLEM_UNSET},
        {"{\"architectures\": [\"BertForTokenClassification\"], \"problem_type\": \"single_label_classification\"}",
         VT_PROBLEM_SINGLE_LABEL},
        {"{\"architectures\": [\"BertForQuestionAnswering\"]}", VT_PROBLEM_UNSET},
    };
    char *dir = test_tmpdir(), path[4200];
    path_in(path, sizeof path, dir, "config.json");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vt_bert_config c, d;
        if (parse(cases[i].json, &c) != VT_OK) fail_msg("%s: %s", cases[i].json, vt_last_error());
        assert_int_equal(c.problem_type, cases[i].want);
        assert_int_equal(vt_bert_config_write(path, &c), VT_OK);
        if (vt_bert_config_read(path, &d) != VT_OK) fail_msg("%s", vt_last_error());
        assert_int_equal(d.problem_type, cases[i].want);
        assert_int_equal(d.arch, c.arch);
        char *text, want[96];
        size_t len;
        assert_int_equal(vt_read_file(path, 1 << 20, &text, &len), VT_OK);
        const char *name = vt_bert_problem_name(cases[i].want);
        if (name) snprintf(want, sizeof want, "\"problem_type\": \"%s\",", name);
        else snprintf(want, sizeof want, "\"problem_type\": null,");
        if (!strstr(text, want)) fail_msg("%s: written config lacks %s:\n%s", cases[i].json, want, text);
        free(text);
    }
    vt_bert_problem p;
    assert_true(vt_bert_problem_parse("multi_label_classification", &p) && p == VT_PROBLEM_MULTI_LABEL);
    assert_false(vt_bert_problem_parse("ranking", &p));
    assert_false(vt_bert_problem_parse(NULL, &p));
    assert_null(vt_bert_problem_name(VT_PROBLEM_UNSET));
    remove_dir(dir);
}

static void test_parse_activations(void **state) {
    static const struct {
        const char *name;
        vt_activation act;
    } ok[] = {{"gelu", VT_ACT_GELU}, {"gelu_python", VT_ACT_GELU}, {"gelu_new", VT_ACT_GELU_TANH},
              {"gelu_pytorch_tanh", VT_ACT_GELU_TANH}, {"gelu_fast", VT_ACT_GELU_TANH},
              {"gelu_accurate", VT_ACT_GELU_TANH}};
    char json[128];
    vt_bert_config c;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        snprintf(json, sizeof json, "{\"hidden_act\": \"%s\"}", ok[i].name);
        assert_int_equal(parse(json, &c), VT_OK);
        assert_int_equal(c.hidden_act, ok[i].act);
    }
    static const char *const bad[] = {"relu", "quick_gelu", "gelu_10", "silu", "GELU"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(json, sizeof json, "{\"hidden_act\": \"%s\"}", bad[i]);
        vt_status st = parse(json, &c);
        expect_error_msg(st, "hidden_act", "cfg.json", bad[i]);
        assert_int_equal(st, VT_ERR_UNSUPPORTED);
    }
}

static void test_parse_bad(void **state) {
    static const struct {
        const char *json, *key;
    } bad[] = {
        {"{\"hidden_size\": 768", "JSON"},
        {"not json", "JSON"},
        {"{} {}", "JSON"},
        {"[1, 2]", "object"},
        {"{\"hidden_size\": 100, \"num_attention_heads\": 3}", "hidden_size"},
        {"{\"hidden_size\": -4}", "hidden_size"},
        {"{\"vocab_size\": 0}", "vocab_size"},
        {"{\"num_hidden_layers\": -1}", "num_hidden_layers"},
        {"{\"intermediate_size\": 1e30}", "intermediate_size"},
        {"{\"hidden_size\": \"768\"}", "hidden_size"},
        {"{\"hidden_size\": 767.5}", "hidden_size"},
        {"{\"hidden_size\": null}", "hidden_size"},
        {"{\"num_attention_heads\": true}", "num_attention_heads"},
        {"{\"hidden_dropout_prob\": 1.5}", "hidden_dropout_prob"},
        {"{\"attention_probs_dropout_prob\": -0.1}", "attention_probs_dropout_prob"},
        {"{\"layer_norm_eps\": 0}", "layer_norm_eps"},
        {"{\"layer_norm_eps\": \"1e-12\"}", "layer_norm_eps"},
        {"{\"initializer_range\": [0.02]}", "initializer_range"},
        {"{\"classifier_dropout\": 1}", "classifier_dropout"},
        {"{\"pad_token_id\": 40000}", "pad_token_id"},
        {"{\"pad_token_id\": -3}", "pad_token_id"},
        {"{\"type_vocab_size\": 0}", "type_vocab_size"},
        {"{\"max_position_embeddings\": 2.5}", "max_position_embeddings"},
        {"{\"hidden_act\": 3}", "hidden_act"},
        {"{\"model_type\": \"gpt2\"}", "gpt2"},
        {"{\"model_type\": \"roberta\", \"architectures\": [\"BertForMaskedLM\"]}", "BertForMaskedLM"},
        {"{\"architectures\": [\"RobertaForMaskedLM\"]}", "RobertaForMaskedLM"},
        {"{\"architectures\": [\"BertForMultipleChoice\"]}", "BertForMultipleChoice"},
        {"{\"architectures\": [\"BertForQuestionAnswering\"], \"num_labels\": 3}", "num_labels"},
        {"{\"architectures\": \"BertModel\"}", "architectures"},
        {"{\"architectures\": [3]}", "architectures"},
        {"{\"id2label\": {\"0\": \"a\", \"2\": \"b\"}}", "id2label"},
        {"{\"id2label\": {\"x\": \"a\"}}", "id2label"},
        {"{\"id2label\": {\"0\": 5}}", "id2label"},
        {"{\"id2label\": {}}", "id2label"},
        {"{\"id2label\": [\"a\"]}", "id2label"},
        {"{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}, \"label2id\": {\"a\": 1, \"b\": 0}}", "label2id"},
        {"{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}, \"label2id\": {\"a\": 0}}", "label2id"},
        {"{\"label2id\": {\"a\": 0, \"b\": 0}}", "label2id"},
        {"{\"num_labels\": 0}", "num_labels"},
        {"{\"num_labels\": 1000}", "num_labels"},
        {"{\"hidden_size\": 64, \"hidden_size\": 128}", "hidden_size"},
        {"{\"is_decoder\": true}", "is_decoder"},
        {"{\"add_cross_attention\": true}", "add_cross_attention"},
        {"{\"position_embedding_type\": \"relative_key\"}", "position_embedding_type"},
        {"{\"tie_word_embeddings\": \"yes\"}", "tie_word_embeddings"},
        {"{\"architectures\": [\"BertForMaskedLM\"], \"tie_word_embeddings\": false}", "tie_word_embeddings"},
        {"{\"problem_type\": \"ranking\"}", "problem_type"},
        {"{\"problem_type\": 3}", "problem_type"},
        {"{\"architectures\": [\"BertForSequenceClassification\"], \"num_labels\": 1, "
         "\"problem_type\": \"single_label_classification\"}",
         "problem_type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vt_bert_config c;
        expect_error_msg(parse(bad[i].json, &c), bad[i].json, "cfg.json", bad[i].key);
    }
    vt_bert_config c;
    expect_error_msg(vt_bert_config_parse("{\"a\": 1\0}", 9, "nul.json", &c), "NUL inside", "nul.json", NULL);
}

static void test_config_check(void **state) {
    vt_bert_config c;
    vt_bert_config_default(&c, VT_BERT_MODEL);
    c.num_attention_heads = 5;
    expect_error_msg(vt_bert_config_check(&c, "mine"), "check heads", "mine", "num_attention_heads");
    vt_bert_config_default(&c, VT_BERT_MODEL);
    c.hidden_act = VT_ACT_RELU;
    expect_error_msg(vt_bert_config_check(&c, "mine"), "check act", "mine", "hidden_act");
    vt_bert_config_default(&c, VT_BERT_MODEL);
    c.hidden_dropout_prob = NAN;
    expect_error_msg(vt_bert_config_check(&c, "mine"), "check NaN", "mine", "hidden_dropout_prob");
    vt_bert_config_default(&c, VT_BERT_MODEL);
    c.arch = (vt_bert_arch)9;
    expect_error_msg(vt_bert_config_check(&c, "mine"), "check arch", "mine", "architecture");
    expect_error_msg(vt_bert_config_check(NULL, "mine"), "check NULL", "mine", NULL);
}

static void test_config_write_read(void **state) {
    char *dir = test_tmpdir(), path[4200];
    path_in(path, sizeof path, dir, "config.json");
    vt_bert_config c, d;
    assert_int_equal(parse(REALISTIC, &c), VT_OK);
    snprintf(c.id2label[1], VT_BERT_LABEL_MAX, "ne\"u\\tral\x01");
    c.pad_token_id = -1;
    assert_int_equal(vt_bert_config_write(path, &c), VT_OK);
    if (vt_bert_config_read(path, &d) != VT_OK) fail_msg("%s", vt_last_error());
    assert_int_equal(d.arch, c.arch);
    assert_int_equal(d.vocab_size, c.vocab_size);
    assert_int_equal(d.hidden_size, c.hidden_size);
    assert_int_equal(d.num_hidden_layers, c.num_hidden_layers);
    assert_int_equal(d.num_attention_heads, c.num_attention_heads);
    assert_int_equal(d.intermediate_size, c.intermediate_size);
    assert_int_equal(d.max_position_embeddings, c.max_position_embeddings);
    assert_int_equal(d.type_vocab_size, c.type_vocab_size);
    assert_int_equal(d.pad_token_id, -1);
    assert_int_equal(d.hidden_act, c.hidden_act);
    assert_true(d.layer_norm_eps == c.layer_norm_eps && d.hidden_dropout_prob == c.hidden_dropout_prob);
    assert_true(d.attention_probs_dropout_prob == c.attention_probs_dropout_prob);
    assert_true(d.initializer_range == c.initializer_range && d.classifier_dropout == c.classifier_dropout);
    assert_int_equal(d.num_labels, 3);
    for (int i = 0; i < 3; i++) assert_string_equal(d.id2label[i], c.id2label[i]);

    /* What transformers writes: sorted keys, model_type, dtype, plain floats. */
    char *text;
    size_t len;
    assert_int_equal(vt_read_file(path, 1 << 20, &text, &len), VT_OK);
    assert_non_null(strstr(text, "\"model_type\": \"bert\""));
    assert_non_null(strstr(text, "\"dtype\": \"float32\""));
    assert_non_null(strstr(text, "\"hidden_dropout_prob\": 0.2,"));
    assert_non_null(strstr(text, "\"layer_norm_eps\": 1e-07,"));
    assert_non_null(strstr(text, "\"architectures\": [\n    \"BertForSequenceClassification\"\n  ]"));
    assert_true(strstr(text, "\"architectures\"") < strstr(text, "\"vocab_size\""));
    free(text);

    /* A config that fails its check is not written. */
    c.num_attention_heads = 5;
    expect_error_msg(vt_bert_config_write(path, &c), "write bad config", path, "num_attention_heads");
    expect_error_msg(vt_bert_config_read("/nonexistent/dir/config.json", &d), "read missing", "/nonexistent/dir/config.json",
                     NULL);
    write_text(path, "{\"hidden_size\": 64, \"num_attention_heads\": 5}");
    expect_error_msg(vt_bert_config_read(path, &d), "read not divisible", path, "num_attention_heads");
    remove_dir(dir);
}

/* ---- model directories ---- */

static void test_save_load_roundtrip(void **state) {
    vt_bert_config c;
    small_config(&c, VT_BERT_FOR_PRETRAINING);
    vt_bert *a = vt_bert_new(&c, 11);
    char *dir = test_tmpdir(), path[4200];
    assert_int_equal(vt_bert_save(a, dir), VT_OK);
    vt_bert_load_info info;
    vt_bert *b = vt_bert_load_ex(dir, -1, 0, 99, &info);
    if (!b) fail_msg("%s", vt_last_error());
    assert_same_params(a, b, "pretraining round trip");
    assert_int_equal(info.n_new, 0);
    assert_int_equal(info.n_unused, 0);
    assert_int_equal(vt_bert_get_config(b)->arch, VT_BERT_FOR_PRETRAINING);

    /* HF names: "bert." on the encoder, heads bare, no tied decoder, format pt. */
    path_in(path, sizeof path, dir, "model.safetensors");
    vt_st_file *f = vt_st_open(path);
    assert_non_null(f);
    assert_non_null(vt_st_find(f, "bert.embeddings.word_embeddings.weight"));
    assert_non_null(vt_st_find(f, "bert.encoder.layer.1.output.LayerNorm.bias"));
    assert_non_null(vt_st_find(f, "bert.pooler.dense.weight"));
    assert_non_null(vt_st_find(f, "cls.predictions.transform.dense.weight"));
    assert_non_null(vt_st_find(f, "cls.seq_relationship.bias"));
    assert_null(vt_st_find(f, "cls.predictions.decoder.weight"));
    assert_int_equal(vt_st_count(f), vt_bert_param_count(a));
    assert_non_null(vt_st_metadata(f, "format"));
    assert_string_equal(vt_st_metadata(f, "format"), "pt");
    vt_st_close(f);
    vt_bert_free(b);

    /* As a token classifier: pooler and pretraining heads unused, new head. */
    b = vt_bert_load_ex(dir, VT_BERT_FOR_TOKEN_CLASSIFICATION, 3, 5, &info);
    if (!b) fail_msg("%s", vt_last_error());
    assert_int_equal(info.n_new, 2);
    assert_int_equal(info.n_unused, 9);
    assert_int_equal(vt_bert_get_config(b)->num_labels, 3);
    vt_bert_param *p = vt_bert_param_find(b, "encoder.layer.1.intermediate.dense.weight");
    vt_bert_param *q = vt_bert_param_find(a, "encoder.layer.1.intermediate.dense.weight");
    assert_memory_equal(p->data, q->data, (size_t)(p->shape[0] * p->shape[1]) * sizeof(float));

    /* Saved as BertModel: no prefix; loads back as BertModel. */
    char *dir2 = test_tmpdir();
    vt_bert_free(b);
    b = vt_bert_load(dir, VT_BERT_MODEL, 0, 0);
    assert_non_null(b);
    assert_int_equal(vt_bert_save(b, dir2), VT_OK);
    path_in(path, sizeof path, dir2, "model.safetensors");
    f = vt_st_open(path);
    assert_non_null(vt_st_find(f, "embeddings.word_embeddings.weight"));
    assert_non_null(vt_st_find(f, "pooler.dense.bias"));
    assert_null(vt_st_find(f, "bert.embeddings.word_embeddings.weight"));
    vt_st_close(f);
    vt_bert *m = vt_bert_load(dir2, -1, 0, 0);
    assert_non_null(m);
    assert_int_equal(vt_bert_get_config(m)->arch, VT_BERT_MODEL);
    assert_same_params(b, m, "BertModel round trip");
    /* A BertModel file loads into a pretraining model with fresh heads. */
    vt_bert *pt = vt_bert_load_ex(dir2, VT_BERT_FOR_PRETRAINING, 0, 3, &info);
    assert_non_null(pt);
    assert_int_equal(info.n_new, 7);
    vt_bert_free(pt);
    vt_bert_free(m);
    vt_bert_free(b);
    vt_bert_free(a);
    remove_dir(dir);
    remove_dir(dir2);
}

/* Name variants written here: no prefix + LayerNorm.gamma/beta; position_ids;
 * tied decoder weight and bias; cls.predictions.bias only as decoder.bias. */
static void test_name_variants(void **state) {
    char *dir = saved_model(VT_BERT_FOR_PRETRAINING, 21), path[4200];
    path_in(path, sizeof path, dir, "model.safetensors");
    vt_bert *ref = vt_bert_load(dir, -1, 0, 0);
    assert_non_null(ref);

    tset *s = tset_read(path);
    for (size_t i = 0; i < s->n; i++) {
        char *n = s->t[i].name, tmp[160];
        snprintf(tmp, sizeof tmp, "%s", strncmp(n, "bert.", 5) ? n : n + 5);
        char *ln = strstr(tmp, "LayerNorm.");
        if (ln && !strcmp(ln, "LayerNorm.weight")) strcpy(ln, "LayerNorm.gamma");
        else if (ln && !strcmp(ln, "LayerNorm.bias")) strcpy(ln, "LayerNorm.beta");
        snprintf(n, sizeof s->t[i].name, "%s", tmp);
    }
    tens *pos = tset_add_copy(s, "embeddings.position_embeddings.weight", "embeddings.position_ids");
    pos->dtype = VT_ST_I64; /* a (1, n) int64 buffer, as old checkpoints store it */
    pos->ndim = 2, pos->shape[0] = 1, pos->shape[1] = (int64_t)(pos->nbytes / 8);
    tset_add_copy(s, "embeddings.word_embeddings.weight", "cls.predictions.decoder.weight");
    tset_add_copy(s, "cls.predictions.bias", "cls.predictions.decoder.bias");
    tset_drop(s, "cls.predictions.bias");
    tset_write_free(path, s);

    vt_bert_load_info info;
    vt_bert *b = vt_bert_load_ex(dir, -1, 0, 0, &info);
    if (!b) fail_msg("%s", vt_last_error());
    assert_same_params(ref, b, "name variants");
    assert_int_equal(info.n_new, 0);
    vt_bert_free(b);
    /* The tied copies are fine where the model has no MLM head too. */
    b = vt_bert_load_ex(dir, VT_BERT_MODEL, 0, 0, &info);
    if (!b) fail_msg("%s", vt_last_error());
    vt_bert_free(b);
    vt_bert_free(ref);
    remove_dir(dir);
}

static vt_status load_status(const char *dir, int arch) {
    vt_bert *b = vt_bert_load(dir, arch, 0, 0);
    if (b) {
        vt_bert_free(b);
        vt_clear_error();
        return VT_OK;
    }
    return vt_last_status();
}

static void test_bad_weights(void **state) {
    char path[4200], cfg[4200];
    /* truncated */
    char *dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    path_in(cfg, sizeof cfg, dir, "config.json");
    assert_int_equal(truncate(path, 4000), 0);
    expect_error_msg(load_status(dir, -1), "truncated", path, NULL);
    remove_dir(dir);

    /* a tensor missing */
    dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    tset *s = tset_read(path);
    tset_drop(s, "bert.encoder.layer.1.output.dense.weight");
    tset_write_free(path, s);
    expect_error_msg(load_status(dir, -1), "missing tensor", path, "encoder.layer.1.output.dense.weight");
    remove_dir(dir);

    /* integer dtype where floats are needed */
    dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    s = tset_read(path);
    tens *t = tset_find(s, "bert.embeddings.LayerNorm.weight");
    t->dtype = VT_ST_I32; /* same byte count */
    tset_write_free(path, s);
    expect_error_msg(load_status(dir, -1), "I32 dtype", path, "bert.embeddings.LayerNorm.weight");
    remove_dir(dir);
    dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    s = tset_read(path);
    t = tset_find(s, "cls.seq_relationship.bias"); /* 2 floats = one I64 */
    t->dtype = VT_ST_I64;
    t->shape[0] = 1;
    tset_write_free(path, s);
    expect_error_msg(load_status(dir, -1), "I64 dtype", path, "cls.seq_relationship.bias");
    remove_dir(dir);

    /* shape contradicting the config */
    dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    path_in(cfg, sizeof cfg, dir, "config.json");
    vt_bert_config c;
    small_config(&c, VT_BERT_FOR_PRETRAINING);
    c.intermediate_size = 40;
    assert_int_equal(vt_bert_config_write(cfg, &c), VT_OK);
    expect_error_msg(load_status(dir, -1), "intermediate mismatch", path, "encoder.layer.0.intermediate.dense.weight");
    small_config(&c, VT_BERT_FOR_PRETRAINING);
    c.hidden_size = 32;
    assert_int_equal(vt_bert_config_write(cfg, &c), VT_OK);
    expect_error_msg(load_status(dir, -1), "hidden mismatch", path, "embeddings.word_embeddings.weight");
    small_config(&c, VT_BERT_FOR_PRETRAINING);
    c.num_hidden_layers = 1;
    assert_int_equal(vt_bert_config_write(cfg, &c), VT_OK);
    expect_error_msg(load_status(dir, -1), "extra layer", path, "encoder.layer.1.");
    small_config(&c, VT_BERT_FOR_PRETRAINING);
    c.num_hidden_layers = 3;
    assert_int_equal(vt_bert_config_write(cfg, &c), VT_OK);
    expect_error_msg(load_status(dir, -1), "missing layer", path, "encoder.layer.2.");
    small_config(&c, VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    assert_int_equal(vt_bert_config_write(cfg, &c), VT_OK);
    assert_int_equal(load_status(dir, -1), VT_OK); /* new classifier, heads unused */
    remove_dir(dir);

    /* a classifier head of the wrong width */
    dir = saved_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    vt_bert *b = vt_bert_load(dir, -1, 5, 0);
    assert_null(b);
    expect_error_msg(vt_last_status(), "classifier labels", path, "classifier.weight");
    remove_dir(dir);

    /* an unknown tensor (another architecture's) */
    dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    s = tset_read(path);
    tset_add_copy(s, "bert.pooler.dense.bias", "roberta.lm_head.bias");
    tset_write_free(path, s);
    expect_error_msg(load_status(dir, -1), "unknown tensor", path, "roberta.lm_head.bias");
    remove_dir(dir);

    /* the same parameter twice (prefixed and bare) */
    dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    s = tset_read(path);
    tset_add_copy(s, "bert.pooler.dense.bias", "pooler.dense.bias");
    tset_write_free(path, s);
    expect_error_msg(load_status(dir, -1), "duplicate", path, "pooler.dense.bias");
    remove_dir(dir);

    /* an untied decoder weight */
    dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    s = tset_read(path);
    t = tset_add_copy(s, "bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight");
    ((float *)t->data)[17] += 1.0f;
    tset_write_free(path, s);
    expect_error_msg(load_status(dir, -1), "untied decoder", path, "cls.predictions.decoder.weight");
    assert_int_equal(load_status(dir, VT_BERT_MODEL), VT_OK);
    s = tset_read(path);
    t = tset_find(s, "cls.predictions.decoder.weight");
    t->shape[0] = 20, t->shape[1] = 32;
    tset_write_free(path, s);
    expect_error_msg(load_status(dir, VT_BERT_MODEL), "decoder shape", path, "cls.predictions.decoder.weight");
    remove_dir(dir);

    /* header claims more data than the file has */
    dir = saved_model(VT_BERT_MODEL, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    assert_int_equal(truncate(path, size - 4), 0);
    expect_error_msg(load_status(dir, -1), "short data", path, NULL);
    write_text(path, "");
    expect_error_msg(load_status(dir, -1), "empty file", path, NULL);
    remove_dir(dir);
}

static void test_bad_directories(void **state) {
    char path[4200], cfg[4200];
    char *dir = saved_model(VT_BERT_FOR_PRETRAINING, 1);
    path_in(path, sizeof path, dir, "model.safetensors");
    path_in(cfg, sizeof cfg, dir, "config.json");

    write_text(cfg, "{\"hidden_size\": 16,");
    expect_error_msg(load_status(dir, -1), "non-JSON config", cfg, "JSON");
    write_text(cfg, "{\"vocab_size\": 40, \"hidden_size\": 16, \"num_attention_heads\": 3}");
    expect_error_msg(load_status(dir, -1), "heads do not divide", cfg, "num_attention_heads");
    write_text(cfg, "{\"vocab_size\": 40, \"hidden_size\": -16}");
    expect_error_msg(load_status(dir, -1), "negative size", cfg, "hidden_size");
    write_text(cfg, "{\"vocab_size\": \"40\"}");
    expect_error_msg(load_status(dir, -1), "wrong type", cfg, "vocab_size");
    write_text(cfg, "{\"model_type\": \"gpt2\"}");
    expect_error_msg(load_status(dir, -1), "unknown model_type", cfg, "gpt2");

    /* An architecture verto does not have: an error, unless one is given. */
    vt_bert_config c;
    small_config(&c, VT_BERT_FOR_PRETRAINING);
    assert_int_equal(vt_bert_config_write(cfg, &c), VT_OK);
    char *text;
    size_t len;
    assert_int_equal(vt_read_file(cfg, 1 << 20, &text, &len), VT_OK);
    char *at = strstr(text, "BertForPreTraining");
    assert_non_null(at);
    char edited[8192];
    snprintf(edited, sizeof edited, "%.*sBertForNextSentencePrediction%s", (int)(at - text), text,
             at + strlen("BertForPreTraining"));
    free(text);
    write_text(cfg, edited);
    expect_error_msg(load_status(dir, -1), "unknown arch", cfg, "BertForNextSentencePrediction");
    assert_int_equal(load_status(dir, VT_BERT_FOR_SEQUENCE_CLASSIFICATION), VT_OK);

    /* Arguments */
    expect_error_msg(load_status(dir, 17), "bad arch argument", "17", NULL);
    assert_null(vt_bert_load(dir, -1, 100000, 0));
    assert_null(vt_bert_load(NULL, -1, 0, 0));

    /* Only PyTorch's pickle */
    unlink(path);
    char bin[4200];
    path_in(bin, sizeof bin, dir, "pytorch_model.bin");
    write_text(bin, "PK");
    vt_status st = load_status(dir, VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    expect_error_msg(st, "pytorch_model.bin only", path, "pytorch_model.bin");
    assert_int_equal(st, VT_ERR_UNSUPPORTED);
    unlink(bin);
    expect_error_msg(load_status(dir, VT_BERT_FOR_SEQUENCE_CLASSIFICATION), "no weights", path, NULL);
    unlink(cfg);
    expect_error_msg(load_status(dir, -1), "no config", cfg, NULL);
    remove_dir(dir);

    /* Saving where a file is in the way. */
    char *tmp = test_tmpdir(), blocked[4200];
    path_in(blocked, sizeof blocked, tmp, "file");
    write_text(blocked, "x");
    small_config(&c, VT_BERT_MODEL);
    vt_bert *b = vt_bert_new(&c, 0);
    expect_error_msg(vt_bert_save(b, blocked), "save onto a file", blocked, NULL);
    vt_bert_free(b);
    remove_dir(tmp);
}

static void test_copy_tokenizer_files(void **state) {
    char *src = test_tmpdir(), *dst = test_tmpdir(), p[4400], q[4200];
    path_in(p, sizeof p, src, "vocab.txt");
    write_text(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    path_in(p, sizeof p, src, "special_tokens_map.json");
    write_text(p, "{\"unk_token\": \"[UNK]\"}");
    path_in(p, sizeof p, src, "unrelated.txt");
    write_text(p, "no");
    snprintf(q, sizeof q, "%s/sub/dir", dst);
    assert_int_equal(vt_bert_copy_tokenizer_files(src, q, NULL), VT_OK);
    char *text;
    size_t len;
    snprintf(p, sizeof p, "%s/vocab.txt", q);
    assert_int_equal(vt_read_file(p, 1 << 20, &text, &len), VT_OK);
    assert_string_equal(text, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    free(text);
    snprintf(p, sizeof p, "%s/tokenizer.json", q); /* written from vocab.txt, for transformers 5 */
    vt_tokenizer *tj = vt_tok_load_json(p, NULL);
    assert_non_null(tj);
    assert_int_equal(vt_wp_vocab_size(vt_tok_vocab(tj)), 5);
    vt_tok_free(tj);
    snprintf(p, sizeof p, "%s/special_tokens_map.json", q);
    assert_int_equal(access(p, R_OK), 0);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", q);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/unrelated.txt", q);
    assert_int_not_equal(access(p, F_OK), 0);

    /* overrides: written without a source config, merged into one */
    const char *over = "{\"model_max_length\": 128, \"keep_tail_tokens\": 62}";
    assert_int_equal(vt_bert_copy_tokenizer_files(src, q, over), VT_OK);
    vt_tok_options o;
    assert_int_equal(vt_tok_options_from_config(q, &o), VT_OK);
    assert_int_equal(o.model_max_length, 128);
    assert_int_equal(o.keep_tail, 62);
    path_in(p, sizeof p, src, "tokenizer_config.json");
    write_text(p, "{\"do_lower_case\": false, \"model_max_length\": 512, \"tokenizer_class\": \"BertTokenizer\"}");
    assert_int_equal(vt_bert_copy_tokenizer_files(src, q, over), VT_OK);
    assert_int_equal(vt_tok_options_from_config(q, &o), VT_OK);
    assert_false(o.lowercase);
    assert_int_equal(o.model_max_length, 128);
    assert_int_equal(o.keep_tail, 62);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", q);
    assert_int_equal(vt_read_file(p, 1 << 20, &text, &len), VT_OK);
    assert_non_null(strstr(text, "BertTokenizer")); /* other keys kept */
    free(text);
    expect_error_msg(vt_bert_copy_tokenizer_files(src, q, "[1]"), "bad overrides", "overrides", NULL);
    path_in(p, sizeof p, src, "tokenizer_config.json");
    write_text(p, "{broken");
    expect_error_msg(vt_bert_copy_tokenizer_files(src, q, over), "broken source config", "not a JSON object", p);
    remove_dir(src);
    remove_dir(dst);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_presets),
        cmocka_unit_test(test_arch_names),        cmocka_unit_test(test_parse_minimal),
        cmocka_unit_test(test_parse_realistic),   cmocka_unit_test(test_parse_labels),
        cmocka_unit_test(test_parse_activations), cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_problem_type_roundtrip),
        cmocka_unit_test(test_config_check),      cmocka_unit_test(test_config_write_read),
        cmocka_unit_test(test_save_load_roundtrip), cmocka_unit_test(test_name_variants),
        cmocka_unit_test(test_bad_weights),       cmocka_unit_test(test_bad_directories),
        cmocka_unit_test(test_copy_tokenizer_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
