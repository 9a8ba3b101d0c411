#include "dma.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

void dma_init(struct dma_space *d)
{
	memset(d, 0, sizeof(*d));
}

static int check_new(const struct dma_space *d, uint64_t iova, uint64_t size)
{
	if (size == 0 || iova + size < iova)
		return -EINVAL;
	if (d->n == DMA_MAX_MAPPINGS)
		return -ENOSPC;
	for (unsigned i = 0; i < d->n; i++) {
		const struct dma_mapping *m = &d->map[i];
		if (iova < m->iova + m->size && m->iova < iova + size)
			return -EEXIST;
	}
	return 0;
}

int dma_map_host(struct dma_space *d, uint64_t iova, uint64_t size, void *host)
{
	int ret = check_new(d, iova, size);

	if (ret)
		return ret;
	d->map[d->n++] = (struct dma_mapping){ iova, size, host, 0 };
	return 0;
}

int dma_map_fd(struct dma_space *d, uint64_t iova, uint64_t size, int fd, uint64_t offset)
{
	int ret = check_new(d, iova, size);

	if (ret)
		return ret;
	if ((iova | size | offset) & 0xfff)
		return -EINVAL;
	/* The memory must exist and stay: a mapping past the end of the file,
	 * or a file that can shrink later, would kill this process with
	 * SIGBUS on the first DMA access. */
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	if (fstat(fd, &st) < 0 || offset + size < offset || offset + size > (uint64_t)st.st_size)
		return -ERANGE;
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPERM;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	d->map[d->n++] = (struct dma_mapping){ iova, size, p, 1 };
	return 0;
}

static void release(struct dma_mapping *m)
{
	if (m->owned)
		munmap(m->host, m->size);
}

int dma_unmap(struct dma_space *d, uint64_t iova, uint64_t size)
{
	for (unsigned i = 0; i < d->n; i++) {
		if (d->map[i].iova == iova && d->map[i].size == size) {
			release(&d->map[i]);
			d->map[i] = d->map[--d->n];
			return 0;
		}
	}
	return -ENOENT;
}

void dma_unmap_all(struct dma_space *d)
{
	for (unsigned i = 0; i < d->n; i++)
		release(&d->map[i]);
	d->n = 0;
}

void *dma_ptr(const struct dma_space *d, uint64_t iova, uint64_t len)
{
	for (unsigned i = 0; i < d->n; i++) {
		const struct dma_mapping *m = &d->map[i];
		if (iova >= m->iova && iova - m->iova < m->size && len <= m->size - (iova - m->iova))
			return m->host + (iova - m->iova);
	}
	return NULL;
}
