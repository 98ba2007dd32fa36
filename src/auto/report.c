/* verto auto's report: report.json (the figures and the eval JSON they came
 * from), report.md, report.html and dev-accuracy.svg. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "report/xml_text.h"
#include "verto/auto.h"
#include "verto/fileio.h"
#include "verto/plot.h"

static bool shows_test(const vt_auto_report *r, int i) {
    return r->c[i].test.present && (i == r->chosen || !strcmp(r->c[i].name, "baseline"));
}

/* ---- report.json ---- */

static vt_status add_eval(cJSON *obj, const char *key, const vt_auto_scores *s) {
    if (!s->present) return VT_OK;
    size_t n = strlen(s->json);
    cJSON *v = vt_json_parse(s->json, n, &(const char *){0}, &(size_t){0});
    if (!v) return vt_error(VT_ERR_FORMAT, "report: the %s evaluation is not JSON", key);
    cJSON_Delete(v);
    /* verbatim: cJSON prints doubles to 15 digits, and the report's figures
     * must be eval's to the last bit */
    while (n && strchr(" \t\r\n", s->json[n - 1])) n--;
    char *raw = strndup(s->json, n);
    if (!raw || !cJSON_AddRawToObject(obj, key, raw)) {
        free(raw);
        return vt_error(VT_ERR_NOMEM, "out of memory");
    }
    free(raw);
    return VT_OK;
}

static char *report_json(const vt_auto_report *r) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "train", r->train);
    cJSON_AddStringToObject(root, "dev", r->dev);
    if (r->test) cJSON_AddStringToObject(root, "test", r->test);
    if (r->init) cJSON_AddStringToObject(root, "init", r->init);
    cJSON_AddNumberToObject(root, "budget_s", r->budget_s);
    cJSON_AddNumberToObject(root, "total_s", r->total_s);
    cJSON_AddStringToObject(root, "chosen_by", "dev macro F1, then dev accuracy, then the earlier candidate");
    if (r->chosen >= 0) cJSON_AddStringToObject(root, "chosen", r->c[r->chosen].name);
    else cJSON_AddNullToObject(root, "chosen");
    cJSON *notes = cJSON_AddArrayToObject(root, "notes");
    for (int i = 0; i < r->n_notes; i++) cJSON_AddItemToArray(notes, cJSON_CreateString(r->notes[i]));
    cJSON *cands = cJSON_AddArrayToObject(root, "candidates");
    vt_status st = VT_OK;
    for (int i = 0; st == VT_OK && i < r->n; i++) {
        const vt_auto_candidate *c = &r->c[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(cands, o);
        cJSON_AddStringToObject(o, "name", c->name);
        cJSON_AddStringToObject(o, "recipe", c->recipe);
        cJSON_AddStringToObject(o, "state", vt_auto_state_name(c->state));
        if (c->note[0]) cJSON_AddStringToObject(o, "note", c->note);
        cJSON_AddNumberToObject(o, "start_s", c->start_s);
        cJSON_AddNumberToObject(o, "seconds", c->seconds);
        if (c->model_dir) cJSON_AddStringToObject(o, "model_dir", c->model_dir);
        st = add_eval(o, "dev_eval", &c->dev);
        if (st == VT_OK && shows_test(r, i)) st = add_eval(o, "test_eval", &c->test);
        cJSON *curve = cJSON_AddArrayToObject(o, "dev_accuracy_curve");
        for (int64_t k = 0; k < c->n_curve; k++) {
            cJSON *pt = cJSON_CreateArray();
            cJSON_AddItemToArray(pt, cJSON_CreateNumber(c->curve_t[k]));
            cJSON_AddItemToArray(pt, cJSON_CreateNumber(c->curve_acc[k]));
            cJSON_AddItemToArray(curve, pt);
        }
    }
    char *s = st == VT_OK ? cJSON_Print(root) : NULL;
    if (st == VT_OK && !s) vt_error(VT_ERR_NOMEM, "out of memory");
    cJSON_Delete(root);
    return s;
}

/* ---- the tables (Markdown or HTML) ---- */

static void fig(vt_sb *b, const vt_auto_scores *s, bool acc) {
    if (s->present) vt_sb_printf(b, "%.4f", acc ? s->accuracy : s->macro_f1);
    else vt_sb_str(b, "–");
}

static void md_text(vt_sb *b, const char *s) { /* a table cell: no pipe or newline breaks it */
    for (; *s; s++) vt_sb_add(b, *s == '|' ? "/" : *s == '\n' ? " " : s, 1);
}

static char *report_md(const vt_auto_report *r) {
    vt_sb b = {0};
    vt_sb_str(&b, "# verto auto\n\n");
    vt_sb_printf(&b, "Train `%s`, dev `%s`%s%s%s, budget %.0f s, used %.1f s.\n\n", r->train, r->dev,
                 r->test ? ", test `" : "", r->test ? r->test : "", r->test ? "`" : "", r->budget_s, r->total_s);
    if (r->chosen >= 0)
        vt_sb_printf(&b, "**Chosen: %s** (dev macro F1 %.4f; chosen on dev only) — `best/` holds it.\n\n",
                     r->c[r->chosen].name, r->c[r->chosen].dev.macro_f1);
    else vt_sb_str(&b, "**No candidate finished.**\n\n");
    for (int i = 0; i < r->n_notes; i++) vt_sb_printf(&b, "- %s\n", r->notes[i]);
    if (r->n_notes) vt_sb_str(&b, "\n");
    vt_sb_str(&b, "## Candidates (dev)\n\n| candidate | recipe | state | dev accuracy | dev macro F1 | seconds | note |\n"
                  "| --- | --- | --- | ---: | ---: | ---: | --- |\n");
    for (int i = 0; i < r->n; i++) {
        const vt_auto_candidate *c = &r->c[i];
        vt_sb_printf(&b, "| %s%s%s | ", i == r->chosen ? "**" : "", c->name, i == r->chosen ? "**" : "");
        md_text(&b, c->recipe);
        vt_sb_printf(&b, " | %s | ", vt_auto_state_name(c->state));
        fig(&b, &c->dev, true);
        vt_sb_str(&b, " | ");
        fig(&b, &c->dev, false);
        vt_sb_printf(&b, " | %.1f | ", c->seconds);
        md_text(&b, c->note);
        vt_sb_str(&b, " |\n");
    }
    bool any_test = false;
    for (int i = 0; i < r->n; i++) any_test |= shows_test(r, i);
    if (any_test) {
        vt_sb_str(&b, "\n## Test (reported, never used for choosing)\n\n| candidate | test accuracy | test macro F1 | n |\n"
                      "| --- | ---: | ---: | ---: |\n");
        for (int i = 0; i < r->n; i++) {
            if (!shows_test(r, i)) continue;
            vt_sb_printf(&b, "| %s%s | ", r->c[i].name, i == r->chosen ? " (chosen)" : "");
            fig(&b, &r->c[i].test, true);
            vt_sb_str(&b, " | ");
            fig(&b, &r->c[i].test, false);
            vt_sb_printf(&b, " | %lld |\n", (long long)r->c[i].test.n);
        }
    }
    vt_sb_str(&b, "\n![dev accuracy over time](dev-accuracy.svg)\n\nThe figures come from `verto eval --json` "
                  "of each candidate's model; report.json keeps those outputs verbatim.\n");
    char *s = vt_sb_take(&b, NULL);
    if (!s) vt_error(VT_ERR_NOMEM, "out of memory");
    return s;
}

static void td(vt_sb *b, const char *s) {
    vt_sb_str(b, "<td>");
    vt_xml_text(b, s);
    vt_sb_str(b, "</td>");
}

static void td_fig(vt_sb *b, const vt_auto_scores *s, bool acc) {
    vt_sb_str(b, "<td class=n>");
    fig(b, s, acc);
    vt_sb_str(b, "</td>");
}

static char *report_html(const vt_auto_report *r, const char *svg) {
    vt_sb b = {0};
    vt_sb_str(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>verto auto</title><style>"
                  "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                  "td,th{border:1px solid #ccc;padding:4px 8px}td.n{text-align:right}tr.chosen{font-weight:bold}"
                  "</style></head><body>\n<h1>verto auto</h1>\n<p>Train ");
    vt_xml_text(&b, r->train);
    vt_sb_str(&b, ", dev ");
    vt_xml_text(&b, r->dev);
    if (r->test) {
        vt_sb_str(&b, ", test ");
        vt_xml_text(&b, r->test);
    }
    vt_sb_printf(&b, "; budget %.0f s, used %.1f s.</p>\n<p>", r->budget_s, r->total_s);
    if (r->chosen >= 0) {
        vt_sb_str(&b, "<b>Chosen: ");
        vt_xml_text(&b, r->c[r->chosen].name);
        vt_sb_printf(&b, "</b> (dev macro F1 %.4f; chosen on dev only).", r->c[r->chosen].dev.macro_f1);
    } else vt_sb_str(&b, "<b>No candidate finished.</b>");
    vt_sb_str(&b, "</p>\n<ul>");
    for (int i = 0; i < r->n_notes; i++) {
        vt_sb_str(&b, "<li>");
        vt_xml_text(&b, r->notes[i]);
        vt_sb_str(&b, "</li>");
    }
    vt_sb_str(&b, "</ul>\n<h2>Candidates (dev)</h2>\n<table><tr><th>candidate</th><th>recipe</th><th>state</th>"
                  "<th>dev accuracy</th><th>dev macro F1</th><th>seconds</th><th>note</th></tr>\n");
    for (int i = 0; i < r->n; i++) {
        const vt_auto_candidate *c = &r->c[i];
        vt_sb_str(&b, i == r->chosen ? "<tr class=chosen>" : "<tr>");
        td(&b, c->name);
        td(&b, c->recipe);
        td(&b, vt_auto_state_name(c->state));
        td_fig(&b, &c->dev, true);
        td_fig(&b, &c->dev, false);
        vt_sb_printf(&b, "<td class=n>%.1f</td>", c->seconds);
        td(&b, c->note);
        vt_sb_str(&b, "</tr>\n");
    }
    vt_sb_str(&b, "</table>\n");
    bool any_test = false;
    for (int i = 0; i < r->n; i++) any_test |= shows_test(r, i);
    if (any_test) {
        vt_sb_str(&b, "<h2>Test (reported, never used for choosing)</h2>\n<table><tr><th>candidate</th>"
                      "<th>test accuracy</th><th>test macro F1</th><th>n</th></tr>\n");
        for (int i = 0; i < r->n; i++) {
            if (!shows_test(r, i)) continue;
            vt_sb_str(&b, "<tr>");
            td(&b, r->c[i].name);
            td_fig(&b, &r->c[i].test, true);
            td_fig(&b, &r->c[i].test, false);
            vt_sb_printf(&b, "<td class=n>%lld</td></tr>\n", (long long)r->c[i].test.n);
        }
        vt_sb_str(&b, "</table>\n");
    }
    vt_sb_str(&b, "<h2>Dev accuracy over time</h2>\n");
    vt_sb_str(&b, svg);
    vt_sb_str(&b, "\n</body></html>\n");
    char *s = vt_sb_take(&b, NULL);
    if (!s) vt_error(VT_ERR_NOMEM, "out of memory");
    return s;
}

/* Every candidate's dev accuracy against minutes since auto started, a colour each. */
static char *accuracy_svg(const vt_auto_report *r) {
    vt_plot_series *series = calloc((size_t)r->n + 1, sizeof *series);
    const char **legend = calloc((size_t)r->n + 1, sizeof *legend);
    double **minutes = calloc((size_t)r->n + 1, sizeof *minutes);
    char *svg = NULL;
    int ns = 0;
    if (!series || !legend || !minutes) {
        vt_error(VT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < r->n; i++) {
        const vt_auto_candidate *c = &r->c[i];
        if (!c->n_curve) continue;
        if (!(minutes[ns] = malloc((size_t)c->n_curve * sizeof(double)))) {
            vt_error(VT_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int64_t k = 0; k < c->n_curve; k++) minutes[ns][k] = c->curve_t[k] / 60.0;
        series[ns] = (vt_plot_series){.n = c->n_curve, .x = minutes[ns], .y = c->curve_acc, .color = ns, .markers = true};
        legend[ns] = c->name;
        ns++;
    }
    vt_plot_panel panel = {.title = "dev accuracy of each candidate", .x_label = "minutes since auto started",
                           .y_label = "dev accuracy", .series = series, .n_series = ns};
    vt_plot_figure f = {.title = "verto auto", .legend = legend, .n_legend = ns, .panels = &panel, .n_panels = 1};
    svg = vt_plot_svg(&f, NULL);
done:
    for (int i = 0; minutes && i < ns; i++) free(minutes[i]);
    free(minutes);
    free(series);
    free(legend);
    return svg;
}

static vt_status write_text(const char *dir, const char *name, const char *text) {
    vt_sb path = {0};
    vt_sb_printf(&path, "%s/%s", dir, name);
    char *p = vt_sb_take(&path, NULL);
    vt_status st = p ? vt_write_file_atomic(p, text, strlen(text)) : vt_error(VT_ERR_NOMEM, "out of memory");
    free(p);
    return st;
}

vt_status vt_auto_write_report(const vt_auto_report *r, const char *out_dir) {
    if (!r || !out_dir || !r->train || !r->dev || (r->n && !r->c) || r->chosen >= r->n || r->chosen < -1)
        return vt_error(VT_ERR_INVALID_ARG, "vt_auto_write_report: bad arguments");
    vt_status st = vt_mkdir_p(out_dir);
    if (st != VT_OK) return st;
    char *json = report_json(r), *md = json ? report_md(r) : NULL, *svg = md ? accuracy_svg(r) : NULL;
    char *html = svg ? report_html(r, svg) : NULL;
    st = html ? VT_OK : vt_last_status();
    if (st == VT_OK) st = write_text(out_dir, "dev-accuracy.svg", svg);
    if (st == VT_OK) st = write_text(out_dir, "report.json", json);
    if (st == VT_OK) st = write_text(out_dir, "report.md", md);
    if (st == VT_OK) st = write_text(out_dir, "report.html", html);
    free(json);
    free(md);
    free(svg);
    free(html);
    return st;
}
