/* A hash map from 64-bit ids (sessions, workers, timers) to pointers. Open addressing with
 * linear probing and backward-shift deletion, so no tombstones accumulate under churn. */
#ifndef VOICECORED_IDMAP_H
#define VOICECORED_IDMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct idmap {
    uint64_t *keys;      /* 0 marks an empty slot: ids start at 1 */
    void **values;
    size_t cap, count;
} idmap;

void idmap_init(idmap *m);
void idmap_free(idmap *m);
int idmap_put(idmap *m, uint64_t key, void *value);   /* 0, or -1 out of memory */
void *idmap_get(const idmap *m, uint64_t key);
void *idmap_remove(idmap *m, uint64_t key);
/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->keys[i]) ... */

#endif
