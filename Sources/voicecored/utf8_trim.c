#include "utf8_trim.h"
#include <string.h>

void utf8_trim_partial(char *s) {
    size_t len = strlen(s), i = len;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;   /* back over continuation bytes */
    if (i == 0) return;
    unsigned char lead = (unsigned char)s[i - 1];
    if (lead < 0xC0) return;                                           /* ASCII: nothing is split */
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (len - (i - 1) < need) s[i - 1] = 0;
}
