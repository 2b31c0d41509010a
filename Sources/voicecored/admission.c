/* Admission of connections before their request is complete (admission.h). */
#include "admission.h"
#include <libwebsockets.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct admitted {
    struct lws *wsi;
    uint64_t addr;
    int64_t since_us;            /* when it began waiting for its request headers */
    int pending;
    admitted *prev, *next;       /* the pending list, oldest first */
};

typedef struct address_counts {
    int pending, total;
} address_counts;

void admission_init(admission *a, admission_limits limits) {
    memset(a, 0, sizeof *a);
    a->limits = limits;
    idmap_init(&a->by_wsi);
    idmap_init(&a->by_addr);
}

void admission_free(admission *a) {
    for (size_t i = 0; i < a->by_wsi.cap; i++)
        if (a->by_wsi.keys[i]) free(a->by_wsi.values[i]);
    for (size_t i = 0; i < a->by_addr.cap; i++)
        if (a->by_addr.keys[i]) free(a->by_addr.values[i]);
    idmap_free(&a->by_wsi);
    idmap_free(&a->by_addr);
    a->oldest = a->newest = NULL;
    a->pending = 0;
}

uint64_t admission_address_key(const struct sockaddr *addr) {
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return 0x100000000ull | ntohl(in->sin_addr.s_addr);
    }
    if (addr->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(b, v4mapped, 12))
            return 0x100000000ull | ((uint64_t)b[12] << 24 | (uint64_t)b[13] << 16 | (uint64_t)b[14] << 8 | b[15]);
        /* FNV-1a over the 16 bytes; the top bit keeps it clear of the IPv4 keys. A collision only
         * makes two addresses share their counts. */
        uint64_t h = 0xcbf29ce484222325ull;
        for (int i = 0; i < 16; i++) h = (h ^ b[i]) * 0x100000001b3ull;
        return h | 0x8000000000000000ull;
    }
    return 1;   /* unix sockets and the like: one address */
}

static address_counts *counts_of(admission *a, uint64_t key, int create) {
    address_counts *n = idmap_get(&a->by_addr, key);
    if (n || !create) return n;
    n = calloc(1, sizeof *n);
    if (n && idmap_put(&a->by_addr, key, n) != 0) {
        free(n);
        n = NULL;
    }
    return n;
}

static void counts_release(admission *a, uint64_t key, address_counts *n) {
    if (n->pending == 0 && n->total == 0) free(idmap_remove(&a->by_addr, key));
}

static void unlink_pending(admission *a, admitted *e) {
    if (!e->pending) return;
    e->pending = 0;
    if (e->prev) e->prev->next = e->next;
    else a->oldest = e->next;
    if (e->next) e->next->prev = e->prev;
    else a->newest = e->prev;
    e->prev = e->next = NULL;
    a->pending--;
    address_counts *n = counts_of(a, e->addr, 0);
    if (n) n->pending--;
}

static void link_pending(admission *a, admitted *e, int64_t now_us) {
    unlink_pending(a, e);
    e->pending = 1;
    e->since_us = now_us;
    e->prev = a->newest;
    e->next = NULL;
    if (a->newest) a->newest->next = e;
    else a->oldest = e;
    a->newest = e;
    a->pending++;
    address_counts *n = counts_of(a, e->addr, 0);
    if (n) n->pending++;
}

/* Closes a pending connection: it leaves the pending counts now, the totals when lws has freed it. */
static void close_pending(admission *a, admitted *e) {
    unlink_pending(a, e);
    lws_set_timeout(e->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* Idle: nothing it sent waits unread. A connection of a burst whose request the daemon has not
 * read yet is not idle, and is never evicted for being slow: the slowness is ours. */
static int is_idle(const admitted *e) {
    int fd = lws_get_socket_fd(e->wsi), unread = 0;
    if (fd < 0 || ioctl(fd, FIONREAD, &unread) != 0) return 1;
    return unread == 0;
}

#define EVICT_SCAN 1024

/* The oldest idle connection that has been pending ADMISSION_EVICT_AGE_US or more, of one address
 * (addr != 0) or of all. The list is in the order connections began waiting. */
static admitted *stale_idle(admission *a, uint64_t addr, int64_t now_us) {
    int scanned = 0;
    for (admitted *e = a->oldest; e && scanned < EVICT_SCAN; e = e->next, scanned++) {
        if (now_us - e->since_us < ADMISSION_EVICT_AGE_US) return NULL;
        if ((!addr || e->addr == addr) && is_idle(e)) return e;
    }
    return NULL;
}

/* Makes room for one more pending connection by evicting a stale idle one; 0 if it did. */
static int evict_for(admission *a, uint64_t addr, int64_t now_us) {
    admitted *e = stale_idle(a, addr, now_us);
    if (!e) return -1;
    close_pending(a, e);
    a->evicted++;
    return 0;
}

admit_result admission_accept(admission *a, const struct sockaddr *addr, int64_t now_us) {
    uint64_t key = admission_address_key(addr);
    address_counts *n = counts_of(a, key, 0);
    a->accepting = 0;
    if (a->limits.max_per_address > 0 && n && n->total >= a->limits.max_per_address) {
        a->refused++;
        return ADMIT_REFUSED_ADDRESS;
    }
    /* Once half the overall bound is taken, an address past its share makes room among its own
     * held connections or is refused: one address cannot take the rest. Below that, a burst from
     * one address (a household's devices behind NAT, a test on loopback) is admitted whole. */
    int pressed = a->pending >= (a->limits.max_pending + 1) / 2;
    if (pressed && n && n->pending >= a->limits.max_pending_per_address && evict_for(a, key, now_us) != 0) {
        a->refused++;
        return ADMIT_REFUSED_PENDING;
    }
    if (a->pending >= a->limits.max_pending && evict_for(a, 0, now_us) != 0) {
        a->refused++;
        return ADMIT_REFUSED_PENDING;
    }
    a->accepting = key;
    return ADMIT_OK;
}

void admission_created(admission *a, struct lws *wsi, int64_t now_us) {
    uint64_t key = a->accepting;
    a->accepting = 0;
    if (!key) return;
    admitted *e = calloc(1, sizeof *e);
    address_counts *n = counts_of(a, key, 1);
    if (!e || !n || idmap_put(&a->by_wsi, (uint64_t)(uintptr_t)wsi, e) != 0) {
        /* Out of memory: the connection goes untracked rather than refused. */
        free(e);
        if (n) counts_release(a, key, n);
        return;
    }
    e->wsi = wsi;
    e->addr = key;
    n->total++;
    link_pending(a, e, now_us);
}

void admission_request(admission *a, struct lws *wsi) {
    admitted *e = idmap_get(&a->by_wsi, (uint64_t)(uintptr_t)wsi);
    if (e) unlink_pending(a, e);
}

void admission_idle(admission *a, struct lws *wsi, int64_t now_us) {
    admitted *e = idmap_get(&a->by_wsi, (uint64_t)(uintptr_t)wsi);
    if (e) link_pending(a, e, now_us);
}

void admission_destroyed(admission *a, struct lws *wsi) {
    admitted *e = idmap_remove(&a->by_wsi, (uint64_t)(uintptr_t)wsi);
    if (!e) return;
    unlink_pending(a, e);
    address_counts *n = counts_of(a, e->addr, 0);
    if (n) {
        n->total--;
        counts_release(a, e->addr, n);
    }
    free(e);
}

int admission_expire(admission *a, int64_t now_us) {
    int closed = 0;
    while (a->oldest && now_us - a->oldest->since_us >= a->limits.header_timeout_us) {
        close_pending(a, a->oldest);
        a->timed_out++;
        closed++;
    }
    return closed;
}
