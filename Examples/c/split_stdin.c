/* split_stdin: reads UTF-8 text from stdin in small chunks and prints one segment per line, the
 * way a TTS front end would consume an LLM stream.
 *   usage: split_stdin [OPTIONS_JSON]      e.g. split_stdin '{"first_segment":"sentence"}'
 * Emoji removed from a segment are printed after a tab. */
#include <stdio.h>
#include <voicecore.h>

static int drain(vc_splitter *s) {
    vc_segment seg;
    int rc;
    while ((rc = vc_splitter_next(s, &seg)) == 1) {
        fwrite(seg.text, 1, seg.text_len, stdout);
        if (seg.emoji_count > 0) printf("\t%s", seg.emoji);
        putchar('\n');
    }
    return rc;
}

int main(int argc, char **argv) {
    vc_splitter *s = NULL;
    int rc = vc_splitter_new(&s, argc > 1 ? argv[1] : NULL);
    if (rc != VC_OK) {
        fprintf(stderr, "split_stdin: %s\n", s ? vc_splitter_errmsg(s) : vc_strerror(rc));
        vc_splitter_free(s);
        return 2;
    }
    char buf[64]; /* small on purpose: characters are split across pushes */
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        if ((rc = vc_splitter_push(s, buf, n)) != VC_OK || (rc = drain(s)) < 0) break;
    }
    if (rc >= 0 && (rc = vc_splitter_flush(s)) == VC_OK) rc = drain(s);
    if (rc < 0) fprintf(stderr, "split_stdin: %s\n", vc_splitter_errmsg(s));
    vc_splitter_free(s);
    return rc < 0 ? 1 : 0;
}
