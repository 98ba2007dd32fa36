/* The families' configs without transformers: named presets ("roberta-tiny",
 * "distilbert-base", ...), config.json written with each family's keys and
 * read back equal, DistilBERT's key names and aliases, the class names, and
 * the refusals (an architecture a family lacks, token types in DistilBERT,
 * RoBERTa positions that leave no room after the padding id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/error.h"
#include "verto/fileio.h"
#include "vt_test.h"

static void expect_error(vt_status st, const char *what, const char *needle) {
    if (st == VT_OK) fail_msg("%s: accepted", what);
    printf("    %-34s %s\n", what, vt_last_error());
    if (needle && !strstr(vt_last_error(), needle)) fail_msg("%s: the message does not name \"%s\"", what, needle);
}

static void test_presets(void **state) {
    static const struct {
        const char *name;
        vt_bert_family family;
        int64_t layers, hidden, positions, types, pad;
        int32_t max_length;
    } want[] = {
        {"tiny", VT_FAMILY_BERT, 2, 128, 512, 2, 0, 512},
        {"bert-mini", VT_FAMILY_BERT, 4, 256, 512, 2, 0, 512},
        {"roberta-tiny", VT_FAMILY_ROBERTA, 2, 128, 514, 1, 1, 512},
        {"roberta-base", VT_FAMILY_ROBERTA, 12, 768, 514, 1, 1, 512},
        {"xlm-roberta-tiny", VT_FAMILY_XLM_ROBERTA, 2, 128, 514, 1, 1, 512},
        {"distilbert-tiny", VT_FAMILY_DISTILBERT, 2, 128, 512, 0, 0, 512},
        {"distilbert-base", VT_FAMILY_DISTILBERT, 6, 768, 512, 0, 0, 512},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        vt_bert_config c;
        if (vt_bert_config_preset(&c, want[i].name, 1000) != VT_OK) fail_msg("%s: %s", want[i].name, vt_last_error());
        assert_int_equal(c.family, want[i].family);
        assert_int_equal(c.num_hidden_layers, want[i].layers);
        assert_int_equal(c.hidden_size, want[i].hidden);
        assert_int_equal(c.intermediate_size, 4 * want[i].hidden);
        assert_int_equal(c.max_position_embeddings, want[i].positions);
        assert_int_equal(c.type_vocab_size, want[i].types);
        assert_int_equal(c.pad_token_id, want[i].pad);
        assert_int_equal(vt_bert_max_length(&c), want[i].max_length);
        assert_int_equal(vt_bert_config_check(&c, want[i].name), VT_OK);
    }
    vt_bert_config c;
    expect_error(vt_bert_config_preset(&c, "gpt2-tiny", 1000), "unknown family", "gpt2-tiny");
    expect_error(vt_bert_config_preset(&c, "roberta-huge", 1000), "unknown size", "huge");
    expect_error(vt_bert_config_preset(&c, "roberta-tiny", 1), "no room for the padding id", "pad_token_id");
}

/* Every field that config.json carries, written and read back. */
static void assert_same_config(const vt_bert_config *a, const vt_bert_config *b) {
    assert_int_equal(a->family, b->family);
    assert_int_equal(a->arch, b->arch);
    assert_int_equal(a->vocab_size, b->vocab_size);
    assert_int_equal(a->hidden_size, b->hidden_size);
    assert_int_equal(a->num_hidden_layers, b->num_hidden_layers);
    assert_int_equal(a->num_attention_heads, b->num_attention_heads);
    assert_int_equal(a->intermediate_size, b->intermediate_size);
    assert_int_equal(a->max_position_embeddings, b->max_position_embeddings);
    assert_int_equal(a->type_vocab_size, b->type_vocab_size);
    assert_int_equal(a->pad_token_id, b->pad_token_id);
    assert_int_equal(a->hidden_act, b->hidden_act);
    assert_true(a->layer_norm_eps == b->layer_norm_eps);
    assert_true(a->hidden_dropout_prob == b->hidden_dropout_prob);
    assert_true(a->attention_probs_dropout_prob == b->attention_probs_dropout_prob);
    assert_true(a->initializer_range == b->initializer_range);
    assert_int_equal(a->num_labels, b->num_labels);
    for (int i = 0; i < a->num_labels; i++) assert_string_equal(a->id2label[i], b->id2label[i]);
    if (a->family == VT_FAMILY_DISTILBERT) {
        assert_int_equal(a->sinusoidal_pos_embds, b->sinusoidal_pos_embds);
        assert_true(a->seq_classif_dropout == b->seq_classif_dropout);
        assert_true(a->qa_dropout == b->qa_dropout);
    } else {
        assert_true(a->classifier_dropout == b->classifier_dropout);
    }
}

static void test_write_read(void **state) {
    static const char *const presets[] = {"roberta-tiny", "xlm-roberta-tiny", "distilbert-tiny"};
    static const vt_bert_arch archs[] = {VT_BERT_MODEL, VT_BERT_FOR_MASKED_LM, VT_BERT_FOR_SEQUENCE_CLASSIFICATION,
                                         VT_BERT_FOR_TOKEN_CLASSIFICATION};
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    for (size_t p = 0; p < 3; p++)
        for (size_t a = 0; a < 4; a++) {
            vt_bert_config c, back;
            assert_int_equal(vt_bert_config_preset(&c, presets[p], 777), VT_OK);
            c.arch = archs[a];
            c.num_labels = 3;
            snprintf(c.id2label[2], VT_BERT_LABEL_MAX, "third \"label\"");
            c.hidden_act = c.family == VT_FAMILY_DISTILBERT ? VT_ACT_RELU : VT_ACT_GELU_TANH;
            c.hidden_dropout_prob = 0.125f;
            c.seq_classif_dropout = 0.3f;
            c.sinusoidal_pos_embds = c.family == VT_FAMILY_DISTILBERT;
            c.classifier_dropout = c.family == VT_FAMILY_DISTILBERT ? -1.0f : 0.25f;
            if (vt_bert_config_write(path, &c) != VT_OK) fail_msg("write %s: %s", presets[p], vt_last_error());
            if (vt_bert_config_read(path, &back) != VT_OK) fail_msg("read %s: %s", presets[p], vt_last_error());
            assert_same_config(&c, &back);
            char *text = NULL;
            size_t len = 0;
            assert_int_equal(vt_read_file(path, 1 << 20, &text, &len), VT_OK);
            char model_type[64], arch[96];
            snprintf(model_type, sizeof model_type, "\"model_type\": \"%s\"", vt_bert_family_name(c.family));
            snprintf(arch, sizeof arch, "\"%s\"", vt_bert_config_arch_name(&c));
            assert_non_null(strstr(text, model_type));
            assert_non_null(strstr(text, arch));
            bool distil = c.family == VT_FAMILY_DISTILBERT;
            assert_true((strstr(text, "\"n_layers\"") != NULL) == distil); /* the family's own keys */
            assert_true((strstr(text, "\"num_hidden_layers\"") != NULL) == !distil);
            free(text);
        }
    test_remove_dir(dir);
}

static vt_status parse(const char *json, vt_bert_config *c) {
    return vt_bert_config_parse(json, strlen(json), "test config", c);
}

static void test_parse_families(void **state) {
    vt_bert_config c;
    /* DistilBertConfig's defaults and keys, and the attribute_map's aliases. */
    assert_int_equal(parse("{\"model_type\": \"distilbert\"}", &c), VT_OK);
    assert_int_equal(c.hidden_size, 768);
    assert_int_equal(c.num_hidden_layers, 6);
    assert_int_equal(c.type_vocab_size, 0);
    assert_true(c.seq_classif_dropout == 0.2f);
    assert_int_equal(parse("{\"model_type\": \"distilbert\", \"hidden_size\": 64, \"num_attention_heads\": 4, "
                           "\"n_layers\": 3, \"hidden_dim\": 100, \"activation\": \"relu\", \"dropout\": 0.0}",
                           &c),
                     VT_OK);
    assert_int_equal(c.hidden_size, 64);
    assert_int_equal(c.num_attention_heads, 4);
    assert_int_equal(c.num_hidden_layers, 3);
    assert_int_equal(c.intermediate_size, 100);
    assert_int_equal(c.hidden_act, VT_ACT_RELU);
    /* RobertaConfig's and XLMRobertaConfig's defaults. */
    assert_int_equal(parse("{\"model_type\": \"roberta\", \"architectures\": [\"RobertaForMaskedLM\"]}", &c), VT_OK);
    assert_int_equal(c.vocab_size, 50265);
    assert_int_equal(c.pad_token_id, 1);
    assert_int_equal(c.arch, VT_BERT_FOR_MASKED_LM);
    assert_int_equal(parse("{\"model_type\": \"xlm-roberta\"}", &c), VT_OK);
    assert_int_equal(c.family, VT_FAMILY_XLM_ROBERTA);
    assert_int_equal(c.pad_token_id, 1);
    assert_string_equal(vt_bert_config_arch_name(&c), "XLMRobertaModel");

    expect_error(parse("{\"model_type\": \"roberta\", \"architectures\": [\"RobertaForPreTraining\"]}", &c),
                 "RoBERTa pretraining class", "RobertaForPreTraining");
    expect_error(parse("{\"model_type\": \"distilbert\", \"architectures\": [\"RobertaModel\"]}", &c),
                 "another family's class", "RobertaModel");
    expect_error(parse("{\"model_type\": \"roberta\", \"hidden_act\": \"relu\"}", &c), "RoBERTa relu", "relu");
    expect_error(parse("{\"model_type\": \"distilbert\", \"activation\": \"swish\"}", &c), "DistilBERT swish",
                 "swish");
    expect_error(parse("{\"model_type\": \"roberta\", \"max_position_embeddings\": 2, \"pad_token_id\": 1}", &c),
                 "no position after the padding", "max_position_embeddings");
    expect_error(parse("{\"model_type\": \"roberta\", \"pad_token_id\": null}", &c), "RoBERTa without padding",
                 "pad_token_id");
    expect_error(parse("{\"model_type\": \"mpnet\"}", &c), "unknown model_type", "mpnet");

    /* An architecture the family lacks, in a config built in code. */
    assert_int_equal(vt_bert_config_preset(&c, "distilbert-tiny", 100), VT_OK);
    c.arch = VT_BERT_FOR_PRETRAINING;
    expect_error(vt_bert_config_check(&c, "DistilBERT pretraining"), "DistilBERT pretraining", "DistilBert");
    c.arch = VT_BERT_FOR_MASKED_LM;
    c.type_vocab_size = 2;
    expect_error(vt_bert_config_check(&c, "DistilBERT token types"), "DistilBERT token types", "type_vocab_size");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_parse_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
