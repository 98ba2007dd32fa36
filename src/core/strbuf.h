/* A growable string for JSON, metrics text and decoded tokens. An allocation
 * failure is sticky: later additions do nothing, and vt_sb_take hands back
 * NULL, so a caller checks once at the end. */
#ifndef VT_CORE_STRBUF_H
#define VT_CORE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vt_sb {
    char *buf; /* NUL-terminated once anything was added */
    size_t len, cap;
    bool failed; /* an allocation failed: the contents are incomplete */
} vt_sb;

void vt_sb_add(vt_sb *b, const char *s, size_t n);
void vt_sb_str(vt_sb *b, const char *s);
void vt_sb_printf(vt_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string: quotes, \" \\ \n \t \r escaped, other controls as \u00XX. */
void vt_sb_json_string(vt_sb *b, const char *s);
/* v as the shortest decimal that reads back as the same float, a JSON
 * number with a point or exponent as Python's repr writes it (0.1, 1e-05, 0.0). */
void vt_sb_float(vt_sb *b, float v);
/* Hands the buffer over ("" when nothing was added, NULL if an allocation
 * failed); the builder is empty afterwards. */
char *vt_sb_take(vt_sb *b, size_t *len);
void vt_sb_free(vt_sb *b);

#endif
