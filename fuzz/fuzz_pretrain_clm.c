/* libFuzzer target: causal-LM preparation (vt_pt_prepare with objective
 * clm) over an arbitrary corpus file, then the CLM reader over its output.
 * The first input byte sets options: bit 0 reads the rest as JSONL, bits 1-2
 * pick the block size (5, 8, 16 or 64), bit 3 a shuffle buffer of one. The
 * rest is the input file. Any input must give either shards whose every
 * block holds exactly the block size of ids inside the vocabulary, read back
 * batch by batch, or a VT_ERR_FORMAT / VT_ERR_IO / VT_ERR_NOMEM error; never a
 * crash, leak or sanitizer report. The tokenizer is a small WordPiece with
 * [SEP] as the end-of-text token. Seeds: fuzz/corpus/pretrain_clm/. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verto/pretrain_data.h"

static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\na\nof\nand\nto\nin\nis\n##s\n##ing\nword\n"
                            "text\n.\n,\n!\n\"\n{\n}\n:\nx\ny\nz\n##x\n##y\n";

/* Removes `dir` and what is in it, one level of subfolders deep (out/). */
static void remove_tree(const char *dir, int depth) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0 && depth > 0) remove_tree(p, depth - 1);
    }
    if (d) closedir(d);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static vt_tokenizer *tok;
    if (!tok) {
        vt_wp_vocab *v = vt_wp_vocab_from_buffer(VOCAB, sizeof VOCAB - 1, "fuzz_vocab.txt");
        if (!v || !(tok = vt_tok_create(v, NULL))) abort();
    }
    static const int32_t blocks[] = {5, 8, 16, 64};
    uint8_t ctl = data[0];
    char dir[] = "/tmp/fuzz-clm-XXXXXX";
    if (!mkdtemp(dir)) return 0;
    char in[64], out[64];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    FILE *f = fopen(in, "wb");
    if (!f) abort();
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    vt_pt_options o;
    vt_pt_options_default(&o);
    o.objective = VT_PT_CLM;
    o.jsonl = ctl & 1;
    o.max_seq_length = blocks[(ctl >> 1) & 3];
    o.shuffle_buffer = ctl & 8 ? 1 : 100;
    o.instances_per_shard = 7;
    o.eos_token = "[SEP]";
    const char *files[] = {in};
    vt_status st = vt_pt_prepare(tok, files, 1, out, &o, NULL, NULL, NULL);
    if (st != VT_OK) {
        if (st != VT_ERR_FORMAT && st != VT_ERR_IO && st != VT_ERR_NOMEM) abort();
    } else {
        vt_pt_dataset *ds = vt_pt_open(out, vt_tok_vocab(tok));
        if (!ds) abort();
        int32_t T = o.max_seq_length, V = vt_wp_vocab_size(vt_tok_vocab(tok));
        vt_pt_clm_reader *r = vt_pt_clm_reader_new(ds, 1, 3);
        if (!r) abort();
        int64_t n = vt_pt_size(ds);
        for (int64_t k = 0; k < n + 3; k += 3) { /* one epoch and the start of the next */
            const int32_t *ids;
            if (vt_pt_clm_batch(r, k, 3, &ids) != VT_OK) abort();
            for (int64_t i = 0; i < 3 * T; i++)
                if (ids[i] < 0 || ids[i] >= V) abort();
        }
        vt_pt_clm_reader_free(r);
        vt_pt_close(ds);
    }
    remove_tree(dir, 2);
    return 0;
}
