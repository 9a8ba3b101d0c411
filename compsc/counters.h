/* Self-emulated statistics counters.
 *
 * The 9 VF statistics counters (VFGPRC ... VFGOTLBC) are 32-bit, read-only
 * and wrap; they cannot be written, and a new VF counts from wherever it
 * stands (zero for a VF the NIC never used). igbvf turns them into 64-bit
 * totals by adding 2^32 whenever a reading is smaller than the last one,
 * so on a new VF its totals jump by ~4 GiB. Self-emulation makes each
 * counter read n + m after a migration: n the total before, m what the
 * new VF counted since.
 *
 * Per counter only two numbers are kept, a 64-bit base and the last raw
 * reading, with total = base + last_raw (mod 2^64):
 *   - a reading smaller than the last is one wrap: base += 2^32;
 *   - at migration base is moved so the total is unchanged while last_raw
 *     becomes the new VF's reading (base may then be "negative": the
 *     arithmetic is modulo 2^64 and the total is what matters).
 * The total never goes backwards and never jumps by 2^32, provided the
 * driver reads each counter at least once per 2^32 events (at 1 Gbit/s
 * the byte counters wrap every ~34 s) - the same bound igbvf lives with.
 *
 * struct csc_counter is the shared area's counter-list entry (fixed
 * little-endian layout), so the hypervisor can see them. */
#ifndef CSC_CORE_COUNTERS_H
#define CSC_CORE_COUNTERS_H

#include <stdint.h>

struct csc_counter {
	uint32_t offset;	/* register offset (a CSC_REG_COUNTER register) */
	uint32_t last_raw;	/* the last reading of the register */
	uint64_t base;		/* total = base + last_raw */
};

_Static_assert(sizeof(struct csc_counter) == 16, "csc_counter layout");

/* Starts counting from the register's current reading raw: the total is
 * raw, as igbvf reports a counter it finds non-zero at probe time. */
void csc_counter_init(struct csc_counter *c, uint32_t offset, uint32_t raw);
/* Takes a new reading and returns the 64-bit total. */
uint64_t csc_counter_update(struct csc_counter *c, uint32_t raw);
uint64_t csc_counter_total(const struct csc_counter *c);
/* The counter now lives on a new VF whose register reads raw: the total
 * continues from where it was. Read raw on the destination before its
 * queues are enabled (the restoration does this between the reset and
 * "up"), so nothing the new VF counts is missed; pass 0 if the device is
 * known to start at zero. */
void csc_counter_migrated(struct csc_counter *c, uint32_t raw);

/* Fills list with the counter registers of the 82576 VF (offsets in
 * table order, base and last_raw 0) and returns how many; at most max. */
unsigned csc_counters_setup(struct csc_counter *list, unsigned max);

#endif
