/* compsc-vmm: the hypervisor for one VM.
 *
 *   compsc-vmm --guest FILE [--mem SIZE] [--cmdline STRING] [options]
 *
 * Exit status: the guest's own exit status; 1 for a guest fault or an
 * accelerator error (with a register dump on stderr); 2 for a bad command
 * line or guest file; 3 when the accelerator asked for cannot run here. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/bootinfo.h"
#include "../common/layout.h"
#include "../common/log.h"
#include "../common/platform_regs.h"
#include "accel/accel.h"
#include "api.h"
#include "boot.h"
#include "device.h"
#include "migration/migration.h"
#include "testdev.h"
#include "elf_loader.h"
#include "options.h"
#include "platform.h"
#include "vf_device.h"
#include "virtio/net.h"
#include "vm.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: compsc-vmm --guest FILE [options]\n"
		"Runs one virtual machine with a CompSC guest, on KVM or as a sandboxed process.\n"
		"\n"
		"  --accel kvm|proc|auto\n"
		"                       how the guest runs: KVM (/dev/kvm), a seccomp-sandboxed\n"
		"                       process (proc), or auto: KVM where /dev/kvm is usable,\n"
		"                       else proc (default auto, or $COMPSC_ACCEL)\n"
		"  --guest FILE         guest kernel, an ELF64 x86-64 executable (required)\n"
		"  --mem SIZE           guest RAM, e.g. 256M or 1G (default 256M; 16M..3G)\n"
		"  --cmdline STRING     guest command line (default empty)\n"
		"  --vf PATH            attach an SR-IOV VF served by compsc-nic at PATH\n"
		"                       (RUNDIR/vfN.sock); up to 4 (--vf and --vf-unplugged together)\n"
		"  --vf-unplugged PATH  reserve the VF's slot (vfN, in order with --vf) but leave it\n"
		"                       empty: the control socket's device-add plugs PATH later\n"
		"                       (the destination of a bonding migration, docs/api.md)\n"
		"  --console-prefix S   prefix for each guest console line (default none)\n"
		"  --log-level LEVEL    error, warn, info or debug (default warn)\n"
		"  --timing             report boot and exit timestamps on stderr\n"
		"  --virtio-net tap:NAME[,mac=MAC]\n"
		"                       add a virtio-net NIC on TAP device NAME (repeatable, up to 4)\n"
		"  --api PATH           control socket (JSON commands, see docs/api.md)\n"
		"  --incoming URI       receive a migrating VM on tcp:ADDR:PORT instead of booting\n"
		"                       (same --guest and --mem as the source; port 0 = any)\n"
		"  --migration-token-file PATH\n"
		"                       the secret that authenticates migration peers, read from\n"
		"                       PATH (not readable by group or others); else taken from\n"
		"                       $COMPSC_MIGRATION_TOKEN. No default: without a secret the\n"
		"                       VMM neither migrates nor accepts --incoming\n"
		"  --insecure-plaintext migration records after the handshake carry a CRC only,\n"
		"                       not AES-256-GCM: anyone on the path can read guest memory\n"
		"                       and alter the stream. For measuring the raw path; both\n"
		"                       VMMs of a migration must have it, or neither\n"
		"  --migration-handshake-ms MS\n"
		"                       --incoming: a connection that has not authenticated this\n"
		"                       long after it was accepted is dropped (default 5000)\n"
		"  --incoming-timeout-ms MS\n"
		"                       --incoming: exit 4 unless a source has authenticated this\n"
		"                       long after the start (default 600000; 0 = no limit)\n"
		"  --test-device VALUE  add the migration test device (docs/migration-stream.md)\n"
		"  --help               this text\n"
		"\n"
		"Exit status: the guest's exit status; 1 guest fault or accelerator error;\n"
		"2 bad arguments or guest file (or a guest without this accelerator's binding);\n"
		"3 the accelerator cannot run here (--accel kvm without /dev/kvm);\n"
		"4 incoming migration failed; 128 + N stopped by signal N (SIGINT, SIGTERM).\n");
}

/* A decimal number of milliseconds in [min, max]. */
static bool parse_ms(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	if (!text || text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	enum { OPT_GUEST = 256, OPT_MEM, OPT_CMDLINE, OPT_PREFIX, OPT_LOG, OPT_TIMING, OPT_HELP, OPT_VF, OPT_VIRTIO_NET,
	       OPT_API, OPT_INCOMING, OPT_TOKEN, OPT_TESTDEV, OPT_ACCEL, OPT_TOKEN_FILE, OPT_VF_UNPLUGGED,
	       OPT_PLAINTEXT, OPT_HANDSHAKE_MS, OPT_INCOMING_TIMEOUT_MS };
	static const struct option longopts[] = {
		{ "guest", required_argument, NULL, OPT_GUEST },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "console-prefix", required_argument, NULL, OPT_PREFIX },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "timing", no_argument, NULL, OPT_TIMING },
		{ "vf", required_argument, NULL, OPT_VF },
		{ "vf-unplugged", required_argument, NULL, OPT_VF_UNPLUGGED },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "virtio-net", required_argument, NULL, OPT_VIRTIO_NET },
		{ "api", required_argument, NULL, OPT_API },
		{ "incoming", required_argument, NULL, OPT_INCOMING },
		{ "migration-token", required_argument, NULL, OPT_TOKEN },
		{ "migration-token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "test-device", required_argument, NULL, OPT_TESTDEV },
		{ "accel", required_argument, NULL, OPT_ACCEL },
		{ "insecure-plaintext", no_argument, NULL, OPT_PLAINTEXT },
		{ "migration-handshake-ms", required_argument, NULL, OPT_HANDSHAKE_MS },
		{ "incoming-timeout-ms", required_argument, NULL, OPT_INCOMING_TIMEOUT_MS },
		{ NULL, 0, NULL, 0 },
	};
	const char *guest = NULL, *cmdline = "", *prefix = "";
	uint64_t ram_size = 256ull << 20;
	bool timing = false;
	struct vf_slot_config vf_slots[VM_MAX_VFS];
	unsigned n_vf_slots = 0;
	const char *api_path = NULL, *incoming = NULL, *token = getenv("COMPSC_MIGRATION_TOKEN");
	static char token_buf[MIG_TOKEN_MAX + 2];
	bool testdev = false;
	const char *accel_name = getenv("COMPSC_ACCEL");
	uint64_t testdev_val = 0;
	struct mig_options mig_opts;
	char err[512];
	int opt, ret;
	struct virtio_net_opts vnet_opts[VIRTIO_NET_MAX_DEVICES];
	unsigned n_vnet = 0;

	log_init("compsc-vmm", LOG_WARN);
	mig_options_default(&mig_opts);
	/* A device process that goes away must not take the VMM with it. */
	signal(SIGPIPE, SIG_IGN);
	/* SIGINT/SIGTERM are taken by the event loop (vm_run): blocked here,
	 * before any thread exists, so every thread inherits the mask. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_GUEST:
			guest = optarg;
			break;
		case OPT_MEM:
			if (parse_size(optarg, &ram_size) < 0)
				return cli_usage_error("--mem: '%s' is not a size (use e.g. 256M or 1G)", optarg);
			if (ram_size < CSC_RAM_MIN || ram_size > CSC_RAM_MAX || ram_size % (2u << 20))
				return cli_usage_error("--mem: %s is out of range (16M..3G, a multiple of 2M)", optarg);
			break;
		case OPT_CMDLINE:
			cmdline = optarg;
			if (strlen(cmdline) >= CSC_BOOT_CMDLINE_MAX)
				return cli_usage_error("--cmdline: longer than %d bytes", CSC_BOOT_CMDLINE_MAX - 1);
			break;
		case OPT_PREFIX:
			prefix = optarg;
			break;
		case OPT_LOG:
			if ((ret = cli_log_level_option(optarg)))
				return ret;
			break;
		case OPT_VF:
		case OPT_VF_UNPLUGGED:
			if (n_vf_slots == VM_MAX_VFS)
				return cli_usage_error("--vf: at most %d VFs", VM_MAX_VFS);
			vf_slots[n_vf_slots++] = (struct vf_slot_config){ .path = optarg,
									  .unplugged = opt == OPT_VF_UNPLUGGED };
			break;
		case OPT_TIMING:
			timing = true;
			break;
		case OPT_VIRTIO_NET:
			if (n_vnet == VIRTIO_NET_MAX_DEVICES)
				return cli_usage_error("--virtio-net: at most %d devices", VIRTIO_NET_MAX_DEVICES);
			if (virtio_net_parse(optarg, &vnet_opts[n_vnet], err, sizeof(err)) < 0)
				return cli_usage_error("--virtio-net: %s", err);
			n_vnet++;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		case OPT_API:
			api_path = optarg;
			break;
		case OPT_INCOMING: {
			char host[256];
			uint16_t port;
			if (mig_parse_uri(optarg, host, sizeof(host), &port, err, sizeof(err)) < 0)
				return cli_usage_error("--incoming: %s", err);
			incoming = optarg;
			break;
		}
		case OPT_TOKEN:
			/* argv is public (ps, /proc/PID/cmdline): a secret there is
			 * no secret. */
			return cli_usage_error("--migration-token: a secret must not be on the command line (it "
					       "shows in ps): use --migration-token-file PATH or "
					       "$COMPSC_MIGRATION_TOKEN");
		case OPT_TOKEN_FILE:
			if (mig_read_token_file(optarg, token_buf, sizeof(token_buf), err, sizeof(err)) < 0)
				return cli_usage_error("--migration-token-file: %s", err);
			token = token_buf;
			break;
		case OPT_ACCEL:
			accel_name = optarg;
			if (!accel_name_valid(accel_name))
				return cli_usage_error("--accel: '%s' is not kvm, proc or auto", optarg);
			break;
		case OPT_PLAINTEXT:
			mig_opts.insecure_plaintext = true;
			break;
		case OPT_HANDSHAKE_MS:
			if (!parse_ms(optarg, 100, 600000, &mig_opts.handshake_ms))
				return cli_usage_error("--migration-handshake-ms: '%s' is not 100..600000", optarg);
			break;
		case OPT_INCOMING_TIMEOUT_MS:
			if (!parse_ms(optarg, 0, 86400000, &mig_opts.incoming_timeout_ms))
				return cli_usage_error("--incoming-timeout-ms: '%s' is not 0..86400000", optarg);
			break;
		case OPT_TESTDEV:
			if (parse_size(optarg, &testdev_val) < 0 || testdev_val > UINT32_MAX)
				return cli_usage_error("--test-device: '%s' is not a 32-bit number", optarg);
			testdev = true;
			break;
		case ':':
			return cli_usage_error("option %s needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!guest)
		return cli_usage_error("--guest FILE is required");
	if (token && !*token)
		token = NULL;
	if (token && strlen(token) > MIG_TOKEN_MAX)
		return cli_usage_error("the migration secret is longer than %d bytes", MIG_TOKEN_MAX);
	if (incoming && !token)
		return cli_usage_error("--incoming needs the migration secret (--migration-token-file PATH or "
				       "$COMPSC_MIGRATION_TOKEN): without one anybody could send this VMM a VM");
	if (!accel_name || !*accel_name)
		accel_name = "auto";
	if (!accel_name_valid(accel_name))
		return cli_usage_error("$COMPSC_ACCEL: '%s' is not kvm, proc or auto", accel_name);

	/* The guest file is checked before KVM is touched: a bad file is a
	 * usage error whatever the machine. */
	uint8_t *file;
	size_t file_size;
	struct elf_image img;
	if (elf_read_file(guest, &file, &file_size, err, sizeof(err)) < 0) {
		fprintf(stderr, "compsc-vmm: %s\n", err);
		return VMM_EXIT_USAGE;
	}
	if (elf_parse(file, file_size, ram_size, &img, err, sizeof(err)) < 0) {
		fprintf(stderr, "compsc-vmm: %s: %s\n", guest, err);
		free(file);
		return VMM_EXIT_USAGE;
	}

	const struct accel_ops *accel = accel_select(accel_name, err, sizeof(err));
	if (!accel) {
		fprintf(stderr, "compsc-vmm: %s\n", err);
		free(file);
		return VMM_EXIT_NO_KVM;
	}
	if (!accel_guest_supported(accel, img.bindings)) {
		fprintf(stderr, "compsc-vmm: %s: this guest image has no binding for the %s accelerator "
			"(rebuild the guest, or choose another --accel)\n", guest, accel->name);
		free(file);
		return VMM_EXIT_USAGE;
	}
	fprintf(stderr, "compsc-vmm: accelerator %s: %s\n", accel->name, err);

	struct vm *vm = calloc(1, sizeof(*vm));
	struct api *api = NULL;
	int status = VMM_EXIT_FAULT;
	if (!vm)
		goto out;
	if (vm_create(vm, accel, ram_size, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "compsc-vmm: %s\n", err);
		goto out;
	}
	/* Devices, in a fixed order (their MMIO windows, vectors and names
	 * must be the same on both ends of a migration): platform, test
	 * device, VFs, virtio-net. The registry destroys them at the end. */
	struct platform_config pcfg = { .console_out = stdout, .console_prefix = prefix };
	uint32_t testdev_value32 = (uint32_t)testdev_val;
	if (!vm_device_create(vm, &platform_device_ops, &pcfg, 0, err, sizeof(err)) ||
	    (testdev && !vm_device_create(vm, &testdev_device_ops, &testdev_value32, 0, err, sizeof(err)))) {
		fprintf(stderr, "compsc-vmm: %s\n", err);
		goto out;
	}
	if (mig_init(vm, token, &mig_opts,
		     &(struct mig_hooks){ .changed = api_migration_changed, .opaque = NULL }) < 0) {
		log_error("migration: cannot initialise");
		goto out;
	}
	if (api_path) {
		api = api_create(vm, api_path, err, sizeof(err));
		if (!api) {
			fprintf(stderr, "compsc-vmm: %s\n", err);
			status = VMM_EXIT_USAGE;
			goto out;
		}
		mig_set_hook_opaque(vm, api);
	}
	for (unsigned i = 0; i < n_vf_slots; i++) {
		if (!vm_device_create(vm, &vf_device_ops, &vf_slots[i], i, err, sizeof(err))) {
			fprintf(stderr, "compsc-vmm: --vf: %s\n", err);
			goto out;
		}
	}
	for (unsigned i = 0; i < n_vnet; i++) {
		if (!vm_device_create(vm, &virtio_net_device_ops, &vnet_opts[i], i, err, sizeof(err))) {
			fprintf(stderr, "compsc-vmm: %s\n", err);
			status = VMM_EXIT_USAGE;
			goto out;
		}
	}
	if (incoming) {
		/* RAM and vCPU state come from the stream: no boot set-up. */
		uint16_t port;
		if (mig_listen_incoming(vm, incoming, &port, err, sizeof(err)) < 0) {
			fprintf(stderr, "compsc-vmm: %s\n", err);
			status = VMM_EXIT_USAGE;
			goto out;
		}
		vm->defer_vcpus = true;
		vm_state_event(vm, VM_EV_LISTEN, NULL, 0);
		fprintf(stderr, "compsc-vmm: incoming: listening on %s (port %u)\n", incoming, port);
		status = vm_run(vm);
		goto out;
	}
	boot_build_page_tables(vm->ram);
	elf_copy(&img, file, vm->ram);

	struct csc_bootinfo *bi = vm_gpa_to_hva(vm, CSC_BOOTINFO_GPA, CSC_BOOTINFO_SIZE);
	csc_bootinfo_init(bi, ram_size, vm->tsc_khz);
	bi->accel = accel->boot_accel;
	if (boot_fill_memory_map(bi, ram_size, &img) < 0 || csc_bootinfo_set_cmdline(bi, cmdline) < 0) {
		log_error("boot information does not fit");
		goto out;
	}
	for (unsigned i = 0; i < vm->n_boot_devs; i++) {
		if (csc_bootinfo_add_dev(bi, &vm->boot_devs[i]) < 0) {
			log_error("boot information: device table full");
			goto out;
		}
	}
	ret = vcpu_set_boot_state(&vm->vcpus[0], img.entry, CSC_BOOTINFO_GPA);
	if (ret < 0) {
		log_error("vcpu0: cannot set the boot state: %s", strerror(-ret));
		goto out;
	}
	log_info("guest %s: entry 0x%" PRIx64 ", %" PRIu64 " MiB RAM, TSC %" PRIu64 " kHz", guest,
		 img.entry, ram_size >> 20, vm->tsc_khz);

	vm_state_event(vm, VM_EV_BOOT, NULL, 0);
	status = vm_run(vm);
	if (timing) {
		uint64_t main_ns = platform_mark_time(vm->platform, CSC_MARK_MAIN);
		fprintf(stderr, "compsc-vmm: timing: start_ns=%" PRIu64 " main_ns=%" PRIu64
			" exit_request_ns=%" PRIu64 "\n", vm->start_ns, main_ns, vm->exit_request_ns);
		for (unsigned i = 0; i < vm->n_vfs; i++)
			fprintf(stderr, "compsc-vmm: timing: vf%u forwarded_reads=%" PRIu64 " forwarded_writes=%" PRIu64 "\n",
				i, vm->vfs[i]->reads, vm->vfs[i]->writes);
	}
out:
	if (vm) {
		mig_destroy(vm);
		api_destroy(api);
		vm_destroy(vm);	/* and every device, newest first */
	}
	free(vm);
	free(file);
	return status;
}
