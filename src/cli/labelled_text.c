/* Labelled sets -> one JSONL file of documents for vt_pt_prepare. */
#include "cli/labelled_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "verto/dataset.h"

/* Appends every row of `d` to `out` as {"text": "A\nB"}. */
static void add_documents(vt_sb *out, const vt_labelled *d) {
    for (size_t i = 0; i < d->n; i++) {
        vt_sb_str(out, "{\"text\": ");
        if (d->text_b && d->text_b[i]) {
            vt_sb tmp = {0};
            vt_sb_str(&tmp, d->text[i]);
            vt_sb_str(&tmp, "\n"); /* the pair's texts are two lines of one document */
            vt_sb_str(&tmp, d->text_b[i]);
            vt_sb_json_string(out, tmp.failed || !tmp.buf ? "" : tmp.buf);
            if (tmp.failed) out->failed = true;
            vt_sb_free(&tmp);
        } else {
            vt_sb_json_string(out, d->text[i]);
        }
        vt_sb_str(out, "}\n");
    }
}

/* Writes len bytes to a new file made from `templ` (mkstemp's XXXXXX). */
static vt_status write_temp(char *templ, const char *data, size_t len) {
    int fd = mkstemp(templ);
    if (fd < 0) return vt_error(VT_ERR_IO, "%s: cannot create a temporary file: %s", templ, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int saved = errno;
    if (close(fd) != 0 && done == len) saved = errno, done = 0;
    if (done == len) return VT_OK;
    unlink(templ);
    return vt_error(VT_ERR_IO, "%s: cannot write the texts: %s", templ, strerror(saved));
}

vt_status cli_labelled_texts_to_jsonl(char *const *files, int n_files, const char *text_column, char **tmp_path,
                                      int64_t *n_texts) {
    *tmp_path = NULL;
    *n_texts = 0;
    vt_labelled_options o;
    vt_labelled_options_default(&o);
    o.unlabelled = true;
    o.text_column = text_column;
    vt_sb out = {0};
    vt_status st = VT_OK;
    for (int i = 0; i < n_files && st == VT_OK; i++) {
        vt_labelled d;
        if ((st = vt_labelled_load(files[i], &o, &d)) != VT_OK) break;
        add_documents(&out, &d);
        *n_texts += (int64_t)d.n;
        vt_labelled_free(&d);
    }
    size_t len = 0;
    char *text = st == VT_OK ? vt_sb_take(&out, &len) : NULL;
    if (st == VT_OK && !text) st = vt_error(VT_ERR_NOMEM, "out of memory gathering the texts of %s", files[0]);
    const char *dir = getenv("TMPDIR");
    char *templ = NULL;
    if (st == VT_OK) {
        size_t n = strlen(dir && *dir ? dir : "/tmp") + 32;
        if (!(templ = malloc(n))) st = vt_error(VT_ERR_NOMEM, "out of memory");
        else snprintf(templ, n, "%s/verto-texts-XXXXXX", dir && *dir ? dir : "/tmp");
    }
    if (st == VT_OK) st = write_temp(templ, text, len);
    if (st == VT_OK) *tmp_path = templ;
    else free(templ);
    free(text);
    vt_sb_free(&out);
    return st;
}
