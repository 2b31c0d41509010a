/* libFuzzer: Authorization values, identifiers and Protocol-Version values from request headers. */
#include "http_request.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char token[128];
    int n = bearer_token((const char *)data, size, token, sizeof token);
    if (n >= 0 && ((size_t)n >= sizeof token || strlen(token) != (size_t)n)) __builtin_trap();
    valid_identifier((const char *)data, size);
    int v = protocol_version((const char *)data, size);
    if (v != -1 && (v < 1 || v > 3)) __builtin_trap();
    return 0;
}
