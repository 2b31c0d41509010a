/* Pieces of an HTTP request the daemon reads (libwebsockets has already split and decoded it):
 * bearer tokens, identifiers, protocol versions. Pure string functions, bounded by explicit lengths. */
#ifndef VOICECORED_HTTP_REQUEST_H
#define VOICECORED_HTTP_REQUEST_H
#include <stddef.h>

/* Extracts the token of an "Authorization: Bearer <token>" value (the scheme is
 * case-insensitive; a value without a space is taken as a bare token, as the firmware sends
 * tokens that already carry their scheme). Returns the token length or -1. */
int bearer_token(const char *header, size_t header_len, char *out, size_t out_len);

/* An identifier from the network (Device-Id, Client-Id): 1-64 characters of [A-Za-z0-9:._-]. */
int valid_identifier(const char *s, size_t len);

/* Compares two secrets in time independent of where they differ. 1 when equal. */
int tokens_equal(const char *a, const char *b);

/* A Protocol-Version value: "1", "2" or "3". Returns the version or -1. */
int protocol_version(const char *s, size_t len);

#endif
