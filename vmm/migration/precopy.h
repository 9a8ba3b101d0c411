/* The pre-copy convergence decision: after each round, go on copying while
 * the VM runs, or pause it and send what is left?
 *
 * A pure function of numbers the engine measured, so it can be tested
 * without a VM, a socket or a clock. The estimate of stop-and-copy is
 * everything the paused VM still has to send, at the rate the last round
 * achieved:
 *
 *   est_ms = (dirty_pages x 4096 + state_bytes) / (round_bytes / round_ns)
 *
 * where state_bytes is what stop-and-copy sends besides pages: the vCPUs'
 * and devices' state (the engine estimates it, see source.c). */
#ifndef CSC_VMM_MIG_PRECOPY_H
#define CSC_VMM_MIG_PRECOPY_H

#include <stdbool.h>
#include <stdint.h>

struct precopy_input {
	uint32_t round;		/* the round just finished (0 = all RAM) */
	uint32_t max_rounds;	/* stop at this round */
	uint64_t dirty_pages;	/* dirtied during the round: what the next round sends */
	uint64_t round_bytes;	/* stream bytes the round sent */
	uint64_t round_ns;	/* until the destination had them */
	uint64_t state_bytes;	/* vCPU + device state sent at stop-and-copy */
	uint64_t downtime_ms;	/* budget for stop-and-copy */
	uint64_t elapsed_ms;	/* since pre-copy began */
	uint64_t max_precopy_ms;
};

struct precopy_decision {
	bool stop;
	/* Why it stops (NULL when it does not): "nothing dirty", "remaining
	 * data fits the downtime budget", "round limit", "time limit" — the
	 * words the log and the tests use. */
	const char *why;
	uint64_t rate_bps;	/* the round's transfer rate, bytes/s (0 = unknown) */
	uint64_t remaining_bytes;	/* dirty pages + state */
	uint64_t est_ms;	/* stop-and-copy estimate; UINT64_MAX when the rate is unknown */
};

/* Checked in this order: nothing dirty, the estimate fits the budget, the
 * round limit, the time limit. Returns out->stop. */
bool precopy_should_stop(const struct precopy_input *in, struct precopy_decision *out);

#endif
