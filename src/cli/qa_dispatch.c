/* Which commands hand over to question answering (see qa_commands.h). */
#include <string.h>

#include "cli/args.h"
#include "cli/qa_commands.h"
#include "verto/task.h"

const char *cli_option_value(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], name)) return i + 1 < argc ? argv[i + 1] : NULL;
        if (!strncmp(argv[i], name, n) && argv[i][n] == '=') return argv[i] + n + 1;
    }
    return NULL;
}

bool cli_wants_qa_task(int argc, char **argv) {
    const char *task = cli_option_value(argc, argv, "--task");
    return task && !strcmp(task, "question-answering");
}

bool cli_is_qa_model(int argc, char **argv) {
    const char *dir = cli_option_value(argc, argv, "--model");
    vt_task_kind kind;
    /* an unreadable directory stays with the general command, which reports it */
    return dir && vt_task_kind_of_dir(dir, &kind) == VT_OK && kind == VT_TASK_QUESTION_ANSWERING;
}
