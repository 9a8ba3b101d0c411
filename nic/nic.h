/* compsc-nic: one SR-IOV NIC. A physical function (PF) that the host
 * controls, up to 7 virtual functions (VFs) that VMs drive, an internal
 * switch (VEB) and one uplink port.
 *
 *            VMM (vfio-user)    VMM (vfio-user)        host (pf.sock)
 *                  |                  |                      |
 *               [ VF0 ]            [ VF1 ]  ...           [ PF ]
 *                  \__________________|_____________________/
 *                                [ VEB ] --- uplink (tap: / dgram:)
 */
#ifndef CSC_NIC_NIC_H
#define CSC_NIC_NIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/event_loop.h"
#include "rate.h"
#include "uplink.h"
#include "vf.h"

#define NIC_MAX_VFS 7

enum vf_assignment { VF_FREE, VF_ASSIGNED };

struct nic;
struct nic_vf_slot;
struct vfio_user_conn;

/* The core (nic.c, pf.c) sits below the switch (veb.c) and the transport
 * (vfio_user_server.c): they call it directly, and it reaches them only
 * through these tables, so no call goes back and forth between modules. */

/* The switch, installed from nic_config. */
struct nic_switch_ops {
	/* A VF transmits: enum vf_tx_result, or -EAGAIN when the frame must
	 * wait in its TX ring (no egress credit, or the port is full). */
	int (*transmit)(struct nic *nic, unsigned from_vf, const uint8_t *frame, size_t len);
	/* First thing in nic_service: the switch's own timed work (a paused
	 * uplink is resumed). Returns its next deadline, UINT64_MAX if none. */
	uint64_t (*service)(struct nic *nic, uint64_t now);
	/* May a VF whose transmit had to wait try again now? */
	bool (*tx_ready)(struct nic *nic, uint64_t now);
	/* If not: when to look again. */
	uint64_t (*tx_retry_at)(struct nic *nic, uint64_t now);
};

/* The transport that serves VFs to VMMs; it installs itself in
 * nic->transport when it starts serving. */
struct nic_transport_ops {
	/* The NIC goes away: drop the slot's VMM connection. */
	void (*disconnect)(struct nic *nic, struct nic_vf_slot *s);
};

/* PF-side view of one VF: what a host's PF driver knows and controls. */
struct nic_vf_slot {
	struct nic_vf vf;
	enum vf_assignment assignment;
	char owner[64];
	uint8_t perm_mac[6];	/* given to the VF at its reset handshake */
	uint8_t mac[6];		/* current unicast filter */
	bool mac_locked;	/* set by the host: the VF may not change it */
	bool cts;		/* reset handshake done: messages are accepted */
	/* Set by the host (pf.sock hold) on a migration's destination: frames
	 * for this VF's MAC are kept in its buffer before its driver is ready;
	 * cleared by the driver's reset handshake. */
	bool hold_early;
	uint16_t mc_hashes[VF_MSG_MAX_MC_HASHES];
	unsigned n_mc_hashes;
	uint32_t vlan;
	int irq_fd[VF_NUM_VECTORS];	/* eventfds from the VMM, -1 if none */
	/* The transport's: its listening socket, and the VMM connected. */
	int listen_fd;
	struct vfio_user_conn *conn;
	/* Refused peers are logged at most a few times a second (a peer can
	 * connect at will), per socket: a flood on one hides none on another. */
	struct ratelimit refused_log;
	uint64_t mbx_messages, mbx_nacks;
};

struct nic_counters {
	uint64_t uplink_rx_frames, uplink_tx_frames, uplink_rx_bytes, uplink_tx_bytes;
	uint64_t uplink_rx_unmatched, uplink_tx_errors, switched_frames;
};

/* One NIC: everything it needs lives here (no file-level state), so a
 * process or a unit test may hold more than one. */
struct nic {
	unsigned n_vfs;
	struct nic_vf_slot slot[NIC_MAX_VFS];
	const struct nic_switch_ops *sw;
	const struct nic_transport_ops *transport;	/* NULL: none (unit tests) */
	struct nic_counters ctr;
	struct evloop *loop;	/* NULL in unit tests */
	int timer_fd;
	const char *rundir;
	/* Unit tests replace the clock and capture the uplink. */
	uint64_t (*clock)(struct nic *nic);
	void (*uplink_capture)(struct nic *nic, const uint8_t *frame, size_t len);

	/* The switch's uplink port (veb.c). */
	struct uplink *uplink;
	struct token_bucket egress, ingress;	/* full duplex: one each way */
	bool uplink_paused;	/* ingress out of credit: not reading the port */
	bool uplink_busy;	/* the port refused a frame: retry TX soon */
	uint8_t uplink_frame[65536];	/* one received frame */

	int ctl_listen_fd;	/* pf_ctl.c: the host's control socket */
	unsigned ctl_clients;	/* pf_ctl.c: connected, at most CTL_MAX_CLIENTS */
	struct ratelimit ctl_refused_log;	/* pf_ctl.c: refused peers (see slot's) */
};

struct nic_config {
	unsigned n_vfs;
	uint8_t mac_base[6];	/* VF n gets mac_base + n */
	uint64_t rate_bps;	/* uplink line rate */
	const struct nic_switch_ops *sw;	/* required: veb_switch_ops */
};

/* -EINVAL for a VF count out of range or no switch. */
int nic_init(struct nic *nic, const struct nic_config *cfg);
void nic_destroy(struct nic *nic);
uint64_t nic_now_ns(struct nic *nic);

/* After any event: fires due timers, retries stalled TX, re-arms the
 * timer fd for the next deadline. */
void nic_service(struct nic *nic);

/* pf.c: the PF driver inside the NIC. */
extern const struct nic_vf_ops nic_vf_ops;
int nic_pf_assign(struct nic *nic, unsigned vf, const uint8_t *mac, const char *owner);
int nic_pf_free(struct nic *nic, unsigned vf);
int nic_pf_set_enabled(struct nic *nic, unsigned vf, bool enabled);

static inline struct nic_vf_slot *nic_slot_of(struct nic_vf *vf)
{
	return (struct nic_vf_slot *)vf;	/* vf is the first member */
}

static inline struct nic *nic_of(struct nic_vf *vf)
{
	return vf->owner;
}

#endif
