/* Ring-0 entry, exception and interrupt stubs, the system-call gate.
 *
 * Ring-0 code is emulated instruction by instruction on PVM hosts
 * (docs/platform-notes.md: ~1-4 us each), so everything here is as short as it can be:
 * an interrupt costs about a dozen ring-0 instructions, and all real work
 * happens at ring 3, which runs natively. */

#define SEL_KERNEL_CODE	0x08
#define SEL_USER_DATA	0x1b
#define SEL_USER_CODE	0x23
#define LAPIC_EOI	0xfee000b0

	.section .text.entry, "ax"
	.globl _start
	.code64
/* The VMM enters here in 64-bit mode at ring 0, interrupts off, with the
 * boot information address in %rdi. Under the proc accelerator the same
 * entry runs at ring 3 in a sandboxed process: csc_bootinfo.accel (offset
 * CSC_BOOTINFO_ACCEL_OFFSET = 36, common/bootinfo.h) says so, and it is
 * read before any privileged instruction. */
_start:
	cmpl	$1, 36(%rdi)		/* CSC_ACCEL_PROC */
	je	proc_start
	cli
	lea	kernel_stack_top(%rip), %rsp
	mov	%rdi, %rbx
	call	arch_init		/* GDT, TSS, IDT, LAPIC (cpu.c) */
	/* Drop to ring 3 for good: user data/stack, IF=1, user code. */
	mov	%rbx, %rdi
	xor	%eax, %eax
	mov	%ax, %ds
	mov	%ax, %es
	pushq	$SEL_USER_DATA
	lea	user_stack_top(%rip), %rax
	sub	$8, %rax		/* as if user_entry had been called */
	push	%rax
	pushq	$0x202
	pushq	$SEL_USER_CODE
	lea	user_entry(%rip), %rax
	push	%rax
	iretq

/* The proc binding: already at ring 3 with nothing to set up but a stack. */
proc_start:
	lea	user_stack_top(%rip), %rsp
	sub	$8, %rsp		/* as if user_entry had been called */
	movl	$1, arch_proc(%rip)
	jmp	user_entry

	.text
/* Exceptions 0-31: one 16-byte stub each, pushing a zero error code where
 * the CPU pushes none, then the vector. */
	.balign 16
	.globl exception_stubs
exception_stubs:
	.set vec, 0
	.rept 32
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	exception_common
	.set vec, vec + 1
	.endr

exception_common:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi
	cld
	call	exception_entry		/* reports to the VMM; never returns */
1:	cli
	hlt
	jmp	1b

/* Interrupts 32-255: one 16-byte stub each. The handler counts the vector,
 * remembers the privilege level it interrupted, and acknowledges the LAPIC.
 * Ring-3 code polls the counters (irq.h). */
	.balign 16
	.globl irq_stubs
irq_stubs:
	.set vec, 32
	.rept 224
	.balign 16
	push	%rax
	mov	$vec, %eax
	jmp	irq_common
	.set vec, vec + 1
	.endr

irq_common:
	push	%rdx
	lock incl irq_counts(,%rax,4)
	lock incl irq_total(%rip)
	mov	24(%rsp), %rdx		/* interrupted %cs: [rdx][rax][rip][cs] */
	and	$3, %edx
	mov	%edx, irq_last_cpl(,%rax,4)
	mov	$LAPIC_EOI, %edx
	movl	$0, (%rdx)
	pop	%rdx
	pop	%rax
	iretq

/* System calls from ring 3: `int3` through the DPL-3 gate of vector 3
 * (arch.h says why not `syscall` or `int n`). %rax = call number, %rdi =
 * argument, result in %rax.
 *   0 WAIT: sleep until an interrupt arrives, unless irq_total != %edi
 *     (the caller's snapshot): checked with interrupts off, then sti;hlt
 *     atomically, so a wake-up is never lost.
 *   1 FAULT_RING0: executes ud2 at ring 0 (fault-report test)
 *   2 TRIPLE_FAULT: loads an empty IDT and faults (shutdown test) */
	.globl syscall_entry
syscall_entry:
	test	%rax, %rax
	jnz	1f
	cmp	irq_total(%rip), %edi
	jne	2f
	sti
	hlt
	cli
2:	xor	%eax, %eax
	iretq
1:	cmp	$1, %rax
	jne	3f
	ud2
3:	cmp	$2, %rax
	jne	4f
	lidt	empty_idtr(%rip)
	ud2
4:	mov	$-38, %rax		/* -ENOSYS */
	iretq

	.section .rodata
	.balign 16
empty_idtr:
	.word	0
	.quad	0

	.bss
	.balign 16
	.globl kernel_stack_top
kernel_stack:
	.skip	16384
kernel_stack_top:
	.globl df_stack_top
	.skip	4096
df_stack_top:
	.balign 16
	.globl user_stack_top
	.skip	262144
user_stack_top:
