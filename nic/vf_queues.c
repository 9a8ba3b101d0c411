/* The VF's DMA engines: advanced RX/TX descriptors, ring wrap, head/tail,
 * write-back with DD set last, head write-back, the RX packet buffer.
 *
 * Hardware owns descriptors [head, tail); head == tail is empty. Every
 * guest address goes through dma_ptr(): a descriptor, ring or buffer
 * outside the VMM's DMA mappings is a DMA fault that stops the queue. */
#include "vf_queues.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vf.h"

static uint32_t ring_base_reg(bool tx, unsigned q) { return tx ? VF_TDBAL(q) : VF_RDBAL(q); }

void vf_queue_reprogram(struct nic_vf *vf, bool tx, unsigned q)
{
	struct vf_queue *queue = tx ? &vf->txq[q] : &vf->rxq[q];
	uint32_t base_reg = ring_base_reg(tx, q);

	queue->base = ((uint64_t)vf_reg(vf, base_reg + 4) << 32) | vf_reg(vf, base_reg);
	queue->count = vf_reg(vf, base_reg + 8) / 16;
	/* A reprogrammed ring starts at descriptor 0: the head is not
	 * software-writable on this device (see docs/nic.md). */
	queue->head = 0;
	queue->faulted = false;
	vf_reg_set(vf, tx ? VF_TDH(q) : VF_RDH(q), 0);
	if (tx)
		vf->tx_len[q] = 0;
}

void vf_queue_set_enabled(struct nic_vf *vf, bool tx, unsigned q, bool enabled)
{
	struct vf_queue *queue = tx ? &vf->txq[q] : &vf->rxq[q];

	queue->enabled = enabled;
	if (!enabled)
		return;
	queue->faulted = false;
	if (tx)
		vf_tx_process(vf, q);
	else
		vf_rx_drain(vf);
}

static void dma_fault(struct nic_vf *vf, struct vf_queue *queue, const char *what, bool tx,
		      unsigned q, uint64_t addr, uint64_t len)
{
	queue->faulted = true;
	vf->err.dma_faults++;
	vf_log(vf, LOG_WARN, "DMA fault: %s queue %u %s at 0x%llx (+%llu) is outside the DMA mappings; queue stopped",
	       tx ? "TX" : "RX", q, what, (unsigned long long)addr, (unsigned long long)len);
}

/* ---- receive ------------------------------------------------------------- */

void vf_fifo_clear(struct nic_vf *vf)
{
	while (vf->fifo_count) {
		free(vf->fifo[vf->fifo_head].data);
		vf->fifo_head = (vf->fifo_head + 1) % VF_RX_FIFO_FRAMES;
		vf->fifo_count--;
	}
	vf->fifo_bytes = 0;
}

static uint32_t rx_buffer_size(const struct nic_vf *vf, unsigned q)
{
	uint32_t kib = vf_reg(vf, VF_SRRCTL(q)) & VF_SRRCTL_BSIZEPKT_MASK;

	return kib ? kib * 1024 : 2048;
}

static uint32_t ring_free(const struct vf_queue *queue, uint32_t tail)
{
	if (!queue->count || tail >= queue->count)
		return 0;
	return (tail + queue->count - queue->head) % queue->count;
}

static void count_rx(struct nic_vf *vf, const uint8_t *frame, uint32_t len, bool loopback)
{
	vf_reg_set(vf, VF_GPRC, vf_reg(vf, VF_GPRC) + 1);
	vf_reg_set(vf, VF_GORC, vf_reg(vf, VF_GORC) + len);
	if ((frame[0] & 1) && memcmp(frame, "\xff\xff\xff\xff\xff\xff", 6) != 0)
		vf_reg_set(vf, VF_MPRC, vf_reg(vf, VF_MPRC) + 1);
	if (loopback) {
		vf_reg_set(vf, VF_GPRLBC, vf_reg(vf, VF_GPRLBC) + 1);
		vf_reg_set(vf, VF_GORLBC, vf_reg(vf, VF_GORLBC) + len);
	}
}

/* Writes one frame into descriptors at the head of RX queue q.
 * Returns 1 written, 0 not enough descriptors (try later), -EFAULT. */
static int rx_write_frame(struct nic_vf *vf, unsigned q, const struct vf_rx_frame *f)
{
	struct vf_queue *queue = &vf->rxq[q];
	uint32_t bufsize = rx_buffer_size(vf, q);
	uint32_t needed = (f->len + bufsize - 1) / bufsize;
	uint32_t head = queue->head, done = 0;

	if (ring_free(queue, vf_reg(vf, VF_RDT(q))) < needed)
		return 0;
	while (done < f->len) {
		uint64_t desc_addr = queue->base + (uint64_t)head * 16;
		volatile struct vf_rx_desc_read *rd = dma_ptr(&vf->dma, desc_addr, 16);
		if (!rd) {
			dma_fault(vf, queue, "descriptor", false, q, desc_addr, 16);
			return -EFAULT;
		}
		uint64_t buf_addr = rd->pkt_addr;
		uint32_t chunk = f->len - done < bufsize ? f->len - done : bufsize;
		uint8_t *buf = dma_ptr(&vf->dma, buf_addr, chunk);
		if (!buf) {
			dma_fault(vf, queue, "packet buffer", false, q, buf_addr, chunk);
			return -EFAULT;
		}
		memcpy(buf, f->data + done, chunk);
		done += chunk;
		/* Write-back replaces the read format. Status first with DD
		 * clear, everything else, then DD (and EOP) last, so a driver
		 * polling DD never sees a half-written descriptor. */
		volatile struct vf_rx_desc_wb *wb = (volatile struct vf_rx_desc_wb *)rd;
		wb->status_error = 0;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		wb->info = 0;
		wb->rss_hash = 0;
		wb->length = (uint16_t)chunk;
		wb->vlan = 0;
		__atomic_store_n(&wb->status_error, VF_RXD_STAT_DD | (done == f->len ? VF_RXD_STAT_EOP : 0),
				 __ATOMIC_RELEASE);
		head = (head + 1) % queue->count;
		queue->head = head;
		vf_reg_set(vf, VF_RDH(q), head);
	}
	return 1;
}

void vf_rx_drain(struct nic_vf *vf)
{
	struct vf_queue *queue = &vf->rxq[0];	/* no RSS: everything lands on queue 0 */
	bool delivered = false;

	if (!vf->pf_enabled)
		return;		/* the PF stopped our DMA: frames wait in the buffer */
	while (vf->fifo_count && queue->enabled && !queue->faulted) {
		struct vf_rx_frame *f = &vf->fifo[vf->fifo_head];
		int ret = rx_write_frame(vf, 0, f);
		if (ret == 0)
			break;
		if (ret > 0) {
			count_rx(vf, f->data, f->len, f->loopback);
			delivered = true;
		}
		vf->fifo_bytes -= f->len;
		free(f->data);
		vf->fifo_head = (vf->fifo_head + 1) % VF_RX_FIFO_FRAMES;
		vf->fifo_count--;
	}
	if (delivered)
		nic_vf_raise_cause(vf, VF_CAUSE_RX0);
}

int nic_vf_take_held(struct nic_vf *vf, uint8_t *buf, size_t cap, size_t *len)
{
	if (!vf->fifo_count)
		return -ENOENT;
	struct vf_rx_frame *f = &vf->fifo[vf->fifo_head];
	*len = f->len;
	memcpy(buf, f->data, f->len < cap ? f->len : cap);
	vf->fifo_bytes -= f->len;
	free(f->data);
	f->data = NULL;
	vf->fifo_head = (vf->fifo_head + 1) % VF_RX_FIFO_FRAMES;
	vf->fifo_count--;
	return 0;
}

void nic_vf_receive(struct nic_vf *vf, const uint8_t *frame, size_t len, bool loopback)
{
	if (len < 14 || len > vf->max_frame) {
		vf->err.rx_oversize++;
		return;
	}
	/* The packet buffer holds frames until descriptors are available;
	 * beyond its size frames are dropped and counted (RQDPC). */
	if (vf->fifo_count == VF_RX_FIFO_FRAMES || vf->fifo_bytes + len > VF_RX_FIFO_BYTES) {
		vf->err.rx_fifo_drops++;
		vf_reg_set(vf, VF_RQDPC(0), vf_reg(vf, VF_RQDPC(0)) + 1);
		return;
	}
	uint8_t *copy = malloc(len);
	if (!copy) {
		vf->err.rx_fifo_drops++;
		return;
	}
	memcpy(copy, frame, len);
	unsigned slot = (vf->fifo_head + vf->fifo_count) % VF_RX_FIFO_FRAMES;
	vf->fifo[slot] = (struct vf_rx_frame){ copy, (uint32_t)len, loopback };
	vf->fifo_count++;
	vf->fifo_bytes += (uint32_t)len;
	vf_rx_drain(vf);
}

/* ---- transmit ------------------------------------------------------------ */

static void count_tx(struct nic_vf *vf, uint32_t len, bool loopback)
{
	vf_reg_set(vf, VF_GPTC, vf_reg(vf, VF_GPTC) + 1);
	vf_reg_set(vf, VF_GOTC, vf_reg(vf, VF_GOTC) + len);
	if (loopback) {
		vf_reg_set(vf, VF_GPTLBC, vf_reg(vf, VF_GPTLBC) + 1);
		vf_reg_set(vf, VF_GOTLBC, vf_reg(vf, VF_GOTLBC) + len);
	}
}

/* Returns false when the frame could not leave for lack of egress credit. */
static bool tx_send_frame(struct nic_vf *vf, unsigned q)
{
	uint32_t len = vf->tx_len[q];

	if (vf->tx_oversize[q]) {
		vf->err.tx_oversize++;
		vf_log(vf, LOG_WARN, "TX queue %u: frame longer than %u bytes dropped", q, vf->max_frame);
	} else if (len < 14) {
		vf->err.tx_runt++;
	} else {
		int ret = vf->ops->transmit(vf, vf->tx_frame[q], len);
		if (ret == -EAGAIN)
			return false;
		if (ret >= 0)
			count_tx(vf, len, ret == VF_TX_LOOPBACK);
	}
	vf->tx_len[q] = 0;
	vf->tx_oversize[q] = false;
	return true;
}

static void tx_write_back_head(struct nic_vf *vf, unsigned q, uint32_t head)
{
	uint64_t addr = ((uint64_t)vf_reg(vf, VF_TDWBAH(q)) << 32) | (vf_reg(vf, VF_TDWBAL(q)) & ~3u);
	uint32_t *p = dma_ptr(&vf->dma, addr, 4);

	if (!p) {
		dma_fault(vf, &vf->txq[q], "head write-back", true, q, addr, 4);
		return;
	}
	__atomic_store_n(p, head, __ATOMIC_RELEASE);
}

void vf_tx_process(struct nic_vf *vf, unsigned q)
{
	struct vf_queue *queue = &vf->txq[q];
	bool reported = false;

	if (!queue->enabled || queue->faulted || !vf->pf_enabled || !queue->count)
		return;
	uint32_t tail = vf_reg(vf, VF_TDT(q));
	if (tail >= queue->count) {
		vf_log(vf, LOG_WARN, "TX queue %u: tail %u beyond the ring (%u descriptors) ignored", q, tail,
		       queue->count);
		return;
	}
	while (queue->head != tail) {
		uint64_t desc_addr = queue->base + (uint64_t)queue->head * 16;
		volatile struct vf_tx_desc *d = dma_ptr(&vf->dma, desc_addr, 16);
		if (!d) {
			dma_fault(vf, queue, "descriptor", true, q, desc_addr, 16);
			break;
		}
		uint64_t addr = d->buffer_addr;
		uint32_t cmd = d->cmd_type_len;
		bool is_context = (cmd & VF_TXD_CMD_DEXT) && (cmd & VF_TXD_DTYP_MASK) == VF_TXD_DTYP_CTXT;
		uint32_t prev_len = vf->tx_len[q];

		if (!is_context) {
			uint32_t len = cmd & VF_TXD_LEN_MASK;
			const uint8_t *buf = dma_ptr(&vf->dma, addr, len);
			if (!buf) {
				dma_fault(vf, queue, "data buffer", true, q, addr, len);
				break;
			}
			if (vf->tx_len[q] + len > vf->max_frame || vf->tx_len[q] + len > VF_TX_ASSEMBLY_MAX)
				vf->tx_oversize[q] = true;
			else
				memcpy(vf->tx_frame[q] + vf->tx_len[q], buf, len);
			if (!vf->tx_oversize[q])
				vf->tx_len[q] += len;
			if ((cmd & VF_TXD_CMD_EOP) && !tx_send_frame(vf, q)) {
				/* No egress credit: undo this descriptor's part and
				 * come back to it from the timer. */
				vf->tx_len[q] = prev_len;
				vf->tx_stalled = true;
				break;
			}
		}
		uint32_t next = (queue->head + 1) % queue->count;
		if (cmd & VF_TXD_CMD_RS) {
			if (vf_reg(vf, VF_TDWBAL(q)) & VF_TDWBAL_ENABLE)
				tx_write_back_head(vf, q, next);
			else
				__atomic_store_n(&d->olinfo_status, d->olinfo_status | VF_TXD_STAT_DD,
						 __ATOMIC_RELEASE);
			reported = true;
		}
		queue->head = next;
		vf_reg_set(vf, VF_TDH(q), next);
		if (queue->faulted)
			break;
	}
	if (reported)
		nic_vf_raise_cause(vf, q == 0 ? VF_CAUSE_TX0 : VF_CAUSE_TX1);
}
