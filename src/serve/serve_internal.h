/* Private to src/serve: a growable string for JSON and metrics text. */
#ifndef VERTO_SERVE_INTERNAL_H
#define VERTO_SERVE_INTERNAL_H

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
/* Hands the buffer over (NULL if it failed); the builder is empty afterwards. */
char *vt_sb_take(vt_sb *b, size_t *len);
void vt_sb_free(vt_sb *b);

#endif
