/* Boot information builder (VMM side) and validator (guest side).
 * Freestanding: no libc calls, so the same object code logic runs in both. */
#include "bootinfo.h"
#include "csc_errno.h"

static void zero(void *p, size_t n)
{
	unsigned char *c = p;
	while (n--)
		*c++ = 0;
}

void csc_bootinfo_init(struct csc_bootinfo *bi, uint64_t ram_size, uint64_t tsc_khz)
{
	zero(bi, sizeof(*bi));
	bi->magic = CSC_BOOT_MAGIC;
	bi->version = CSC_BOOT_VERSION;
	bi->size = sizeof(*bi);
	bi->ram_size = ram_size;
	bi->tsc_khz = tsc_khz;
}

int csc_bootinfo_add_mem(struct csc_bootinfo *bi, uint64_t base, uint64_t len, uint32_t type)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	if (type < CSC_MEM_RAM || type > CSC_MEM_IMAGE)
		return -EINVAL;
	if (bi->n_mem >= CSC_BOOT_MAX_MEM)
		return -E2BIG;
	bi->mem[bi->n_mem++] = (struct csc_boot_mem){ .base = base, .len = len, .type = type };
	return 0;
}

int csc_bootinfo_add_dev(struct csc_bootinfo *bi, const struct csc_boot_dev *dev)
{
	if (dev->type < CSC_DEV_PLATFORM || dev->type > CSC_DEV_VF_82599)
		return -EINVAL;
	if (dev->mmio_len == 0 || dev->mmio_base + dev->mmio_len < dev->mmio_base)
		return -EINVAL;
	if (dev->irq_count && (dev->irq_vector < 32 || dev->irq_vector + dev->irq_count > 256))
		return -EINVAL;
	if (bi->n_dev >= CSC_BOOT_MAX_DEV)
		return -E2BIG;
	bi->dev[bi->n_dev++] = *dev;
	return 0;
}

int csc_bootinfo_set_cmdline(struct csc_bootinfo *bi, const char *cmdline)
{
	size_t n = 0;

	while (cmdline[n]) {
		if (n + 1 >= CSC_BOOT_CMDLINE_MAX)
			return -E2BIG;
		n++;
	}
	for (size_t i = 0; i <= n; i++)
		bi->cmdline[i] = cmdline[i];
	bi->cmdline_len = (uint32_t)n;
	return 0;
}

int csc_bootinfo_validate(const struct csc_bootinfo *bi)
{
	if (bi->magic != CSC_BOOT_MAGIC)
		return -EINVAL;
	if (bi->version != CSC_BOOT_VERSION || bi->size != sizeof(*bi))
		return -EPROTO;
	if (bi->n_mem > CSC_BOOT_MAX_MEM || bi->n_dev > CSC_BOOT_MAX_DEV)
		return -E2BIG;
	if (bi->cmdline_len >= CSC_BOOT_CMDLINE_MAX || bi->cmdline[bi->cmdline_len] != '\0')
		return -EINVAL;
	for (uint32_t i = 0; i < bi->cmdline_len; i++)
		if (bi->cmdline[i] == '\0')
			return -EINVAL;
	if (bi->tsc_khz == 0 || bi->ram_size == 0)
		return -EINVAL;
	for (uint32_t i = 0; i < bi->n_mem; i++) {
		const struct csc_boot_mem *m = &bi->mem[i];
		if (m->len == 0 || m->base + m->len < m->base || m->base + m->len > bi->ram_size)
			return -ERANGE;
	}
	for (uint32_t i = 0; i < bi->n_dev; i++) {
		const struct csc_boot_dev *d = &bi->dev[i];
		if (d->mmio_len == 0 || d->mmio_base + d->mmio_len < d->mmio_base)
			return -ERANGE;
		if (d->irq_count && (d->irq_vector < 32 || d->irq_vector + d->irq_count > 256))
			return -ERANGE;
	}
	return 0;
}

const struct csc_boot_dev *csc_bootinfo_find_dev(const struct csc_bootinfo *bi, uint32_t type,
						  uint32_t instance)
{
	for (uint32_t i = 0; i < bi->n_dev && i < CSC_BOOT_MAX_DEV; i++)
		if (bi->dev[i].type == type && bi->dev[i].instance == instance)
			return &bi->dev[i];
	return NULL;
}

const char *csc_dev_type_name(uint32_t type)
{
	switch (type) {
	case CSC_DEV_PLATFORM:
		return "platform";
	case CSC_DEV_VIRTIO_NET:
		return "virtio-net";
	case CSC_DEV_VF_82576:
		return "vf-82576";
	case CSC_DEV_VF_82599:
		return "vf-82599";
	default:
		return "unknown";
	}
}
