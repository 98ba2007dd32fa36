/* verto finetune / eval / predict for question answering (SQuAD): the
 * general commands hand over to these when --task question-answering is
 * asked or --model is a question-answering directory. */
#ifndef VERTO_CLI_QA_COMMANDS_H
#define VERTO_CLI_QA_COMMANDS_H

#include <stdbool.h>

/* argv holds "--task question-answering" (or "--task=question-answering"). */
bool cli_wants_qa_task(int argc, char **argv);
/* argv's --model DIR is a question-answering model (by its config.json). */
bool cli_is_qa_model(int argc, char **argv);

int cmd_finetune_qa(int argc, char **argv);
int cmd_eval_qa(int argc, char **argv);
int cmd_predict_qa(int argc, char **argv);

#endif
