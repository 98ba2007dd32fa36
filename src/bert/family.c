/* The encoder families' table: Hugging Face's names (as transformers 5
 * defines them in modeling_bert.py, modeling_roberta.py,
 * modeling_xlm_roberta.py and modeling_distilbert.py) and the places their
 * computation differs. */
#include <string.h>

#include "bert/family.h"

static const char *const BERT_HEADS[] = {"cls.", "classifier.", "qa_outputs.", NULL};
static const char *const ROBERTA_HEADS[] = {"lm_head.", "classifier.", "qa_outputs.", NULL};
static const char *const DISTILBERT_HEADS[] = {"vocab_transform.", "vocab_layer_norm.", "vocab_projector.",
                                               "pre_classifier.", "classifier.", "qa_outputs.", NULL};

#define ANY (-1)
static const bert_summary_row BERT_ROWS[] = {
    {"pooler.", "BertPooler", SHAPE_VEC_H, ANY},
    {"cls.predictions.", "BertLMPredictionHead", SHAPE_SEQ_V, ANY},
    {"cls.seq_relationship.", "Linear", SHAPE_NSP, ANY},
    {"classifier.", "Linear", SHAPE_LABELS, ANY},
    {"qa_outputs.", "Linear", SHAPE_LABELS, ANY},
    {NULL, NULL, 0, ANY}};
static const bert_summary_row ROBERTA_ROWS[] = {
    {"pooler.", "RobertaPooler", SHAPE_VEC_H, ANY},
    {"lm_head.", "RobertaLMHead", SHAPE_SEQ_V, ANY},
    {"classifier.", "RobertaClassificationHead", SHAPE_LABELS, VT_BERT_FOR_SEQUENCE_CLASSIFICATION},
    {"classifier.", "Linear", SHAPE_LABELS, VT_BERT_FOR_TOKEN_CLASSIFICATION},
    {"qa_outputs.", "Linear", SHAPE_LABELS, ANY},
    {NULL, NULL, 0, ANY}};
static const bert_summary_row XLM_ROBERTA_ROWS[] = {
    {"pooler.", "XLMRobertaPooler", SHAPE_VEC_H, ANY},
    {"lm_head.", "XLMRobertaLMHead", SHAPE_SEQ_V, ANY},
    {"classifier.", "XLMRobertaClassificationHead", SHAPE_LABELS, VT_BERT_FOR_SEQUENCE_CLASSIFICATION},
    {"classifier.", "Linear", SHAPE_LABELS, VT_BERT_FOR_TOKEN_CLASSIFICATION},
    {"qa_outputs.", "Linear", SHAPE_LABELS, ANY},
    {NULL, NULL, 0, ANY}};
static const bert_summary_row DISTILBERT_ROWS[] = {
    {"vocab_transform.", "Linear", SHAPE_SEQ_H, ANY},
    {"vocab_layer_norm.", "LayerNorm", SHAPE_SEQ_H, ANY},
    {"vocab_projector.", "Linear", SHAPE_SEQ_V, ANY},
    {"pre_classifier.", "Linear", SHAPE_VEC_H, ANY},
    {"classifier.", "Linear", SHAPE_LABELS, ANY},
    {"qa_outputs.", "Linear", SHAPE_LABELS, ANY},
    {NULL, NULL, 0, ANY}};

/* BERT's encoder names, shared by RoBERTa and XLM-RoBERTa. */
#define BERT_ENCODER                                                                                          \
    .word_emb = "embeddings.word_embeddings", .pos_emb = "embeddings.position_embeddings",                    \
    .type_emb = "embeddings.token_type_embeddings", .emb_ln = "embeddings.LayerNorm",                         \
    .layer = "encoder.layer.%lld.", .query = "attention.self.query", .key = "attention.self.key",              \
    .value = "attention.self.value", .attn_out = "attention.output.dense",                                    \
    .attn_ln = "attention.output.LayerNorm", .inter = "intermediate.dense", .out = "output.dense",            \
    .out_ln = "output.LayerNorm", .pooler = "pooler.dense"

/* RoBERTa's heads and differences, shared by XLM-RoBERTa. */
#define ROBERTA_HEADS_AND_DIFFERENCES                                                                         \
    .base = "roberta.", .mlm_dense = "lm_head.dense", .mlm_ln = "lm_head.layer_norm", .mlm_bias = "lm_head.bias", \
    .mlm_decoder = "lm_head.decoder", .nsp = NULL, .seq_dense = "classifier.dense",                           \
    .seq_out = "classifier.out_proj", .tok_out = "classifier", .qa_out = "qa_outputs",                        \
    .heads = ROBERTA_HEADS,                                                                                   \
    .positions_after_padding = true, .attn_output_dropout = true, .seq_dense_act = VT_ACT_TANH,               \
    .seq_dense_input_dropout = true, .mlm_act_is_gelu = true

static const bert_family_info FAMILIES[] = {
    [VT_FAMILY_BERT] = {
        .id = VT_FAMILY_BERT, .model_type = "bert", .classes = "Bert", .base = "bert.", .display = "BERT",
        BERT_ENCODER, .layer_class = "BertLayer", .emb_class = "BertEmbeddings",
        .mlm_dense = "cls.predictions.transform.dense", .mlm_ln = "cls.predictions.transform.LayerNorm",
        .mlm_bias = "cls.predictions.bias", .mlm_decoder = "cls.predictions.decoder", .nsp = "cls.seq_relationship",
        .seq_dense = NULL, .seq_out = "classifier", .tok_out = "classifier", .qa_out = "qa_outputs",
        .heads = BERT_HEADS,
        .summary_heads = BERT_ROWS, .positions_after_padding = false, .attn_output_dropout = true,
        .seq_dense_act = VT_ACT_TANH, .seq_dense_input_dropout = false, .mlm_act_is_gelu = false},
    [VT_FAMILY_ROBERTA] = {
        .id = VT_FAMILY_ROBERTA, .model_type = "roberta", .classes = "Roberta", .display = "RoBERTa", BERT_ENCODER,
        .layer_class = "RobertaLayer", .emb_class = "RobertaEmbeddings", .summary_heads = ROBERTA_ROWS,
        ROBERTA_HEADS_AND_DIFFERENCES},
    [VT_FAMILY_XLM_ROBERTA] = {
        .id = VT_FAMILY_XLM_ROBERTA, .model_type = "xlm-roberta", .classes = "XLMRoberta", .display = "XLM-RoBERTa",
        BERT_ENCODER, .layer_class = "XLMRobertaLayer", .emb_class = "XLMRobertaEmbeddings",
        .summary_heads = XLM_ROBERTA_ROWS, ROBERTA_HEADS_AND_DIFFERENCES},
    [VT_FAMILY_DISTILBERT] = {
        .id = VT_FAMILY_DISTILBERT, .model_type = "distilbert", .classes = "DistilBert", .base = "distilbert.",
        .display = "DistilBERT", .word_emb = "embeddings.word_embeddings", .pos_emb = "embeddings.position_embeddings",
        .type_emb = NULL, .emb_ln = "embeddings.LayerNorm", .layer = "transformer.layer.%lld.",
        .query = "attention.q_lin", .key = "attention.k_lin", .value = "attention.v_lin", .attn_out = "attention.out_lin",
        .attn_ln = "sa_layer_norm", .inter = "ffn.lin1", .out = "ffn.lin2", .out_ln = "output_layer_norm",
        .layer_class = "TransformerBlock", .emb_class = "Embeddings", .pooler = NULL,
        .mlm_dense = "vocab_transform", .mlm_ln = "vocab_layer_norm", .mlm_bias = "vocab_projector.bias",
        .mlm_decoder = "vocab_projector", .nsp = NULL, .seq_dense = "pre_classifier", .seq_out = "classifier",
        .tok_out = "classifier", .qa_out = "qa_outputs", .heads = DISTILBERT_HEADS, .summary_heads = DISTILBERT_ROWS,
        .positions_after_padding = false, .attn_output_dropout = false, .seq_dense_act = VT_ACT_RELU,
        .seq_dense_input_dropout = false, .mlm_act_is_gelu = false},
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

/* Class names by family and architecture (vt_bert_arch order), "" where none. */
static const char *const CLASS_NAMES[N_FAMILIES][BERT_N_ARCHS] = {
    {"BertModel", "BertForPreTraining", "BertForMaskedLM", "BertForSequenceClassification",
     "BertForTokenClassification", "BertForQuestionAnswering"},
    {"RobertaModel", "", "RobertaForMaskedLM", "RobertaForSequenceClassification", "RobertaForTokenClassification",
     "RobertaForQuestionAnswering"},
    {"XLMRobertaModel", "", "XLMRobertaForMaskedLM", "XLMRobertaForSequenceClassification",
     "XLMRobertaForTokenClassification", "XLMRobertaForQuestionAnswering"},
    {"DistilBertModel", "", "DistilBertForMaskedLM", "DistilBertForSequenceClassification",
     "DistilBertForTokenClassification", "DistilBertForQuestionAnswering"},
};
static const char *const ARCH_LISTS[N_FAMILIES] = {
    "BertModel, BertForPreTraining, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, "
    "BertForQuestionAnswering",
    "RobertaModel, RobertaForMaskedLM, RobertaForSequenceClassification, RobertaForTokenClassification, "
    "RobertaForQuestionAnswering",
    "XLMRobertaModel, XLMRobertaForMaskedLM, XLMRobertaForSequenceClassification, XLMRobertaForTokenClassification, "
    "XLMRobertaForQuestionAnswering",
    "DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification, DistilBertForTokenClassification, "
    "DistilBertForQuestionAnswering",
};

const bert_family_info *bert_family(vt_bert_family family) {
    return (unsigned)family < N_FAMILIES ? &FAMILIES[family] : &FAMILIES[VT_FAMILY_BERT];
}

const char *vt_bert_family_name(vt_bert_family family) {
    return (unsigned)family < N_FAMILIES ? FAMILIES[family].model_type : "unknown";
}

bool vt_bert_family_parse(const char *model_type, vt_bert_family *out) {
    for (size_t i = 0; model_type && i < N_FAMILIES; i++)
        if (!strcmp(model_type, FAMILIES[i].model_type)) {
            if (out) *out = (vt_bert_family)i;
            return true;
        }
    return false;
}

bool bert_family_has_arch(const bert_family_info *f, vt_bert_arch a) {
    return (unsigned)a < (unsigned)BERT_N_ARCHS && CLASS_NAMES[f->id][a][0];
}

const char *vt_bert_config_arch_name(const vt_bert_config *c) {
    if (!c || (unsigned)c->family >= N_FAMILIES || !bert_family_has_arch(&FAMILIES[c->family], c->arch))
        return "unknown";
    return CLASS_NAMES[c->family][c->arch];
}

bool bert_family_of_class(const char *name, vt_bert_family *out) {
    /* The longest matching prefix: "XLMRoberta..." is not RoBERTa's, "DistilBert..." not BERT's. */
    size_t best = 0;
    for (size_t i = 0; name && i < N_FAMILIES; i++) {
        size_t n = strlen(FAMILIES[i].classes);
        if (!strncmp(name, FAMILIES[i].classes, n) && n > best) {
            best = n;
            if (out) *out = (vt_bert_family)i;
        }
    }
    return best > 0;
}

bool bert_family_arch_parse(const bert_family_info *f, const char *name, vt_bert_arch *out) {
    for (int a = 0; name && a < BERT_N_ARCHS; a++)
        if (CLASS_NAMES[f->id][a][0] && !strcmp(name, CLASS_NAMES[f->id][a])) {
            if (out) *out = (vt_bert_arch)a;
            return true;
        }
    return false;
}

const char *bert_family_arch_list(const bert_family_info *f) { return ARCH_LISTS[f->id]; }

bool bert_family_is_head(const bert_family_info *f, const char *name) {
    for (const char *const *h = f->heads; *h; h++)
        if (!strncmp(name, *h, strlen(*h))) return true;
    return false;
}
