/* A minimal assertion kit for the C tests: CHECK prints the failing expression and counts it;
 * CHECK_DONE prints the closing "N passed, N failed" line and returns the exit status. */
#ifndef VOICECORE_TEST_CHECK_H
#define VOICECORE_TEST_CHECK_H
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (cond) {                                                                     \
            check_passed++;                                                             \
        } else {                                                                        \
            check_failed++;                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                               \
    } while (0)

#define CHECK_STREQ(a, b) CHECK(strcmp((a), (b)) == 0)

#define CHECK_DONE()                                                                    \
    (printf("%d passed, %d failed\n", check_passed, check_failed), check_failed ? 1 : 0)

#endif
