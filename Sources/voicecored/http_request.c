#include "http_request.h"
#include <string.h>
#include <strings.h>

int bearer_token(const char *header, size_t header_len, char *out, size_t out_len) {
    while (header_len > 0 && (*header == ' ' || *header == '\t')) header++, header_len--;
    while (header_len > 0 && (header[header_len - 1] == ' ' || header[header_len - 1] == '\t')) header_len--;
    if (header_len == 6 && strncasecmp(header, "Bearer", 6) == 0) return -1;  /* a scheme without its token */
    const char *space = memchr(header, ' ', header_len);
    const char *token = header;
    size_t token_len = header_len;
    if (space) {
        size_t scheme_len = (size_t)(space - header);
        if (scheme_len != 6 || strncasecmp(header, "Bearer", 6) != 0) return -1;
        token = space + 1;
        token_len = header_len - scheme_len - 1;
        while (token_len > 0 && *token == ' ') token++, token_len--;
    }
    if (token_len == 0 || token_len + 1 > out_len || memchr(token, '\0', token_len)) return -1;
    memcpy(out, token, token_len);
    out[token_len] = '\0';
    return (int)token_len;
}

int valid_identifier(const char *s, size_t len) {
    if (len == 0 || len > 64) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == ':' || c == '.' || c == '_' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

int tokens_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}

int protocol_version(const char *s, size_t len) {
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
    if (len != 1 || s[0] < '1' || s[0] > '3') return -1;
    return s[0] - '0';
}
