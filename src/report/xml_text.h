/* Text for XML and HTML documents (plots, auto's report). */
#ifndef VT_REPORT_XML_TEXT_H
#define VT_REPORT_XML_TEXT_H

#include "core/strbuf.h"

/* s as XML character data: markup characters escaped, control characters and
 * bytes that are not UTF-8 shown as '?', so any file name or key is safe. */
void vt_xml_text(vt_sb *b, const char *s);

#endif
