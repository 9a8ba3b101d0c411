/* The guest's main(): runs the application named by app= (default hello). */
#include "apps/apps.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "net/net.h"

static const struct guest_app apps[] = {
	{ "hello", "print what the guest learned at boot", app_hello },
	{ "irqtest", "check interrupt delivery at ring 3", app_irqtest },
	{ "fault", "fault on purpose (kind=pf|ud|gp|de|ring0|triple|syscall)", app_fault },
	{ "unclaimed", "access an MMIO address no device claims", app_unclaimed },
	{ "consoletest", "stress the console ring", app_consoletest },
	{ "vfraw", "raw frames over the VF (mode=send|recv|echo|ping|badring)", app_vfraw },
	{ "regbench", "cost of platform and VF register accesses", app_regbench },
	{ "sleep", "sleep on the wake-up timer until ms=N (early-ms=E: the VMM's fires early)", app_sleep },
	{ "spin", "run forever (report-ms=N prints a heartbeat)", app_spin },
	{ "memcheck", "fill memory, verify it after each migration (size=MiB)", app_memcheck },
	{ "dirty", "dirty memory at rate=PAGES_PER_SEC, verify after migration", app_dirty },
	{ "hostile", "attack the VF, its DMA, mailbox and the CompSC area (steps=LIST)", app_hostile },
	{ "compute", "a long register-only computation (steps=N): same result however it was moved", app_compute },
};

int main(void)
{
	char name[128] = "hello";

	cmdline_get("app", name, sizeof(name));
	if (net_is_net_app_list(name))
		return net_main(name);
	for (unsigned i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (strcmp(apps[i].name, name) == 0)
			return apps[i].run();
	printf("unknown app '%s'; known apps:\n", name);
	for (unsigned i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		printf("  %-10s %s\n", apps[i].name, apps[i].help);
	for (unsigned i = 0; i < net_n_apps; i++)
		printf("  %-10s %s\n", net_apps[i].name, net_apps[i].help);
	printf("network apps combine: app=iperf,echo,http (see guest/net/apps.c)\n");
	return 2;
}
