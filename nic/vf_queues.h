/* The VF's DMA engines (vf_queues.c): the RX packet buffer and the RX/TX
 * descriptor rings. The switch hands frames in through nic_vf_receive; the
 * rest is called by the register handlers of vf.c. */
#ifndef CSC_NIC_VF_QUEUES_H
#define CSC_NIC_VF_QUEUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nic_vf;

/* A frame for this VF from the switch: into the packet buffer, and into
 * the RX ring as far as descriptors allow. */
void nic_vf_receive(struct nic_vf *vf, const uint8_t *frame, size_t len, bool loopback);

/* A ring's base or length was written: the ring starts over at 0. */
void vf_queue_reprogram(struct nic_vf *vf, bool tx, unsigned q);
void vf_queue_set_enabled(struct nic_vf *vf, bool tx, unsigned q, bool enabled);
/* Moves buffered frames into RX descriptors while there are any. */
void vf_rx_drain(struct nic_vf *vf);
/* Takes the oldest frame held in the VF's receive buffer (while the PF has
 * its queues stopped): copies at most cap bytes to buf, sets *len to the
 * frame's length, and drops it from the buffer. 0, or -ENOENT when nothing
 * is held. For CompSC: held frames move to the migration's destination. */
int nic_vf_take_held(struct nic_vf *vf, uint8_t *buf, size_t cap, size_t *len);
/* Transmits what the driver queued up to the tail. */
void vf_tx_process(struct nic_vf *vf, unsigned q);
/* Drops every buffered frame (reset, destroy). */
void vf_fifo_clear(struct nic_vf *vf);

#endif
