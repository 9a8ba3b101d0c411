/* The network main loop and interface set-up; see net.h. */
#include "net.h"

#include "../../common/bootinfo.h"
#include "../../common/mac.h"
#include "guest/arch.h"
#include "guest/format.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "bond.h"
#include "netif_vf.h"
#include "netif_vnet.h"

#define MAX_IFS 4
#define RX_BUDGET 64

static struct net_if *ifs[MAX_IFS];
static unsigned n_ifs;
static struct bond *bond;	/* bond=1: over vf0 and vn0 */
static bool app_on[16];

bool net_parse_hostport(const char *s, ip4_addr_t *addr, uint16_t *port, uint16_t default_port)
{
	unsigned long long v[4], p = default_port;
	const char *c = s;

	for (int i = 0; i < 4; i++) {
		size_t k = parse_u64(c, &v[i]);
		if (!k || v[i] > 255)
			return false;
		c += k;
		if (i < 3 && *c++ != '.')
			return false;
	}
	if (*c == ':') {
		size_t k = parse_u64(c + 1, &p);
		if (!k || p == 0 || p > 65535)
			return false;
		c += 1 + k;
	}
	if (*c)
		return false;
	IP4_ADDR(addr, v[0], v[1], v[2], v[3]);
	if (port)
		*port = (uint16_t)p;
	return true;
}

/* "A.B.C.D/LEN" */
static bool parse_cidr(const char *s, ip4_addr_t *ip, ip4_addr_t *mask)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	unsigned long long len = 24;

	if (strlen(s) >= sizeof(buf))
		return false;
	memcpy(buf, s, strlen(s) + 1);
	if (slash) {
		buf[slash - s] = '\0';
		if (parse_u64(slash + 1, &len) != strlen(slash + 1) || len > 32)
			return false;
	}
	if (!net_parse_hostport(buf, ip, NULL, 0))
		return false;
	uint32_t m = len ? 0xffffffffu << (32 - len) : 0;
	ip4_addr_set_u32(mask, lwip_htonl(m));
	return true;
}

/* Addresses from the command line for interface number `index` (ip=, ip1=,
 * ...; gw= and mac= for the first), then netif_add and link up. */
static int configure_interface(struct net_if *nif, unsigned index, netif_init_fn init)
{
	char buf[64], key[8] = "ip";
	ip4_addr_t ip, mask, gw;

	if (index)
		snprintf(key, sizeof(key), "ip%u", index);
	ip4_addr_set_zero(&ip);
	ip4_addr_set_zero(&mask);
	ip4_addr_set_zero(&gw);
	if (cmdline_get(key, buf, sizeof(buf)) && !parse_cidr(buf, &ip, &mask)) {
		printf("net: %s=%s is not A.B.C.D/LEN\n", key, buf);
		return 2;
	}
	if (index == 0 && cmdline_get("gw", buf, sizeof(buf)) && !net_parse_hostport(buf, &gw, NULL, 0)) {
		printf("net: gw=%s is not A.B.C.D\n", buf);
		return 2;
	}
	if (!netif_add(&nif->netif, &ip, &mask, &gw, nif, init, ethernet_input)) {
		printf("net: netif_add failed\n");
		return 1;
	}
	if (index == 0)
		netif_set_default(&nif->netif);
	netif_set_up(&nif->netif);
	netif_set_link_up(&nif->netif);	/* sends a gratuitous ARP */
	char mac_text[MAC_STR_LEN];
	printf("net: %s %s ip %s", nif->name, mac_format(nif->mac, mac_text), ip4addr_ntoa(&ip));
	/* ip4addr_ntoa() has one static buffer: one call per printf. */
	printf("/%s", ip4addr_ntoa(&mask));
	printf(" gw %s\n", ip4addr_ntoa(&gw));
	return 0;
}

/* Interfaces in order: VFs, then virtio-net devices; ip= belongs to the
 * first, ip1= to the second, and so on. */
static int bring_up_interfaces(void)
{
	const struct csc_boot_dev *d;
	char buf[64];
	uint8_t mac[6];
	bool have_mac = false;
	int ret;

	if (cmdline_get("mac", buf, sizeof(buf))) {
		if (mac_parse(buf, mac) < 0 || !mac_is_unicast(mac)) {
			printf("net: mac=%s is not a unicast xx:xx:xx:xx:xx:xx\n", buf);
			return 2;
		}
		have_mac = true;
	}
	/* bond=1: vf0 and vn0 are one interface, the first. */
	unsigned first_vf = 0, first_vn = 0;
	if (cmdline_get_u64("bond", 0)) {
		d = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_VIRTIO_NET, 0);
		if (!d || !csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_VF_82576, 0)) {
			printf("net: bond=1 needs a VF (--vf or --vf-unplugged) and a virtio-net device\n");
			return 1;
		}
		bond = rt_alloc(sizeof(*bond), 64);
		ret = bond_create(bond, 0, d, have_mac ? mac : NULL);
		if (ret < 0) {
			printf("net: bond0: initialisation failed (%d)\n", ret);
			return 1;
		}
		ret = configure_interface(&bond->nif, n_ifs, bond_init);
		if (ret)
			return ret;
		ifs[n_ifs++] = &bond->nif;
		first_vf = first_vn = 1;
	}
	for (unsigned i = first_vf; n_ifs < MAX_IFS && csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_VF_82576, i); i++) {
		struct vf_if *vi = rt_alloc(sizeof(*vi), 64);
		ret = vf_if_create(vi, i, n_ifs == 0 && have_mac ? mac : NULL);
		if (ret < 0) {
			printf("net: vf%u: initialisation failed (%d)\n", i, ret);
			return 1;
		}
		ret = configure_interface(&vi->nif, n_ifs, vfif_init);
		if (ret)
			return ret;
		ifs[n_ifs++] = &vi->nif;
	}
	for (unsigned i = first_vn; n_ifs < MAX_IFS && (d = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_VIRTIO_NET, i));
	     i++) {
		struct vnet_if *vi = rt_alloc(sizeof(*vi), 64);
		ret = vnet_if_create(vi, d, i);
		if (ret < 0) {
			printf("net: virtio-net%u: initialisation failed (%d)\n", i, ret);
			return 1;
		}
		if (n_ifs == 0 && have_mac)
			memcpy(vi->dev.mac, mac, 6);
		ret = configure_interface(&vi->nif, n_ifs, vnetif_init);
		if (ret)
			return ret;
		ifs[n_ifs++] = &vi->nif;
	}
	if (!n_ifs) {
		printf("net: no network device (start compsc-vmm with --vf PATH or --virtio-net tap:NAME)\n");
		return 1;
	}
	return 0;
}

/* Live migration: the platform raises its interrupt when the VM arrived on
 * a new host (MIGRATED generation). Only then is the register read (an MMIO
 * exit); the interrupt counter itself is plain memory. On a new generation
 * every interface announces itself with a gratuitous ARP, so the switch
 * learns where the MAC is now. */
static uint32_t platform_vector, platform_irqs_seen, migration_generation;

static void check_migrated(void)
{
	uint32_t n = irq_counts[platform_vector];

	if (n == platform_irqs_seen)
		return;
	platform_irqs_seen = n;
	/* The platform interrupt also announces hot-plug requests: only a
	 * guest with a bond looks (another never acknowledges). */
	if (bond)
		bond_check_hotplug(bond);
	uint32_t gen = platform_migration_generation();
	if (gen == migration_generation)
		return;
	migration_generation = gen;
	/* The wake-up timer armed on the source did not come along: the
	 * runtime arms it again after this platform interrupt (rt/wake.c). */
	for (unsigned i = 0; i < n_ifs; i++)
		if (!ip4_addr_isany_val(*netif_ip4_addr(&ifs[i]->netif)))
			etharp_gratuitous(&ifs[i]->netif);
	printf("net: migrated (generation %u) at t=%llums: gratuitous ARP sent\n", gen,
	       (unsigned long long)clock_ms());
}

static void print_stats(const char *when)
{
	char line[384];

	for (unsigned i = 0; i < n_ifs; i++) {
		ifs[i]->ops->stats(ifs[i], line, sizeof(line));
		printf("stats %s t=%llums %s: %s\n", when, (unsigned long long)clock_ms(), ifs[i]->name, line);
		if (ifs[i]->ops->report)
			ifs[i]->ops->report(ifs[i]);
	}
	for (unsigned a = 0; a < net_n_apps; a++)
		if (app_on[a] && net_apps[a].report)
			net_apps[a].report();
}

static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (e ? 1 : 0);
	}
	return false;
}

bool net_is_net_app_list(const char *list)
{
	char buf[8];

	for (unsigned a = 0; a < net_n_apps; a++)
		if (list_has(list, net_apps[a].name))
			return true;
	return list_has(list, "net") || cmdline_get("iperf-client", buf, sizeof(buf)) ||
	       cmdline_get("udpsource", buf, sizeof(buf));
}

int net_main(const char *list)
{
	char buf[8];

	/* Without app=, main() passes its default: only key-enabled apps run. */
	if (!cmdline_get("app", buf, sizeof(buf)))
		list = "";
	const struct csc_boot_dev *plat = csc_bootinfo_find_dev(rt_bootinfo, CSC_DEV_PLATFORM, 0);
	platform_vector = plat ? plat->irq_vector : 0;
	platform_irqs_seen = irq_counts[platform_vector];
	migration_generation = platform_migration_generation();
	lwip_init();
	int ret = bring_up_interfaces();
	if (ret)
		return ret;
	if (bond)
		bond_check_hotplug(bond);	/* a request posted while booting */
	/* Apps named in app=, plus those switched on by their own key. */
	bool finite = false, server = false;
	for (unsigned a = 0; a < net_n_apps && a < sizeof(app_on) / sizeof(app_on[0]); a++) {
		app_on[a] = list_has(list, net_apps[a].name) || cmdline_get(net_apps[a].name, buf, sizeof(buf));
		if (!app_on[a])
			continue;
		ret = net_apps[a].start();
		if (ret)
			return ret;
		if (net_apps[a].done)
			finite = true;
		else
			server = true;
	}
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		bool known = len == 3 && strncmp(p, "net", 3) == 0;
		for (unsigned a = 0; a < net_n_apps; a++)
			known |= strlen(net_apps[a].name) == len && strncmp(p, net_apps[a].name, len) == 0;
		if (!known) {
			printf("net: unknown app '%.*s'\n", (int)len, p);
			return 2;
		}
		p += len + (e ? 1 : 0);
	}

	uint64_t stats_us = cmdline_get_u64("stats-ms", 0) * 1000;
	uint64_t run_us = cmdline_get_u64("run-secs", 0) * 1000000;
	uint64_t poll_us = cmdline_get_u64("poll-us", 50);
	uint64_t start = clock_us(), next_stats = start + stats_us, idle_since = start;
	printf("net: ready\n");

	for (;;) {
		unsigned work = 0;
		for (unsigned i = 0; i < n_ifs; i++)
			work += ifs[i]->ops->poll(ifs[i], RX_BUDGET);
		sys_check_timeouts();
		check_migrated();

		uint64_t now = clock_us(), next = now + 1000000;
		bool all_done = finite;
		for (unsigned a = 0; a < net_n_apps; a++) {
			if (!app_on[a])
				continue;
			if (net_apps[a].poll && net_apps[a].poll(now, &next))
				work++;
			if (net_apps[a].done && !net_apps[a].done())
				all_done = false;
		}
		for (unsigned i = 0; i < n_ifs; i++)
			ifs[i]->ops->flush(ifs[i]);

		if (stats_us && now >= next_stats) {
			print_stats("periodic");
			next_stats += stats_us;
			if (next_stats < now)
				next_stats = now + stats_us;
		}
		if ((run_us && now - start >= run_us) || (all_done && !server))
			break;
		if (work) {
			idle_since = now;
			continue;
		}
		if (now - idle_since < poll_us)
			continue;

		/* Idle: ask for interrupts, then sleep until one arrives or the
		 * next deadline (lwIP timer, app, statistics, end of run). */
		uint32_t snap = irq_snapshot();
		bool pending = false;
		for (unsigned i = 0; i < n_ifs; i++)
			pending |= ifs[i]->ops->arm_interrupt(ifs[i]);
		if (pending)
			continue;
		u32_t sleep_ms = sys_timeouts_sleeptime();
		if (sleep_ms != SYS_TIMEOUTS_SLEEPTIME_INFINITE && now + (uint64_t)sleep_ms * 1000 < next)
			next = now + (uint64_t)sleep_ms * 1000;
		if (stats_us && next_stats < next)
			next = next_stats;
		if (run_us && start + run_us < next)
			next = start + run_us;
		if (next > now) {
			platform_wake_at_us(next);
			irq_wait(snap);
		}
		idle_since = clock_us();
	}
	print_stats("final");
	for (unsigned i = 0; i < n_ifs; i++) {
		const char *problem = ifs[i]->ops->problem ? ifs[i]->ops->problem(ifs[i]) : NULL;
		if (problem)
			printf("net: %s: %s\n", ifs[i]->name, problem);
	}
	return 0;
}
