/* The pre-copy convergence decision (precopy.h): a pure function, so the
 * engine's stop-and-copy policy is unit-tested (tests/unit/test_precopy.c)
 * apart from the sockets and clocks that feed it. */
#include "precopy.h"

#include "stream.h"

bool precopy_should_stop(const struct precopy_input *in, struct precopy_decision *out)
{
	*out = (struct precopy_decision){ .est_ms = UINT64_MAX };
	if (in->round_ns && in->round_bytes)
		out->rate_bps = (uint64_t)((double)in->round_bytes * 1e9 / (double)in->round_ns);
	out->remaining_bytes = in->dirty_pages * MIG_PAGE_SIZE + in->state_bytes;
	/* In double: a rate of a few bytes/s and a large remainder would
	 * overflow a u64 product. Rounded up, so "fits" never means "fits but
	 * for a fraction of a millisecond". */
	if (out->rate_bps) {
		double ms = (double)out->remaining_bytes * 1000.0 / (double)out->rate_bps;
		out->est_ms = ms >= 1.8e19 ? UINT64_MAX : (uint64_t)ms;
		if (out->est_ms != UINT64_MAX && (double)out->est_ms < ms)
			out->est_ms++;
	}
	if (in->dirty_pages == 0)
		out->why = "nothing dirty";
	else if (out->est_ms <= in->downtime_ms)
		out->why = "remaining data fits the downtime budget";
	else if (in->round >= in->max_rounds)
		out->why = "round limit";
	else if (in->elapsed_ms >= in->max_precopy_ms)
		out->why = "time limit";
	out->stop = out->why != NULL;
	return out->stop;
}
