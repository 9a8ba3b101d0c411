/* compsc-vcpu-proc: the process a proc-accelerated guest runs in.
 *
 * compsc-vmm starts it (accel/proc.c) with the guest-RAM memfd, a control
 * page and a socket. It maps guest RAM at its guest-physical address
 * (identity: pointer = physical = DMA address, page 0 left unmapped as
 * under KVM), registers userfaultfd write-protection on that mapping and
 * hands the uffd and its own /proc/self/pagemap to the VMM for the dirty
 * log, then waits for the VMM's start command. It enters the guest by
 * returning from a signal handler whose saved registers it replaced, right
 * after it installed a seccomp filter that leaves the guest only futex,
 * rt_sigreturn and exit: everything else the guest needs is a hypercall on
 * the page in guest RAM (common/hcall.h).
 *
 * This binary is a PIE so that it, its libraries, heap and stack all live
 * far above guest RAM ([0, 3 GiB)). After seccomp nothing here may call
 * into libc beyond syscall(): the signal handlers below use only raw
 * futex, rt_sigreturn (their return) and exit_group.
 *
 * Seccomp allow-list (after the start command):
 *   futex          hypercall wait/wake, halt (wait on the interrupt count),
 *                  and the park hand-off with the VMM
 *   rt_sigreturn   return from the pause and fault handlers
 *   exit, exit_group
 * Any other system call raises SIGSYS, which is reported as a guest fault
 * (the VMM prints the registers and exits 1). */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "../../common/hcall.h"
#include "../../common/layout.h"
#include "proc_abi.h"

/* Newer than Debian 12's 6.1 headers (Linux 6.4 / 6.7). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#endif

static struct proc_ctl *ctl;
static struct csc_hcall_page *hcall = (struct csc_hcall_page *)CSC_HCALL_GPA;

static long raw_futex(uint32_t *addr, int op, uint32_t val)
{
	/* Shared (not FUTEX_PRIVATE): the VMM waits and wakes on the same
	 * memfd pages through its own mapping. */
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* ---- registers <-> control page -------------------------------------------------- */

static const int greg_index[PR_COUNT] = {
	[PR_R8] = REG_R8, [PR_R9] = REG_R9, [PR_R10] = REG_R10, [PR_R11] = REG_R11,
	[PR_R12] = REG_R12, [PR_R13] = REG_R13, [PR_R14] = REG_R14, [PR_R15] = REG_R15,
	[PR_RDI] = REG_RDI, [PR_RSI] = REG_RSI, [PR_RBP] = REG_RBP, [PR_RBX] = REG_RBX,
	[PR_RDX] = REG_RDX, [PR_RAX] = REG_RAX, [PR_RCX] = REG_RCX, [PR_RSP] = REG_RSP,
	[PR_RIP] = REG_RIP, [PR_RFLAGS] = REG_EFL,
};

/* The legacy FXSAVE part up to XMM15 (bytes 416..511 hold padding and the
 * kernel's software-reserved XSAVE description, which must stay). */
#define FX_COPY_LEN 416

static void save_context(const ucontext_t *uc)
{
	for (int i = 0; i < PR_COUNT; i++)
		ctl->regs[i] = (uint64_t)uc->uc_mcontext.gregs[greg_index[i]];
	if (uc->uc_mcontext.fpregs)
		memcpy(ctl->fxsave, uc->uc_mcontext.fpregs, FX_COPY_LEN);
}

static void load_context(ucontext_t *uc)
{
	for (int i = 0; i < PR_COUNT; i++)
		uc->uc_mcontext.gregs[greg_index[i]] = (greg_t)ctl->regs[i];
	if (uc->uc_mcontext.fpregs) {
		uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
		memcpy(fp, ctl->fxsave, FX_COPY_LEN);
		/* MXCSR reserved bits would make the restore fault. */
		uint32_t mxcsr;
		memcpy(&mxcsr, fp + 24, 4);
		mxcsr &= 0xffff;
		memcpy(fp + 24, &mxcsr, 4);
		/* In XSAVE format, mark x87 and SSE state present so the
		 * kernel loads what we wrote instead of the init state. */
		uint32_t magic;
		memcpy(&magic, fp + 464, 4);
		if (magic == FP_XSTATE_MAGIC1) {
			uint64_t bv;
			memcpy(&bv, fp + 512, 8);
			bv |= 3;
			memcpy(fp + 512, &bv, 8);
		}
	}
}

/* ---- signal handlers (run after seccomp: futex and exit only) --------------------- */

static void on_pause(int sig, siginfo_t *si, void *uc_void)
{
	ucontext_t *uc = uc_void;

	(void)sig;
	(void)si;
	save_context(uc);
	uint32_t go = __atomic_load_n(&ctl->go_gen, __ATOMIC_ACQUIRE);
	__atomic_fetch_add(&ctl->park_gen, 1, __ATOMIC_SEQ_CST);
	raw_futex(&ctl->park_gen, FUTEX_WAKE, 1);
	while (__atomic_load_n(&ctl->go_gen, __ATOMIC_ACQUIRE) == go)
		raw_futex(&ctl->go_gen, FUTEX_WAIT, go);
	if (__atomic_exchange_n(&ctl->load_regs, 0, __ATOMIC_ACQ_REL))
		load_context(uc);
}

/* The guest faulted (or made a forbidden system call): hand the VMM a
 * fault record in the x86 terms the KVM path uses, wake its vCPU thread,
 * and end. The VMM notices the exit and reports the record. */
static void on_fault(int sig, siginfo_t *si, void *uc_void)
{
	ucontext_t *uc = uc_void;
	const greg_t *g = uc->uc_mcontext.gregs;
	struct csc_fault_record *f = &ctl->fault_rec;

	f->vector = (uint64_t)g[REG_TRAPNO];
	f->error_code = (uint64_t)g[REG_ERR];
	f->cr2 = (uint64_t)g[REG_CR2];
	f->rip = (uint64_t)g[REG_RIP];
	f->cs = (uint64_t)g[REG_CSGSFS] & 0xffff;
	f->rflags = (uint64_t)g[REG_EFL];
	f->rsp = (uint64_t)g[REG_RSP];
	f->ss = 0x2b;	/* the user data selector Linux gives every process */
	f->rax = (uint64_t)g[REG_RAX];
	f->rbx = (uint64_t)g[REG_RBX];
	f->rcx = (uint64_t)g[REG_RCX];
	f->rdx = (uint64_t)g[REG_RDX];
	f->rsi = (uint64_t)g[REG_RSI];
	f->rdi = (uint64_t)g[REG_RDI];
	f->rbp = (uint64_t)g[REG_RBP];
	f->r8 = (uint64_t)g[REG_R8];
	f->r9 = (uint64_t)g[REG_R9];
	f->r10 = (uint64_t)g[REG_R10];
	f->r11 = (uint64_t)g[REG_R11];
	f->r12 = (uint64_t)g[REG_R12];
	f->r13 = (uint64_t)g[REG_R13];
	f->r14 = (uint64_t)g[REG_R14];
	f->r15 = (uint64_t)g[REG_R15];
	ctl->fault_signo = sig;
	ctl->fault_syscall = sig == SIGSYS ? si->si_syscall : -1;
	__atomic_store_n(&ctl->fault, 1, __ATOMIC_SEQ_CST);
	raw_futex(&hcall->state, FUTEX_WAKE, 1);
	syscall(SYS_exit_group, 1);
}

static int install_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* SIGUSR2, raised once by main(): the way into the guest. The kernel built
 * a complete signal frame for this process; replacing its registers with
 * the guest's and returning is an rt_sigreturn into guest code (as CRIU
 * restores a process). */
static void on_enter(int sig, siginfo_t *si, void *uc_void)
{
	(void)sig;
	(void)si;
	load_context(uc_void);
	if (install_seccomp() < 0) {
		ctl->fault_signo = -1;
		syscall(SYS_exit_group, 3);
	}
}

/* ---- set-up (ordinary code, before seccomp) ------------------------------------------ */

static void fail_hello(int sock, int status, const char *fmt, const char *arg)
{
	struct proc_hello h = { .status = status };

	snprintf(h.reason, sizeof(h.reason), fmt, arg);
	send(sock, &h, sizeof(h), MSG_NOSIGNAL);
	exit(2);
}

/* userfaultfd write-protect in async mode over guest RAM: the kernel
 * resolves each first write itself and the VMM reads and re-arms the
 * written bits with PAGEMAP_SCAN on our pagemap (Linux 6.7+). */
static int setup_dirty_log(uint64_t ram_size, int fds[2], char *why, size_t why_len)
{
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (uffd < 0) {
		snprintf(why, why_len, "userfaultfd: %s", strerror(errno));
		return -errno;
	}
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_UNPOPULATED,
	};
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		int e = errno;
		snprintf(why, why_len, "userfaultfd has no asynchronous write-protect on shared memory "
			 "(needs Linux 6.7): %s", strerror(e));
		close(uffd);
		return -e;
	}
	struct uffdio_register reg = {
		.range = { .start = CSC_PAGE_SIZE, .len = ram_size - CSC_PAGE_SIZE },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		int e = errno;
		snprintf(why, why_len, "UFFDIO_REGISTER (write-protect) on guest RAM: %s", strerror(e));
		close(uffd);
		return -e;
	}
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0) {
		int e = errno;
		snprintf(why, why_len, "/proc/self/pagemap: %s", strerror(e));
		close(uffd);
		return -e;
	}
	fds[0] = uffd;
	fds[1] = pm;
	return 0;
}

static void send_hello(int sock, const struct proc_hello *h, const int *fds, int n_fds)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { (void *)h, sizeof(*h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n_fds) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
	}
	if (sendmsg(PROC_FD_SOCK, &msg, MSG_NOSIGNAL) < 0)
		exit(2);
	(void)sock;
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };

	sigfillset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
	int sock = PROC_FD_SOCK;
	uint64_t ram_size = 0;
	long ppid = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--ram-size") == 0)
			ram_size = strtoull(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--ppid") == 0)
			ppid = strtol(argv[i + 1], NULL, 0);
	}
	/* The VMM is the only reason to live: die with it (and if it is
	 * already gone, do not start). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != (pid_t)ppid)
		return 2;
	if (ram_size < CSC_RAM_MIN || ram_size > CSC_RAM_MAX || ram_size % CSC_PAGE_SIZE)
		fail_hello(sock, -EINVAL, "bad --ram-size %s", argc > 2 ? argv[2] : "");

	ctl = mmap(NULL, PROC_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, PROC_FD_CTL, 0);
	if (ctl == MAP_FAILED)
		fail_hello(sock, -errno, "cannot map the control page: %s", strerror(errno));
	/* Guest RAM at its physical address, page 0 excluded (the null guard,
	 * as in the KVM guest's page tables). */
	void *ram = mmap((void *)CSC_PAGE_SIZE, ram_size - CSC_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
			 MAP_SHARED | MAP_FIXED_NOREPLACE, PROC_FD_RAM, CSC_PAGE_SIZE);
	if (ram == MAP_FAILED || ram != (void *)CSC_PAGE_SIZE) {
		int e = errno;
		char why[200];
		if (e == EPERM)
			snprintf(why, sizeof(why), "the host forbids mapping guest RAM at address 0x1000 "
				 "(vm.mmap_min_addr is above 4096 and this process lacks CAP_SYS_RAWIO: "
				 "run as root or sysctl vm.mmap_min_addr=4096)");
		else if (e == EACCES)
			snprintf(why, sizeof(why), "the host forbids executing guest RAM from a memfd "
				 "(vm.memfd_noexec=2: set it to 0 or 1)");
		else
			snprintf(why, sizeof(why), "cannot map guest RAM at its physical address: %s",
				 ram == MAP_FAILED ? strerror(e) : "the address was taken");
		fail_hello(sock, -e, "%s", why);
	}
	close(PROC_FD_RAM);
	close(PROC_FD_CTL);

	struct proc_hello h = { 0 };
	int fds[2], n_fds = 0;
	h.dirty_log_status = setup_dirty_log(ram_size, fds, h.dirty_log_reason, sizeof(h.dirty_log_reason));
	if (h.dirty_log_status == 0)
		n_fds = 2;

	/* Signals run on their own stack, outside guest RAM: a guest with a
	 * broken stack still gets its fault reported, and parking never
	 * writes guest memory behind the dirty log's back. */
	stack_t ss = { .ss_sp = malloc(1 << 16), .ss_size = 1 << 16 };
	if (!ss.ss_sp || sigaltstack(&ss, NULL) < 0)
		fail_hello(sock, -ENOMEM, "%s", "cannot set up the signal stack");
	handle(SIGUSR1, on_pause);
	handle(SIGUSR2, on_enter);
	handle(SIGSEGV, on_fault);
	handle(SIGBUS, on_fault);
	handle(SIGILL, on_fault);
	handle(SIGFPE, on_fault);
	handle(SIGTRAP, on_fault);
	handle(SIGSYS, on_fault);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail_hello(sock, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	send_hello(sock, &h, fds, n_fds);
	if (n_fds) {
		close(fds[0]);
		close(fds[1]);
	}

	/* Wait for the start command; a closed socket means the VMM is done
	 * with us before the guest ever ran (an incoming migration failed). */
	uint32_t cmd = 0;
	if (recv(sock, &cmd, sizeof(cmd), 0) != sizeof(cmd) || cmd != PROC_CMD_START)
		return 0;
	close(sock);
	/* Nothing of ours is needed past this point but the control page and
	 * the handlers; other fds would only be reachable by syscalls the
	 * filter forbids. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	raise(SIGUSR2);
	/* on_enter returned into the guest: never here. */
	return 4;
}
