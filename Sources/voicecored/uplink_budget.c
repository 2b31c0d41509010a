#include "uplink_budget.h"

void uplink_budget_init(uplink_budget *b, int64_t burst_us, int rate_percent, int64_t now_us) {
    b->burst_us = burst_us;
    b->tokens_us = burst_us;
    b->last_us = now_us;
    b->rate_percent = rate_percent;
}

int uplink_budget_take(uplink_budget *b, int64_t duration_us, int64_t now_us) {
    if (b->burst_us <= 0) return 1;
    if (now_us > b->last_us) {
        int64_t refill = (now_us - b->last_us) * b->rate_percent / 100;
        b->tokens_us = refill >= b->burst_us - b->tokens_us ? b->burst_us : b->tokens_us + refill;
        b->last_us = now_us;
    }
    if (duration_us > b->tokens_us) return 0;
    b->tokens_us -= duration_us;
    return 1;
}
