/* The internal switch (VEB) and the uplink's line rate.
 *
 * Frames from a VF go to the VF owning the destination MAC (internal,
 * never touching the uplink), or out of the uplink; broadcast and
 * multicast go to every other live VF and out. Frames from the uplink go
 * to the VF owning the destination MAC; broadcast/multicast to every live
 * VF. A VF is live once its driver completed the reset handshake. */
#include <errno.h>
#include <string.h>

#include "nic.h"

#define WIRE_OVERHEAD 24	/* preamble 8 + CRC 4 + inter-frame gap 12 */

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

static bool is_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

static int vf_by_mac(struct nic *nic, const uint8_t *mac)
{
	for (unsigned i = 0; i < nic->n_vfs; i++)
		if (nic->slot[i].cts && memcmp(nic->slot[i].mac, mac, 6) == 0)
			return (int)i;
	return -1;
}

/* -EAGAIN when the port cannot take the frame now (a full datagram
 * wire): the VF's TX ring waits, as behind a paused link. */
static int to_uplink(struct nic *nic, const uint8_t *frame, size_t len)
{
	int ret = 0;

	if (nic->uplink_capture)
		nic->uplink_capture(nic, frame, len);
	else if (nic->uplink)
		ret = uplink_send(nic->uplink, frame, len);
	if (ret == -EAGAIN || ret == -ENOBUFS)
		return -EAGAIN;
	if (ret < 0)
		nic->ctr.uplink_tx_errors++;	/* no peer: the frame is lost on the wire */
	nic->ctr.uplink_tx_frames++;
	nic->ctr.uplink_tx_bytes += len;
	return 0;
}

int veb_transmit(struct nic *nic, unsigned from_vf, const uint8_t *frame, size_t len)
{
	const uint8_t *dst = frame;

	if (!is_group(dst)) {
		int to = vf_by_mac(nic, dst);
		if (to >= 0 && (unsigned)to != from_vf) {
			nic->ctr.switched_frames++;
			nic_vf_receive(&nic->slot[to].vf, frame, len, true);
			return VF_TX_LOOPBACK;
		}
	}
	/* Everything that leaves through the uplink pays line rate; a frame
	 * without credit waits in its TX ring (backpressure, no drop). */
	if (!token_bucket_take(&nic->egress, len + WIRE_OVERHEAD, nic_now_ns(nic)))
		return -EAGAIN;
	if (to_uplink(nic, frame, len) == -EAGAIN) {
		token_bucket_refund(&nic->egress, len + WIRE_OVERHEAD);
		nic->uplink_busy = true;
		return -EAGAIN;
	}
	if (is_group(dst)) {
		for (unsigned i = 0; i < nic->n_vfs; i++)
			if (i != from_vf && nic->slot[i].cts)
				nic_vf_receive(&nic->slot[i].vf, frame, len, true);
	}
	return VF_TX_UPLINK;
}

void nic_uplink_readable(struct nic *nic)
{
	static uint8_t frame[65536];

	/* A bounded batch per wake-up keeps register accesses responsive.
	 * Frames arrive no faster than the line: once the ingress credit is
	 * spent the port is not read (the kernel queues or drops, as a
	 * switch port would), and nic_service resumes it. */
	for (int i = 0; i < 64; i++) {
		if (token_bucket_ready_at(&nic->ingress, 0, nic_now_ns(nic)) > nic_now_ns(nic)) {
			nic->uplink_paused = true;
			evloop_modify(nic->loop, uplink_fd(nic->uplink), 0);
			break;
		}
		ssize_t n = uplink_recv(nic->uplink, frame, sizeof(frame));
		if (n <= 0)
			break;
		token_bucket_charge(&nic->ingress, (uint64_t)n + WIRE_OVERHEAD, nic_now_ns(nic));
		veb_from_uplink(nic, frame, (size_t)n);
	}
	nic_service(nic);
}

void veb_from_uplink(struct nic *nic, const uint8_t *frame, size_t len)
{
	if (len < 14)
		return;
	nic->ctr.uplink_rx_frames++;
	nic->ctr.uplink_rx_bytes += len;
	if (is_group(frame)) {
		for (unsigned i = 0; i < nic->n_vfs; i++)
			if (nic->slot[i].cts)
				nic_vf_receive(&nic->slot[i].vf, frame, len, false);
		return;
	}
	int to = vf_by_mac(nic, frame);
	if (to < 0) {
		nic->ctr.uplink_rx_unmatched++;
		return;
	}
	nic_vf_receive(&nic->slot[to].vf, frame, len, false);
}
