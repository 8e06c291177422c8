/* sonodream: text for the HTML pages the library (the atlas) and the
 * program (dream --report) write. */
#ifndef SONODREAM_TEXT_H
#define SONODREAM_TEXT_H

#include <stddef.h>

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* s with & < > " ' replaced by &amp; &lt; &gt; &quot; &#39;, safe in HTML
 * text and in quoted attributes. Writes the result to out (no terminating
 * NUL) unless out is NULL, and returns its length in bytes either way: call
 * once with NULL to size the buffer. s == NULL is the empty string. */
size_t sono_html_escape(const char *s, char *out);

SONO_END_DECLS
#endif
