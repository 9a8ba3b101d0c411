/* Ring-0 set-up: GDT, TSS, IDT, local APIC; and the exception reporter.
 *
 * This file runs at ring 0, which PVM emulates slowly: it does the minimum
 * and touches nothing but its own tables and the platform device. */
#include <stdint.h>

#include "../../../common/bootinfo.h"
#include "../../../common/layout.h"
#include "../../../common/platform_regs.h"
#include "guest/arch.h"

#define GATE_INTERRUPT_DPL0 0x8e
#define GATE_INTERRUPT_DPL3 0xee
#define VEC_SYSCALL 3	/* int3: see arch_syscall() */

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct table_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* Selectors: 0x08 kernel code, 0x10 kernel data, 0x18 user data,
 * 0x20 user code, 0x28 TSS (two slots). User selectors carry RPL 3. */
static uint64_t gdt[7] __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct csc_fault_record fault_record;
static volatile uint32_t *platform_regs;

extern char exception_stubs[], irq_stubs[], syscall_entry[];
extern char kernel_stack_top[], df_stack_top[];

static void set_gate(unsigned vector, void *handler, uint8_t type_attr, uint8_t ist)
{
	uint64_t a = (uint64_t)handler;

	idt[vector] = (struct idt_gate){
		.offset_lo = (uint16_t)a, .selector = 0x08, .ist = ist, .type_attr = type_attr,
		.offset_mid = (uint16_t)(a >> 16), .offset_hi = (uint32_t)(a >> 32),
	};
}

static void load_gdt_and_tss(void)
{
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;

	gdt[1] = 0x00209a0000000000ull;		/* kernel code: P, DPL0, L */
	gdt[2] = 0x0000920000000000ull;		/* kernel data: P, DPL0, RW */
	gdt[3] = 0x0000f20000000000ull;		/* user data: P, DPL3, RW */
	gdt[4] = 0x0020fa0000000000ull;		/* user code: P, DPL3, L */
	gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		 ((limit >> 16) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[6] = base >> 32;
	tss.rsp[0] = (uint64_t)kernel_stack_top;	/* ring 3 -> 0 stack */
	tss.ist[0] = (uint64_t)df_stack_top;		/* IST1: double fault */
	tss.iomap_base = sizeof(tss);

	struct table_ptr p = { sizeof(gdt) - 1, (uint64_t)gdt };
	__asm__ volatile("lgdt %0\n\t"
			 "pushq $0x08\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw $0x10, %%ax\n\t"
			 "movw %%ax, %%ss\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw $0x28, %%ax\n\t"
			 "ltr %%ax"
			 :
			 : "m"(p)
			 : "rax", "memory");
}

static void load_idt(void)
{
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, exception_stubs + 16 * v, GATE_INTERRUPT_DPL0, v == 8 ? 1 : 0);
	for (unsigned v = 32; v < 256; v++)
		set_gate(v, irq_stubs + 16 * (v - 32), GATE_INTERRUPT_DPL0, 0);
	set_gate(VEC_SYSCALL, syscall_entry, GATE_INTERRUPT_DPL3, 0);

	struct table_ptr p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

static void enable_lapic(void)
{
	volatile uint32_t *lapic = (volatile uint32_t *)CSC_LAPIC_GPA;

	lapic[0x80 / 4] = 0;				/* TPR: accept everything */
	lapic[0xf0 / 4] = 0x100 | CSC_VEC_SPURIOUS;	/* SVR: software enable */
}

void arch_init(const struct csc_bootinfo *bi)
{
	const struct csc_boot_dev *plat = csc_bootinfo_find_dev(bi, CSC_DEV_PLATFORM, 0);

	platform_regs = plat ? (volatile uint32_t *)plat->mmio_base : 0;
	load_gdt_and_tss();
	load_idt();
	enable_lapic();
}

/* Called by exception_common with the saved registers; hands the VMM a
 * fault record and stops. */
void exception_entry(const struct exception_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	fault_record = (struct csc_fault_record){
		.vector = f->vector, .error_code = f->error_code, .cr2 = cr2,
		.rip = f->rip, .cs = f->cs, .rflags = f->rflags, .rsp = f->rsp, .ss = f->ss,
		.rax = f->rax, .rbx = f->rbx, .rcx = f->rcx, .rdx = f->rdx, .rsi = f->rsi,
		.rdi = f->rdi, .rbp = f->rbp, .r8 = f->r8, .r9 = f->r9, .r10 = f->r10,
		.r11 = f->r11, .r12 = f->r12, .r13 = f->r13, .r14 = f->r14, .r15 = f->r15,
	};
	if (platform_regs)
		platform_regs[CSC_PLAT_FAULT / 4] = (uint32_t)(uint64_t)&fault_record;
	/* Without a platform device the hlt loop in entry.S keeps the vCPU
	 * parked; the VMM's own watchdogs take it from there. */
}
