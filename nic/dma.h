/* The IOMMU view of one VF: the guest-physical ranges the VMM mapped for
 * DMA (vfio-user DMA_MAP), each backed by the VMM's memory fd mapped into
 * this process.
 *
 * Every device access to guest memory goes through dma_ptr(), which returns
 * NULL unless [iova, iova + len) lies wholly inside one mapping: a
 * descriptor or buffer pointing anywhere else is a DMA fault, and nothing
 * outside the mappings is ever touched. */
#ifndef CSC_NIC_DMA_H
#define CSC_NIC_DMA_H

#include <stddef.h>
#include <stdint.h>

#define DMA_MAX_MAPPINGS 16

struct dma_mapping {
	uint64_t iova;		/* guest-physical address */
	uint64_t size;
	uint8_t *host;		/* our mapping of it */
	int owned;		/* 1: we mmap'd it and must munmap it */
};

struct dma_space {
	unsigned n;
	struct dma_mapping map[DMA_MAX_MAPPINGS];
};

void dma_init(struct dma_space *d);
/* Adds a mapping of an existing host buffer (tests) or of an fd (mmap'd
 * here, shared, read-write). -EINVAL bad range, -EEXIST overlap, -ENOSPC
 * table full, -ERANGE the fd is smaller than offset + size, -EPERM the fd
 * is not sealed against shrinking (F_SEAL_SHRINK), or the mmap error. */
int dma_map_host(struct dma_space *d, uint64_t iova, uint64_t size, void *host);
int dma_map_fd(struct dma_space *d, uint64_t iova, uint64_t size, int fd, uint64_t offset);
/* Removes the mapping that exactly matches [iova, iova + size). -ENOENT. */
int dma_unmap(struct dma_space *d, uint64_t iova, uint64_t size);
void dma_unmap_all(struct dma_space *d);

/* Host pointer for [iova, iova + len) inside one mapping, or NULL. */
void *dma_ptr(const struct dma_space *d, uint64_t iova, uint64_t len);

#endif
