/* The platform device: the VMM's own small device every guest has.
 *
 * One MMIO window (listed in the boot information as CSC_DEV_PLATFORM) with
 * 32-bit registers. Port I/O cannot be used from ring 3 on PVM hosts
 * (docs/platform-notes.md), so everything the guest needs from the VMM is a memory
 * access here.
 *
 *   0x00 ID        RO  CSC_PLATFORM_ID
 *   0x04 CONSOLE   WO  doorbell: drain the console ring (any value)
 *   0x08 EXIT      WO  guest exit with status = value & 0xff
 *   0x0C FAULT     WO  value = GPA of a struct csc_fault_record; the VMM
 *                      dumps it and exits with status 1
 *   0x10 MARK      WO  boot-progress mark (enum csc_mark), timestamped by
 *                      the VMM for benchmarks
 *   0x14 IRQ_TEST  WO  raise the platform interrupt after value ms
 *                      (from a VMM timer, through an irqfd)
 *   0x18 WAKE_US   WO  wake-up timer: raise the platform interrupt once,
 *                      value microseconds from now (0 cancels; a new
 *                      value replaces the old). Lets a guest sleep in hlt
 *                      with a deadline; independent of IRQ_TEST. The guest
 *                      writes it only when its deadline moves earlier
 *                      than the one armed, so most sleeps cost no exit.
 *   0x1C MIGRATED  RO  migration generation: 0 after boot, +1 each time
 *                      the VM arrives on a new host (live migration); the
 *                      platform interrupt is raised when it changes, so a
 *                      guest can announce itself (gratuitous ARP)
 *   0x20 COMPSC_AREA  RW  GPA of the guest's CompSC shared area
 *                      (compsc/shared_area.h), written by the VF driver at
 *                      probe; 0 unregisters. The VMM checks it at once
 *                      (inside RAM, aligned, magic and layout) and reads
 *                      the area itself only at migration time, from one
 *                      validated copy. Reads return what was accepted (0
 *                      if the last write was refused).
 *   0x24 COMPSC_STATUS RO  0 when the last COMPSC_AREA write was accepted,
 *                      else a positive errno (EINVAL, ERANGE, ...)
 *   0x28 HOTPLUG_REQ   RO  the hot-plug controller's pending request, 0 if
 *                      none: bits 0-7 the slot (= the VF's instance in the
 *                      device table), bits 8-9 the operation (1 eject:
 *                      release the device; 2 insert: the device is
 *                      attached, probe it), bits 16-31 a sequence number
 *                      (never 0). Posted before the platform interrupt
 *                      is raised; withdrawn (0) when the VMM gives up.
 *   0x2C HOTPLUG_ACK   WO  the guest writes the HOTPLUG_REQ value it has
 *                      handled (eject: DMA stopped, device unused; insert:
 *                      probed and in use). Any other value is ignored, so
 *                      a late acknowledgement of a withdrawn request does
 *                      nothing. After an eject's ACK the VMM detaches the
 *                      device: its BAR reads all ones from then on.
 *   0x30 HOTPLUG_PRESENT RO  bit N set while VF slot N has a device
 *                      attached (a guest checks it before probing, e.g.
 *                      on a VMM started with --vf-unplugged)
 *
 * The console ring lives in guest RAM at CSC_CONSOLE_RING_GPA: the guest
 * appends at head and rings CONSOLE; the VMM consumes up to head, advances
 * tail. Both indices run freely modulo 2^32.
 */
#ifndef CSC_COMMON_PLATFORM_REGS_H
#define CSC_COMMON_PLATFORM_REGS_H

#include <stdint.h>

#define CSC_PLATFORM_ID		0x43534331u	/* "CSC1" */

#define CSC_PLAT_ID		0x00
#define CSC_PLAT_CONSOLE	0x04
#define CSC_PLAT_EXIT		0x08
#define CSC_PLAT_FAULT		0x0C
#define CSC_PLAT_MARK		0x10
#define CSC_PLAT_IRQ_TEST	0x14
#define CSC_PLAT_WAKE_US	0x18
#define CSC_PLAT_MIGRATED	0x1C
#define CSC_PLAT_COMPSC_AREA	0x20
#define CSC_PLAT_COMPSC_STATUS	0x24
#define CSC_PLAT_HOTPLUG_REQ	0x28
#define CSC_PLAT_HOTPLUG_ACK	0x2C
#define CSC_PLAT_HOTPLUG_PRESENT	0x30
#define CSC_PLAT_SIZE		0x1000

/* HOTPLUG_REQ fields. */
#define CSC_HP_SLOT(req)	((req) & 0xffu)
#define CSC_HP_OP(req)		(((req) >> 8) & 3u)
#define CSC_HP_SEQ(req)		((req) >> 16)
#define CSC_HP_REQ(slot, op, seq)	((uint32_t)(slot) | (uint32_t)(op) << 8 | (uint32_t)(seq) << 16)
enum csc_hp_op {
	CSC_HP_EJECT = 1,	/* release the device: the VMM detaches it after the ACK */
	CSC_HP_INSERT = 2,	/* the device was attached: probe it */
};
#define CSC_HP_MAX_SLOTS	32	/* HOTPLUG_PRESENT bits */

enum csc_mark {
	CSC_MARK_MAIN = 1,	/* the guest's main() started at ring 3 */
};

struct csc_console_ring {
	volatile uint32_t head;	/* written by the guest */
	volatile uint32_t tail;	/* written by the VMM */
	uint32_t size;		/* bytes in data[], a power of two */
	uint32_t reserved;
	char data[];
};

#define CSC_CONSOLE_DATA_SIZE	4096u

/* Written by the guest's exception handler (ring 0) and read by the VMM,
 * which treats every field as untrusted. */
struct csc_fault_record {
	uint64_t vector;
	uint64_t error_code;
	uint64_t cr2;
	uint64_t rip, cs, rflags, rsp, ss;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

#endif
