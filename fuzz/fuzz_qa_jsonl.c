/* libFuzzer target: one line of verto predict's question-answering input
 * (vt_qa_input_parse_json). Checks: an accepted line gives a non-empty,
 * valid UTF-8 question and context whose lengths are their C lengths; a
 * refused one leaves the input zeroed and its message names the file and
 * line. Seeds: fuzz/corpus/qa_jsonl/. */
#include <stdint.h>
#include <string.h>

#include "core/utf8.h"
#include "verto/error.h"
#include "verto/task.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vt_qa_input in;
    vt_status st = vt_qa_input_parse_json((const char *)data, size, "fuzz.jsonl", 7, &in);
    if (st != VT_OK) {
        CHECK(!strncmp(vt_last_error(), "fuzz.jsonl:7: ", 14));
        CHECK(!in.question && !in.context && !in.question_len && !in.context_len);
        return 0;
    }
    CHECK(in.question_len > 0 && strlen(in.question) == in.question_len && vt_utf8_valid(in.question, in.question_len));
    CHECK(in.context_len > 0 && strlen(in.context) == in.context_len && vt_utf8_valid(in.context, in.context_len));
    vt_qa_input_free(&in);
    CHECK(!in.question && !in.context);
    return 0;
}
