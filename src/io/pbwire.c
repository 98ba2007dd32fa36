/* Protocol Buffers' wire format (https://protobuf.dev/programming-guides/encoding/):
 * a message is a run of fields, each a varint tag (field number << 3 | wire
 * type) and a payload whose size the wire type tells. */
#include "io/pbwire.h"

#define PB_MAX_GROUP_DEPTH 64
#define PB_MAX_FIELD ((1u << 29) - 1)

static int fault(const char **why, size_t *at, const char *what, size_t where) {
    *why = what;
    *at = where;
    return -1;
}

/* A varint at buf[*pos..end): at most 10 bytes, the tenth holding bit 63 only. */
static int varint(const vt_pb_reader *r, size_t *pos, uint64_t *v, const char **why, size_t *at) {
    size_t start = *pos;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (*pos >= r->end) return fault(why, at, "a varint runs past the end", start);
        uint8_t c = r->buf[(*pos)++];
        if (i == 9 && c > 1) return fault(why, at, "a varint longer than 64 bits", start);
        x |= (uint64_t)(c & 0x7F) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return fault(why, at, "a varint longer than 64 bits", start); /* not reached: the tenth byte ends it */
}

static int fixed(const vt_pb_reader *r, size_t *pos, int bytes, uint64_t *v, const char **why, size_t *at) {
    if (r->end - *pos < (size_t)bytes)
        return fault(why, at, bytes == 4 ? "a fixed32 runs past the end" : "a fixed64 runs past the end", *pos);
    uint64_t x = 0;
    for (int i = bytes - 1; i >= 0; i--) x = x << 8 | r->buf[*pos + (size_t)i];
    *v = x;
    *pos += (size_t)bytes;
    return 0;
}

/* One tag and, unless it opens or closes a group, its payload. */
static int tag_and_payload(vt_pb_reader *r, vt_pb_field *f, const char **why, size_t *at) {
    uint64_t tag;
    f->at = r->pos;
    if (varint(r, &r->pos, &tag, why, at)) return -1;
    if (tag >> 3 == 0) return fault(why, at, "field number 0", f->at);
    if (tag >> 3 > PB_MAX_FIELD) return fault(why, at, "a field number past 2^29 - 1", f->at);
    if ((tag & 7) > VT_PB_I32) return fault(why, at, "wire type 6 or 7 (no such type)", f->at);
    f->number = (uint32_t)(tag >> 3);
    f->wire = (vt_pb_wire)(tag & 7);
    f->value = 0;
    f->data = f->len = 0;
    switch (f->wire) {
    case VT_PB_VARINT: return varint(r, &r->pos, &f->value, why, at);
    case VT_PB_I64: return fixed(r, &r->pos, 8, &f->value, why, at);
    case VT_PB_I32: return fixed(r, &r->pos, 4, &f->value, why, at);
    case VT_PB_LEN: {
        uint64_t n;
        size_t len_at = r->pos;
        if (varint(r, &r->pos, &n, why, at)) return -1;
        if (n > r->end - r->pos) return fault(why, at, "a length runs past the end", len_at);
        f->data = r->pos;
        f->len = (size_t)n;
        r->pos += (size_t)n;
        return 0;
    }
    default: return 0; /* SGROUP, EGROUP: no payload of their own */
    }
}

/* The rest of the group f opened, up to and past its end tag. */
static int group(vt_pb_reader *r, vt_pb_field *f, const char **why, size_t *at) {
    uint32_t open[PB_MAX_GROUP_DEPTH];
    int depth = 0;
    open[0] = f->number;
    f->data = r->pos;
    for (;;) {
        vt_pb_field in;
        if (r->pos >= r->end) return fault(why, at, "a group is not closed", f->at);
        if (tag_and_payload(r, &in, why, at)) return -1;
        if (in.wire == VT_PB_SGROUP) {
            if (++depth == PB_MAX_GROUP_DEPTH) return fault(why, at, "groups nested more than 64 deep", in.at);
            open[depth] = in.number;
        } else if (in.wire == VT_PB_EGROUP) {
            if (in.number != open[depth]) return fault(why, at, "an end-group tag of another field", in.at);
            if (depth-- == 0) {
                f->len = in.at - f->data;
                return 0;
            }
        }
    }
}

int vt_pb_next(vt_pb_reader *r, vt_pb_field *f, const char **why, size_t *at) {
    if (r->pos >= r->end) return 0;
    if (tag_and_payload(r, f, why, at)) return -1;
    if (f->wire == VT_PB_EGROUP) return fault(why, at, "an end-group tag without its start", f->at);
    if (f->wire == VT_PB_SGROUP && group(r, f, why, at)) return -1;
    return 1;
}

const char *vt_pb_wire_name(vt_pb_wire w) {
    static const char *const names[] = {"varint", "fixed64", "length-delimited", "start group", "end group",
                                        "fixed32"};
    return (unsigned)w < sizeof names / sizeof *names ? names[w] : "unknown";
}
