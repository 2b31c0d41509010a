/* callgrind_pass LIB CORPUS: one pass over the first 1 MB of CORPUS (whole replies) in the bench
   driver's deltas, vc_splitter_next included, inside pass(); run under
   valgrind --tool=callgrind --toggle-collect=pass (see perfcheck.sh). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deltas.h"
typedef struct { const char *text; size_t text_len; const char *emoji; size_t emoji_len; int64_t index; int32_t emoji_count; } seg_t;
typedef int (*new_t)(void **, const char *);
typedef int (*push_t)(void *, const char *, size_t);
typedef int (*next_t)(void *, seg_t *);
typedef int (*flush_t)(void *);
static push_t push; static next_t next; static flush_t flush;
__attribute__((noinline)) long pass(void *s, const char *buf, size_t len) {
    long segments = 0; size_t i = 0, step = 0; seg_t seg;
    while (i < len) {
        const char *end = memchr(buf + i, 0x1E, len - i);
        size_t stop = end ? (size_t)(end - buf) : len;
        while (i < stop) {
            size_t n = next_delta(&step, stop - i);
            push(s, buf + i, n);
            while (next(s, &seg) == 1) segments++;
            i += n;
        }
        flush(s);
        while (next(s, &seg) == 1) segments++;
        i = stop + 1;
    }
    return segments;
}
int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    new_t nw = (new_t)dlsym(h, "vc_splitter_new"); push = (push_t)dlsym(h, "vc_splitter_push");
    next = (next_t)dlsym(h, "vc_splitter_next"); flush = (flush_t)dlsym(h, "vc_splitter_flush");
    FILE *f = fopen(argv[2], "rb"); char *buf = malloc(1 << 21); size_t len = fread(buf, 1, 1000000, f); fclose(f);
    while (len > 0 && buf[len - 1] != 0x1E) len--;
    void *s = NULL; nw(&s, NULL);
    /* first reply once, outside the measured pass: lazy tables */
    pass(s, buf, 200);
    long n = pass(s, buf, len);
    printf("bytes %zu segments %ld\n", len, n);
    return 0;
}
