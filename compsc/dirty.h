/* DMA dirty pages by dummy writes.
 *
 * The device writes guest memory by DMA through the host's own mapping, so
 * the hypervisor's dirty log (KVM's, or the proc accelerator's userfaultfd
 * write-protection) never sees those writes. While a migration is in
 * progress (csc_area_migrating), the driver, after it reaps completed
 * descriptors, writes to every page the device wrote - the descriptors'
 * pages and the received buffers' pages - so that the dirty log catches
 * them and pre-copy sends them again.
 *
 * The write must not change memory the device may be writing at the same
 * moment (a descriptor page holds descriptors still in flight): it is an
 * atomic OR of zero into one byte per page, a locked read-modify-write,
 * which the CPU and the dirty log treat as a write but which cannot lose a
 * concurrent DMA write to the same byte. */
#ifndef CSC_CORE_DIRTY_H
#define CSC_CORE_DIRTY_H

#include <stddef.h>

#define CSC_DIRTY_PAGE_SIZE 4096u

/* Dirties every 4 KiB page that [addr, addr + len) overlaps, touching the
 * first byte of the range in each page. Returns the number of pages. */
size_t csc_dirty_touch(volatile void *addr, size_t len);

#endif
