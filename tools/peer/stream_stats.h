/* Accounting for a received sequence stream (common/udpstream.h): what the
 * users of a migrating VM feel. Pure computation, no I/O, unit-tested on
 * synthetic input.
 *
 *   unique      distinct sequence numbers received
 *   duplicates  a sequence number seen again (within the window)
 *   reordered   a sequence number below the highest already seen, first time
 *   missed      expected - unique, where expected is the sender's count if
 *               known, else highest - lowest + 1
 *   longest gap the longest time between two consecutive arrivals of new
 *               data: the service downtime
 *   buckets     bytes and datagrams per fixed interval from the first arrival
 *
 * Duplicate detection keeps a bitmap of the last `window` sequence numbers
 * below the highest; anything older is counted as reordered, not checked. */
#ifndef CSC_PEER_STREAM_STATS_H
#define CSC_PEER_STREAM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ss_bucket {
	uint64_t packets, bytes;
};

struct stream_stats {
	uint64_t bucket_us;
	uint64_t window;	/* power of two */
	uint64_t *seen;		/* window bits, indexed by seq % window */

	bool any;
	uint64_t lowest, highest;
	uint64_t received, unique, duplicates, reordered, too_old, bytes;
	uint64_t first_us, last_new_us, longest_gap_us, longest_gap_at_us;

	struct ss_bucket *buckets;
	size_t n_buckets, cap_buckets;
};

/* 0 or -ENOMEM/-EINVAL (window_bits 6..24, bucket_us > 0). */
int ss_init(struct stream_stats *s, uint64_t bucket_us, unsigned window_bits);
void ss_free(struct stream_stats *s);
/* One datagram with sequence number seq and len bytes, arrived at now_us
 * (monotonic, non-decreasing). */
void ss_record(struct stream_stats *s, uint64_t seq, uint64_t len, uint64_t now_us);
/* expected: datagrams the sender sent (0 if unknown). */
uint64_t ss_missed(const struct stream_stats *s, uint64_t expected);

#endif
