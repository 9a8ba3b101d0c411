/* Device side of a split virtqueue; see virtqueue.h for the trust rules. */
#include "virtqueue.h"

#include <errno.h>
#include <string.h>

static void *gpa_to_hva(const struct vq_mem *mem, uint64_t gpa, uint64_t len)
{
	if (gpa >= mem->size || len > mem->size - gpa)
		return NULL;
	return mem->base + gpa;
}

static void mark(const struct vq_mem *mem, uint64_t gpa, uint64_t len)
{
	if (mem->mark_dirty && len)
		mem->mark_dirty(mem->opaque, gpa, len);
}

void vq_reset(struct virtqueue *vq)
{
	memset(vq, 0, sizeof(*vq));
}

int vq_activate(struct virtqueue *vq, const struct vq_mem *mem)
{
	unsigned n = vq->num;

	vq->active = false;
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return -EINVAL;
	/* The event fields sit just past each ring: include them. */
	vq->desc = gpa_to_hva(mem, vq->desc_gpa, virtq_desc_size(n));
	vq->avail = gpa_to_hva(mem, vq->avail_gpa, virtq_avail_size(n));
	vq->used = gpa_to_hva(mem, vq->used_gpa, virtq_used_size(n));
	if (!vq->desc || !vq->avail || !vq->used)
		return -EINVAL;
	vq->used_event = &vq->avail->ring[n];
	vq->avail_event = (uint16_t *)&vq->used->ring[n];
	vq->mem = mem;
	vq->active = true;
	return 0;
}

int vq_avail_count(struct virtqueue *vq)
{
	uint16_t idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(idx - vq->last_avail);

	return n > vq->num ? -EPROTO : n;
}

int vq_pop(struct virtqueue *vq, struct vq_chain *c)
{
	int avail = vq_avail_count(vq);

	if (avail <= 0)
		return avail;
	uint16_t head = __atomic_load_n(&vq->avail->ring[vq->last_avail & (vq->num - 1)], __ATOMIC_RELAXED);
	if (head >= vq->num)
		return -EPROTO;
	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_len = c->in_len = 0;

	unsigned limit = vq->num < VQ_MAX_CHAIN ? vq->num : VQ_MAX_CHAIN;
	uint16_t i = head;
	for (unsigned count = 0;; count++) {
		struct virtq_desc d;

		/* A chain can visit each descriptor at most once: anything
		 * longer loops. */
		if (count >= limit)
			return -EPROTO;
		/* Guest-writable: copy once, then validate the copy. */
		memcpy(&d, (const void *)&vq->desc[i], sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return -EPROTO;	/* not offered */
		void *hva = gpa_to_hva(vq->mem, d.addr, d.len);
		if (!hva)
			return -EPROTO;
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			c->in[c->n_in] = (struct iovec){ hva, d.len };
			c->in_gpa[c->n_in++] = d.addr;
			c->in_len += d.len;
		} else {
			if (c->n_in)
				return -EPROTO;	/* readable after writable */
			c->out[c->n_out++] = (struct iovec){ hva, d.len };
			c->out_len += d.len;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->num)
			return -EPROTO;
		i = d.next;
	}
	vq->last_avail++;
	return 1;
}

void vq_unpop(struct virtqueue *vq)
{
	vq->last_avail--;
}

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	unsigned slot = vq->used_idx & (vq->num - 1);
	struct virtq_used_elem *e = &vq->used->ring[slot];

	e->id = head;
	e->len = len;
	mark(vq->mem, vq->used_gpa + 4 + 8ull * slot, sizeof(*e));
	vq->used_idx++;
}

void vq_publish(struct virtqueue *vq)
{
	/* Release: the elements are visible before the index that covers them. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
	mark(vq->mem, vq->used_gpa, 4);
}

bool vq_should_notify(struct virtqueue *vq)
{
	/* Order the used->idx store before reading the driver's wishes;
	 * the driver does the mirror image (store used_event, fence, read
	 * used->idx), so one side always sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	bool valid = vq->signalled_valid;

	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	return virtq_need_event(__atomic_load_n(vq->used_event, __ATOMIC_RELAXED), now, old);
}

bool vq_enable_kicks(struct virtqueue *vq)
{
	if (vq->event_idx) {
		__atomic_store_n(vq->avail_event, vq->last_avail, __ATOMIC_RELAXED);
		mark(vq->mem, vq->used_gpa + 4 + 8ull * vq->num, 2);
	} else {
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
		mark(vq->mem, vq->used_gpa, 2);
	}
	/* Publish the wish before looking again at avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_avail_count(vq) != 0;
}

void vq_disable_kicks(struct virtqueue *vq)
{
	if (!vq->event_idx) {
		__atomic_store_n(&vq->used->flags, VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
		mark(vq->mem, vq->used_gpa, 2);
	}
}

size_t vq_chain_write(const struct virtqueue *vq, const struct vq_chain *c, size_t off,
		      const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t done = 0;

	for (unsigned i = 0; i < c->n_in && done < len; i++) {
		size_t seg = c->in[i].iov_len;
		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t n = seg - off < len - done ? seg - off : len - done;
		memcpy((uint8_t *)c->in[i].iov_base + off, s + done, n);
		mark(vq->mem, c->in_gpa[i] + off, n);
		done += n;
		off = 0;
	}
	return done;
}

void vq_chain_mark_written(const struct virtqueue *vq, const struct vq_chain *c, size_t off, size_t len)
{
	for (unsigned i = 0; i < c->n_in && len; i++) {
		size_t seg = c->in[i].iov_len;
		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t n = seg - off < len ? seg - off : len;
		mark(vq->mem, c->in_gpa[i] + off, n);
		len -= n;
		off = 0;
	}
}
