/* The Simulator through the C ABI: a run, its report, determinism, option errors. */
#include <stdlib.h>
#include <string.h>
#include <voicecore.h>
#include "check.h"

static char *run(const char *options, int *status) {
    vc_sim *s = NULL;
    CHECK(vc_sim_new(&s, options) == VC_OK);
    const char *report = NULL;
    size_t len = 0;
    *status = vc_sim_run(s, &report, &len);
    CHECK(report != NULL && len == strlen(report));
    char *copy = strdup(report ? report : "");
    /* a handle runs once */
    CHECK(vc_sim_run(s, &report, &len) == VC_ERR_STATE);
    vc_sim_free(s);
    return copy;
}

static const char *field(const char *json, const char *key) {
    const char *p = strstr(json, key);
    return p ? p + strlen(key) : "";
}

int main(void) {
    const char *opts = "{\"seed\": 5, \"devices\": 6, \"duration\": \"10m\", \"faults\": \"moderate\"}";
    int st1 = -99, st2 = -99;
    char *a = run(opts, &st1), *b = run(opts, &st2);
    CHECK(st1 == 1 && st2 == 1);
    CHECK(strstr(a, "\"violation\":null") != NULL);
    CHECK(strncmp(field(a, "\"hash\":\""), field(b, "\"hash\":\""), 16) == 0);
    CHECK(strcmp(a, b) == 0);
    free(a);
    free(b);

    int st3 = -99;
    char *c = run("{\"seed\": 3, \"devices\": 20, \"duration\": \"30m\", \"faults\": \"harsh\", \"inject_bug\": \"leaked-slot\"}", &st3);
    CHECK(st3 == 0);
    CHECK(strstr(c, "\"invariant\":\"worker-slots\"") != NULL);
    free(c);

    vc_sim *bad = NULL;
    CHECK(vc_sim_new(&bad, "{\"faults\": \"extreme\"}") == VC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(vc_sim_errmsg(bad), "faults") != NULL);
    const char *report = NULL;
    CHECK(vc_sim_run(bad, &report, NULL) == VC_ERR_STATE);
    vc_sim_free(bad);
    CHECK(vc_sim_new(NULL, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_sim_run(NULL, &report, NULL) == VC_ERR_INVALID_ARGUMENT);
    vc_sim_free(NULL);
    return CHECK_DONE();
}
