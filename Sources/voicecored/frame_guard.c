/* The mask-bit check of client frames (frame_guard.h). The table is process-wide because the
 * `recv` lws calls carries nothing but a descriptor; the daemon runs one server per process. */
#define _GNU_SOURCE
#include "frame_guard.h"
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum { AT_OPCODE, AT_LENGTH, AT_EXTENDED, AT_KEY, AT_PAYLOAD, AT_VIOLATED };

typedef struct watch {
    void *owner;                 /* NULL: not watched */
    uint8_t state;
    uint8_t need;                /* bytes still to read of the extended length or the key */
    uint64_t remaining;          /* payload bytes still to skip */
} watch;

static watch *watches;
static size_t watch_cap;
static void **violations;
static size_t violations_len, violations_cap;

void frame_guard_watch(int fd, void *owner) {
    if (fd < 0) return;
    if ((size_t)fd >= watch_cap) {
        size_t cap = watch_cap ? watch_cap : 1024;
        while (cap <= (size_t)fd) cap *= 2;
        watch *w = realloc(watches, cap * sizeof *w);
        if (!w) return;
        memset(w + watch_cap, 0, (cap - watch_cap) * sizeof *w);
        watches = w;
        watch_cap = cap;
    }
    watches[fd] = (watch){.owner = owner, .state = AT_OPCODE};
}

void frame_guard_forget(int fd, void *owner) {
    if (fd >= 0 && (size_t)fd < watch_cap && watches[fd].owner == owner) watches[fd].owner = NULL;
    /* A violation not yet taken must not outlive its owner. */
    for (size_t i = 0; i < violations_len; i++)
        if (violations[i] == owner) violations[i] = violations[--violations_len];
}

void *frame_guard_take_violation(void) { return violations_len ? violations[--violations_len] : NULL; }

static void violated(watch *w) {
    w->state = AT_VIOLATED;
    if (violations_len == violations_cap) {
        size_t cap = violations_cap ? violations_cap * 2 : 16;
        void **v = realloc(violations, cap * sizeof *v);
        if (!v) return;
        violations = v;
        violations_cap = cap;
    }
    violations[violations_len++] = w->owner;
}

void frame_guard_feed(int fd, const void *buf, long len) {
    if (fd < 0 || (size_t)fd >= watch_cap || len <= 0 || !watches[fd].owner) return;
    watch *w = &watches[fd];
    const uint8_t *b = buf;
    long i = 0;
    while (i < len && w->state != AT_VIOLATED) {
        switch (w->state) {
        case AT_OPCODE:
            i++;
            w->state = AT_LENGTH;
            break;
        case AT_LENGTH: {
            uint8_t c = b[i++];
            if (!(c & 0x80)) {
                violated(w);
                break;
            }
            uint8_t n = c & 0x7f;
            w->remaining = n < 126 ? n : 0;
            w->need = n == 126 ? 2 : n == 127 ? 8 : 4;
            w->state = n < 126 ? AT_KEY : AT_EXTENDED;
            break;
        }
        case AT_EXTENDED:
            w->remaining = w->remaining << 8 | b[i++];
            if (--w->need == 0) {
                w->need = 4;
                w->state = AT_KEY;
            }
            break;
        case AT_KEY:
            i++;
            if (--w->need == 0) w->state = w->remaining ? AT_PAYLOAD : AT_OPCODE;
            break;
        case AT_PAYLOAD: {
            uint64_t take = (uint64_t)(len - i) < w->remaining ? (uint64_t)(len - i) : w->remaining;
            i += (long)take;
            w->remaining -= take;
            if (w->remaining == 0) w->state = AT_OPCODE;
            break;
        }
        }
    }
}

/* The definitions lws's calls resolve to (left out of the fuzz target, whose sanitizer runtime
 * defines them itself). */
#ifndef FRAME_GUARD_NO_INTERPOSE

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    if (n > 0 && !(flags & MSG_PEEK)) frame_guard_feed(fd, buf, (long)n);
    return n;
}

int SSL_read(void *ssl, void *buf, int num);
int SSL_read(void *ssl, void *buf, int num) {
    static int (*real)(void *, void *, int);
    static int (*get_fd)(const void *);
    if (!real) {
        real = (int (*)(void *, void *, int))dlsym(RTLD_NEXT, "SSL_read");
        get_fd = (int (*)(const void *))dlsym(RTLD_NEXT, "SSL_get_fd");
        if (!real) return -1;
    }
    int n = real(ssl, buf, num);
    if (n > 0 && get_fd) frame_guard_feed(get_fd(ssl), buf, n);
    return n;
}
#endif
