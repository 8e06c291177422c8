/* HTML escaping for the pages the atlas and the program write. */
#include "sonodream/text.h"

#include <string.h>

size_t sono_html_escape(const char *s, char *out) {
    size_t n = 0;
    for (; s && *s; s++) {
        const char *rep = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        size_t k = rep ? strlen(rep) : 1;
        if (out) memcpy(out + n, rep ? rep : s, k);
        n += k;
    }
    return n;
}
