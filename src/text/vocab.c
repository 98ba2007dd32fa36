/* vocab.txt loading and the token -> id hash table. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "text/unicode.h"
#include "text/utf8.h"
#include "text/vocab_internal.h"
#include "verto/fileio.h"
#include "core/hash.h"
#include "core/utf8.h"

#define VOCAB_MAX_BYTES ((size_t)1 << 31)

static uint32_t hash_tok(bool cont, const char *s, size_t n) {
    uint32_t h = VT_FNV32_INIT;
    if (cont) h = vt_fnv1a32(h, "##", 2);
    return vt_fnv1a32(h, s, n);
}

int32_t vt_wp_vocab_lookup(const vt_wp_vocab *v, bool cont, const char *s, size_t n) {
    uint32_t h = hash_tok(cont, s, n);
    size_t full = n + (cont ? 2 : 0);
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        int32_t id = v->slot[i];
        if (id < 0) return -1;
        if (v->slot_hash[i] != h || (size_t)v->tok_len[id] != full) continue;
        const char *t = v->arena + v->tok_off[id];
        if (cont ? (t[0] == '#' && t[1] == '#' && memcmp(t + 2, s, n) == 0) : memcmp(t, s, n) == 0) return id;
    }
}

void vt_wp_vocab_free(vt_wp_vocab *v) {
    if (!v) return;
    free(v->arena);
    free(v->tok_off);
    free(v->tok_len);
    free(v->slot);
    free(v->slot_hash);
    free(v);
}

/* Builds the hash table over tokens already in the arena. */
static vt_status index_tokens(vt_wp_vocab *v) {
    uint64_t cap = 16;
    while (cap < (uint64_t)v->n * 2) cap *= 2;
    v->mask = (uint32_t)(cap - 1);
    v->slot = malloc(cap * sizeof(int32_t));
    v->slot_hash = malloc(cap * sizeof(uint32_t));
    if (!v->slot || !v->slot_hash) return vt_error(VT_ERR_NOMEM, "vocabulary: out of memory");
    memset(v->slot, 0xFF, cap * sizeof(int32_t));
    for (int32_t id = 0; id < v->n; id++) {
        const char *t = v->arena + v->tok_off[id];
        size_t n = (size_t)v->tok_len[id];
        uint32_t h = hash_tok(false, t, n);
        uint32_t i = h & v->mask;
        for (; v->slot[i] >= 0; i = (i + 1) & v->mask) {
            int32_t o = v->slot[i];
            if (v->slot_hash[i] == h && (size_t)v->tok_len[o] == n && !memcmp(v->arena + v->tok_off[o], t, n)) break;
        }
        v->slot[i] = id; /* a repeated token: the later id wins */
        v->slot_hash[i] = h;
        if (v->tok_len[id] > v->max_len) v->max_len = v->tok_len[id];
        if (n >= 2 && t[0] == '#' && t[1] == '#' && v->tok_len[id] - 2 > v->max_cont_len)
            v->max_cont_len = v->tok_len[id] - 2;
    }
    return VT_OK;
}

/* Length of line[0..n) without trailing White_Space (Rust's trim_end). */
static size_t trim_end(const char *line, size_t n) {
    while (n > 0) {
        size_t p = n - 1;
        while (p > 0 && ((unsigned char)line[p] & 0xC0) == 0x80 && n - p < 4) p--;
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)line + p, n - p, &adv);
        if ((size_t)adv != n - p || !(vt_uc_flags(cp) & VT_UC_WS)) break;
        n = p;
    }
    return n;
}

vt_wp_vocab *vt_wp_vocab_from_buffer(const char *data, size_t len, const char *label) {
    vt_uc_init();
    if (!data && len) {
        vt_error(VT_ERR_INVALID_ARG, "%s: NULL vocabulary buffer", label);
        return NULL;
    }
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += data[i] == '\n';
    if (len && data[len - 1] != '\n') lines++;
    if (lines > INT32_MAX) {
        vt_error(VT_ERR_FORMAT, "%s: more than %d lines", label, INT32_MAX);
        return NULL;
    }
    vt_wp_vocab *v = calloc(1, sizeof *v);
    if (!v || !(v->arena = malloc(len + lines + 1)) || !(v->tok_off = malloc((lines + 1) * sizeof(size_t))) ||
        !(v->tok_len = malloc((lines + 1) * sizeof(int32_t)))) {
        vt_wp_vocab_free(v);
        vt_error(VT_ERR_NOMEM, "%s: out of memory", label);
        return NULL;
    }
    size_t at = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t n = end - pos;
        if (n > 0 && data[pos + n - 1] == '\r') n--;
        n = trim_end(data + pos, n);
        if (!vt_utf8_valid(data + pos, n) || n > INT32_MAX) {
            vt_error(VT_ERR_FORMAT, "%s:%d: invalid UTF-8 in token", label, v->n + 1);
            vt_wp_vocab_free(v);
            return NULL;
        }
        memcpy(v->arena + at, data + pos, n);
        v->arena[at + n] = '\0';
        v->tok_off[v->n] = at;
        v->tok_len[v->n] = (int32_t)n;
        v->n++;
        at += n + 1;
        pos = end + 1;
    }
    if (index_tokens(v) != VT_OK) {
        vt_wp_vocab_free(v);
        return NULL;
    }
    return v;
}

vt_wp_vocab *vt_wp_vocab_from_tokens(const char *const *tokens, const size_t *lens, int32_t n) {
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) total += lens[i] + 1;
    vt_wp_vocab *v = calloc(1, sizeof *v);
    if (!v || !(v->arena = malloc(total + 1)) || !(v->tok_off = malloc(((size_t)n + 1) * sizeof(size_t))) ||
        !(v->tok_len = malloc(((size_t)n + 1) * sizeof(int32_t)))) {
        vt_wp_vocab_free(v);
        vt_error(VT_ERR_NOMEM, "vocabulary: out of memory");
        return NULL;
    }
    size_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        memcpy(v->arena + at, tokens[i], lens[i]);
        v->arena[at + lens[i]] = '\0';
        v->tok_off[i] = at;
        v->tok_len[i] = (int32_t)lens[i];
        at += lens[i] + 1;
    }
    v->n = n;
    if (index_tokens(v) != VT_OK) {
        vt_wp_vocab_free(v);
        return NULL;
    }
    return v;
}

vt_wp_vocab *vt_wp_vocab_load(const char *path) {
    if (!path) {
        vt_error(VT_ERR_INVALID_ARG, "vocabulary: NULL path");
        return NULL;
    }
    char *file = NULL;
    const char *p = path;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) { /* DIR means DIR/vocab.txt */
        size_t plen = strlen(path);
        if (!(file = malloc(plen + 12))) {
            vt_error(VT_ERR_NOMEM, "vocabulary: out of memory");
            return NULL;
        }
        snprintf(file, plen + 12, "%s%svocab.txt", path, plen && path[plen - 1] == '/' ? "" : "/");
        p = file;
    }
    char *data = NULL;
    size_t len = 0;
    vt_wp_vocab *v = NULL;
    if (vt_read_file(p, VOCAB_MAX_BYTES, &data, &len) == VT_OK) v = vt_wp_vocab_from_buffer(data, len, p);
    free(data);
    free(file);
    return v;
}

int32_t vt_wp_vocab_size(const vt_wp_vocab *v) { return v ? v->n : 0; }

int32_t vt_wp_vocab_id(const vt_wp_vocab *v, const char *tok, size_t len) {
    if (!v || (!tok && len)) return -1;
    return vt_wp_vocab_lookup(v, false, tok ? tok : "", len);
}

const char *vt_wp_vocab_token(const vt_wp_vocab *v, int32_t id) {
    if (!v || id < 0 || id >= v->n) return NULL;
    return v->arena + v->tok_off[id];
}

vt_status vt_wp_vocab_save(const vt_wp_vocab *v, const char *path) {
    if (!v || !path) return vt_error(VT_ERR_INVALID_ARG, "vocabulary: NULL argument to save");
    vt_atomic_file af;
    vt_status st = vt_atomic_open(&af, path);
    if (st != VT_OK) return st;
    for (int32_t i = 0; i < v->n; i++) {
        fwrite(v->arena + v->tok_off[i], 1, (size_t)v->tok_len[i], af.f);
        fputc('\n', af.f);
    }
    return vt_atomic_commit(&af);
}
