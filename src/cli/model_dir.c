#include "cli/model_dir.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/fileio.h"
#include "verto/tokenizer.h"

#define MAX_VOCAB_BYTES (256u << 20)

const char *cli_path(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static vt_status write_json(const char *path, cJSON *obj) {
    char *text = obj ? cJSON_Print(obj) : NULL;
    cJSON_Delete(obj);
    if (!text) return vt_error(VT_ERR_NOMEM, "out of memory writing %s", path);
    vt_status st = vt_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

vt_status cli_write_tokenizer_files(const char *dir, const char *vocab_path, bool lowercase, int64_t max_length) {
    char path[4096];
    char *vocab;
    size_t len;
    vt_status st = vt_read_file(vocab_path, MAX_VOCAB_BYTES, &vocab, &len);
    if (st != VT_OK) return st;
    st = vt_write_file_atomic(cli_path(path, sizeof path, dir, "vocab.txt"), vocab, len);
    free(vocab);
    if (st != VT_OK) return st;

    static const char *const SPECIAL[][2] = {{"unk_token", "[UNK]"}, {"sep_token", "[SEP]"}, {"pad_token", "[PAD]"},
                                             {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}};
    cJSON *config = cJSON_CreateObject();
    cJSON_AddBoolToObject(config, "do_lower_case", lowercase);
    cJSON_AddNumberToObject(config, "model_max_length", (double)max_length);
    cJSON_AddStringToObject(config, "tokenizer_class", "BertTokenizer");
    cJSON_AddBoolToObject(config, "tokenize_chinese_chars", true);
    cJSON_AddNullToObject(config, "strip_accents");
    cJSON *map = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof SPECIAL / sizeof *SPECIAL; i++) {
        cJSON_AddStringToObject(config, SPECIAL[i][0], SPECIAL[i][1]);
        cJSON_AddStringToObject(map, SPECIAL[i][0], SPECIAL[i][1]);
    }
    if ((st = write_json(cli_path(path, sizeof path, dir, "tokenizer_config.json"), config)) != VT_OK) {
        cJSON_Delete(map);
        return st;
    }
    st = write_json(cli_path(path, sizeof path, dir, "special_tokens_map.json"), map);
    return st == VT_OK ? vt_tok_complete_dir(dir) : st; /* tokenizer.json from vocab.txt */
}

vt_status cli_write_tokenizer_json(const char *dir, const vt_tokenizer *tok, int64_t max_length, bool roberta_like) {
    char path[4096];
    vt_status st = vt_mkdir_p(dir);
    if (st == VT_OK) st = vt_tok_save_json(tok, cli_path(path, sizeof path, dir, "tokenizer.json"));
    if (st != VT_OK) return st;
    const vt_wp_vocab *v = vt_tok_vocab(tok);
    vt_tok_special sp = vt_tok_special_ids(tok);
    const struct {
        const char *key;
        int32_t id;
    } named[] = {{"unk_token", sp.unk},  {"sep_token", sp.sep},
                 {"pad_token", sp.pad},  {"cls_token", sp.cls},
                 {"mask_token", sp.mask}, {"bos_token", roberta_like ? sp.cls : -1},
                 {"eos_token", roberta_like ? sp.sep : -1}};
    cJSON *config = cJSON_CreateObject();
    cJSON_AddNumberToObject(config, "model_max_length", (double)max_length);
    for (size_t i = 0; i < sizeof named / sizeof *named; i++)
        if (named[i].id >= 0) cJSON_AddStringToObject(config, named[i].key, vt_wp_vocab_token(v, named[i].id));
    return write_json(cli_path(path, sizeof path, dir, "tokenizer_config.json"), config);
}

vt_task *cli_load_sequence_task(const char *dir, vt_precision precision, int64_t max_seq_length, int64_t batch_size) {
    vt_task_kind kind;
    if (vt_task_kind_of_dir(dir, &kind) != VT_OK) return NULL;
    if (!vt_task_kind_is_sequence(kind))
        return vt_error(VT_ERR_INVALID_ARG, "%s is a %s model, which has no trained classifier: fine-tune it first", dir,
                        vt_task_kind_name(kind)),
               NULL;
    return cli_load_task(dir, kind, precision, max_seq_length, batch_size);
}

vt_task *cli_load_task(const char *dir, vt_task_kind kind, vt_precision precision, int64_t max_seq_length,
                       int64_t batch_size) {
    vt_task_options o;
    vt_task_options_default(&o);
    o.kind = kind;
    o.precision = precision;
    o.max_seq_length = (int32_t)max_seq_length;
    if (batch_size > 0) o.batch_size = (int32_t)batch_size;
    return vt_task_load(dir, &o);
}
