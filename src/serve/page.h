/* GET / of verto serve: one self-contained page (HTML, CSS and JavaScript, no
 * external assets) where a person types a text and sees the model's answer
 * for its task, with the words highlighted by their attribution
 * (/v1/explain) for a sequence task. It reads /v1/model to know the task,
 * and `?text=...` (with `text_b`, or `question` and `context`) in its address
 * fills the form and submits it on load, so an answer can be linked to. */
#ifndef VT_SERVE_PAGE_H
#define VT_SERVE_PAGE_H

#include <stddef.h>

/* The page (static, NUL-terminated); *len its length. */
const char *serve_page_html(size_t *len);

#endif
