/* Line rate: a token bucket per direction of the uplink.
 *
 * Tokens are bytes on the wire (frame + ETH_WIRE_OVERHEAD). They may go
 * negative: a frame already received is paid for after the fact, and the
 * port then waits until the debt is paid. Time comes from the caller, so
 * the bucket runs on the NIC's clock (a fake one in unit tests). */
#ifndef CSC_NIC_RATE_H
#define CSC_NIC_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define ETH_WIRE_OVERHEAD 24	/* preamble 8 + CRC 4 + inter-frame gap 12 */

struct token_bucket {
	uint64_t rate_bytes_per_s;	/* 0: unlimited */
	int64_t burst_bytes;
	int64_t tokens;
	uint64_t last_ns;
};

/* rate_bps 0 is unlimited: every call below then succeeds at once. */
void token_bucket_init(struct token_bucket *tb, uint64_t rate_bps, uint64_t now_ns);
/* Takes bytes if there are enough tokens; false (nothing taken) if not. */
bool token_bucket_take(struct token_bucket *tb, uint64_t bytes, uint64_t now_ns);
/* Gives back what a take paid for a frame that did not leave after all. */
void token_bucket_refund(struct token_bucket *tb, uint64_t bytes);
/* Takes bytes unconditionally (may go into debt). */
void token_bucket_charge(struct token_bucket *tb, uint64_t bytes, uint64_t now_ns);
/* When bytes can be taken: now_ns if already, else the time credit
 * suffices. */
uint64_t token_bucket_ready_at(const struct token_bucket *tb, uint64_t bytes, uint64_t now_ns);

#endif
