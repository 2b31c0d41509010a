/* Library-wide ABI: versions, status strings, vc_free. */
#include "check.h"
#include <voicecore.h>

int main(void) {
    CHECK(vc_abi_version() == VC_ABI_VERSION);
    CHECK(vc_version() != NULL && strlen(vc_version()) >= 5);
    CHECK_STREQ(vc_strerror(VC_OK), "ok");
    CHECK_STREQ(vc_strerror(VC_ERR_UTF8), "invalid UTF-8");
    CHECK_STREQ(vc_strerror(VC_ERR_LIMIT), "limit exceeded");
    CHECK_STREQ(vc_strerror(12345), "unknown status code");
    CHECK_STREQ(vc_strerror(-999), "unknown status code");
    vc_free(NULL);
    return CHECK_DONE();
}
