/* The proc accelerator: the guest runs as a seccomp-sandboxed process
 * (compsc-vcpu-proc, accel/proc_sandbox.c) whose memory is the guest-RAM
 * memfd mapped at its physical addresses. For machines without /dev/kvm.
 *
 *   compsc-vmm                                   compsc-vcpu-proc (guest)
 *   vCPU thread  <-- hypercall page (futex) -->  MMIO, IRQ area
 *   irq thread   --- counters + futex wake --->  halt = FUTEX_WAIT on total
 *   park         --- SIGUSR1, ctl page ------->  registers saved / restored
 *   dirty log    <-- uffd + pagemap fds -------  (PAGEMAP_SCAN by the VMM)
 *   main loop    <-- pidfd -------------------   exit, fault, kill -9
 *
 * Everything that comes from the sandbox (hypercall fields, the control
 * page, the fault record) is guest-controlled: copied once, then checked.
 * Every wait on the sandbox has a timeout and a liveness check: a dead or
 * stuck guest process never hangs the VMM (the lesson of UML's futex
 * hand-off). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/hcall.h"
#include "../../common/guest_abi.h"
#include "../../common/layout.h"
#include "../../common/log.h"
#include "../migration/stream.h"
#include "../platform.h"
#include "../vm.h"
#include "accel.h"
#include "proc_abi.h"

#include "proc_internal.h"

static const char *sandbox_path(char *buf, size_t len)
{
	const char *env = getenv("COMPSC_PROC_SANDBOX");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	snprintf(buf, len, "%s/%s", self, PROC_SANDBOX_NAME);
	return buf;
}

int proc_accel_probe(char *err, size_t errlen)
{
	char buf[PATH_MAX + 32];
	const char *path = sandbox_path(buf, sizeof(buf));

	if (!path) {
		snprintf(err, errlen, "cannot find %s next to compsc-vmm", PROC_SANDBOX_NAME);
		return -ENOENT;
	}
	if (access(path, X_OK) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s (set COMPSC_PROC_SANDBOX to its path)", path, strerror(e));
		return -e;
	}
	return 0;
}

/* ---- the sandbox's life ----------------------------------------------------------- */

static bool sandbox_exited(struct proc_vm *p)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

	return p->pidfd >= 0 && poll(&pfd, 1, 0) == 1;
}

/* The sandbox is gone: say why, once, and end the VM. Any thread. */
static void report_gone(struct proc_vm *p)
{
	struct vm *vm = p->vm;
	siginfo_t si = { 0 };

	if (atomic_exchange(&p->gone, true))
		return;
	waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG);
	if (atomic_load(&vm->stopping))
		return;	/* we killed it, or it followed an exit already under way */
	if (__atomic_load_n(&p->ctl->fault, __ATOMIC_ACQUIRE)) {
		struct csc_fault_record rec = p->ctl->fault_rec;	/* guest-writable: copy */
		int sig = p->ctl->fault_signo, nr = p->ctl->fault_syscall;
		char what[160];
		if (sig == SIGSYS) {
			snprintf(what, sizeof(what), "forbidden system call %d at rip 0x%" PRIx64
				 " (the proc sandbox allows only futex, rt_sigreturn and exit)", nr, rec.rip);
			platform_report_fault(vm->platform, &rec, what);
		} else {
			platform_report_fault(vm->platform, &rec, NULL);
		}
		return;
	}
	if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
		log_error("the guest process (pid %d) was killed by signal %d (%s)", p->pid, si.si_status,
			  strsignal(si.si_status));
	else
		log_error("the guest process (pid %d) exited with status %d", p->pid, si.si_status);
	platform_console_flush(vm->platform);
	vm_request_exit(vm, VMM_EXIT_FAULT);
}

static void on_pidfd(void *opaque, uint32_t events)
{
	struct proc_vm *p = opaque;

	(void)events;
	evloop_remove(&p->vm->loop, p->pidfd);
	report_gone(p);
}

static int spawn_sandbox(struct proc_vm *p, char *err, size_t errlen)
{
	struct vm *vm = p->vm;
	char buf[PATH_MAX + 32], ram_arg[32], ppid_arg[32];
	const char *path = sandbox_path(buf, sizeof(buf));
	int sv[2], ctl_fd, ret;

	if (!path) {
		snprintf(err, errlen, "cannot find %s", PROC_SANDBOX_NAME);
		return -ENOENT;
	}
	ctl_fd = memfd_create("compsc-proc-ctl", MFD_CLOEXEC);
	if (ctl_fd < 0 || ftruncate(ctl_fd, PROC_CTL_SIZE) < 0) {
		snprintf(err, errlen, "control page: %s", strerror(errno));
		return -errno;
	}
	p->ctl = mmap(NULL, PROC_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ctl_fd, 0);
	if (p->ctl == MAP_FAILED) {
		p->ctl = NULL;
		close(ctl_fd);
		snprintf(err, errlen, "control page: %s", strerror(errno));
		return -errno;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		close(ctl_fd);
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -errno;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], PROC_FD_SOCK);
	posix_spawn_file_actions_adddup2(&fa, vm->ram_fd, PROC_FD_RAM);
	posix_spawn_file_actions_adddup2(&fa, ctl_fd, PROC_FD_CTL);
	snprintf(ram_arg, sizeof(ram_arg), "%" PRIu64, vm->ram_size);
	snprintf(ppid_arg, sizeof(ppid_arg), "%d", (int)getpid());
	char *argv[] = { (char *)PROC_SANDBOX_NAME, "--ram-size", ram_arg, "--ppid", ppid_arg, NULL };
	char *envp[] = { NULL };
	ret = posix_spawn(&p->pid, path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	close(ctl_fd);
	p->sock = sv[0];
	if (ret) {
		snprintf(err, errlen, "cannot start %s: %s", path, strerror(ret));
		p->pid = 0;
		return -ret;
	}
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0) {
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		return -errno;
	}

	/* Its first message: did it map guest RAM, and the dirty-log fds. */
	struct proc_hello h;
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd = { .fd = p->sock, .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1) {
		snprintf(err, errlen, "%s did not report in 10 s", PROC_SANDBOX_NAME);
		return -ETIMEDOUT;
	}
	ssize_t n = recvmsg(p->sock, &msg, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)sizeof(h)) {
		snprintf(err, errlen, "%s exited during set-up", PROC_SANDBOX_NAME);
		return -EIO;
	}
	h.reason[sizeof(h.reason) - 1] = h.dirty_log_reason[sizeof(h.dirty_log_reason) - 1] = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(2 * sizeof(int))) {
			int fds[2];
			memcpy(fds, CMSG_DATA(c), sizeof(fds));
			p->uffd = fds[0];
			p->pagemap_fd = fds[1];
		}
	}
	if (h.status < 0) {
		snprintf(err, errlen, "%s", h.reason);
		return h.status;
	}
	if (h.dirty_log_status < 0 || p->uffd < 0)
		snprintf(p->dirty_log_err, sizeof(p->dirty_log_err), "%s",
			 h.dirty_log_status < 0 ? h.dirty_log_reason : "the sandbox sent no dirty-log fds");
	return 0;
}

/* ---- interrupts --------------------------------------------------------------------- */

/* Counts `vector` in the guest's counters and wakes a halted guest. The
 * VMM writes guest memory here, so it marks the pages dirty itself. */
void proc_deliver(struct proc_vm *p, uint32_t vector)
{
	struct vm *vm = p->vm;
	uint64_t total_gpa = atomic_load(&p->irq_total_gpa), counts_gpa = atomic_load(&p->irq_counts_gpa);

	if (!total_gpa) {
		atomic_fetch_add(&p->irq_pending, 1);
		return;
	}
	_Atomic uint32_t *counts = (_Atomic uint32_t *)(vm->ram + counts_gpa);
	_Atomic uint32_t *total = (_Atomic uint32_t *)(vm->ram + total_gpa);
	if (vector < 256) {	/* 256: a wake-up that counts no vector */
		atomic_fetch_add(&counts[vector], 1);
		vm_mark_dirty(vm, counts_gpa + vector * 4, 4);
	}
	atomic_fetch_add(total, 1);
	vm_mark_dirty(vm, total_gpa, 4);
	futex(total, FUTEX_WAKE, INT_MAX, 0);
}

static void *irq_thread(void *arg)
{
	struct proc_vm *p = arg;
	struct epoll_event ev[16];

	for (;;) {
		int n = epoll_wait(p->epoll_fd, ev, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			int fd = (int)ev[i].data.u32;
			uint64_t v;
			if (fd == p->stop_fd)
				return NULL;
			if (read(fd, &v, sizeof(v)) != sizeof(v))
				continue;
			pthread_mutex_lock(&p->irq_lock);
			uint32_t vector = 0;
			bool found = false;
			for (unsigned k = 0; k < MAX_IRQ_FDS; k++)
				if (p->irq[k].efd == fd) {
					vector = p->irq[k].vector;
					found = true;
					break;
				}
			pthread_mutex_unlock(&p->irq_lock);
			if (found)
				proc_deliver(p, vector);
		}
	}
	return NULL;
}

static int proc_irq_set_routes(struct vm *vm, const struct irq_route *routes, unsigned n)
{
	(void)vm;
	for (unsigned i = 0; i < n; i++)
		if (routes[i].vector > 255)
			return -EINVAL;
	return 0;	/* the router keeps the table; attach looks the vector up */
}

static int proc_irq_attach(struct vm *vm, const struct irq_route *route, int efd)
{
	struct proc_vm *p = proc_of(vm);
	int ret = -ENOSPC;

	pthread_mutex_lock(&p->irq_lock);
	for (unsigned k = 0; k < MAX_IRQ_FDS; k++) {
		if (p->irq[k].efd < 0) {
			p->irq[k] = (struct irq_binding){ .efd = efd, .vector = route->vector };
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)efd };
			ret = epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, efd, &ev) < 0 ? -errno : 0;
			if (ret < 0)
				p->irq[k].efd = -1;
			break;
		}
	}
	pthread_mutex_unlock(&p->irq_lock);
	return ret;
}

static int proc_irq_detach(struct vm *vm, const struct irq_route *route, int efd)
{
	struct proc_vm *p = proc_of(vm);
	int ret = -ENOENT;

	(void)route;
	pthread_mutex_lock(&p->irq_lock);
	for (unsigned k = 0; k < MAX_IRQ_FDS; k++) {
		if (p->irq[k].efd == efd) {
			epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, efd, NULL);
			p->irq[k].efd = -1;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&p->irq_lock);
	return ret;
}

/* Every guest register write is a hypercall the VMM serves anyway: the bus
 * handler raises the eventfd (its fallback path), as fast as a table here. */
static int proc_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, uint64_t datamatch, int efd, bool on)
{
	(void)vm, (void)addr, (void)len, (void)datamatch, (void)efd, (void)on;
	return 0;
}

/* ---- VM ---------------------------------------------------------------------------- */

/* One (TSC, CLOCK_MONOTONIC_RAW) reading: the clock read between two TSC
 * reads, from the tightest of a few tries, so that being preempted next to
 * the clock read does not count as time (on a loaded machine that could
 * make the frequency percents too high, and the guest's clock slow). */
static void tsc_clock_pair(uint64_t *tsc, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 50 && best > 2000; i++) {
		struct timespec ts;
		uint64_t before = __builtin_ia32_rdtsc();
		clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
		uint64_t after = __builtin_ia32_rdtsc();
		if (after - before < best) {
			best = after - before;
			*tsc = before + best / 2;
			*ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		}
	}
}

/* The guest reads the TSC natively; its frequency comes from a short
 * calibration against CLOCK_MONOTONIC_RAW (no KVM to ask). Only the two
 * end points need to be exact: what happens between them does not matter. */
static uint64_t calibrate_tsc_khz(void)
{
	uint64_t t0, t1, ns0, ns1;
	struct timespec nap = { .tv_nsec = 20000000 };

	tsc_clock_pair(&t0, &ns0);
	while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
		;
	tsc_clock_pair(&t1, &ns1);
	if (ns1 <= ns0 || t1 <= t0)
		return 1000000;	/* a broken clock; 1 GHz keeps the guest's arithmetic sane */
	return (t1 - t0) * 1000000ull / (ns1 - ns0);
}

static int proc_vm_init(struct vm *vm, char *err, size_t errlen)
{
	struct proc_vm *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	vm->accel_vm = p;
	p->vm = vm;
	p->sock = p->pidfd = p->uffd = p->pagemap_fd = p->epoll_fd = p->stop_fd = -1;
	pthread_mutex_init(&p->irq_lock, NULL);
	for (unsigned k = 0; k < MAX_IRQ_FDS; k++)
		p->irq[k].efd = -1;
	p->hcall = (struct csc_hcall_page *)(vm->ram + CSC_HCALL_GPA);
	vm->tsc_khz = calibrate_tsc_khz();

	p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)p->stop_fd };
	if (p->epoll_fd < 0 || p->stop_fd < 0 || epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, p->stop_fd, &ev) < 0) {
		snprintf(err, errlen, "interrupt delivery: %s", strerror(errno));
		return -errno;
	}
	/* Spawned from the main thread: the sandbox's parent-death signal
	 * follows the thread that forked it. */
	if ((ret = spawn_sandbox(p, err, errlen)) < 0)
		return ret;
	if ((ret = evloop_add(&vm->loop, p->pidfd, EPOLLIN, on_pidfd, p)) < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		return ret;
	}
	log_info("proc: guest process %d (%s), dirty log %s", (int)p->pid, PROC_SANDBOX_NAME,
		 p->uffd >= 0 ? "userfaultfd write-protect + PAGEMAP_SCAN" : p->dirty_log_err);
	if ((ret = pthread_create(&p->irq_thread, NULL, irq_thread, p)) != 0) {
		snprintf(err, errlen, "interrupt thread: %s", strerror(ret));
		return -ret;
	}
	p->irq_thread_live = true;
	return 0;
}

static void proc_vm_teardown(struct vm *vm)
{
	struct proc_vm *p = proc_of(vm);

	if (!p)
		return;
	if (p->pid > 0) {
		atomic_store(&p->gone, true);
		if (p->pidfd >= 0) {
			syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
			evloop_remove(&vm->loop, p->pidfd);
		} else {
			kill(p->pid, SIGKILL);
		}
		waitpid(p->pid, NULL, 0);
	}
	if (p->irq_thread_live) {
		uint64_t one = 1;
		if (write(p->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(p->irq_thread, NULL);
	}
	int fds[] = { p->sock, p->pidfd, p->uffd, p->pagemap_fd, p->epoll_fd, p->stop_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (p->ctl)
		munmap(p->ctl, PROC_CTL_SIZE);
	free(p);
	vm->accel_vm = NULL;
}

/* ---- vCPU -------------------------------------------------------------------------- */

static int proc_vcpu_init(struct vcpu *vcpu, char *err, size_t errlen)
{
	if (vcpu->id != 0) {
		snprintf(err, errlen, "the proc accelerator runs one vCPU per VM");
		return -ENOTSUP;
	}
	vcpu->accel_vcpu = proc_of(vcpu->vm);
	return 0;
}

static void proc_vcpu_teardown(struct vcpu *vcpu)
{
	vcpu->accel_vcpu = NULL;
}

static void default_fpu(uint8_t *fx)
{
	uint16_t fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;

	memset(fx, 0, PROC_FXSAVE_LEN);
	memcpy(fx, &fcw, 2);
	memcpy(fx + 24, &mxcsr, 4);
}

static int proc_vcpu_set_boot_state(struct vcpu *vcpu, uint64_t entry, uint64_t boot_arg)
{
	struct proc_ctl *ctl = proc_of(vcpu->vm)->ctl;

	memset(ctl->regs, 0, sizeof(ctl->regs));
	ctl->regs[PR_RIP] = entry;
	ctl->regs[PR_RDI] = boot_arg;
	ctl->regs[PR_RSI] = vcpu->id;
	ctl->regs[PR_RFLAGS] = 0x202;
	ctl->regs[PR_RSP] = CSC_IMAGE_MIN_GPA;	/* the guest sets its own stack first thing */
	default_fpu(ctl->fxsave);
	return 0;
}

static int send_start(struct proc_vm *p)
{
	uint32_t cmd = PROC_CMD_START;

	if (send(p->sock, &cmd, sizeof(cmd), MSG_NOSIGNAL) != sizeof(cmd)) {
		log_error("cannot start the guest process: %s", strerror(errno));
		report_gone(p);
		return -EIO;
	}
	return 0;
}

static void serve_hcall(struct proc_vm *p)
{
	struct vm *vm = p->vm;
	struct csc_hcall_page *h = p->hcall;
	/* Guest memory: read each field once. */
	uint32_t nr = __atomic_load_n(&h->nr, __ATOMIC_RELAXED), len = __atomic_load_n(&h->len, __ATOMIC_RELAXED);
	uint64_t addr = __atomic_load_n(&h->addr, __ATOMIC_RELAXED), value = __atomic_load_n(&h->value, __ATOMIC_RELAXED);
	uint8_t data[8];
	int64_t ret = 0;

	switch (nr) {
	case CSC_HC_MMIO_READ:
	case CSC_HC_MMIO_WRITE:
		if (len != 1 && len != 2 && len != 4 && len != 8) {
			ret = -EINVAL;
			break;
		}
		memcpy(data, &value, 8);
		if (nr == CSC_HC_MMIO_READ)
			memset(data, 0, 8);
		bus_access(&vm->bus, addr, data, len, nr == CSC_HC_MMIO_WRITE);
		if (nr == CSC_HC_MMIO_READ) {
			value = 0;
			memcpy(&value, data, len);
		}
		break;
	case CSC_HC_IRQ_AREA:
		if ((addr & 3) || (value & 3) || !vm_gpa_to_hva(vm, addr, 4) || !vm_gpa_to_hva(vm, value, 256 * 4) ||
		    addr < CSC_RESERVED_END || value < CSC_RESERVED_END) {
			ret = -EINVAL;
			break;
		}
		atomic_store(&p->irq_counts_gpa, value);
		atomic_store(&p->irq_total_gpa, addr);
		/* Interrupts raised before the guest was listening: one wake-up
		 * stands for them all (the guest re-polls its devices). */
		if (atomic_exchange(&p->irq_pending, 0))
			proc_deliver(p, 256);
		break;
	default:
		ret = -ENOSYS;
		break;
	}
	__atomic_store_n(&h->value, value, __ATOMIC_RELAXED);
	__atomic_store_n(&h->ret, ret, __ATOMIC_RELAXED);
	__atomic_store_n(&h->state, CSC_HC_REPLY, __ATOMIC_SEQ_CST);
	vm_mark_dirty(vm, CSC_HCALL_GPA, sizeof(*h));
	futex(&h->state, FUTEX_WAKE, 1, 0);
}

static enum vcpu_run_result proc_vcpu_run(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct proc_vm *p = proc_of(vm);
	struct csc_hcall_page *h = p->hcall;
	uint64_t spin_end;

	if (!p->started) {
		if (send_start(p) < 0)
			return VCPU_RUN_STOP;
		p->started = true;
	}
	spin_end = now_ns() + SPIN_NS;
	for (;;) {
		uint32_t s = __atomic_load_n(&h->state, __ATOMIC_SEQ_CST);
		if (s == CSC_HC_REQUEST)
			break;
		if (atomic_exchange(&p->kicked, false) || atomic_load(&vm->stopping) || atomic_load(&vm->pause_req))
			return VCPU_RUN_AGAIN;
		if (atomic_load(&p->gone) || __atomic_load_n(&p->ctl->fault, __ATOMIC_ACQUIRE)) {
			if (sandbox_exited(p) || atomic_load(&p->gone)) {
				report_gone(p);
				return VCPU_RUN_STOP;
			}
		}
		if (now_ns() < spin_end)
			continue;
		/* Sleep until the guest posts a request (it wakes us because
		 * vmm_waiting is set), a kick, or the liveness slice ends. */
		__atomic_store_n(&h->vmm_waiting, 1, __ATOMIC_SEQ_CST);
		s = __atomic_load_n(&h->state, __ATOMIC_SEQ_CST);
		if (s != CSC_HC_REQUEST && !atomic_load(&p->kicked))
			futex(&h->state, FUTEX_WAIT, s, WAIT_SLICE_MS);
		__atomic_store_n(&h->vmm_waiting, 0, __ATOMIC_SEQ_CST);
		if (sandbox_exited(p)) {
			report_gone(p);
			return VCPU_RUN_STOP;
		}
	}
	serve_hcall(p);
	return VCPU_RUN_AGAIN;
}

static void proc_vcpu_kick(struct vcpu *vcpu)
{
	struct proc_vm *p = proc_of(vcpu->vm);

	if (!p)
		return;
	atomic_store(&p->kicked, true);
	futex(&p->hcall->state, FUTEX_WAKE, INT_MAX, 0);
}

/* Stops the guest process where it is: SIGUSR1, whose handler saves the
 * registers into the control page and sleeps until park_end. A request
 * the guest posted and we did not serve stays in the hypercall page and is
 * served after the resume, here or on a migration's destination. */
static int proc_vcpu_park_begin(struct vcpu *vcpu)
{
	struct proc_vm *p = proc_of(vcpu->vm);
	uint64_t deadline = now_ns() + PARK_TIMEOUT_MS * 1000000ull;

	if (!p->started || atomic_load(&p->gone))
		return 0;
	uint32_t gen = __atomic_load_n(&p->ctl->park_gen, __ATOMIC_ACQUIRE);
	if (syscall(SYS_pidfd_send_signal, p->pidfd, SIGUSR1, NULL, 0) < 0) {
		report_gone(p);
		return -ESRCH;
	}
	while (__atomic_load_n(&p->ctl->park_gen, __ATOMIC_ACQUIRE) == gen) {
		if (sandbox_exited(p)) {
			report_gone(p);
			return -ESRCH;
		}
		if (now_ns() > deadline) {
			log_error("vcpu%u: the guest process did not stop within %d ms", vcpu->id, PARK_TIMEOUT_MS);
			vm_request_exit(vcpu->vm, VMM_EXIT_FAULT);
			return -ETIMEDOUT;
		}
		futex(&p->ctl->park_gen, FUTEX_WAIT, gen, WAIT_SLICE_MS);
	}
	p->last_park_gen = gen + 1;
	return 0;
}

static void proc_vcpu_park_end(struct vcpu *vcpu)
{
	struct proc_vm *p = proc_of(vcpu->vm);

	if (!p->started)
		return;
	__atomic_fetch_add(&p->ctl->go_gen, 1, __ATOMIC_SEQ_CST);
	futex(&p->ctl->go_gen, FUTEX_WAKE, INT_MAX, 0);
}

static void proc_vcpu_dump(struct vcpu *vcpu)
{
	const uint64_t *r = proc_of(vcpu->vm)->ctl->regs;

	fprintf(stderr,
		"  vcpu%u (proc, last saved): rip %016" PRIx64 "  rsp %016" PRIx64 "  rflags %016" PRIx64 "\n"
		"  rax %016" PRIx64 "  rbx %016" PRIx64 "  rcx %016" PRIx64 "  rdx %016" PRIx64 "\n"
		"  rsi %016" PRIx64 "  rdi %016" PRIx64 "  rbp %016" PRIx64 "\n",
		vcpu->id, r[PR_RIP], r[PR_RSP], r[PR_RFLAGS], r[PR_RAX], r[PR_RBX], r[PR_RCX], r[PR_RDX],
		r[PR_RSI], r[PR_RDI], r[PR_RBP]);
}

const struct accel_ops accel_proc_ops = {
	.name = "proc",
	.guest_binding = CSC_BINDING_PROC,
	.boot_accel = CSC_ACCEL_PROC,
	.vm_init = proc_vm_init,
	.vm_teardown = proc_vm_teardown,
	.vcpu_init = proc_vcpu_init,
	.vcpu_teardown = proc_vcpu_teardown,
	.vcpu_set_boot_state = proc_vcpu_set_boot_state,
	.vcpu_run = proc_vcpu_run,
	.vcpu_park_begin = proc_vcpu_park_begin,
	.vcpu_park_end = proc_vcpu_park_end,
	.vcpu_kick = proc_vcpu_kick,
	.vcpu_dump = proc_vcpu_dump,
	.irq_set_routes = proc_irq_set_routes,
	.irq_attach = proc_irq_attach,
	.irq_detach = proc_irq_detach,
	.ioeventfd = proc_ioeventfd,
	.dirty_log_start = proc_dirty_log_start,
	.dirty_log_stop = proc_dirty_log_stop,
	.dirty_log_collect = proc_dirty_log_collect,
	.cpuid_summary = proc_cpuid_summary,
	.state_new = proc_state_new,
	.state_free = proc_state_free,
	.state_save = proc_state_save,
	.state_send = proc_state_send,
	.state_owns_record = proc_state_owns_record,
	.state_rx = proc_state_rx,
	.state_complete = proc_state_complete,
	.state_load = proc_state_load,
};
