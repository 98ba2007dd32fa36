/* Vocabulary builder, byte-level BPE words: each line (with its '\n') is one
 * sequence, as tokenizers' train_from_files reads a file, cut by GPT-2's
 * pattern; the words are counted as raw bytes (the trainer maps them to
 * byte-level characters). */
#include <stdint.h>
#include <string.h>

#include "core/utf8.h"
#include "text/byte_level.h"
#include "text/unicode.h"
#include "text/vb_internal.h"

static vt_status count_line(vt_vocab_builder *b, const char *s, size_t n) {
    b->line++;
    const char *label = b->label ? b->label : "text";
    size_t bad = vt_utf8_invalid_at(s, n);
    if (bad < n)
        return vt_error(VT_ERR_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu of the line", label, (long long)b->line,
                        bad + 1);
    if (n > INT32_MAX) return vt_error(VT_ERR_FORMAT, "%s:%lld: a line over 2 GiB", label, (long long)b->line);
    for (int32_t i = 0, len = (int32_t)n; i < len;) {
        int32_t end = vt_gpt2_next(s, len, i);
        vt_word w = {.s = s + i, .len = end - i};
        vt_status st = vt_vb_count_word(b, &w);
        if (st != VT_OK) return st;
        i = end;
    }
    return VT_OK;
}

vt_status vt_vb_add_lines_bpe(vt_vocab_builder *b, const char *text, size_t len) {
    vt_uc_init(); /* GPT-2's pattern reads the Unicode classes */
    while (len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) + 1 : len;
        vt_status st = count_line(b, text, n);
        if (st != VT_OK) return st;
        text += n;
        len -= n;
    }
    return VT_OK;
}
