/* Choosing the accelerator: --accel kvm|proc|auto (default: auto, or
 * $COMPSC_ACCEL). auto takes KVM where /dev/kvm is usable and the sandboxed
 * process otherwise, and says why. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "kvm.h"
#include "proc.h"

bool accel_name_valid(const char *name)
{
	return strcmp(name, "kvm") == 0 || strcmp(name, "proc") == 0 || strcmp(name, "auto") == 0;
}

const struct accel_ops *accel_select(const char *wanted, char *why, size_t why_len)
{
	char kvm_err[256], proc_err[256];
	int fd;

	if (strcmp(wanted, "proc") != 0) {
		fd = kvm_open_dev(kvm_err, sizeof(kvm_err));
		if (fd >= 0) {
			close(fd);
			snprintf(why, why_len, "%s", strcmp(wanted, "kvm") == 0 ? "chosen with --accel kvm (or $COMPSC_ACCEL)"
										 : "/dev/kvm is usable");
			return &accel_kvm_ops;
		}
		if (strcmp(wanted, "kvm") == 0) {
			snprintf(why, why_len, "%s", kvm_err);
			return NULL;
		}
	}
	if (proc_accel_probe(proc_err, sizeof(proc_err)) < 0) {
		if (strcmp(wanted, "proc") == 0)
			snprintf(why, why_len, "the proc accelerator cannot run here: %s", proc_err);
		else
			snprintf(why, why_len, "no accelerator can run here: %s; and the proc accelerator: %s",
				 kvm_err, proc_err);
		return NULL;
	}
	if (strcmp(wanted, "proc") == 0)
		snprintf(why, why_len, "chosen with --accel proc (or $COMPSC_ACCEL)");
	else
		snprintf(why, why_len, "%s", kvm_err);
	return &accel_proc_ops;
}

bool accel_guest_supported(const struct accel_ops *ops, uint32_t guest_bindings)
{
	return (guest_bindings & ops->guest_binding) != 0;
}
