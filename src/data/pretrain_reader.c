/* A prepared directory: manifest.json + shards, read one shard at a time in
 * file order or in a seeded epoch order. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/pretrain_internal.h"
#include "verto/fileio.h"

enum { PT_CACHE_SHARDS = 4 };
#define PT_CACHE_BYTES ((int64_t)1 << 30) /* more shards are kept only while their files add up to at most this */

typedef struct cached_shard {
    vt_pt_shard *shard;
    int32_t index; /* its place among the shards */
    int64_t bytes; /* its file's size */
    uint64_t use;  /* the dataset's clock when it was last read */
} cached_shard;

struct vt_pt_dataset {
    char *dir;
    vt_pt_info info;
    char **paths;       /* (n_shards) */
    int64_t *counts;    /* (n_shards) */
    uint64_t *sums;     /* (n_shards) checksums from the manifest */
    int64_t *start;     /* (n_shards + 1) first instance of each shard in file order */
    int64_t total;
    vt_pt_shard *cur;   /* the shard read now (one of cache[]) */
    int32_t cur_index;
    /* The shards loaded lately, least recently used out first: random access
     * (vt_pt_get: DP-SGD's sampled sequences) moves between shards, and
     * parsing one again for each move cost more than the step (a 125 MB
     * shard); reading in order (vt_pt_next) keeps one, as it needs no more. */
    cached_shard cache[PT_CACHE_SHARDS];
    int n_cached;
    uint64_t clock;
    /* epoch order */
    bool shuffled;
    uint64_t seed;
    int64_t epoch;
    int32_t *shard_order; /* (n_shards) */
    int64_t *inner;       /* (largest shard) instance order within the current shard */
    int32_t inner_for;    /* shard `inner` belongs to, -1 none */
    int64_t max_count;
    int64_t pos, k, base; /* cursor; its place in shard_order and the position where that shard starts */
};

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void vt_pt_close(vt_pt_dataset *ds) {
    if (!ds) return;
    for (int32_t s = 0; ds->paths && s < ds->info.n_shards; s++) free(ds->paths[s]);
    free(ds->paths);
    free(ds->counts);
    free(ds->sums);
    free(ds->start);
    free(ds->shard_order);
    free(ds->inner);
    for (int k = 0; k < ds->n_cached; k++) vt_pt_shard_free(ds->cache[k].shard);
    free(ds->dir);
    free(ds);
}

/* Reads a number field; integers must be whole and within [lo, hi]. */
static bool num_field(const cJSON *j, const char *key, double lo, double hi, bool integer, double *out,
                      const char *path) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(f) || !(f->valuedouble >= lo && f->valuedouble <= hi) ||
        (integer && f->valuedouble != floor(f->valuedouble))) {
        vt_error(VT_ERR_FORMAT, "%s: \"%s\" is missing or out of range", path, key);
        return false;
    }
    *out = f->valuedouble;
    return true;
}

static bool hex_field(const cJSON *j, const char *key, uint64_t *out, const char *path) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, key);
    char *end = NULL;
    errno = 0;
    if (cJSON_IsString(f) && strlen(f->valuestring) == 16) *out = strtoull(f->valuestring, &end, 16);
    if (!end || *end || errno) {
        vt_error(VT_ERR_FORMAT, "%s: \"%s\" is missing or not 16 hex digits", path, key);
        return false;
    }
    return true;
}

static bool bool_field(const cJSON *j, const char *key, bool *out, const char *path) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsBool(f)) {
        vt_error(VT_ERR_FORMAT, "%s: \"%s\" is missing or not true/false", path, key);
        return false;
    }
    *out = cJSON_IsTrue(f);
    return true;
}

static bool parse_manifest(vt_pt_dataset *ds, const cJSON *j, const char *path) {
    vt_pt_info *in = &ds->info;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "verto-pretraining"))
        return vt_error(VT_ERR_FORMAT, "%s: not a verto pretraining manifest (\"format\")", path), false;
    double v;
    if (!num_field(j, "version", 0, 1e9, true, &v, path)) return false;
    if (v != VT_PT_VERSION)
        return vt_error(VT_ERR_FORMAT, "%s: unsupported version %g (this build reads %d)", path, v, VT_PT_VERSION), false;
    const cJSON *masking = cJSON_GetObjectItemCaseSensitive(j, "masking");
    if (!cJSON_IsString(masking) || (strcmp(masking->valuestring, "static") && strcmp(masking->valuestring, "dynamic") &&
                                     strcmp(masking->valuestring, "none")))
        return vt_error(VT_ERR_FORMAT, "%s: \"masking\" must be \"static\", \"dynamic\" or \"none\"", path), false;
    in->masked = !strcmp(masking->valuestring, "static");
    const cJSON *objective = cJSON_GetObjectItemCaseSensitive(j, "objective");
    in->objective = VT_PT_MLM_NSP; /* manifests from before the key: sentence pairs */
    if (objective && (!cJSON_IsString(objective) || !vt_pt_objective_parse(objective->valuestring, &in->objective)))
        return vt_error(VT_ERR_FORMAT, "%s: \"objective\" must be \"mlm+nsp\", \"mlm\" or \"clm\"", path), false;
    bool clm = in->objective == VT_PT_CLM;
    if (clm != !strcmp(masking->valuestring, "none"))
        return vt_error(VT_ERR_FORMAT, "%s: \"masking\" is \"none\" for the objective \"clm\" and only for it", path), false;
    in->eos_id = -1;
    if (clm) {
        double eos;
        if (!num_field(j, "eos_id", 0, INT32_MAX, true, &eos, path)) return false;
        in->eos_id = (int32_t)eos;
    }
    double vs, msl, mlp, mp, ssp, df, seed, docs, inst, toks;
    if (!num_field(j, "vocab_size", 1, INT32_MAX, true, &vs, path) ||
        !num_field(j, "max_seq_length", 5, VT_PT_MAX_SEQ_LENGTH_LIMIT, true, &msl, path) ||
        !num_field(j, "masked_lm_prob", 0, 1, false, &mlp, path) ||
        !num_field(j, "max_predictions", 0, VT_PT_MAX_SEQ_LENGTH_LIMIT, true, &mp, path) ||
        !num_field(j, "short_seq_prob", 0, 1, false, &ssp, path) ||
        !num_field(j, "dupe_factor", 1, INT32_MAX, true, &df, path) ||
        !num_field(j, "seed", 0, 9007199254740992.0, true, &seed, path) ||
        !num_field(j, "documents", 0, 9e15, true, &docs, path) ||
        !num_field(j, "instances", 0, 9e15, true, &inst, path) || !num_field(j, "tokens", 0, 9e15, true, &toks, path) ||
        !hex_field(j, "vocab_hash", &in->vocab_hash, path) ||
        !bool_field(j, "whole_word_mask", &in->whole_word_mask, path) ||
        !bool_field(j, "lowercase", &in->lowercase, path))
        return false;
    in->vocab_size = (int32_t)vs, in->max_seq_length = (int32_t)msl, in->masked_lm_prob = mlp;
    if (in->eos_id >= in->vocab_size)
        return vt_error(VT_ERR_FORMAT, "%s: \"eos_id\" %d is outside the vocabulary of %d", path, (int)in->eos_id,
                        (int)in->vocab_size),
               false;
    in->max_predictions = (int32_t)mp, in->short_seq_prob = ssp, in->dupe_factor = (int32_t)df;
    in->seed = (uint64_t)seed, in->documents = (int64_t)docs, in->instances = (int64_t)inst, in->tokens = (int64_t)toks;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(j, "shards");
    if (!cJSON_IsArray(shards)) return vt_error(VT_ERR_FORMAT, "%s: \"shards\" is missing", path), false;
    int n = cJSON_GetArraySize(shards);
    in->n_shards = n;
    ds->paths = calloc((size_t)n + 1, sizeof *ds->paths);
    ds->counts = calloc((size_t)n + 1, sizeof *ds->counts);
    ds->sums = calloc((size_t)n + 1, sizeof *ds->sums);
    ds->start = calloc((size_t)n + 1, sizeof *ds->start);
    ds->shard_order = calloc((size_t)n + 1, sizeof *ds->shard_order);
    if (!ds->paths || !ds->counts || !ds->sums || !ds->start || !ds->shard_order)
        return vt_error(VT_ERR_NOMEM, "out of memory"), false;
    int s = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, shards) {
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(e, "file");
        double c;
        if (!cJSON_IsString(file) || !*file->valuestring || strchr(file->valuestring, '/') ||
            !strcmp(file->valuestring, "..") || !strcmp(file->valuestring, "."))
            return vt_error(VT_ERR_FORMAT, "%s: shard %d has no valid \"file\"", path, s), false;
        if (!num_field(e, "instances", 0, 9e15, true, &c, path) || !hex_field(e, "checksum", &ds->sums[s], path))
            return false;
        if (!(ds->paths[s] = join(ds->dir, file->valuestring))) return vt_error(VT_ERR_NOMEM, "out of memory"), false;
        ds->counts[s] = (int64_t)c;
        if (ds->counts[s] > ds->max_count) ds->max_count = ds->counts[s];
        ds->start[s + 1] = ds->start[s] + ds->counts[s];
        s++;
    }
    ds->total = ds->start[n];
    if (ds->total != in->instances)
        return vt_error(VT_ERR_FORMAT, "%s: the shards hold %lld instances, \"instances\" says %lld", path,
                        (long long)ds->total, (long long)in->instances),
               false;
    return true;
}

/* Checks a shard's header against the manifest without loading it. */
static bool check_header(const vt_pt_dataset *ds, int32_t s) {
    const char *p = ds->paths[s];
    FILE *f = fopen(p, "rb");
    if (!f) return vt_error(VT_ERR_IO, "cannot open %s: %s", p, strerror(errno)), false;
    uint8_t h[VT_PT_HEADER_BYTES];
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got < 4 || memcmp(h, VT_PT_MAGIC, 4))
        return vt_error(VT_ERR_FORMAT, "%s: not a verto pretraining shard (bad magic at offset 0)", p), false;
    if (got < sizeof h) return vt_error(VT_ERR_FORMAT, "%s: truncated header (%zu bytes)", p, got), false;
    uint32_t version = vt_pt__get_u32(h + 4), flags = vt_pt__get_u32(h + 8);
    if (version != VT_PT_VERSION)
        return vt_error(VT_ERR_FORMAT, "%s: unsupported shard version %u at offset 4", p, (unsigned)version), false;
    bool masked = flags & VT_PT_FLAG_MASKED;
    if (masked != ds->info.masked || vt_pt__get_u32(h + 12) != (uint32_t)ds->info.max_seq_length ||
        vt_pt__get_u32(h + 16) != (uint32_t)ds->info.vocab_size ||
        vt_pt__get_u64(h + 24) != (uint64_t)ds->counts[s])
        return vt_error(VT_ERR_FORMAT, "%s: header (masking, max_seq_length, vocab_size or count) does not match the manifest", p),
               false;
    return true;
}

vt_pt_dataset *vt_pt_open(const char *dir, const vt_wp_vocab *vocab) {
    if (!dir) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_open: NULL directory"), NULL;
    vt_pt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->dir = strdup(dir))) {
        free(ds);
        return vt_error(VT_ERR_NOMEM, "out of memory"), NULL;
    }
    ds->cur_index = -1;
    ds->inner_for = -1;
    char *path = join(dir, "manifest.json"), *text = NULL;
    size_t len = 0;
    bool ok = path && vt_read_file(path, (size_t)64 << 20, &text, &len) == VT_OK;
    cJSON *j = NULL;
    if (ok) {
        j = cJSON_ParseWithLength(text, len);
        if (!j) ok = (vt_error(VT_ERR_FORMAT, "%s: malformed JSON", path), false);
    }
    ok = ok && parse_manifest(ds, j, path);
    cJSON_Delete(j);
    free(text);
    if (ok && vocab) {
        int32_t vs = vt_wp_vocab_size(vocab);
        uint64_t h = vt_pt_vocab_hash(vocab);
        if (vs != ds->info.vocab_size || h != ds->info.vocab_hash)
            ok = (vt_error(VT_ERR_FORMAT,
                           "%s was prepared with a different vocabulary (%d tokens, hash %016" PRIx64
                           "; this one: %d tokens, hash %016" PRIx64 ")",
                           dir, (int)ds->info.vocab_size, ds->info.vocab_hash, (int)vs, h),
                  false);
    }
    for (int32_t s = 0; ok && s < ds->info.n_shards; s++) ok = check_header(ds, s);
    if (ok && ds->max_count > 0 && !(ds->inner = malloc((size_t)ds->max_count * sizeof *ds->inner)))
        ok = (vt_error(VT_ERR_NOMEM, "out of memory"), false);
    free(path);
    if (!ok) {
        vt_pt_close(ds);
        return NULL;
    }
    for (int32_t s = 0; s < ds->info.n_shards; s++) ds->shard_order[s] = s;
    return ds;
}

const vt_pt_info *vt_pt_get_info(const vt_pt_dataset *ds) { return ds ? &ds->info : NULL; }
int64_t vt_pt_size(const vt_pt_dataset *ds) { return ds ? ds->total : 0; }

/* Drops cached shards, least recently used first, until `bytes` more fit the
 * budget and fewer than `max_shards` are held. */
static void make_room(vt_pt_dataset *ds, int64_t bytes, int max_shards) {
    for (;;) {
        int64_t held = 0;
        int oldest = -1;
        for (int k = 0; k < ds->n_cached; k++) {
            held += ds->cache[k].bytes;
            if (oldest < 0 || ds->cache[k].use < ds->cache[oldest].use) oldest = k;
        }
        if (oldest < 0 || (ds->n_cached < max_shards && held + bytes <= PT_CACHE_BYTES)) return;
        vt_pt_shard_free(ds->cache[oldest].shard);
        ds->cache[oldest] = ds->cache[--ds->n_cached];
    }
}

/* Makes shard s the current one; at most max_shards stay loaded. */
static vt_status load_shard(vt_pt_dataset *ds, int32_t s, int max_shards) {
    if (ds->cur_index == s) return VT_OK;
    for (int k = 0; k < ds->n_cached; k++)
        if (ds->cache[k].index == s) {
            ds->cur = ds->cache[k].shard;
            ds->cur_index = s;
            ds->cache[k].use = ++ds->clock;
            return VT_OK;
        }
    ds->cur = NULL;
    ds->cur_index = -1;
    struct stat sb;
    int64_t bytes = stat(ds->paths[s], &sb) == 0 ? (int64_t)sb.st_size : 0;
    make_room(ds, bytes, max_shards);
    vt_pt_shard *sh = vt_pt_shard_load(ds->paths[s], ds->info.vocab_size);
    if (!sh) return vt_last_status();
    if (vt_pt_shard_count(sh) != ds->counts[s] || vt_pt_shard_checksum(sh) != ds->sums[s] ||
        ((vt_pt_shard_flags(sh) & VT_PT_FLAG_MASKED) != 0) != ds->info.masked) {
        vt_pt_shard_free(sh);
        return vt_error(VT_ERR_FORMAT, "%s does not match the manifest of %s (count, checksum or masking differ)",
                        ds->paths[s], ds->dir);
    }
    ds->cache[ds->n_cached++] = (cached_shard){.shard = sh, .index = s, .bytes = bytes, .use = ++ds->clock};
    ds->cur = sh;
    ds->cur_index = s;
    return VT_OK;
}

vt_status vt_pt_get(vt_pt_dataset *ds, int64_t i, vt_pt_instance *out) {
    if (!ds || !out) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_get: NULL argument");
    if (i < 0 || i >= ds->total)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_get: instance %lld of %lld", (long long)i, (long long)ds->total);
    int32_t lo = 0, hi = ds->info.n_shards - 1; /* the shard with start[s] <= i < start[s + 1] */
    while (lo < hi) {
        int32_t mid = (lo + hi + 1) / 2;
        if (ds->start[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    vt_status st = load_shard(ds, lo, PT_CACHE_SHARDS);
    return st != VT_OK ? st : vt_pt_shard_get(ds->cur, i - ds->start[lo], out);
}

vt_status vt_pt_shuffle(vt_pt_dataset *ds, uint64_t seed, int64_t epoch) {
    if (!ds) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_shuffle: NULL dataset");
    ds->shuffled = true;
    ds->seed = seed;
    ds->epoch = epoch;
    ds->inner_for = -1;
    vt_rng r;
    vt_rng_seed(&r, vt_hash64(seed, (uint64_t)epoch));
    for (int32_t s = 0; s < ds->info.n_shards; s++) ds->shard_order[s] = s;
    for (int32_t s = ds->info.n_shards - 1; s > 0; s--) {
        int32_t j = (int32_t)vt_rng_below(&r, (uint64_t)s + 1), t = ds->shard_order[s];
        ds->shard_order[s] = ds->shard_order[j];
        ds->shard_order[j] = t;
    }
    return vt_pt_seek(ds, 0);
}

vt_status vt_pt_seek(vt_pt_dataset *ds, int64_t position) {
    if (!ds) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_seek: NULL dataset");
    if (position < 0 || position > ds->total)
        return vt_error(VT_ERR_INVALID_ARG, "vt_pt_seek: position %lld outside [0, %lld]", (long long)position,
                        (long long)ds->total);
    ds->pos = position;
    ds->k = 0;
    ds->base = 0;
    while (ds->k < ds->info.n_shards && ds->base + ds->counts[ds->shard_order[ds->k]] <= position)
        ds->base += ds->counts[ds->shard_order[ds->k++]];
    return VT_OK;
}

int64_t vt_pt_tell(const vt_pt_dataset *ds) { return ds ? ds->pos : 0; }

vt_status vt_pt_next(vt_pt_dataset *ds, vt_pt_instance *out, bool *end) {
    if (!ds || !out || !end) return vt_error(VT_ERR_INVALID_ARG, "vt_pt_next: NULL argument");
    *end = false;
    while (ds->k < ds->info.n_shards && ds->pos - ds->base >= ds->counts[ds->shard_order[ds->k]])
        ds->base += ds->counts[ds->shard_order[ds->k++]];
    if (ds->pos >= ds->total || ds->k >= ds->info.n_shards) {
        *end = true;
        return VT_OK;
    }
    int32_t s = ds->shard_order[ds->k];
    vt_status st = load_shard(ds, s, 1);
    if (st != VT_OK) return st;
    int64_t j = ds->pos - ds->base;
    if (ds->shuffled) {
        if (ds->inner_for != s) {
            int64_t n = ds->counts[s];
            for (int64_t i = 0; i < n; i++) ds->inner[i] = i;
            vt_rng r;
            vt_rng_seed(&r, vt_hash64(vt_hash64(ds->seed, (uint64_t)ds->epoch), 0x9e3779b97f4a7c15ull + (uint64_t)s));
            vt_rng_shuffle_i64(&r, ds->inner, n);
            ds->inner_for = s;
        }
        j = ds->inner[j];
    }
    st = vt_pt_shard_get(ds->cur, j, out);
    if (st == VT_OK) ds->pos++;
    return st;
}
