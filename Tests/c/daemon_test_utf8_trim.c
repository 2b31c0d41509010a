/* Close reasons cut to fit stay valid UTF-8: a split character is dropped whole, complete ones
 * and ASCII are kept. */
#include "check.h"
#include "utf8_trim.h"
#include <string.h>

static void trimmed(const char *in, const char *want) {
    char buf[64];
    strcpy(buf, in);
    utf8_trim_partial(buf);
    CHECK_STREQ(buf, want);
}

int main(void) {
    trimmed("server shutting down", "server shutting down");
    trimmed("", "");
    trimmed("ok \xe4\xbd\xa0\xe5\xa5\xbd", "ok \xe4\xbd\xa0\xe5\xa5\xbd");   /* 你好 whole */
    trimmed("ok \xe4\xbd\xa0\xe5\xa5", "ok \xe4\xbd\xa0");                   /* 好 cut after 2 of 3 bytes */
    trimmed("ok \xe4\xbd\xa0\xe5", "ok \xe4\xbd\xa0");                       /* cut after its lead byte */
    trimmed("bye \xf0\x9f\x98", "bye ");                                      /* an emoji cut short */
    trimmed("bye \xf0\x9f\x98\x80", "bye \xf0\x9f\x98\x80");
    trimmed("caf\xc3", "caf");
    trimmed("caf\xc3\xa9", "caf\xc3\xa9");
    return CHECK_DONE();
}
