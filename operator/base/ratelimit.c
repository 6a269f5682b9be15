#include "base/ratelimit.h"

void ratelimit_init(struct ratelimit *rl, double qps, int burst, double now)
{
	rl->qps = qps;
	rl->burst = burst < 1 ? 1 : burst;
	rl->tokens = rl->burst;
	rl->last = now;
}

double ratelimit_reserve(struct ratelimit *rl, double now)
{
	if (rl->qps <= 0)
		return 0;
	if (now > rl->last) {
		rl->tokens += (now - rl->last) * rl->qps;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last = now;
	}
	rl->tokens -= 1;
	return rl->tokens >= 0 ? 0 : -rl->tokens / rl->qps;
}
