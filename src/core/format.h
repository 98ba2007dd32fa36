/* Small text-formatting helpers shared by the summary tables. */
#ifndef VERTO_CORE_FORMAT_H
#define VERTO_CORE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* 11563280 -> "11,563,280" into buf; returns buf. */
const char *vt_format_count(int64_t v, char *buf, size_t size);

/* A line of `width` copies of c. */
void vt_print_rule(FILE *out, char c, int width);

/* names[i] when names and names[i] are given, else i written into buf. */
const char *vt_label_name(const char *const *names, int i, char *buf, size_t size);

/* x as a JSON number that reads back exactly (%.15g when that does, else
 * %.17g); "null" for NaN and infinities, which JSON cannot hold. */
void vt_print_json_number(FILE *out, double x);

/* s as a JSON string literal: quoted, with quotes, backslashes and control characters escaped. */
void vt_print_json_string(FILE *out, const char *s);

#endif
