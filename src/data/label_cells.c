/* Multi-label cells and regression numbers (see label_cells.h). */
#include "data/label_cells.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vt_json_label_text(const cJSON *v, char num[32]) {
    if (cJSON_IsString(v)) return v->valuestring;
    /* integers within 2^53, where a double holds them exactly */
    if (cJSON_IsNumber(v) && v->valuedouble > -9007199254740992.0 && v->valuedouble < 9007199254740992.0 &&
        v->valuedouble == (double)(long long)v->valuedouble) {
        snprintf(num, 32, "%lld", (long long)v->valuedouble);
        return num;
    }
    return NULL;
}

static void trim_spaces(const char **s, size_t *len) {
    while (*len && (**s == ' ' || **s == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

const char *vt_cell_number(const char *s, size_t len, double *out) {
    trim_spaces(&s, &len);
    if (!len) return "empty";
    /* [+-] (digits [. digits] | . digits) [(e|E) [+-] digits]: strtod alone would
       also take "inf", "nan", hexadecimal and a prefix of the text */
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-') i++;
    while (i < len && is_digit(s[i])) i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i])) i++, digits++;
    }
    if (!digits) return "not a number";
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = ++i;
        if (i < len && (s[i] == '+' || s[i] == '-')) e = ++i;
        while (i < len && is_digit(s[i])) i++;
        if (i == e) return "not a number";
    }
    if (i != len) return "not a number";
    char small[64], *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf) return "out of memory";
    memcpy(buf, s, len);
    buf[len] = '\0';
    double v = strtod(buf, NULL);
    if (buf != small) free(buf);
    if (!isfinite(v)) return "beyond the double range";
    *out = v;
    return NULL;
}

void vt_label_pieces_text(vt_label_pieces *it, const char *s, size_t len, const char *sep) {
    memset(it, 0, sizeof *it);
    it->s = s;
    it->len = len;
    it->sep = sep;
    it->sep_len = strlen(sep);
    const char *t = s;
    size_t tl = len;
    trim_spaces(&t, &tl);
    it->done = tl == 0; /* an empty cell: no labels */
}

void vt_label_pieces_json(vt_label_pieces *it, const cJSON *array) {
    memset(it, 0, sizeof *it);
    it->json = true;
    it->item = array->child;
}

static const char *find_sep(const char *s, size_t len, const char *sep, size_t sep_len) {
    for (size_t i = 0; i + sep_len <= len; i++)
        if (!memcmp(s + i, sep, sep_len)) return s + i;
    return NULL;
}

int vt_label_pieces_next(vt_label_pieces *it, const char **s, size_t *len) {
    if (it->json) {
        if (!it->item) return 0;
        const cJSON *v = it->item;
        it->item = v->next;
        const char *t = vt_json_label_text(v, it->num);
        if (!t) return -1;
        *s = t;
        *len = strlen(t);
        return 1;
    }
    if (it->done) return 0;
    const char *start = it->s + it->pos;
    size_t rest = it->len - it->pos;
    const char *at = find_sep(start, rest, it->sep, it->sep_len);
    size_t n = at ? (size_t)(at - start) : rest;
    if (at) it->pos += n + it->sep_len;
    else it->done = true;
    trim_spaces(&start, &n);
    *s = start;
    *len = n;
    return 1;
}
