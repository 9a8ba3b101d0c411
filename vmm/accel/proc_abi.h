/* Between the proc accelerator (accel/proc.c, in the VMM) and its sandbox
 * process (accel/proc_sandbox.c): the start-up message and the control
 * page. Private to these two files; the guest never sees this page's
 * meaning, but it is mapped in the guest's process, so the VMM treats every
 * field it reads as written by the guest.
 *
 * Start-up (SOCK_SEQPACKET socketpair, fd 3 in the sandbox):
 *   sandbox -> VMM  struct proc_hello, with SCM_RIGHTS [uffd, pagemap fd]
 *                   when the dirty log is available
 *   VMM -> sandbox  PROC_CMD_START once vCPU 0 may run: the sandbox loads
 *                   the registers from the control page, installs its
 *                   seccomp filter and returns into the guest
 *
 * Pause: the VMM sends SIGUSR1; the handler stores the interrupted
 * registers and FPU image here, bumps park_gen (futex), and sleeps until
 * go_gen changes; if load_regs is set it takes the registers back from
 * here (a restored state) before it returns into the guest. */
#ifndef CSC_VMM_ACCEL_PROC_ABI_H
#define CSC_VMM_ACCEL_PROC_ABI_H

#include <stdint.h>

#include "../../common/platform_regs.h"

#define PROC_SANDBOX_NAME	"compsc-vcpu-proc"
#define PROC_FD_SOCK		3
#define PROC_FD_RAM		4
#define PROC_FD_CTL		5

#define PROC_CMD_START		1

/* Registers in the order of the kernel's struct sigcontext (x86-64). */
enum proc_reg {
	PR_R8, PR_R9, PR_R10, PR_R11, PR_R12, PR_R13, PR_R14, PR_R15,
	PR_RDI, PR_RSI, PR_RBP, PR_RBX, PR_RDX, PR_RAX, PR_RCX, PR_RSP,
	PR_RIP, PR_RFLAGS, PR_COUNT
};

#define PROC_FXSAVE_LEN		512	/* legacy x87/SSE area: what travels */

struct proc_hello {
	int32_t status;			/* 0, or -errno: the sandbox could not start */
	int32_t dirty_log_status;	/* 0 when the uffd and pagemap fds follow */
	char reason[200];		/* why, for either status */
	char dirty_log_reason[200];
};

struct proc_ctl {
	uint32_t park_gen;	/* futex: +1 each time the sandbox has parked */
	uint32_t go_gen;	/* futex: +1 by the VMM to let a parked sandbox go */
	uint32_t load_regs;	/* VMM: take regs/fxsave from here when going on */
	uint32_t fault;		/* sandbox: a fault record below is valid */
	uint64_t regs[PR_COUNT];
	uint8_t fxsave[PROC_FXSAVE_LEN] __attribute__((aligned(16)));
	/* Filled by the sandbox's fault handler before it exits. */
	struct csc_fault_record fault_rec;
	int32_t fault_signo;
	int32_t fault_syscall;	/* SIGSYS: the forbidden system call */
};

#define PROC_CTL_SIZE		8192
_Static_assert(sizeof(struct proc_ctl) <= PROC_CTL_SIZE, "control page");

#endif
