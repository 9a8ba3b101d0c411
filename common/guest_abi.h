/* Which accelerator bindings a guest image carries.
 *
 * The guest ELF has a PT_NOTE with name "CompSC" and type
 * CSC_NOTE_BINDINGS whose 4-byte descriptor is a mask of CSC_BINDING_*.
 * The VMM reads it before it creates anything and refuses (exit 2) an
 * image that cannot run under the chosen accelerator. An image without the
 * note predates the proc binding: it runs under KVM only.
 *
 * At boot the VMM tells the guest which binding to take in the boot
 * information (csc_bootinfo.accel), the way Linux picks its pv_ops. */
#ifndef CSC_COMMON_GUEST_ABI_H
#define CSC_COMMON_GUEST_ABI_H

#define CSC_NOTE_NAME		"CompSC"
#define CSC_NOTE_BINDINGS	0x43530001u

#define CSC_BINDING_KVM		(1u << 0)	/* ring-0 entry, MMIO exits, LAPIC */
#define CSC_BINDING_PROC	(1u << 1)	/* ring-3 process, hypercall page, futexes */

/* csc_bootinfo.accel */
#define CSC_ACCEL_KVM		0
#define CSC_ACCEL_PROC		1

#endif
