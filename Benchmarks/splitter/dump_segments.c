/* dump_segments LIB CORPUS OUT: every segment (index, emoji count, text, emoji) of CORPUS (replies
   separated by 0x1E) for 7 option sets x 4 chunkings (byte by byte, the bench deltas, random
   1-40 bytes, whole replies), through the C ABI of the library at LIB (dlopen), so two builds
   can be compared byte for byte (see perfcheck.sh). */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef struct { const char *text; size_t text_len; const char *emoji; size_t emoji_len; int64_t index; int32_t emoji_count; } seg_t;
typedef int (*new_t)(void **, const char *);
typedef int (*push_t)(void *, const char *, size_t);
typedef int (*next_t)(void *, seg_t *);
typedef int (*flush_t)(void *);
typedef void (*free_t)(void *);
static next_t next;
static void drain(void *s, FILE *o) {
    seg_t g;
    while (next(s, &g) == 1) {
        fprintf(o, "%lld|%d|", (long long)g.index, g.emoji_count);
        fwrite(g.text, 1, g.text_len, o); fputc('|', o);
        fwrite(g.emoji, 1, g.emoji_len, o); fputc('\n', o);
    }
}
int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    new_t nw = (new_t)dlsym(h, "vc_splitter_new"); push_t push = (push_t)dlsym(h, "vc_splitter_push");
    next = (next_t)dlsym(h, "vc_splitter_next"); flush_t flush = (flush_t)dlsym(h, "vc_splitter_flush");
    free_t fr = (free_t)dlsym(h, "vc_splitter_free");
    FILE *f = fopen(argv[2], "rb"); fseek(f, 0, SEEK_END); size_t len = ftell(f); fseek(f, 0, SEEK_SET);
    char *buf = malloc(len); fread(buf, 1, len, f); fclose(f);
    FILE *o = fopen(argv[3], "wb");
    const char *opts[] = {NULL, "{\"clean_for_speech\":false}", "{\"first_segment\":\"sentence\",\"semicolon_ends\":false}",
        "{\"max_segment_chars\":16,\"min_first_chars\":0}", "{\"language\":\"de\",\"max_segment_chars\":40}",
        "{\"language\":\"ru\",\"clean_for_speech\":false,\"max_segment_chars\":25}", "{\"language\":\"en\",\"min_first_chars\":3}"};
    for (int oi = 0; oi < 7; oi++) for (int ch = 0; ch < 4; ch++) {
        fprintf(o, "=== opts %d chunking %d\n", oi, ch);
        void *s = NULL; nw(&s, opts[oi]);
        size_t i = 0, step = 0; unsigned rng = 12345;
        while (i < len) {
            const char *end = memchr(buf + i, 0x1E, len - i);
            size_t stop = end ? (size_t)(end - buf) : len;
            while (i < stop) {
                size_t n;
                if (ch == 0) n = 1;
                else if (ch == 1) n = 3 + (step++ * 7) % 22;
                else if (ch == 2) { rng = rng * 1103515245u + 12345u; n = 1 + (rng >> 16) % 40; }
                else n = stop - i;
                if (n > stop - i) n = stop - i;
                push(s, buf + i, n);
                drain(s, o);
                i += n;
            }
            flush(s); drain(s, o);
            i = stop + 1;
        }
        fr(s);
    }
    fclose(o);
    return 0;
}
