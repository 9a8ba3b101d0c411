#include "stream_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ss_init(struct stream_stats *s, uint64_t bucket_us, unsigned window_bits)
{
	memset(s, 0, sizeof(*s));
	if (!bucket_us || window_bits < 6 || window_bits > 24)
		return -EINVAL;
	s->bucket_us = bucket_us;
	s->window = 1ull << window_bits;
	s->seen = calloc(s->window / 64, sizeof(uint64_t));
	return s->seen ? 0 : -ENOMEM;
}

void ss_free(struct stream_stats *s)
{
	free(s->seen);
	free(s->buckets);
	memset(s, 0, sizeof(*s));
}

static bool test_and_set(struct stream_stats *s, uint64_t seq)
{
	uint64_t bit = seq & (s->window - 1), mask = 1ull << (bit % 64);
	bool was = s->seen[bit / 64] & mask;

	s->seen[bit / 64] |= mask;
	return was;
}

static void clear_bit(struct stream_stats *s, uint64_t seq)
{
	uint64_t bit = seq & (s->window - 1);

	s->seen[bit / 64] &= ~(1ull << (bit % 64));
}

static void add_to_bucket(struct stream_stats *s, uint64_t len, uint64_t now_us)
{
	uint64_t idx = (now_us - s->first_us) / s->bucket_us;

	if (idx >= s->cap_buckets) {
		size_t cap = s->cap_buckets ? s->cap_buckets : 64;
		while (cap <= idx)
			cap *= 2;
		struct ss_bucket *b = realloc(s->buckets, cap * sizeof(*b));
		if (!b)
			return;	/* statistics only: lose the bucket, not the process */
		memset(b + s->cap_buckets, 0, (cap - s->cap_buckets) * sizeof(*b));
		s->buckets = b;
		s->cap_buckets = cap;
	}
	if (idx >= s->n_buckets)
		s->n_buckets = idx + 1;
	s->buckets[idx].packets++;
	s->buckets[idx].bytes += len;
}

static void new_data(struct stream_stats *s, uint64_t now_us)
{
	if (s->unique && now_us - s->last_new_us > s->longest_gap_us) {
		s->longest_gap_us = now_us - s->last_new_us;
		s->longest_gap_at_us = s->last_new_us - s->first_us;
	}
	s->last_new_us = now_us;
	s->unique++;
}

void ss_record(struct stream_stats *s, uint64_t seq, uint64_t len, uint64_t now_us)
{
	if (!s->any) {
		s->any = true;
		s->first_us = s->last_new_us = now_us;
		s->lowest = s->highest = seq;
		test_and_set(s, seq);
		s->received++;
		s->bytes += len;
		new_data(s, now_us);
		add_to_bucket(s, len, now_us);
		return;
	}
	if (now_us < s->first_us)
		now_us = s->first_us;	/* a clock that went back: clamp */
	s->received++;
	if (seq > s->highest) {
		/* Forget the bits the window slides over. */
		if (seq - s->highest >= s->window) {
			memset(s->seen, 0, s->window / 8);
		} else {
			for (uint64_t q = s->highest + 1; q < seq; q++)
				clear_bit(s, q);
			clear_bit(s, seq);
		}
		test_and_set(s, seq);
		s->highest = seq;
	} else if (s->highest - seq >= s->window) {
		s->too_old++;
		s->reordered++;
		if (seq < s->lowest)
			s->lowest = seq;
	} else if (test_and_set(s, seq)) {
		s->duplicates++;
		return;	/* no new data: neither gap nor throughput */
	} else {
		s->reordered++;
		if (seq < s->lowest)
			s->lowest = seq;
	}
	s->bytes += len;
	new_data(s, now_us);
	add_to_bucket(s, len, now_us);
}

uint64_t ss_missed(const struct stream_stats *s, uint64_t expected)
{
	if (!expected)
		expected = s->any ? s->highest - s->lowest + 1 : 0;
	return expected > s->unique ? expected - s->unique : 0;
}
