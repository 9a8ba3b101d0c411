/* app=fault: faults on purpose so that tests can check the VMM reports it.
 *   kind=pf      null-pointer read at ring 3 (page 0 is not mapped)
 *   kind=ud      invalid opcode at ring 3
 *   kind=gp      privileged instruction (hlt) at ring 3
 *   kind=de      divide by zero at ring 3
 *   kind=ring0   invalid opcode at ring 0 (through the int3 system call)
 *   kind=triple  triple fault (empty IDT, then a fault)
 *   kind=syscall a Linux system call (getpid) straight from the guest: the
 *                proc sandbox must refuse it (proc accelerator only)
 * Under the proc accelerator there is no ring 0: ring0 and triple come back
 * with -ENOSYS and the app panics saying it did not fault. */
#include "apps.h"
#include "guest/mmio.h"
#include "guest/arch.h"
#include "guest/rt.h"
#include "guest/string.h"

int app_fault(void)
{
	char kind[16] = "pf";

	cmdline_get("kind", kind, sizeof(kind));
	printf("fault: provoking '%s'\n", kind);
	console_flush();
	if (strcmp(kind, "pf") == 0) {
		volatile uint64_t *null = (volatile uint64_t *)(uintptr_t)cmdline_get_u64("addr", 0);
		return (int)*null;
	} else if (strcmp(kind, "ud") == 0) {
		__asm__ volatile("ud2");
	} else if (strcmp(kind, "gp") == 0) {
		__asm__ volatile("hlt");
	} else if (strcmp(kind, "de") == 0) {
		volatile unsigned zero = 0;
		return (int)(100 / zero);
	} else if (strcmp(kind, "ring0") == 0) {
		arch_syscall(SYS_FAULT_RING0, 0);
	} else if (strcmp(kind, "triple") == 0) {
		arch_syscall(SYS_TRIPLE_FAULT, 0);
	} else if (strcmp(kind, "syscall") == 0) {
		if (!arch_proc)
			panic("fault: kind=syscall is for the proc accelerator (under KVM, syscall has no entry)");
		long ret;
		__asm__ volatile("syscall" : "=a"(ret) : "a"(39L) : "rcx", "r11", "memory");
		printf("fault: getpid returned %ld\n", ret);
	} else {
		panic("fault: unknown kind '%s'", kind);
	}
	panic("fault: '%s' did not fault", kind);
}
