/* The internal switch (VEB): forwarding, and the uplink port at line rate.
 * See veb.h. */
#include "veb.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "nic.h"
#include "rate.h"
#include "vf_queues.h"

static bool is_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

static int vf_by_mac(struct nic *nic, const uint8_t *mac)
{
	for (unsigned i = 0; i < nic->n_vfs; i++)
		if ((nic->slot[i].cts || nic->slot[i].hold_early) && memcmp(nic->slot[i].mac, mac, 6) == 0)
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
	if (!token_bucket_take(&nic->egress, len + ETH_WIRE_OVERHEAD, nic_now_ns(nic)))
		return -EAGAIN;
	if (to_uplink(nic, frame, len) == -EAGAIN) {
		token_bucket_refund(&nic->egress, len + ETH_WIRE_OVERHEAD);
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

void veb_uplink_readable(struct nic *nic)
{
	/* A bounded batch per wake-up keeps register accesses responsive.
	 * Frames arrive no faster than the line: once the ingress credit is
	 * spent the port is not read (the kernel queues or drops, as a
	 * switch port would), and veb_service resumes it. */
	for (int i = 0; i < 64; i++) {
		if (token_bucket_ready_at(&nic->ingress, 0, nic_now_ns(nic)) > nic_now_ns(nic)) {
			nic->uplink_paused = true;
			evloop_modify(nic->loop, uplink_fd(nic->uplink), 0);
			break;
		}
		ssize_t n = uplink_recv(nic->uplink, nic->uplink_frame, sizeof(nic->uplink_frame));
		if (n <= 0)
			break;
		token_bucket_charge(&nic->ingress, (uint64_t)n + ETH_WIRE_OVERHEAD, nic_now_ns(nic));
		veb_from_uplink(nic, nic->uplink_frame, (size_t)n);
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

/* ---- what the core calls (nic_service) ----------------------------------- */

static uint64_t veb_service(struct nic *nic, uint64_t now)
{
	nic->uplink_busy = false;	/* set again by a transmit the port refuses */
	/* The uplink waited for ingress credit: read it again once paid. */
	if (nic->uplink_paused && token_bucket_ready_at(&nic->ingress, 0, now) <= now) {
		nic->uplink_paused = false;
		evloop_modify(nic->loop, uplink_fd(nic->uplink), EPOLLIN);
	}
	return nic->uplink_paused ? token_bucket_ready_at(&nic->ingress, 0, now) : UINT64_MAX;
}

static bool veb_tx_ready(struct nic *nic, uint64_t now)
{
	return token_bucket_ready_at(&nic->egress, 2048, now) <= now;
}

static uint64_t veb_tx_retry_at(struct nic *nic, uint64_t now)
{
	/* When a full-size frame's credit is there, or after a short pause
	 * if the port itself was full. */
	uint64_t ready = token_bucket_ready_at(&nic->egress, 1600, now);

	return ready > now ? ready : now + (nic->uplink_busy ? 10000 : 1000);
}

const struct nic_switch_ops veb_switch_ops = {
	.transmit = veb_transmit,
	.service = veb_service,
	.tx_ready = veb_tx_ready,
	.tx_retry_at = veb_tx_retry_at,
};
