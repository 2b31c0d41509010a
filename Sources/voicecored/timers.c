#include "timers.h"
#include <stdlib.h>

static void swap(timers *t, size_t a, size_t b) {
    timer_entry *x = t->heap[a];
    t->heap[a] = t->heap[b];
    t->heap[b] = x;
    t->heap[a]->heap_index = a;
    t->heap[b]->heap_index = b;
}

static void sift_up(timers *t, size_t i) {
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (t->heap[parent]->at_us <= t->heap[i]->at_us) break;
        swap(t, parent, i);
        i = parent;
    }
}

static void sift_down(timers *t, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->count && t->heap[l]->at_us < t->heap[m]->at_us) m = l;
        if (r < t->count && t->heap[r]->at_us < t->heap[m]->at_us) m = r;
        if (m == i) return;
        swap(t, i, m);
        i = m;
    }
}

static void remove_at(timers *t, size_t i) {
    timer_entry *e = t->heap[i];
    t->count--;
    if (i != t->count) {
        t->heap[i] = t->heap[t->count];
        t->heap[i]->heap_index = i;
        sift_down(t, i);
        sift_up(t, i);
    }
    idmap_remove(&t->by_id, e->id);
    free(e);
}

static void on_timer(uv_timer_t *handle);

static void arm(timers *t) {
    if (t->count == 0) {
        uv_timer_stop(&t->handle);
        return;
    }
    int64_t wait_us = t->heap[0]->at_us - t->now_us();
    uint64_t ms = wait_us <= 0 ? 0 : (uint64_t)((wait_us + 999) / 1000);
    uv_timer_start(&t->handle, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *handle) {
    timers *t = handle->data;
    int64_t now = t->now_us();
    while (t->count > 0 && t->heap[0]->at_us <= now) {
        uint64_t id = t->heap[0]->id;
        remove_at(t, 0);
        t->fired(t->context, id);   /* may set or cancel timers */
    }
    arm(t);
}

int timers_init(timers *t, uv_loop_t *loop, int64_t (*now_us)(void), timer_fired_fn fired, void *context) {
    idmap_init(&t->by_id);
    t->heap = NULL;
    t->count = t->cap = 0;
    t->now_us = now_us;
    t->fired = fired;
    t->context = context;
    t->handle.data = t;
    return uv_timer_init(loop, &t->handle);
}

int timers_set(timers *t, uint64_t id, int64_t at_us) {
    timer_entry *e = idmap_get(&t->by_id, id);
    if (e) {
        e->at_us = at_us;
        sift_down(t, e->heap_index);
        sift_up(t, e->heap_index);
        arm(t);
        return 0;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        timer_entry **heap = realloc(t->heap, cap * sizeof *heap);
        if (!heap) return -1;
        t->heap = heap;
        t->cap = cap;
    }
    e = malloc(sizeof *e);
    if (!e || idmap_put(&t->by_id, id, e)) {
        free(e);
        return -1;
    }
    e->id = id;
    e->at_us = at_us;
    e->heap_index = t->count;
    t->heap[t->count++] = e;
    sift_up(t, e->heap_index);
    arm(t);
    return 0;
}

void timers_cancel(timers *t, uint64_t id) {
    timer_entry *e = idmap_get(&t->by_id, id);
    if (!e) return;
    remove_at(t, e->heap_index);
    arm(t);
}

size_t timers_pending(const timers *t) { return t->count; }

void timers_free(timers *t) {
    for (size_t i = 0; i < t->count; i++) free(t->heap[i]);
    free(t->heap);
    t->heap = NULL;
    t->count = t->cap = 0;
    idmap_free(&t->by_id);
}
