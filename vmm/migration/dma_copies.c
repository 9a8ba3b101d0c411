/* Copies of memory a device writes behind the dirty log, as last sent.
 *
 * A VF's DMA goes straight into guest memory: neither KVM's dirty log nor
 * the proc accelerator's sees it. CompSC's driver makes up for what it
 * reaps (dummy writes), and at stop-and-copy the device's DMA regions are
 * sent again, since the VF may have written some of them after the
 * driver's last pass. All of them, most of the time, for a few changed
 * pages: 128 pages of receive buffers for a handful of unreaped frames,
 * and the downtime pays for each.
 *
 * So the source keeps, for the memory a device names at pre-migration
 * (mig_watch_dma), a copy of each page exactly as it went on the wire
 * (taken from the send buffer, so it is what the destination holds). At
 * stop-and-copy, with the device stopped, mig_mark_dma_dirty marks only
 * the pages that differ from that copy, or were never sent while watched.
 * Everything else the destination already has, byte for byte. The dirty
 * log still catches what the vCPUs wrote.
 *
 * All on the migration thread (pre-migration, rounds, stop-and-copy). */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../vm.h"

enum { COPY_NONE, COPY_DATA, COPY_ZERO };

void mig_dma_copies_reset(struct migration *m)
{
	for (unsigned i = 0; i < m->n_dma_copies; i++) {
		free(m->dma_copies[i].data);
		free(m->dma_copies[i].state);
	}
	m->n_dma_copies = 0;
	m->dma_copy_pages = 0;
}

static struct mig_dma_copy *find(struct migration *m, uint64_t pfn)
{
	for (unsigned i = 0; i < m->n_dma_copies; i++)
		if (pfn - m->dma_copies[i].first < m->dma_copies[i].n)
			return &m->dma_copies[i];
	return NULL;
}

int mig_watch_dma(struct vm *vm, uint64_t gpa, uint64_t len)
{
	struct migration *m = vm->mig;

	if (!m || !len || gpa >= vm->ram_size || len > vm->ram_size - gpa)
		return -EINVAL;
	uint64_t first = gpa / MIG_PAGE_SIZE, n = (gpa + len - 1) / MIG_PAGE_SIZE - first + 1;
	for (unsigned i = 0; i < m->n_dma_copies; i++)
		if (first < m->dma_copies[i].first + m->dma_copies[i].n && m->dma_copies[i].first < first + n)
			return -EEXIST;	/* overlapping regions: the first one covers it */
	if (m->n_dma_copies == MIG_DMA_COPY_RANGES || m->dma_copy_pages + n > MIG_DMA_COPY_MAX_PAGES)
		return -ENOSPC;	/* not watched: sent whole at stop-and-copy */
	struct mig_dma_copy *c = &m->dma_copies[m->n_dma_copies];
	c->data = malloc(n * MIG_PAGE_SIZE);
	c->state = calloc(n, 1);
	if (!c->data || !c->state) {
		free(c->data);
		free(c->state);
		return -ENOMEM;
	}
	c->first = first;
	c->n = n;
	m->n_dma_copies++;
	m->dma_copy_pages += n;
	return 0;
}

void mig_dma_copy_sent(struct migration *m, uint64_t pfn, const uint8_t *data)
{
	struct mig_dma_copy *c = m->n_dma_copies ? find(m, pfn) : NULL;

	if (!c)
		return;
	uint64_t k = pfn - c->first;
	if (data) {
		memcpy(c->data + k * MIG_PAGE_SIZE, data, MIG_PAGE_SIZE);
		c->state[k] = COPY_DATA;
	} else {
		c->state[k] = COPY_ZERO;
	}
}

void mig_dma_copy_sent_zero(struct migration *m, uint64_t pfn, uint64_t count)
{
	for (unsigned i = 0; i < m->n_dma_copies; i++) {
		struct mig_dma_copy *c = &m->dma_copies[i];
		uint64_t lo = pfn > c->first ? pfn : c->first;
		uint64_t hi = pfn + count < c->first + c->n ? pfn + count : c->first + c->n;
		if (lo < hi)
			memset(c->state + (lo - c->first), COPY_ZERO, hi - lo);
	}
}

uint64_t mig_mark_dma_dirty(struct vm *vm, uint64_t gpa, uint64_t len)
{
	struct migration *m = vm->mig;
	uint64_t marked = 0;

	if (!len || gpa >= vm->ram_size)
		return 0;
	if (len > vm->ram_size - gpa)
		len = vm->ram_size - gpa;
	for (uint64_t pfn = gpa / MIG_PAGE_SIZE; pfn <= (gpa + len - 1) / MIG_PAGE_SIZE; pfn++) {
		struct mig_dma_copy *c = m ? find(m, pfn) : NULL;
		const uint8_t *now = vm->ram + pfn * MIG_PAGE_SIZE;
		if (c) {
			uint64_t k = pfn - c->first;
			if ((c->state[k] == COPY_DATA && memcmp(c->data + k * MIG_PAGE_SIZE, now, MIG_PAGE_SIZE) == 0) ||
			    (c->state[k] == COPY_ZERO && mig_page_is_zero(now)))
				continue;	/* the destination has it */
		}
		vm_mark_dirty(vm, pfn * MIG_PAGE_SIZE, MIG_PAGE_SIZE);
		marked++;
	}
	return marked;
}
