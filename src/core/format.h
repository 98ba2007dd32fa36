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

/* s as a JSON string literal: quoted, with quotes, backslashes and control characters escaped. */
void vt_print_json_string(FILE *out, const char *s);

/* x as a JSON number in the shortest of %.15g / %.17g that reads back
 * exactly; "null" when x is NaN or infinite (JSON has neither). */
void vt_print_json_number(FILE *out, double x);

#endif
