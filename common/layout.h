/* Guest-physical memory map and interrupt vectors shared by the VMM and the
 * guest. Everything here is part of the guest ABI: change it and both sides
 * (and docs/guest-abi.md) change together.
 *
 *   0x0000_0000  not mapped (null-pointer guard page)
 *   0x0000_1000  PML4 | PDPT | 4 x PD (identity map of 4 GiB, 2 MiB pages)
 *   0x0000_7000  PT for the first 2 MiB (4 KiB pages, so page 0 can be absent)
 *   0x0000_8000  boot information (struct csc_bootinfo, 4 KiB)
 *   0x0000_9000  console ring (struct csc_console_ring, 8 KiB)
 *   0x0000_B000  hypercall page of vCPU 0 (proc accelerator, common/hcall.h)
 *   0x0001_0000  free for the guest below 1 MiB
 *   0x0010_0000  guest image (ELF PT_LOAD segments must start here or above)
 *   ...          RAM up to --mem, at most CSC_RAM_MAX
 *   0xC000_0000  MMIO hole: device windows from CSC_MMIO_BASE, one
 *                CSC_MMIO_WINDOW each; IOAPIC and LAPIC at their usual places
 */
#ifndef CSC_COMMON_LAYOUT_H
#define CSC_COMMON_LAYOUT_H

#define CSC_PAGE_SIZE		0x1000ull

#define CSC_PT_PML4_GPA		0x1000ull
#define CSC_PT_PDPT_GPA		0x2000ull
#define CSC_PT_PD_GPA		0x3000ull	/* 4 pages: 0x3000..0x6fff */
#define CSC_PT_LOW_GPA		0x7000ull	/* 4 KiB PT for 0..2 MiB */
#define CSC_BOOTINFO_GPA	0x8000ull
#define CSC_BOOTINFO_SIZE	0x1000ull
#define CSC_CONSOLE_RING_GPA	0x9000ull
#define CSC_CONSOLE_RING_SIZE	0x2000ull
#define CSC_HCALL_GPA		0xB000ull
#define CSC_HCALL_SIZE		0x1000ull
#define CSC_RESERVED_END	0x100000ull	/* VMM-owned area ends here */
#define CSC_IMAGE_MIN_GPA	CSC_RESERVED_END

#define CSC_RAM_MIN		(16ull << 20)
#define CSC_RAM_MAX		(3ull << 30)	/* RAM must end below the MMIO hole */
#define CSC_MMIO_HOLE		0xC0000000ull
#define CSC_MMIO_BASE		0xD0000000ull
#define CSC_MMIO_WINDOW		0x10000ull	/* 64 KiB per device */
/* Window numbers: 0 is the platform; virtio-net devices take 8, 9, ... */
#define CSC_IOAPIC_GPA		0xFEC00000ull
#define CSC_LAPIC_GPA		0xFEE00000ull
#define CSC_IDENTITY_MAP_END	0x100000000ull	/* 4 GiB */

/* Interrupt vectors. 0-31 are exceptions. Devices get vectors from
 * CSC_VEC_DEVICE_BASE upwards, assigned by the VMM and listed in the boot
 * information. */
#define CSC_VEC_DEVICE_BASE	0x40
#define CSC_VEC_DEVICE_END	0x7f
#define CSC_VEC_SPURIOUS	0xff

#endif
