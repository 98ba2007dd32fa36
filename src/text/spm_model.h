/* A SentencePiece model file (sentencepiece.bpe.model, spiece.model): the
 * ModelProto of sentencepiece_model.proto, of which verto reads what the
 * Hugging Face conversions use: the pieces (text, score, type), the
 * trainer's model type and the normalizer's precompiled charsmap. */
#ifndef VT_TEXT_SPM_MODEL_H
#define VT_TEXT_SPM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "verto/error.h"

/* SentencePiece.Type */
typedef enum vt_spm_piece_type {
    VT_SPM_NORMAL = 1, VT_SPM_UNKNOWN = 2, VT_SPM_CONTROL = 3, VT_SPM_USER_DEFINED = 4, VT_SPM_UNUSED = 5,
    VT_SPM_BYTE = 6,
} vt_spm_piece_type;

/* TrainerSpec.ModelType */
typedef enum vt_spm_model_type { VT_SPM_UNIGRAM = 1, VT_SPM_BPE = 2, VT_SPM_WORD = 3, VT_SPM_CHAR = 4 } vt_spm_model_type;

typedef struct vt_spm_piece {
    const uint8_t *s;       /* the piece's text: len bytes inside the file's buffer (not NUL-terminated) */
    size_t len;
    float score;
    vt_spm_piece_type type;
} vt_spm_piece;

typedef struct vt_spm_model {
    vt_spm_piece *pieces;     /* (n) in id order */
    int32_t n;
    int32_t model_type;       /* trainer_spec.model_type: UNIGRAM when absent, any value as written */
    const uint8_t *charsmap;  /* normalizer_spec.precompiled_charsmap inside the buffer, NULL when absent */
    size_t charsmap_len;
} vt_spm_model;

/* Decodes data[0..len) as a ModelProto into *m (which points into data: keep
 * it while m is used). Repeated messages merge and the last scalar wins, as
 * protobuf reads them; unknown fields of any wire type are skipped. Not wire
 * format, a known field of another wire type, a piece type outside 1..6 or no
 * pieces at all: VT_ERR_FORMAT naming file, the byte offset and the field
 * (e.g. "pieces[12].score"). Free with vt_spm_model_free, also on failure. */
vt_status vt_spm_model_read(const uint8_t *data, size_t len, const char *file, vt_spm_model *m);
void vt_spm_model_free(vt_spm_model *m);

/* "Unigram", "BPE", "Word", "Char", or NULL for another value. */
const char *vt_spm_model_type_name(int32_t type);

#endif
