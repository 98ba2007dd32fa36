/* Causal-LM blocks (objective "clm", see verto/pretrain_data.h): documents
 * are tokenized whole, each followed by the end-of-text id, and the stream
 * is cut into blocks of block_size ids as transformers' run_clm group_texts
 * does. Only the unfinished block and the current document are held. */
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "core/utf8.h"
#include "data/pretrain_internal.h"

/* A document held longer than this is tokenized up to its last line and
 * continued: bounded memory at the price of one tokenizer boundary. */
#define CLM_DOC_BYTES_MAX ((size_t)1 << 26)

struct vt_pt__clm {
    const vt_tokenizer *tok;
    int32_t eos, block;
    vt_pt__block_fn emit;
    void *ctx;
    vt_sb doc;          /* the current document's text, lines joined by "\n" */
    int32_t *pending;   /* (block) ids of the unfinished block */
    int32_t n_pending;
    vt_tok_encoding enc;
    int64_t doc_ids;    /* ids the current document put on the stream before a long-document flush */
    int64_t documents, tokens;
};

vt_status vt_pt__clm_eos(const vt_tokenizer *tok, const char *name, int32_t *eos) {
    const vt_wp_vocab *v = vt_tok_vocab(tok);
    if (name) {
        *eos = vt_wp_vocab_id(v, name, strlen(name));
        if (*eos < 0) return vt_error(VT_ERR_FORMAT, "the tokenizer has no token \"%s\" to end documents with", name);
        return VT_OK;
    }
    static const char *const known[] = {"<|endoftext|>", "</s>"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if ((*eos = vt_wp_vocab_id(v, known[i], strlen(known[i]))) >= 0) return VT_OK;
    return vt_error(VT_ERR_FORMAT,
                    "the tokenizer has no end-of-text token (<|endoftext|> or </s>) to put between documents; "
                    "name one with eos_token (--eos-token)");
}

vt_pt__clm *vt_pt__clm_new(const vt_tokenizer *tok, int32_t eos, int32_t block, vt_pt__block_fn emit, void *ctx) {
    vt_pt__clm *c = calloc(1, sizeof *c);
    if (c) c->pending = malloc((size_t)block * sizeof *c->pending);
    if (!c || !c->pending) {
        free(c);
        return vt_error(VT_ERR_NOMEM, "out of memory for causal-LM blocks"), NULL;
    }
    c->tok = tok, c->eos = eos, c->block = block, c->emit = emit, c->ctx = ctx;
    vt_tok_encoding_init(&c->enc);
    return c;
}

void vt_pt__clm_free(vt_pt__clm *c) {
    if (!c) return;
    vt_sb_free(&c->doc);
    vt_tok_encoding_free(&c->enc);
    free(c->pending);
    free(c);
}

/* Appends ids to the stream, handing out every block that fills. */
static vt_status push_ids(vt_pt__clm *c, const int32_t *ids, int64_t n) {
    while (n > 0) {
        int64_t take = c->block - c->n_pending;
        if (take > n) take = n;
        memcpy(c->pending + c->n_pending, ids, (size_t)take * sizeof *ids);
        c->n_pending += (int32_t)take, ids += take, n -= take;
        c->tokens += take;
        if (c->n_pending == c->block) {
            c->n_pending = 0;
            vt_status st = c->emit(c->ctx, c->pending, c->block);
            if (st != VT_OK) return st;
        }
    }
    return VT_OK;
}

/* Tokenizes text (no special tokens) onto the stream; returns how many ids. */
static vt_status push_text(vt_pt__clm *c, const char *s, size_t len, int64_t *n) {
    *n = 0;
    if (len == 0) return VT_OK;
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.add_special_tokens = false;
    vt_status st = vt_tok_encode(c->tok, s, len, NULL, 0, &eo, &c->enc);
    if (st != VT_OK) return st;
    *n = c->enc.len;
    return push_ids(c, c->enc.ids, c->enc.len);
}

vt_status vt_pt__clm_line(vt_pt__clm *c, const char *path, int64_t line_no, const char *s, size_t len) {
    if (len && s[len - 1] == '\r') len--; /* CRLF files read as Python's universal newlines do */
    size_t bad = vt_utf8_invalid_at(s, len);
    if (bad != len) return vt_error(VT_ERR_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu", path, (long long)line_no, bad + 1);
    if (vt_pt__blank_line(s, len)) return vt_pt__clm_end_document(c);
    if (c->doc.len > 0) vt_sb_add(&c->doc, "\n", 1);
    vt_sb_add(&c->doc, s, len);
    if (c->doc.failed) return vt_error(VT_ERR_NOMEM, "%s:%lld: out of memory", path, (long long)line_no);
    if (c->doc.len >= CLM_DOC_BYTES_MAX) { /* a very long document: tokenize what is held, keep reading */
        int64_t n = 0;
        vt_sb_add(&c->doc, "\n", 1);
        vt_status st = c->doc.failed ? vt_error(VT_ERR_NOMEM, "out of memory") : push_text(c, c->doc.buf, c->doc.len, &n);
        c->doc.len = 0;
        c->doc_ids += n;
        return st;
    }
    return VT_OK;
}

vt_status vt_pt__clm_end_document(vt_pt__clm *c) {
    int64_t n = 0;
    vt_status st = push_text(c, c->doc.buf, c->doc.len, &n);
    c->doc.len = 0;
    c->doc_ids += n;
    if (st == VT_OK && c->doc_ids > 0) { /* a document without tokens gets no end-of-text either */
        c->documents++;
        st = push_ids(c, &c->eos, 1);
    }
    c->doc_ids = 0;
    return st;
}

vt_status vt_pt__clm_document(vt_pt__clm *c, const char *path, int64_t line_no, const char *field, const char *text,
                              size_t len) {
    size_t bad = vt_utf8_invalid_at(text, len);
    if (bad != len)
        return vt_error(VT_ERR_FORMAT, "%s:%lld: field \"%s\" is not valid UTF-8 (byte %zu)", path, (long long)line_no,
                        field, bad + 1);
    vt_status st = vt_pt__clm_end_document(c); /* what came before is another document */
    int64_t n = 0;
    if (st == VT_OK) st = push_text(c, text, len, &n);
    c->doc_ids = n;
    return st == VT_OK ? vt_pt__clm_end_document(c) : st;
}

vt_pt__clm_counts vt_pt__clm_counts_of(const vt_pt__clm *c) {
    return (vt_pt__clm_counts){c->documents, c->tokens, c->n_pending};
}
