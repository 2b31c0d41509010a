#include "idmap.h"
#include <stdlib.h>

static size_t slot_of(uint64_t key, size_t cap) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void idmap_init(idmap *m) {
    m->keys = NULL;
    m->values = NULL;
    m->cap = m->count = 0;
}

void idmap_free(idmap *m) {
    free(m->keys);
    free(m->values);
    idmap_init(m);
}

static int grow(idmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof *keys);
    void **values = calloc(cap, sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t s = slot_of(m->keys[i], cap);
        while (keys[s]) s = (s + 1) & (cap - 1);
        keys[s] = m->keys[i];
        values[s] = m->values[i];
    }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->cap = cap;
    return 0;
}

int idmap_put(idmap *m, uint64_t key, void *value) {
    if ((m->count + 1) * 4 > m->cap * 3 && grow(m)) return -1;
    size_t s = slot_of(key, m->cap);
    while (m->keys[s] && m->keys[s] != key) s = (s + 1) & (m->cap - 1);
    if (!m->keys[s]) m->count++;
    m->keys[s] = key;
    m->values[s] = value;
    return 0;
}

void *idmap_get(const idmap *m, uint64_t key) {
    if (!m->cap || !key) return NULL;
    size_t s = slot_of(key, m->cap);
    while (m->keys[s]) {
        if (m->keys[s] == key) return m->values[s];
        s = (s + 1) & (m->cap - 1);
    }
    return NULL;
}

void *idmap_remove(idmap *m, uint64_t key) {
    if (!m->cap || !key) return NULL;
    size_t mask = m->cap - 1, s = slot_of(key, m->cap);
    while (m->keys[s] && m->keys[s] != key) s = (s + 1) & mask;
    if (!m->keys[s]) return NULL;
    void *value = m->values[s];
    m->keys[s] = 0;
    m->count--;
    /* Backward shift: pull later members of the probe run into the hole. */
    size_t hole = s, i = (s + 1) & mask;
    while (m->keys[i]) {
        size_t home = slot_of(m->keys[i], m->cap);
        int movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
        if (movable) {
            m->keys[hole] = m->keys[i];
            m->values[hole] = m->values[i];
            m->keys[i] = 0;
            hole = i;
        }
        i = (i + 1) & mask;
    }
    return value;
}
