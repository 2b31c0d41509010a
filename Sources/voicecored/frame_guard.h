/* RFC 6455 §5.1: a client masks every frame it sends, and a server must fail the connection on
 * an unmasked one. libwebsockets 4.1 reads the mask bit but accepts either, and shows the protocol
 * callback no frame header. So the daemon follows the frame headers itself, in the bytes lws
 * reads from each established WebSocket: frame_guard.c defines `recv` and `SSL_read`, which lws's
 * calls resolve to (the executable's definitions come first in symbol lookup), passes each call
 * on to the C library / OpenSSL, and runs the bytes of watched sockets through a small frame-
 * header parser. A frame without the mask bit flags its socket; the server fails the connection
 * (close 1002) before the loop polls again. Sockets not watched cost one array lookup per read.
 *
 * Watching starts when the WebSocket is established: a client that sends frames before it has
 * read the 101 response (in the same read as its upgrade request) is not followed. */
#ifndef VOICECORED_FRAME_GUARD_H
#define VOICECORED_FRAME_GUARD_H

/* Follows the frames read from fd from now on; owner is handed back with a violation. */
void frame_guard_watch(int fd, void *owner);
/* Stops following fd (owner must match: the descriptor may already serve someone else). */
void frame_guard_forget(int fd, void *owner);
/* The owner of a socket that sent an unmasked frame since the last call, or NULL. */
void *frame_guard_take_violation(void);
/* Runs bytes through fd's parser as if lws had read them (for tests). */
void frame_guard_feed(int fd, const void *buf, long len);

#endif
