/* The uplink budget: a burst of buffered audio passes, real time (with slack) passes forever,
 * a flood is cut off at the burst and let through again at the refill rate. */
#include "check.h"
#include "uplink_budget.h"

int main(void) {
    uplink_budget b;
    const int64_t frame = 60000; /* 60 ms */
    uplink_budget_init(&b, 1000000, 150, 0);

    /* A one-second burst at t=0: 16 frames (960 ms) pass, the 17th does not. */
    int passed = 0;
    for (int i = 0; i < 17; i++) passed += uplink_budget_take(&b, frame, 0);
    CHECK(passed == 16);
    CHECK(uplink_budget_take(&b, frame, 0) == 0);

    /* 40 ms later, 1.5 × 40 = 60 ms have refilled (plus the 40 ms left over): one frame passes. */
    CHECK(uplink_budget_take(&b, frame, 40000) == 1);
    CHECK(uplink_budget_take(&b, frame, 40000) == 0);

    /* Real time for ten minutes never runs dry. */
    int64_t t = 40000;
    int refused = 0;
    for (int i = 0; i < 10000; i++) {
        t += frame;
        refused += !uplink_budget_take(&b, frame, t);
    }
    CHECK(refused == 0);
    CHECK(b.tokens_us <= b.burst_us);

    /* Twice real time is cut to 1.5 × once the burst is spent. */
    uplink_budget_init(&b, 1000000, 150, 0);
    t = 0;
    passed = 0;
    for (int i = 0; i < 2000; i++) {
        t += frame / 2;
        passed += uplink_budget_take(&b, frame, t);
    }
    /* 60 s of wall time: 1 s burst + 90 s of refill allow 91 s of audio = 1516 frames. */
    CHECK(passed >= 1500 && passed <= 1520);

    /* A long silence refills only up to the burst. */
    CHECK(uplink_budget_take(&b, 0, t + 3600000000LL) == 1);
    CHECK(b.tokens_us == b.burst_us);

    /* Disabled: anything passes. */
    uplink_budget_init(&b, 0, 150, 0);
    for (int i = 0; i < 100; i++) CHECK(uplink_budget_take(&b, frame, 0) == 1);
    return CHECK_DONE();
}
