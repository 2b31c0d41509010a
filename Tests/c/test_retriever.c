/* The Retriever's C ABI: create, add, search (chunks and documents), chunk records and JSON,
 * save/reopen, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "voicecore.h"

int main(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/vc-retriever-c-%d.vcidx", (int)getpid());
    unlink(path);

    vc_retriever *kb = NULL;
    CHECK(vc_retriever_open(path, "{\"chunk_size\": 0}", &kb) == VC_OK);
    const char *a = "Opus frames travel over WebSocket.";
    const char *b = "The speaker streams audio to the server.";
    float va[3] = {1, 0, 0}, vb[3] = {0, 1, 0};
    CHECK(vc_retriever_add(kb, "a", a, strlen(a), "{\"lang\":\"en\"}", va, 1, 3) == VC_OK);
    CHECK(vc_retriever_add(kb, "b", b, strlen(b), NULL, vb, 1, 3) == VC_OK);

    int32_t slots[4];
    float scores[4];
    int n = vc_retriever_search(kb, "websocket frames", 16, NULL, 0, "{\"k\":4}", slots, scores, 4);
    CHECK(n == 1);
    char *json = NULL;
    CHECK(vc_retriever_chunk(kb, slots[0], &json) == VC_OK);
    CHECK(json && strstr(json, "\"id\":\"a\"") != NULL);
    vc_free(json);

    /* The typed chunk records: strings in the handle, NUL-terminated, with lengths. */
    vc_retriever_chunk_info info[2];
    int32_t both[2] = {1, 0};
    CHECK(vc_retriever_chunks(kb, both, 2, info) == VC_OK);
    CHECK(info[0].id_len == 1 && strcmp(info[0].id, "b") == 0 && strcmp(info[1].id, "a") == 0);
    CHECK(info[1].text_len == strlen(a) && strcmp(info[1].text, a) == 0);
    CHECK(info[1].chunk == 0 && info[1].start == 0 && info[1].end == (int32_t)strlen(a));
    CHECK(strcmp(info[1].metadata_json, "{\"lang\":\"en\"}") == 0 && info[1].metadata_len == 13);
    CHECK(strcmp(info[0].metadata_json, "{}") == 0 && info[0].metadata_len == 2);
    int32_t bad = 7;
    CHECK(vc_retriever_chunks(kb, &bad, 1, info) == VC_ERR_NOT_FOUND);
    CHECK(vc_retriever_chunks(kb, NULL, 0, NULL) == VC_OK);

    /* Documents rather than chunks: one hit per document. */
    n = vc_retriever_search(kb, "the server streams frames", 25, NULL, 0, "{\"k\":4,\"group_by\":\"document\"}", slots, scores, 4);
    CHECK(n == 2 && slots[0] != slots[1]);
    CHECK(vc_retriever_search(kb, "x", 1, NULL, 0, "{\"group_by\":\"page\"}", slots, scores, 4) == VC_ERR_INVALID_ARGUMENT);

    float q[3] = {0.1f, 1, 0};
    n = vc_retriever_search(kb, NULL, 0, q, 3, "{\"k\":1,\"mode\":\"dense\"}", slots, scores, 4);
    CHECK(n == 1 && slots[0] == 1);

    /* Errors: wrong dimension, bad UTF-8, capacity, unknown id, NULL handle. */
    float v4[4] = {1, 2, 3, 4};
    CHECK(vc_retriever_add(kb, "c", "x", 1, NULL, v4, 1, 4) == VC_ERR_MISMATCH);
    CHECK(strstr(vc_retriever_errmsg(kb), "dimension") != NULL);
    CHECK(vc_retriever_add(kb, "d", "\xff", 1, NULL, NULL, 0, 0) == VC_ERR_UTF8);
    CHECK(vc_retriever_search(kb, "x", 1, NULL, 0, "{\"k\":10}", slots, scores, 4) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_retriever_delete(kb, "nope") == VC_ERR_NOT_FOUND);
    CHECK(vc_retriever_add(NULL, "a", "x", 1, NULL, NULL, 0, 0) == VC_ERR_INVALID_ARGUMENT);

    CHECK(vc_retriever_save(kb, NULL) == VC_OK);
    vc_retriever_free(kb);

    kb = NULL;
    CHECK(vc_retriever_open(path, NULL, &kb) == VC_OK);
    CHECK(vc_retriever_stats(kb, &json) == VC_OK);
    CHECK(json && strstr(json, "\"documents\":2") != NULL);
    vc_free(json);
    vc_retriever_free(kb);

    /* A truncated file: the handle carries the error, then is freed. */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) { CHECK(ftruncate(fileno(f), 40) == 0); fclose(f); }
    kb = NULL;
    CHECK(vc_retriever_open(path, NULL, &kb) == VC_ERR_CORRUPT);
    CHECK(kb != NULL && strstr(vc_retriever_errmsg(kb), "truncated") != NULL);
    CHECK(vc_retriever_add(kb, "a", "x", 1, NULL, NULL, 0, 0) == VC_ERR_STATE);
    vc_retriever_free(kb);
    unlink(path);
    return CHECK_DONE();
}
