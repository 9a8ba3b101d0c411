#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../common/layout.h"
#include "../common/log.h"
#include "accel/accel.h"
#include "platform.h"

/* Debian 12's headers predate MFD_EXEC (Linux 6.3). */
#define CSC_MFD_EXEC 0x0010u

void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa >= vm->ram_size || len > vm->ram_size - gpa)
		return NULL;
	return vm->ram + gpa;
}

uint64_t vm_alloc_mmio_window(struct vm *vm)
{
	return CSC_MMIO_BASE + (uint64_t)vm->next_mmio_window++ * CSC_MMIO_WINDOW;
}

int vm_create(struct vm *vm, const struct accel_ops *accel, uint64_t ram_size, unsigned n_vcpus, char *err,
	      size_t errlen)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->accel = accel;
	vm->ram_fd = vm->signal_fd = -1;
	vm->ram = MAP_FAILED;
	vm->ram_size = ram_size;
	vm->n_vcpus = n_vcpus;
	vm->start_ns = now_ns();
	pthread_mutex_init(&vm->state_lock, NULL);
	vm->state = VM_STATE_CREATED;
	pthread_mutex_init(&vm->run_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_mutex_init(&vm->kick_lock, NULL);
	pthread_cond_init(&vm->run_cond, NULL);
	vm->n_pages = ram_size / CSC_PAGE_SIZE;
	vm->vmm_dirty = calloc((vm->n_pages + 63) / 64, sizeof(uint64_t));
	if (!vm->vmm_dirty)
		return -ENOMEM;
	bus_init(&vm->bus);
	irq_router_init(&vm->irq, vm);
	ret = evloop_init(&vm->loop);
	if (ret < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		return ret;
	}

	/* Sealed against resizing: device processes map it for DMA and would
	 * die of SIGBUS on pages cut away under them (they check the seal).
	 * MFD_EXEC where the kernel knows it (6.3+): the proc accelerator runs
	 * guest code straight from this memfd. */
	vm->ram_fd = memfd_create("compsc-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING | CSC_MFD_EXEC);
	if (vm->ram_fd < 0 && errno == EINVAL)
		vm->ram_fd = memfd_create("compsc-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vm->ram_fd < 0 || ftruncate(vm->ram_fd, (off_t)ram_size) < 0 ||
	    fcntl(vm->ram_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		snprintf(err, errlen, "guest memory: cannot create a %llu MiB memfd: %s",
			 (unsigned long long)(ram_size >> 20), strerror(errno));
		return ret;
	}
	vm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, vm->ram_fd, 0);
	if (vm->ram == MAP_FAILED) {
		ret = -errno;
		snprintf(err, errlen, "guest memory: mmap: %s", strerror(errno));
		return ret;
	}
	if ((ret = accel->vm_init(vm, err, errlen)) < 0)
		return ret;
	for (unsigned i = 0; i < n_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		vcpu->vm = vm;
		vcpu->id = i;
		char why[300];
		if ((ret = accel->vcpu_init(vcpu, why, sizeof(why))) < 0) {
			snprintf(err, errlen, "vcpu%u: cannot create: %s", i, why);
			return ret;
		}
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		if (vm->vcpus[i].vm && vm->accel)
			vm->accel->vcpu_teardown(&vm->vcpus[i]);
	/* Devices go in the reverse order of their creation. */
	for (unsigned i = vm->devices.n; i-- > 0;)
		if (vm->devices.dev[i].ops->destroy)
			vm->devices.dev[i].ops->destroy(vm->devices.dev[i].dev);
	vm->devices.n = 0;
	vm->platform = NULL;
	if (vm->accel)
		vm->accel->vm_teardown(vm);
	if (vm->ram != MAP_FAILED && vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	evloop_destroy(&vm->loop);
	bus_destroy(&vm->bus);
	free((void *)vm->vmm_dirty);
	vm->vmm_dirty = NULL;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, uint64_t datamatch, int efd, bool on)
{
	return vm->accel->ioeventfd(vm, addr, len, datamatch, efd, on);
}

int vm_mem_dirty_log_start(struct vm *vm, char *err, size_t errlen)
{
	return vm->accel->dirty_log_start(vm, err, errlen);
}

void vm_mem_dirty_log_stop(struct vm *vm)
{
	vm->accel->dirty_log_stop(vm);
}

int64_t vm_mem_dirty_log_collect(struct vm *vm, uint64_t *bitmap, char *err, size_t errlen)
{
	uint64_t n = 0;
	int ret = vm->accel->dirty_log_collect(vm, bitmap, err, errlen);

	if (ret < 0)
		return ret;
	vm_take_vmm_dirty(vm, bitmap);
	for (uint64_t i = 0; i < (vm->n_pages + 63) / 64; i++)
		n += (uint64_t)__builtin_popcountll(bitmap[i]);
	return (int64_t)n;
}

/* ---- vCPUs --------------------------------------------------------------------- */

int vcpu_set_boot_state(struct vcpu *vcpu, uint64_t entry, uint64_t boot_arg)
{
	return vcpu->vm->accel->vcpu_set_boot_state(vcpu, entry, boot_arg);
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (vcpu->vm && vcpu->accel_vcpu)
		vcpu->vm->accel->vcpu_kick(vcpu);
}

void vcpu_dump(struct vcpu *vcpu)
{
	vcpu->vm->accel->vcpu_dump(vcpu);
}

/* Parks the vCPU while the VM is paused: the accelerator first makes its
 * state consistent (park_begin), then the thread waits for the resume. */
static void vcpu_park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (vm->accel->vcpu_park_begin(vcpu) < 0)
		return;	/* the VM is ending: the accelerator asked for the exit */
	pthread_mutex_lock(&vm->run_lock);
	vm->n_parked++;
	pthread_cond_broadcast(&vm->run_cond);
	while (atomic_load(&vm->pause_req) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	vm->n_parked--;
	pthread_mutex_unlock(&vm->run_lock);
	vm->accel->vcpu_park_end(vcpu);
}

void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t set;

	/* The KVM accelerator kicks with SIGUSR1 (a handler without
	 * SA_RESTART, so KVM_RUN returns EINTR). */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (!atomic_load(&vm->stopping)) {
		if (atomic_load(&vm->pause_req)) {
			vcpu_park(vcpu);
			continue;
		}
		if (vm->accel->vcpu_run(vcpu) == VCPU_RUN_STOP)
			break;
	}
	return NULL;
}

void vm_mark_dirty(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (!len || gpa >= vm->ram_size)
		return;
	if (len > vm->ram_size - gpa)
		len = vm->ram_size - gpa;
	for (uint64_t pfn = gpa / CSC_PAGE_SIZE; pfn <= (gpa + len - 1) / CSC_PAGE_SIZE; pfn++)
		atomic_fetch_or(&vm->vmm_dirty[pfn / 64], 1ull << (pfn % 64));
}

void vm_take_vmm_dirty(struct vm *vm, uint64_t *bitmap)
{
	for (uint64_t i = 0; i < (vm->n_pages + 63) / 64; i++)
		if (atomic_load_explicit(&vm->vmm_dirty[i], memory_order_relaxed))
			bitmap[i] |= atomic_exchange(&vm->vmm_dirty[i], 0);
}

void *vm_device_create(struct vm *vm, const struct device_ops *ops, const void *config, unsigned instance,
		       char *err, size_t errlen)
{
	struct csc_boot_dev boot = { 0 };

	if (vm->n_boot_devs == CSC_BOOT_MAX_DEV || vm->devices.n == DEV_MAX) {
		snprintf(err, errlen, "%s: too many devices", ops->name);
		return NULL;
	}
	void *dev = ops->create(vm, config, instance, &boot, err, errlen);
	if (!dev)
		return NULL;
	if (device_registry_add(&vm->devices, ops, dev, instance) < 0) {
		snprintf(err, errlen, "%s%u: cannot register the device", ops->name, instance);
		ops->destroy(dev);
		return NULL;
	}
	if (boot.type)
		vm->boot_devs[vm->n_boot_devs++] = boot;
	return dev;
}

int vm_pause(struct vm *vm)
{
	int ret = 0;
	bool first;

	pthread_mutex_lock(&vm->pause_lock);
	pthread_mutex_lock(&vm->run_lock);
	first = vm->pause_count++ == 0;
	if (first)
		atomic_store(&vm->pause_req, true);
	pthread_mutex_unlock(&vm->run_lock);
	for (unsigned i = 0; i < vm->n_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->run_lock);
	while (vm->n_parked < vm->n_started && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	if (vm->n_parked < vm->n_started)
		ret = -ECANCELED;
	pthread_mutex_unlock(&vm->run_lock);
	/* vCPUs first (nothing new is queued), then the device back-ends. */
	if (first)
		for (unsigned i = 0; i < vm->devices.n; i++)
			if (vm->devices.dev[i].ops->pause)
				vm->devices.dev[i].ops->pause(vm->devices.dev[i].dev);
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

void vm_resume(struct vm *vm)
{
	bool last;

	pthread_mutex_lock(&vm->pause_lock);
	pthread_mutex_lock(&vm->run_lock);
	last = vm->pause_count == 1;
	pthread_mutex_unlock(&vm->run_lock);
	/* Devices run again before the vCPUs do. */
	if (last)
		for (unsigned i = vm->devices.n; i-- > 0;)
			if (vm->devices.dev[i].ops->resume)
				vm->devices.dev[i].ops->resume(vm->devices.dev[i].dev);
	pthread_mutex_lock(&vm->run_lock);
	if (vm->pause_count && --vm->pause_count == 0) {
		atomic_store(&vm->pause_req, false);
		pthread_cond_broadcast(&vm->run_cond);
	}
	pthread_mutex_unlock(&vm->run_lock);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_is_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	bool paused = vm->pause_count > 0;
	pthread_mutex_unlock(&vm->run_lock);
	return paused;
}

int vm_start_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		if (vcpu->thread_started)
			continue;
		int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
		if (ret) {
			log_error("vcpu%u: cannot start thread: %s", i, strerror(ret));
			vm_request_exit(vm, VMM_EXIT_FAULT);
			return -ret;
		}
		pthread_mutex_lock(&vm->kick_lock);
		vcpu->thread_started = true;
		pthread_mutex_unlock(&vm->kick_lock);
		pthread_mutex_lock(&vm->run_lock);
		vm->n_started++;
		pthread_mutex_unlock(&vm->run_lock);
	}
	return 0;
}

int vm_state_event(struct vm *vm, enum vm_event ev, char *err, size_t errlen)
{
	int ret = 0;

	pthread_mutex_lock(&vm->state_lock);
	int next = vm_state_next(vm->state, ev, vm->state_before_migration);
	if (next < 0) {
		if (err)
			snprintf(err, errlen, "cannot %s: the VM is %s", vm_event_name(ev), vm_state_name(vm->state));
		ret = -EPERM;
	} else {
		if (ev == VM_EV_MIGRATE)
			vm->state_before_migration = vm->state;
		if ((enum vm_state)next != vm->state)
			log_info("vm: %s -> %s (%s)", vm_state_name(vm->state), vm_state_name(next), vm_event_name(ev));
		vm->state = (enum vm_state)next;
	}
	pthread_mutex_unlock(&vm->state_lock);
	return ret;
}

enum vm_state vm_state_get(struct vm *vm)
{
	pthread_mutex_lock(&vm->state_lock);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&vm->state_lock);
	return s;
}

void vm_request_exit(struct vm *vm, int status)
{
	bool expected = false;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
		return;
	vm_state_event(vm, VM_EV_EXIT, NULL, 0);	/* allowed from every state */
	vm->exit_status = status;
	vm->exit_request_ns = now_ns();
	for (unsigned i = 0; i < vm->n_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	/* Parked vCPUs and vm_pause() callers wait on run_cond. */
	pthread_mutex_lock(&vm->run_lock);
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
	evloop_stop(&vm->loop);
}

/* SIGINT/SIGTERM end the VM cleanly: console flushed, devices detached
 * (the NIC sees the VMM go), exit status 128 + signal as a shell expects.
 * main() blocks both before any thread exists; they arrive here. */
static void on_stop_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_warn("stopping the VM on %s", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	vm_request_exit(vm, 128 + (int)si.ssi_signo);
}

int vm_run(struct vm *vm)
{
	sigset_t set, old;
	sigset_t stop;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	vm->signal_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0 || evloop_add(&vm->loop, vm->signal_fd, EPOLLIN, on_stop_signal, vm) < 0)
		log_warn("SIGINT/SIGTERM will not stop the VM cleanly: %s", strerror(errno));

	/* vCPU threads unblock SIGUSR1 themselves; the main thread keeps it
	 * blocked so a kick never lands here. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (!vm->defer_vcpus)
		vm_start_vcpus(vm);
	if (!atomic_load(&vm->stopping))
		evloop_run(&vm->loop);
	for (unsigned i = 0; i < vm->n_vcpus; i++) {
		/* Retire the thread for kickers first (a migration thread may
		 * be pausing right now), then join it. */
		pthread_mutex_lock(&vm->kick_lock);
		bool started = vm->vcpus[i].thread_started;
		vm->vcpus[i].thread_started = false;
		pthread_mutex_unlock(&vm->kick_lock);
		if (started)
			pthread_join(vm->vcpus[i].thread, NULL);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (vm->signal_fd >= 0) {
		evloop_remove(&vm->loop, vm->signal_fd);
		close(vm->signal_fd);
		vm->signal_fd = -1;
	}
	if (vm->platform)
		platform_console_flush(vm->platform);
	return vm->exit_status;
}
