/* C ABI of the sentence splitter: lifecycle, errors for NULL/invalid arguments, option errors
 * with a handle (sqlite3_open style), invalid and split UTF-8, emoji, reset. */
#include <stdlib.h>
#include <string.h>
#include <voicecore.h>
#include "check.h"

/* Pushes `text` in pieces of `chunk` bytes, flushes, and joins the segments with '|'. */
static void run(vc_splitter *s, const char *text, size_t chunk, char *out, size_t cap) {
    size_t len = strlen(text);
    out[0] = 0;
    vc_segment seg;
    for (size_t i = 0;; i += chunk) {
        if (i < len) CHECK(vc_splitter_push(s, text + i, len - i < chunk ? len - i : chunk) == VC_OK);
        else CHECK(vc_splitter_flush(s) == VC_OK);
        while (vc_splitter_next(s, &seg) == 1) {
            CHECK(strlen(seg.text) == seg.text_len);
            if (out[0]) strncat(out, "|", cap - strlen(out) - 1);
            strncat(out, seg.text, cap - strlen(out) - 1);
        }
        if (i >= len) break;
    }
}

int main(void) {
    vc_splitter *s = NULL;
    vc_segment seg;

    /* NULL and invalid arguments: errors, never traps. */
    CHECK(vc_splitter_new(NULL, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_splitter_push(NULL, "x", 1) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_splitter_next(NULL, &seg) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_splitter_flush(NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_splitter_reset(NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(strlen(vc_splitter_errmsg(NULL)) > 0);
    vc_splitter_free(NULL);

    /* Option errors still give a handle that says why. */
    CHECK(vc_splitter_new(&s, "{\"languag\":\"en\"}") == VC_ERR_INVALID_ARGUMENT);
    CHECK(s != NULL);
    CHECK(strstr(vc_splitter_errmsg(s), "unknown splitter option 'languag'") != NULL);
    CHECK(vc_splitter_push(s, "x", 1) == VC_ERR_STATE);
    CHECK(strstr(vc_splitter_errmsg(s), "languag") != NULL);
    vc_splitter_free(s);
    s = NULL;
    CHECK(vc_splitter_new(&s, "{\"max_segment_chars\":3}") == VC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(vc_splitter_errmsg(s), "max_segment_chars") != NULL);
    vc_splitter_free(s);
    s = NULL;
    CHECK(vc_splitter_new(&s, "{not json") == VC_ERR_PARSE);
    CHECK(strstr(vc_splitter_errmsg(s), "JSON") != NULL);
    vc_splitter_free(s);
    s = NULL;
    CHECK(vc_splitter_new(&s, "[1]") == VC_ERR_INVALID_ARGUMENT);
    vc_splitter_free(s);

    /* Defaults; the README example. */
    CHECK(vc_splitter_new(&s, NULL) == VC_OK);
    CHECK(strcmp(vc_splitter_errmsg(s), "") == 0);
    CHECK(vc_splitter_push(s, NULL, 0) == VC_OK);
    CHECK(vc_splitter_push(s, NULL, 5) == VC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(vc_splitter_errmsg(s), "NULL") != NULL);
    CHECK(vc_splitter_next(s, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_splitter_push(s, "x", (size_t)-1) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_splitter_reset(s) == VC_OK);
    const char *hello = "Hello Dr. Smith. It costs $3.50 today";
    CHECK(vc_splitter_push(s, hello, strlen(hello)) == VC_OK);
    CHECK(vc_splitter_next(s, &seg) == 1);
    CHECK_STREQ(seg.text, "Hello Dr. Smith.");
    CHECK(seg.index == 0 && seg.emoji_count == 0 && seg.emoji_len == 0);
    CHECK(vc_splitter_next(s, &seg) == 0);
    CHECK(vc_splitter_flush(s) == VC_OK);
    CHECK(vc_splitter_next(s, &seg) == 1);
    CHECK_STREQ(seg.text, "It costs $3.50 today");
    CHECK(seg.index == 1);

    /* Emoji are removed and reported, with the segment they were in. */
    CHECK(vc_splitter_reset(s) == VC_OK);
    const char *emo = "Great news \xF0\x9F\x98\x8A\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD! Next.";
    CHECK(vc_splitter_push(s, emo, strlen(emo)) == VC_OK);
    CHECK(vc_splitter_flush(s) == VC_OK);
    CHECK(vc_splitter_next(s, &seg) == 1);
    CHECK_STREQ(seg.text, "Great news!");
    CHECK(seg.emoji_count == 2);
    CHECK_STREQ(seg.emoji, "\xF0\x9F\x98\x8A \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD");
    CHECK(seg.index == 0);

    /* Invalid UTF-8 is replaced by U+FFFD; a character split across pushes is joined. */
    CHECK(vc_splitter_reset(s) == VC_OK);
    char out[512];
    run(s, "A\xFF" "b. \xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82" "Ok", 1, out, sizeof out);
    CHECK_STREQ(out, "A\xEF\xBF\xBD" "b.|\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82|Ok");
    run(s, "Truncated \xE4\xBD", 3, out, sizeof out);
    CHECK_STREQ(out, "Truncated \xEF\xBF\xBD");
    run(s, "\xC0\xAF\xED\xA0\x80 x", 2, out, sizeof out); /* overlong, surrogate */
    CHECK(strncmp(out, "\xEF\xBF\xBD", 3) == 0);

    /* The same segments however the text is chunked. */
    const char *mixed = "<think>plan</think>## Title\nFirst, the U.S. Government said so. "
                        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x81Ok 3.14 is pi... Right?";
    char whole[512];
    run(s, mixed, 4096, whole, sizeof whole);
    CHECK_STREQ(whole, "Title|First, the U.S. Government said so.|\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x81|Ok 3.14 is pi...|Right?");
    for (size_t chunk = 1; chunk < 9; chunk++) {
        run(s, mixed, chunk, out, sizeof out);
        CHECK_STREQ(out, whole);
    }

    /* Several segments ready after one push: each text is NUL-terminated where it is handed out
       (the handle's own bytes, valid until the next call), the last one's index follows. */
    CHECK(vc_splitter_reset(s) == VC_OK);
    const char *three = "First one here. Second one here. Third one here. Rest";
    CHECK(vc_splitter_push(s, three, strlen(three)) == VC_OK);
    const char *want[] = {"First one here.", "Second one here.", "Third one here."};
    for (int k = 0; k < 3; k++) {
        CHECK(vc_splitter_next(s, &seg) == 1);
        CHECK(seg.text_len == strlen(want[k]) && seg.text[seg.text_len] == 0);
        CHECK_STREQ(seg.text, want[k]);
        CHECK(seg.index == k && seg.emoji_count == 0 && seg.emoji_len == 0 && seg.emoji[0] == 0);
    }
    CHECK(vc_splitter_next(s, &seg) == 0);
    CHECK(vc_splitter_flush(s) == VC_OK);
    CHECK(vc_splitter_next(s, &seg) == 1);
    CHECK_STREQ(seg.text, "Rest");

    /* The usual push runs in C and leaves its state there between pushes (split11): a segment it
       ends carries the emoji the Swift path took before; an error recorded between pushes (which
       sends the next push the checked way) changes no segment. */
    CHECK(vc_splitter_reset(s) == VC_OK);
    const char *walk = "Nice \xF0\x9F\x98\x8A day for a long walk. Then we go home! Bye";
    for (size_t i = 0, len = strlen(walk); i < len; i += 5) {
        CHECK(vc_splitter_push(s, walk + i, len - i < 5 ? len - i : 5) == VC_OK);
        if (i == 20) CHECK(vc_splitter_next(s, NULL) == VC_ERR_INVALID_ARGUMENT);
    }
    CHECK(vc_splitter_next(s, &seg) == 1);
    CHECK_STREQ(seg.text, "Nice day for a long walk.");
    CHECK(seg.emoji_count == 1 && seg.emoji_len == 4);
    CHECK_STREQ(seg.emoji, "\xF0\x9F\x98\x8A");
    CHECK(strcmp(vc_splitter_errmsg(s), "") == 0);
    CHECK(vc_splitter_next(s, &seg) == 1);
    CHECK_STREQ(seg.text, "Then we go home!");
    CHECK(seg.emoji_count == 0 && seg.emoji[0] == 0);
    CHECK(vc_splitter_next(s, &seg) == 0);
    CHECK(vc_splitter_flush(s) == VC_OK);
    CHECK(vc_splitter_next(s, &seg) == 1);
    CHECK_STREQ(seg.text, "Bye");

    /* Many small pushes with nothing taken out: the C loop refuses a push when the buffers lack
       room, the Swift side grows them; the segments are those of one push. */
    static char many[8192], once[8192], small[8192];
    many[0] = 0;
    for (int k = 0; k < 120; k++) strcat(many, k % 3 ? "The cat sat on the warm mat today. " : "\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82");
    run(s, many, sizeof many, once, sizeof once);
    CHECK(vc_splitter_reset(s) == VC_OK);
    for (size_t i = 0, len = strlen(many); i < len; i += 13)
        CHECK(vc_splitter_push(s, many + i, len - i < 13 ? len - i : 13) == VC_OK);
    CHECK(vc_splitter_flush(s) == VC_OK);
    small[0] = 0;
    int count = 0;
    while (vc_splitter_next(s, &seg) == 1) {
        if (small[0]) strncat(small, "|", sizeof small - strlen(small) - 1);
        strncat(small, seg.text, sizeof small - strlen(small) - 1);
        count++;
    }
    CHECK(count > 100);
    CHECK_STREQ(small, once);
    vc_splitter_free(s);
    return CHECK_DONE();
}
