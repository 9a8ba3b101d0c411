/* Token buckets for the uplink's line rate (see rate.h). */
#include "rate.h"

void token_bucket_init(struct token_bucket *tb, uint64_t rate_bps, uint64_t now_ns)
{
	tb->rate_bytes_per_s = rate_bps / 8;
	/* Burst: 1 ms of line rate, at least two jumbo frames. */
	tb->burst_bytes = (int64_t)(tb->rate_bytes_per_s / 1000);
	if (tb->burst_bytes < 2 * 9728)
		tb->burst_bytes = 2 * 9728;
	tb->tokens = tb->burst_bytes;
	tb->last_ns = now_ns;
}

static void refill(struct token_bucket *tb, uint64_t now_ns)
{
	if (now_ns <= tb->last_ns)
		return;
	uint64_t elapsed = now_ns - tb->last_ns;
	if (elapsed > 1000000000ull)
		elapsed = 1000000000ull;	/* avoid overflow; the bucket is full by then */
	int64_t add = (int64_t)(elapsed * tb->rate_bytes_per_s / 1000000000ull);
	if (add == 0)
		return;		/* keep last_ns so small steps accumulate */
	tb->tokens = tb->tokens + add > tb->burst_bytes ? tb->burst_bytes : tb->tokens + add;
	tb->last_ns = now_ns;
}

bool token_bucket_take(struct token_bucket *tb, uint64_t bytes, uint64_t now_ns)
{
	if (!tb->rate_bytes_per_s)
		return true;	/* unlimited */
	refill(tb, now_ns);
	if (tb->tokens < (int64_t)bytes)
		return false;
	tb->tokens -= (int64_t)bytes;
	return true;
}

void token_bucket_charge(struct token_bucket *tb, uint64_t bytes, uint64_t now_ns)
{
	if (!tb->rate_bytes_per_s)
		return;
	refill(tb, now_ns);
	tb->tokens -= (int64_t)bytes;
}

void token_bucket_refund(struct token_bucket *tb, uint64_t bytes)
{
	if (tb->rate_bytes_per_s)
		tb->tokens = tb->tokens + (int64_t)bytes > tb->burst_bytes ? tb->burst_bytes : tb->tokens + (int64_t)bytes;
}

uint64_t token_bucket_ready_at(const struct token_bucket *tb, uint64_t bytes, uint64_t now_ns)
{
	if (!tb->rate_bytes_per_s || tb->tokens >= (int64_t)bytes)
		return now_ns;
	uint64_t missing = (uint64_t)((int64_t)bytes - tb->tokens);
	return tb->last_ns + (missing * 1000000000ull + tb->rate_bytes_per_s - 1) / tb->rate_bytes_per_s;
}
