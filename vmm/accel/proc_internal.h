/* The proc accelerator's own pieces, shared by proc.c (the sandbox, vCPU,
 * interrupts) and proc_mig.c (dirty log and migration state). */
#ifndef CSC_VMM_ACCEL_PROC_INTERNAL_H
#define CSC_VMM_ACCEL_PROC_INTERNAL_H

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../../common/hcall.h"
#include "../vm.h"
#include "accel.h"
#include "proc_abi.h"

/* PAGEMAP_SCAN (Linux 6.7), not in Debian 12's headers. */
struct pm_scan_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1ull << 0)
#define PM_SCAN_CHECK_WPASYNC (1ull << 1)
#define PAGE_IS_WRITTEN (1ull << 1)

#define SPIN_NS 40000ull		/* spin this long for the next request before sleeping */
#define WAIT_SLICE_MS 20		/* futex waits wake this often to check liveness */
#define PARK_TIMEOUT_MS 2000		/* a guest process that does not park is stuck */
#define MAX_IRQ_FDS 64
#define SCAN_VEC 512

struct irq_binding {
	int efd;
	uint32_t vector;
};

struct proc_vm {
	struct vm *vm;
	pid_t pid;
	int pidfd;
	int sock;
	struct proc_ctl *ctl;
	struct csc_hcall_page *hcall;	/* the VMM's view of the guest's page */
	int uffd, pagemap_fd;		/* -1 when the dirty log is unavailable */
	char dirty_log_err[200];
	bool started;
	atomic_bool kicked;
	atomic_bool gone;		/* the sandbox exited and it was reported */
	uint32_t last_park_gen;

	/* Interrupts: eventfds -> vectors, delivered by irq_thread. */
	pthread_mutex_t irq_lock;
	struct irq_binding irq[MAX_IRQ_FDS];
	int epoll_fd, stop_fd;
	pthread_t irq_thread;
	bool irq_thread_live;
	_Atomic uint64_t irq_total_gpa, irq_counts_gpa;	/* 0 until the guest registers them */
	_Atomic uint32_t irq_pending;	/* interrupts before registration */
};

static inline struct proc_vm *proc_of(struct vm *vm)
{
	return vm->accel_vm;
}

static inline long futex(void *addr, int op, uint32_t val, uint64_t timeout_ms)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout_ms / 1000), .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };

	return syscall(SYS_futex, addr, op, val, timeout_ms ? &ts : NULL, NULL, 0);
}

/* Counts `vector` in the guest's counters (256: a wake-up only) and wakes
 * a halted guest. */
void proc_deliver(struct proc_vm *p, uint32_t vector);

/* proc_mig.c */
int proc_dirty_log_start(struct vm *vm, char *err, size_t errlen);
void proc_dirty_log_stop(struct vm *vm);
int proc_dirty_log_collect(struct vm *vm, uint64_t *bitmap, char *err, size_t errlen);
int proc_cpuid_summary(struct vm *vm, struct mig_cpuid_summary *out);
struct accel_state *proc_state_new(struct vm *vm);
void proc_state_free(struct accel_state *s);
int proc_state_save(struct vm *vm, struct accel_state *s, char *err, size_t errlen);
int proc_state_send(struct vm *vm, const struct accel_state *s, struct mig_io *io);
bool proc_state_owns_record(uint16_t type);
int proc_state_rx(struct vm *vm, struct accel_state *s, const struct mig_rec *rec, char *err, size_t errlen);
int proc_state_complete(struct vm *vm, const struct accel_state *s, char *err, size_t errlen);
int proc_state_load(struct vm *vm, const struct accel_state *s, char *err, size_t errlen);

#endif
