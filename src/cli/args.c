/* Long-option parsing for the subcommands (see args.h). */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "verto/platform.h"

/* Does `arg` name option o (any of its '|'-separated spellings)? */
static bool matches(const cli_option *o, const char *arg, size_t arg_len) {
    const char *p = o->name;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == arg_len && !strncmp(p, arg, len)) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

static void print_usage(const cli_option *opts, const char *usage) {
    printf("usage: %s\n\noptions:\n", usage);
    for (const cli_option *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("  %-28s %s\n", left, o->help);
    }
    printf("  %-28s %s\n", "-h|--help", "show this help");
}

static int set_value(const cli_option *o, const char *value) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_STRING: *(const char **)o->dest = value; return 0;
    case CLI_INT: {
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) return cli_fail("%s expects an integer, got '%s'", o->name, value);
        if ((o->min || o->max) && (v < o->min || v > o->max))
            return cli_fail("%s must be between %.0f and %.0f, got %lld", o->name, o->min, o->max, v);
        *(int64_t *)o->dest = v;
        return 0;
    }
    case CLI_FLOAT: {
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v)) return cli_fail("%s expects a number, got '%s'", o->name, value);
        if ((o->min || o->max) && (v < o->min || v > o->max))
            return cli_fail("%s must be between %g and %g, got %g", o->name, o->min, o->max, v);
        *(double *)o->dest = v;
        return 0;
    }
    case CLI_FLAG: *(bool *)o->dest = true; return 0;
    }
    return 1;
}

int cli_parse(int argc, char **argv, const cli_option *opts, const char *usage, char ***positional, int *n_positional) {
    char **pos = NULL;
    int n_pos = 0;
    if (positional) {
        pos = calloc((size_t)argc + 1, sizeof *pos);
        if (!pos) return cli_fail("out of memory");
    }
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || !arg[1]) {
            if (!positional) return cli_fail("unexpected argument '%s' (see --help)", arg);
            pos[n_pos++] = argv[i];
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = true;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            print_usage(opts, usage);
            free(pos);
            return CLI_HELP;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const cli_option *o = opts;
        while (o->name && !matches(o, arg, name_len)) o++;
        if (!o->name) {
            free(pos);
            return cli_fail("unknown option '%.*s' (see --help)", (int)name_len, arg);
        }
        const char *value = NULL;
        if (o->kind == CLI_FLAG) {
            if (eq) {
                free(pos);
                return cli_fail("%s takes no value", o->name);
            }
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            free(pos);
            return cli_fail("%s needs a value", o->name);
        }
        if (set_value(o, value)) {
            free(pos);
            return 1;
        }
    }
    if (positional) {
        *positional = pos;
        *n_positional = n_pos;
    }
    return CLI_CONTINUE;
}

int cli_for_each_line(FILE *in, int (*fn)(const char *line, size_t len, void *ctx), void *ctx) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, in)) >= 0) {
        if (n && line[n - 1] == '\n') line[--n] = '\0';
        if (n && line[n - 1] == '\r') line[--n] = '\0';
        rc = fn(line, (size_t)n, ctx);
    }
    free(line);
    return rc;
}

int cli_train_precision(const char *name, vt_precision *out) {
    vt_precision p;
    if (!vt_precision_parse(name, &p)) return cli_fail("--precision must be fp32 or bf16 for training, not '%s'", name);
    if (p == VT_PRECISION_INT8)
        return cli_fail("--precision must be fp32 or bf16 for training, not int8 (quantize the trained model "
                        "afterwards: verto quantize)");
    return cli_precision(name, out);
}

int cli_precision(const char *name, vt_precision *out) {
    if (!vt_precision_parse(name, out)) return cli_fail("--precision must be fp32, bf16 or int8, not '%s'", name);
    if (*out == VT_PRECISION_BF16 && !vt_bf16_native())
        fprintf(stderr, "note: this CPU has no bf16 matrix instructions (or VERTO_MAX_ISA caps them): the bf16 products "
                        "are emulated in f32, with bf16's results and fp32's speed\n");
    return 0;
}
