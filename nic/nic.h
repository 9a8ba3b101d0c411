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
#include <stdint.h>

#include "../common/event_loop.h"
#include "uplink.h"
#include "vf.h"

#define NIC_MAX_VFS 7

enum vf_assignment { VF_FREE, VF_ASSIGNED };

struct vfio_user_conn;

/* PF-side view of one VF: what a host's PF driver knows and controls. */
struct nic_vf_slot {
	struct nic_vf vf;
	enum vf_assignment assignment;
	char owner[64];
	uint8_t perm_mac[6];	/* given to the VF at its reset handshake */
	uint8_t mac[6];		/* current unicast filter */
	bool mac_locked;	/* set by the host: the VF may not change it */
	bool cts;		/* reset handshake done: messages are accepted */
	uint16_t mc_hashes[VF_MSG_MAX_MC_HASHES];
	unsigned n_mc_hashes;
	uint32_t vlan;
	int irq_fd[VF_NUM_VECTORS];	/* eventfds from the VMM, -1 if none */
	int listen_fd;
	struct vfio_user_conn *conn;
	uint64_t mbx_messages, mbx_nacks;
};

/* Line rate. tokens may go negative (a frame already received is paid for
 * after the fact); the port then waits until the debt is paid. */
struct token_bucket {
	uint64_t rate_bytes_per_s;	/* 0: unlimited */
	int64_t burst_bytes;
	int64_t tokens;
	uint64_t last_ns;
};

struct nic_counters {
	uint64_t uplink_rx_frames, uplink_tx_frames, uplink_rx_bytes, uplink_tx_bytes;
	uint64_t uplink_rx_unmatched, uplink_tx_errors, switched_frames;
};

struct nic {
	unsigned n_vfs;
	struct nic_vf_slot slot[NIC_MAX_VFS];
	struct uplink *uplink;
	struct token_bucket egress, ingress;	/* full duplex: one each way */
	bool uplink_paused;	/* ingress out of credit: not reading the port */
	struct nic_counters ctr;
	struct evloop *loop;	/* NULL in unit tests */
	int timer_fd;
	bool uplink_busy;	/* the port refused a frame: retry TX soon */
	const char *rundir;
	/* Unit tests replace the clock and capture the uplink. */
	uint64_t (*clock)(struct nic *nic);
	void (*uplink_capture)(struct nic *nic, const uint8_t *frame, size_t len);
};

struct nic_config {
	unsigned n_vfs;
	uint8_t mac_base[6];	/* VF n gets mac_base + n */
	uint64_t rate_bps;	/* uplink line rate */
};

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

/* veb.c: the switch. */
int veb_transmit(struct nic *nic, unsigned from_vf, const uint8_t *frame, size_t len);
void veb_from_uplink(struct nic *nic, const uint8_t *frame, size_t len);
/* The uplink fd is readable: takes frames at line rate. */
void nic_uplink_readable(struct nic *nic);
void token_bucket_init(struct token_bucket *tb, uint64_t rate_bps, uint64_t now_ns);
bool token_bucket_take(struct token_bucket *tb, uint64_t bytes, uint64_t now_ns);
void token_bucket_refund(struct token_bucket *tb, uint64_t bytes);
void token_bucket_charge(struct token_bucket *tb, uint64_t bytes, uint64_t now_ns);
uint64_t token_bucket_ready_at(const struct token_bucket *tb, uint64_t bytes, uint64_t now_ns);

static inline struct nic_vf_slot *nic_slot_of(struct nic_vf *vf)
{
	return (struct nic_vf_slot *)vf;	/* vf is the first member */
}

static inline struct nic *nic_of(struct nic_vf *vf)
{
	return vf->owner;
}

#endif
