/* Boot information: what the VMM tells the guest at start.
 *
 * The VMM writes one struct csc_bootinfo at CSC_BOOTINFO_GPA before the first
 * KVM_RUN and passes its address in %rdi. Little-endian, fixed layout, no
 * pointers; the guest validates magic, version and counts before using it.
 *
 *   +0     magic 'CSCB'   version   size
 *   +8     tsc_khz        ram_size
 *   +24    n_mem  n_dev   cmdline_len  accel
 *   ...    mem[CSC_BOOT_MAX_MEM]   memory map (e820-like)
 *   ...    dev[CSC_BOOT_MAX_DEV]   device table
 *   ...    cmdline[CSC_BOOT_CMDLINE_MAX]  NUL-terminated
 *
 * Compiled into both the VMM and the freestanding guest: no libc here.
 */
#ifndef CSC_COMMON_BOOTINFO_H
#define CSC_COMMON_BOOTINFO_H

#include <stdint.h>
#include <stddef.h>

#define CSC_BOOT_MAGIC		0x42435343u	/* "CSCB" little-endian */
#define CSC_BOOT_VERSION	1
#define CSC_BOOT_MAX_MEM	8
#define CSC_BOOT_MAX_DEV	16
#define CSC_BOOT_CMDLINE_MAX	1024

enum csc_mem_type {
	CSC_MEM_RAM = 1,	/* usable by the guest */
	CSC_MEM_RESERVED = 2,	/* VMM structures: page tables, boot info, rings */
	CSC_MEM_IMAGE = 3,	/* the loaded guest image */
};

enum csc_dev_type {
	CSC_DEV_PLATFORM = 1,	/* console doorbell, exit, marks (common/platform_regs.h) */
	CSC_DEV_VIRTIO_NET = 2,	/* virtio-mmio network device */
	CSC_DEV_VF_82576 = 3,	/* SR-IOV VF, 82576 register interface */
	CSC_DEV_VF_82599 = 4,	/* SR-IOV VF, 82599 register interface */
};

struct csc_boot_mem {
	uint64_t base;
	uint64_t len;
	uint32_t type;		/* enum csc_mem_type */
	uint32_t reserved;
};

struct csc_boot_dev {
	uint32_t type;		/* enum csc_dev_type */
	uint32_t instance;	/* n-th device of this type */
	uint64_t mmio_base;
	uint64_t mmio_len;
	uint32_t irq_vector;	/* first vector; 0 = no interrupt */
	uint32_t irq_count;	/* consecutive vectors from irq_vector */
};

struct csc_bootinfo {
	uint32_t magic;
	uint16_t version;
	uint16_t size;		/* sizeof(struct csc_bootinfo) */
	uint64_t tsc_khz;	/* guest TSC frequency */
	uint64_t ram_size;	/* bytes of RAM from GPA 0 */
	uint32_t n_mem;
	uint32_t n_dev;
	uint32_t cmdline_len;	/* without the NUL */
	uint32_t accel;		/* CSC_ACCEL_* (common/guest_abi.h): the binding to take */
	struct csc_boot_mem mem[CSC_BOOT_MAX_MEM];
	struct csc_boot_dev dev[CSC_BOOT_MAX_DEV];
	char cmdline[CSC_BOOT_CMDLINE_MAX];
};

_Static_assert(sizeof(struct csc_bootinfo) <= 4096, "boot info must fit its page");
/* entry.S reads the accel field before it has a stack or C. */
#define CSC_BOOTINFO_ACCEL_OFFSET 36
_Static_assert(offsetof(struct csc_bootinfo, accel) == CSC_BOOTINFO_ACCEL_OFFSET, "entry.S knows this offset");

/* Builder used by the VMM: start empty, add entries, finish. Each add returns
 * 0 or a negative errno (-E2BIG when a table is full or the command line is
 * too long, -EINVAL for an empty or malformed entry). */
void csc_bootinfo_init(struct csc_bootinfo *bi, uint64_t ram_size, uint64_t tsc_khz);
int csc_bootinfo_add_mem(struct csc_bootinfo *bi, uint64_t base, uint64_t len, uint32_t type);
int csc_bootinfo_add_dev(struct csc_bootinfo *bi, const struct csc_boot_dev *dev);
int csc_bootinfo_set_cmdline(struct csc_bootinfo *bi, const char *cmdline);

/* Checker used by the guest (and the tests): 0 if the structure is
 * consistent, otherwise a negative errno. Never trusts counts or lengths. */
int csc_bootinfo_validate(const struct csc_bootinfo *bi);

/* The n-th device of a type, or NULL. */
const struct csc_boot_dev *csc_bootinfo_find_dev(const struct csc_bootinfo *bi, uint32_t type,
						  uint32_t instance);

const char *csc_dev_type_name(uint32_t type);

#endif
