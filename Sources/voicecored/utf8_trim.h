/* Text the daemon cuts to fit (a WebSocket close reason: at most 123 bytes) must stay valid
 * UTF-8, or the peer fails the connection with 1007. */
#ifndef VOICECORED_UTF8_TRIM_H
#define VOICECORED_UTF8_TRIM_H

/* Drops a multi-byte character left incomplete at the end of s (NUL-terminated). */
void utf8_trim_partial(char *s);

#endif
