/* coordinator_hello: the Coordinator through its typed C ABI, as a host drives it. A device
 * connects as session 12 and says hello (its text frame, handed in as it arrived); every effect is
 * printed one per line: its kind, its ids and numbers, and the text frame to send, unchanged.
 * Then the device stays silent: the hello timer the core asked for fires and the core closes the
 * session with the close code it decides.
 *   usage: coordinator_hello [CONFIG_JSON]      e.g. coordinator_hello '{"hello_timeout_ms":2000}' */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <voicecore.h>

static const char *const kinds[] = {"?", "device.send", "device.audio", "device.audio_end", "device.flush", "device.close",
                                    "worker.send", "worker.audio", "worker.close", "timer.set", "timer.cancel"};

/* Prints the effects of the last call; returns the last timer set (0: none) and its time. */
static uint64_t drain(vc_coordinator *c, int64_t *at_us) {
    vc_effect e;
    uint64_t timer = 0;
    while (vc_coordinator_next_effect(c, &e) == 1) {
        printf("%s session=%" PRIu64, kinds[e.kind <= VC_EFFECT_TIMER_CANCEL ? e.kind : 0], e.session);
        if (e.kind == VC_EFFECT_TIMER_SET) {
            printf(" timer=%" PRIu64 " at_us=%" PRId64, e.timer, e.at_us);
            timer = e.timer;
            *at_us = e.at_us;
        }
        if (e.kind == VC_EFFECT_DEVICE_CLOSE) printf(" code=%d", e.code);
        if (e.body) printf(" %s", e.body);
        putchar('\n');
    }
    return timer;
}

int main(int argc, char **argv) {
    vc_coordinator *c = NULL;
    if (vc_coordinator_new(&c, argc > 1 ? argv[1] : NULL) != VC_OK) {
        fprintf(stderr, "coordinator_hello: %s\n", vc_coordinator_errmsg(c));
        vc_coordinator_free(c);
        return 2;
    }
    int64_t at = 0;
    vc_event connected = {.kind = VC_EVENT_DEVICE_CONNECTED, .session = 12, .protocol_version = 1};
    vc_coordinator_handle(c, &connected, 1000);
    drain(c, &at);
    const char *hello = "{\"type\":\"hello\",\"version\":1,\"transport\":\"websocket\"}";
    vc_event message = {.kind = VC_EVENT_DEVICE_MESSAGE, .session = 12, .body = hello, .body_len = strlen(hello)};
    vc_coordinator_handle(c, &message, 2000);
    drain(c, &at);

    vc_event silent = {.kind = VC_EVENT_DEVICE_CONNECTED, .session = 13};
    vc_coordinator_handle(c, &silent, 3000);
    vc_event fired = {.kind = VC_EVENT_TIMER_FIRED};
    fired.timer = drain(c, &at);
    vc_coordinator_handle(c, &fired, at);
    drain(c, &at);
    vc_coordinator_free(c);
    return 0;
}
