/* SentencePiece's ModelProto (sentencepiece_model.proto), the fields verto
 * uses:
 *   ModelProto     1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
 *   SentencePiece  1 piece (string), 2 score (float), 3 type (enum, NORMAL when absent)
 *   TrainerSpec    3 model_type (enum, UNIGRAM when absent)
 *   NormalizerSpec 2 precompiled_charsmap (bytes)
 * Every other field is skipped by its wire type. */
#include <stdio.h>
#include <stdlib.h>

#include "core/grow.h"
#include "io/pbwire.h"
#include "text/spm_model.h"

static vt_status malformed(const char *file, const char *where, const char *why, size_t at) {
    return vt_error(VT_ERR_FORMAT, "%s: not a SentencePiece model: %s at byte %zu (in %s)", file, why, at, where);
}

/* A known field must come with its own wire type (protobuf would take it for an unknown one). */
static vt_status want(const char *file, const char *where, const vt_pb_field *f, vt_pb_wire w) {
    if (f->wire == w) return VT_OK;
    return vt_error(VT_ERR_FORMAT, "%s: %s (field %u) at byte %zu has wire type %s, not %s", file, where, f->number,
                    f->at, vt_pb_wire_name(f->wire), vt_pb_wire_name(w));
}

static vt_status read_piece(const char *file, vt_pb_reader r, int32_t i, vt_spm_piece *p) {
    char where[64];
    vt_pb_field f;
    const char *why;
    size_t at;
    int k = 0;
    vt_status st = VT_OK;
    *p = (vt_spm_piece){r.buf + r.pos, 0, 0.0f, VT_SPM_NORMAL};
    while (st == VT_OK && (k = vt_pb_next(&r, &f, &why, &at)) == 1) {
        if (f.number == 1) {
            snprintf(where, sizeof where, "pieces[%d].piece", i);
            if ((st = want(file, where, &f, VT_PB_LEN)) == VT_OK) p->s = r.buf + f.data, p->len = f.len;
        } else if (f.number == 2) {
            snprintf(where, sizeof where, "pieces[%d].score", i);
            if ((st = want(file, where, &f, VT_PB_I32)) == VT_OK) p->score = vt_pb_float(&f);
        } else if (f.number == 3) {
            snprintf(where, sizeof where, "pieces[%d].type", i);
            if ((st = want(file, where, &f, VT_PB_VARINT)) != VT_OK) break;
            int32_t type = vt_pb_int32(&f);
            if (type < VT_SPM_NORMAL || type > VT_SPM_BYTE)
                st = vt_error(VT_ERR_FORMAT, "%s: %s at byte %zu is %d, not a piece type (1..6)", file, where, f.at,
                              type);
            p->type = (vt_spm_piece_type)type;
        }
    }
    if (st == VT_OK && k < 0) {
        snprintf(where, sizeof where, "pieces[%d]", i);
        st = malformed(file, where, why, at);
    }
    return st;
}

static vt_status read_trainer(const char *file, vt_pb_reader r, vt_spm_model *m) {
    vt_pb_field f;
    const char *why;
    size_t at;
    int k = 0;
    vt_status st = VT_OK;
    while (st == VT_OK && (k = vt_pb_next(&r, &f, &why, &at)) == 1)
        if (f.number == 3 && (st = want(file, "trainer_spec.model_type", &f, VT_PB_VARINT)) == VT_OK)
            m->model_type = vt_pb_int32(&f);
    return st == VT_OK && k < 0 ? malformed(file, "trainer_spec", why, at) : st;
}

static vt_status read_normalizer(const char *file, vt_pb_reader r, vt_spm_model *m) {
    vt_pb_field f;
    const char *why;
    size_t at;
    int k = 0;
    vt_status st = VT_OK;
    while (st == VT_OK && (k = vt_pb_next(&r, &f, &why, &at)) == 1)
        if (f.number == 2 && (st = want(file, "normalizer_spec.precompiled_charsmap", &f, VT_PB_LEN)) == VT_OK)
            m->charsmap = r.buf + f.data, m->charsmap_len = f.len;
    return st == VT_OK && k < 0 ? malformed(file, "normalizer_spec", why, at) : st;
}

vt_status vt_spm_model_read(const uint8_t *data, size_t len, const char *file, vt_spm_model *m) {
    *m = (vt_spm_model){.model_type = VT_SPM_UNIGRAM};
    if (!data && len) return vt_error(VT_ERR_INVALID_ARG, "%s: NULL buffer", file);
    vt_pb_reader r = vt_pb_reader_init(data, len);
    vt_pb_field f;
    const char *why;
    size_t at;
    int k = 0;
    int32_t cap = 0;
    vt_status st = VT_OK;
    while (st == VT_OK && (k = vt_pb_next(&r, &f, &why, &at)) == 1) {
        if (f.number == 1) {
            if ((st = want(file, "pieces", &f, VT_PB_LEN)) == VT_OK &&
                (st = vt_grow((void **)&m->pieces, &cap, m->n, sizeof *m->pieces, file)) == VT_OK &&
                (st = read_piece(file, vt_pb_sub(&r, &f), m->n, &m->pieces[m->n])) == VT_OK)
                m->n++;
        } else if (f.number == 2) {
            if ((st = want(file, "trainer_spec", &f, VT_PB_LEN)) == VT_OK) st = read_trainer(file, vt_pb_sub(&r, &f), m);
        } else if (f.number == 3) {
            if ((st = want(file, "normalizer_spec", &f, VT_PB_LEN)) == VT_OK)
                st = read_normalizer(file, vt_pb_sub(&r, &f), m);
        }
    }
    if (st == VT_OK && k < 0) st = malformed(file, "ModelProto", why, at);
    if (st == VT_OK && m->n == 0)
        st = vt_error(VT_ERR_FORMAT, "%s: not a SentencePiece model: no pieces (ModelProto field 1)", file);
    return st;
}

void vt_spm_model_free(vt_spm_model *m) {
    free(m->pieces);
    *m = (vt_spm_model){0};
}

const char *vt_spm_model_type_name(int32_t type) {
    switch (type) {
    case VT_SPM_UNIGRAM: return "Unigram";
    case VT_SPM_BPE: return "BPE";
    case VT_SPM_WORD: return "Word";
    case VT_SPM_CHAR: return "Char";
    default: return NULL;
    }
}
