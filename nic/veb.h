/* The NIC's internal switch (VEB) and its uplink port.
 *
 * Frames from a VF go to the VF owning the destination MAC (internal,
 * never touching the uplink), or out of the uplink at line rate; broadcast
 * and multicast go to every other live VF and out. Frames from the uplink
 * go to the VF owning the destination MAC; broadcast/multicast to every
 * live VF. A VF is live once its driver completed the reset handshake.
 *
 * The switch sits above the core (nic.c): it calls the core directly, and
 * the core reaches it only through veb_switch_ops, which the program (or a
 * unit test) puts in nic_config. */
#ifndef CSC_NIC_VEB_H
#define CSC_NIC_VEB_H

#include <stddef.h>
#include <stdint.h>

struct nic;

extern const struct nic_switch_ops veb_switch_ops;

/* A frame from VF from_vf: enum vf_tx_result, or -EAGAIN when it must
 * wait in its TX ring (no egress credit, or the port is full). */
int veb_transmit(struct nic *nic, unsigned from_vf, const uint8_t *frame, size_t len);
/* A frame that arrived on the uplink. */
void veb_from_uplink(struct nic *nic, const uint8_t *frame, size_t len);
/* The uplink fd is readable: takes frames at line rate. */
void veb_uplink_readable(struct nic *nic);

#endif
