/* Protocol Buffers' wire format read field by field, with no schema and no
 * generated code: enough for the few messages verto reads from outside
 * (SentencePiece's ModelProto). Every varint, length and fixed-size value is
 * checked against the end of the message holding it, and positions are byte
 * offsets into the whole buffer, so that an error can name the place. */
#ifndef VT_IO_PBWIRE_H
#define VT_IO_PBWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum vt_pb_wire {
    VT_PB_VARINT = 0, /* int32, int64, uint*, bool, enum */
    VT_PB_I64 = 1,    /* fixed64, sfixed64, double */
    VT_PB_LEN = 2,    /* string, bytes, an embedded message, packed repeated */
    VT_PB_SGROUP = 3, /* a (deprecated) group's start ... */
    VT_PB_EGROUP = 4, /* ... and end */
    VT_PB_I32 = 5,    /* fixed32, sfixed32, float */
} vt_pb_wire;

/* A message: buf[pos..end), buf being the whole buffer. */
typedef struct vt_pb_reader {
    const uint8_t *buf;
    size_t pos, end;
} vt_pb_reader;

typedef struct vt_pb_field {
    uint32_t number;  /* 1 .. 2^29 - 1 */
    vt_pb_wire wire;
    size_t at;        /* the offset of its tag */
    uint64_t value;   /* VARINT, I64 and I32 (little-endian) */
    size_t data, len; /* LEN and SGROUP: the payload is buf[data .. data + len) */
} vt_pb_field;

/* The top-level message of buf[0..len). */
static inline vt_pb_reader vt_pb_reader_init(const uint8_t *buf, size_t len) {
    return (vt_pb_reader){buf, 0, len};
}

/* The message that a LEN field of r holds. */
static inline vt_pb_reader vt_pb_sub(const vt_pb_reader *r, const vt_pb_field *f) {
    return (vt_pb_reader){r->buf, f->data, f->data + f->len};
}

/* Reads the next field of r's message into *f. Returns 1, or 0 at the end of
 * the message, or -1 when the bytes are not wire format: *why is then a static
 * description and *at the offset of the fault (a varint or length running
 * past the end, a varint over 64 bits, field number 0 or past 2^29 - 1, wire
 * type 6 or 7, an end-group tag without its start, a group left open). A
 * group is read whole, nested groups in it too (up to 64 deep). */
int vt_pb_next(vt_pb_reader *r, vt_pb_field *f, const char **why, size_t *at);

/* "varint", "fixed64", "length-delimited", "start group", "end group", "fixed32". */
const char *vt_pb_wire_name(vt_pb_wire w);

/* An int32 or enum field's value (the low 32 bits, as protobuf truncates). */
static inline int32_t vt_pb_int32(const vt_pb_field *f) { return (int32_t)(uint32_t)f->value; }

/* A float field's value. */
static inline float vt_pb_float(const vt_pb_field *f) {
    uint32_t bits = (uint32_t)f->value;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

#endif
