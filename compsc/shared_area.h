/* The shared area: the one structure the guest driver and the hypervisor
 * share for CompSC. It lives in guest memory; the driver registers its
 * guest-physical address with the hypervisor through a platform-device
 * register. Fixed-size little-endian fields, no pointers: the hypervisor
 * reads it from its own mapping of guest RAM.
 *
 *   offset  size  field          written by  meaning
 *   0x000   4     magic          driver      'CSCA' (0x41435343)
 *   0x004   2     layout         driver      CSC_AREA_LAYOUT (1)
 *   0x006   2     device         driver      VF PCI device ID (0x10ca: 82576)
 *   0x008   4     size           driver      sizeof(struct csc_shared_area)
 *   0x00c   4     reserved0                  0
 *   0x010   4     readers        driver      lock: read holders   (atomic)
 *   0x014   4     writer         hypervisor  lock: write flag 0/1 (atomic)
 *   0x018   4     version        hypervisor  +1 per migration     (atomic)
 *   0x01c   4     restored       driver      version last restored for
 *   0x020   4     migrating      hypervisor  1: dirty DMA pages by dummy writes
 *   0x024   4     n_ioregs       driver      entries used in ioregs[]
 *   0x028   4     n_counters     driver      entries used in counters[]
 *   0x02c   4     n_dma          driver      entries used in dma[]
 *   0x030   256   ioregs[32]     both        {u32 offset (driver), u32 value (hypervisor)}
 *   0x130   256   counters[16]   driver      {u32 offset, u32 last_raw, u64 base}
 *   0x230   512   dma[32]        driver      {u64 gpa, u64 len}: rings and buffers
 *   0x430   344   rec            driver      the op-set record (opset.h)
 *   0x588         end: 1416 bytes
 *
 * Lock protocol (readers and writer are 32-bit words updated with atomic
 * instructions by both sides; sequentially consistent, so that of a reader
 * entering and a writer locking at least one sees the other):
 *
 *   driver, around every op set:               hypervisor, stop-and-copy:
 *     readers += 1                               writer = 1
 *     if writer: readers -= 1, wait, retry       wait (bounded) for readers == 0
 *     if version != restored: restore, ack         timeout: writer = 0, give up
 *     ... op set ...                             pause vCPUs, copy, validate ...
 *     readers -= 1                               version += 1 (destination)
 *                                                writer = 0, resume vCPUs
 *
 * So the VM is never suspended in the middle of an op set, and the driver
 * sees a new version at its first read lock on the destination and runs
 * its restoration then. A failed migration leaves the source's version
 * unchanged: the driver goes on without restoration.
 *
 * Trust: for the hypervisor the area is hostile guest memory. It touches
 * the live area only through the lock/version/flag helpers below (aligned
 * 32-bit atomics at fixed offsets, after csc_area_locate checked where it
 * is) and csc_area_stage_ioregs; everything it reads, it reads from one
 * copy that csc_area_validate accepted. */
#ifndef CSC_CORE_SHARED_AREA_H
#define CSC_CORE_SHARED_AREA_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "opset.h"

#define CSC_AREA_MAGIC		0x41435343u	/* "CSCA" little-endian */
#define CSC_AREA_LAYOUT		1
#define CSC_AREA_MAX_IOREGS	32
#define CSC_AREA_MAX_COUNTERS	16
#define CSC_AREA_MAX_DMA	32
#define CSC_AREA_ALIGN		64		/* where the driver must place it */

struct csc_ioreg {
	uint32_t offset;	/* a CSC_REG_IOMIGRATE register */
	uint32_t value;		/* staged by the hypervisor at stop-and-copy */
};

struct csc_dma_region {
	uint64_t gpa;
	uint64_t len;
};

struct csc_shared_area {
	uint32_t magic;
	uint16_t layout;
	uint16_t device;
	uint32_t size;
	uint32_t reserved0;
	uint32_t readers;
	uint32_t writer;
	uint32_t version;
	uint32_t restored;
	uint32_t migrating;
	uint32_t n_ioregs;
	uint32_t n_counters;
	uint32_t n_dma;
	struct csc_ioreg ioregs[CSC_AREA_MAX_IOREGS];
	struct csc_counter counters[CSC_AREA_MAX_COUNTERS];
	struct csc_dma_region dma[CSC_AREA_MAX_DMA];
	struct csc_rec rec;
};

#define CSC_AREA_SIZE sizeof(struct csc_shared_area)
_Static_assert(offsetof(struct csc_shared_area, readers) == 0x10, "shared area layout");
_Static_assert(offsetof(struct csc_shared_area, ioregs) == 0x30, "shared area layout");
_Static_assert(offsetof(struct csc_shared_area, counters) == 0x130, "shared area layout");
_Static_assert(offsetof(struct csc_shared_area, dma) == 0x230, "shared area layout");
_Static_assert(offsetof(struct csc_shared_area, rec) == 0x430, "shared area layout");
_Static_assert(sizeof(struct csc_shared_area) == 0x588, "shared area layout");

/* ---- guest (driver) side ------------------------------------------------ */

/* Fills in the header, the I/O-migration list (every IOMIGRATE register
 * of the 82576 VF), the counter list (every COUNTER register, zero; the
 * driver then calls csc_counter_init with its first readings) and an
 * empty record. a must be CSC_AREA_ALIGN-aligned. 0 or -E2BIG. */
int csc_area_init(struct csc_shared_area *a);

/* Registers memory the device writes by DMA (descriptor rings, buffer
 * areas): the hypervisor sends it at stop-and-copy, after the source VF's
 * DMA stopped. Registering the same region twice is a no-op. Call with the
 * read lock held (inside an op set). 0, -EINVAL (empty or wrapping) or
 * -ENOSPC (CSC_AREA_MAX_DMA regions). */
int csc_area_add_dma(struct csc_shared_area *a, uint64_t gpa, uint64_t len);
void csc_area_clear_dma(struct csc_shared_area *a);

/* Read lock, taken around every op set. Returns 1 if a restoration is due
 * (the version changed since csc_area_restored), else 0. read_lock spins
 * while the hypervisor holds the write lock (it is about to pause the VM,
 * or is resuming it); read_trylock returns -EBUSY instead. */
int csc_area_read_lock(struct csc_shared_area *a);
int csc_area_read_trylock(struct csc_shared_area *a);
void csc_area_read_unlock(struct csc_shared_area *a);
/* The restoration for the current version is done (call with the read
 * lock held). If it failed, do not call it: the next read lock asks again. */
void csc_area_restored(struct csc_shared_area *a);
/* Whether a migration is in progress: the driver then dirties, after
 * reaping, each page the device wrote (dirty.h). */
int csc_area_migrating(const struct csc_shared_area *a);
/* The counter-list entry for the register at offset, or NULL. */
struct csc_counter *csc_area_counter(struct csc_shared_area *a, uint32_t offset);
/* Writes the register values the hypervisor staged, through write (the
 * driver's register accessor), skipping any entry that is not an
 * I/O-migration register. For csc_replay_ops.restore_regs. Returns the
 * number written, or write's first error. */
int csc_area_apply_ioregs(const struct csc_shared_area *a, int (*write)(void *ctx, uint32_t offset, uint32_t value),
			  void *ctx);

/* ---- hypervisor side ---------------------------------------------------- */

/* Checks where the driver says the area is, before the hypervisor maps it
 * or touches its lock: aligned, inside guest RAM [0, ram_size), not in the
 * VMM-owned pages below 1 MiB (which hold the boot information and the
 * hypercall page). 0 or -EINVAL with a reason. */
int csc_area_locate(uint64_t gpa, uint64_t ram_size, char *err, size_t errlen);

/* Takes the write lock on the live area: sets the writer flag (no new
 * reader enters), then waits for the readers to leave - checks, and
 * calls wait(ctx) between checks, at most max_waits times (the caller
 * sleeps in wait, so the bound is max_waits x its sleep). 0 when held;
 * -ETIMEDOUT if readers remain, with the writer flag cleared again, so the
 * source goes on as before. wait may be NULL (spin). */
int csc_area_try_write_lock(struct csc_shared_area *live, unsigned max_waits, void (*wait)(void *ctx), void *ctx);
void csc_area_write_unlock(struct csc_shared_area *live);
/* Increments the version (at most once per migration, on the side that
 * will run the VM: see docs/compsc-core.md); returns the new version. */
uint32_t csc_area_bump_version(struct csc_shared_area *live);
void csc_area_set_migrating(struct csc_shared_area *live, int on);

/* THE VALIDATOR. copy is the hypervisor's one copy of the area (len
 * bytes; any alignment), ram_size the guest's RAM size. Checks magic,
 * layout, device and size; every count against its bound; every listed
 * register against the register classes (real I/O-migration or counter
 * registers, no duplicates); every DMA region non-empty, non-wrapping and
 * inside RAM; the record (csc_rec_validate), each recorded ring inside a
 * registered DMA region. 0, or -EINVAL with the reason in err. Never
 * reads outside [copy, copy + len). */
int csc_area_validate(const void *copy, size_t len, uint64_t ram_size, char *err, size_t errlen);

/* Stages the I/O-migration register values in the live area for the
 * driver's restoration: for each entry i of the validated copy, asks
 * read(ctx, offset, &value) (the source VF through the PF's
 * side-effect-free view) and writes {offset, value} to live entry i, and
 * the copy's count to live. The live area is rewritten from the copy, not
 * read. Returns 0 or read's first error. The hypervisor must then count
 * the area's pages as dirty if it writes them before the final copy. */
int csc_area_stage_ioregs(struct csc_shared_area *live, const struct csc_shared_area *copy,
			  int (*read)(void *ctx, uint32_t offset, uint32_t *value), void *ctx);

/* Folds the source VF's final counter readings into the live area's
 * counter list, so nothing the VF counted after the driver's last reading
 * is lost: for each entry i of the validated copy, read(ctx, offset, &raw)
 * and entry i becomes the copy's entry updated with raw (csc_counter_update:
 * a smaller reading is one wrap). Only safe with the write lock held and
 * the vCPUs paused (the driver updates its counters under the read lock).
 * The driver's restoration then moves the bases as usual. Returns 0 or
 * read's first error (the live list is then partly folded: still
 * consistent, each entry either old or folded). */
int csc_area_stage_counters(struct csc_shared_area *live, const struct csc_shared_area *copy,
			    int (*read)(void *ctx, uint32_t offset, uint32_t *value), void *ctx);

#endif
