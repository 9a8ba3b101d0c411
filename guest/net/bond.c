/* The active-backup bond: see bond.h. */
#include "bond.h"

#include "../../common/csc_errno.h"
#include "../../common/platform_regs.h"
#include "guest/format.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "lwip/etharp.h"

static err_t bond_output(struct netif *netif, struct pbuf *p)
{
	struct bond *b = netif->state;
	struct net_if *s = b->active;

	if (s == &b->vf->nif)
		b->tx_vf++;
	else
		b->tx_vn++;
	return s->netif.linkoutput(&s->netif, p);
}

err_t bond_init(struct netif *netif)
{
	struct bond *b = netif->state;

	net_if_setup_netif(&b->nif, bond_output);
	return ERR_OK;
}

/* A slave's own netif is never added to lwIP: only its linkoutput is
 * used, and what it receives goes to the bond's netif. */
static void enslave(struct bond *b, struct net_if *s, netif_init_fn init)
{
	s->netif.state = s;
	init(&s->netif);
	memcpy(s->mac, b->nif.mac, 6);
	s->upper = &b->nif.netif;
}

static void announce(struct bond *b)
{
	if (!ip4_addr_isany_val(*netif_ip4_addr(&b->nif.netif)))
		etharp_gratuitous(&b->nif.netif);
}

static void print_ms(const char *what, uint64_t us)
{
	printf("bond: %s (%llu.%03llu ms)\n", what, (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
}

static void failover(struct bond *b, uint64_t t0)
{
	b->active = &b->vn->nif;
	b->vf_present = false;
	vf_if_release(b->vf);
	announce(b);	/* through virtio-net now: the switch relearns the MAC */
	b->failovers++;
	print_ms("failover to virtio-net", clock_us() - t0);
}

static int failback(struct bond *b, uint64_t t0)
{
	int ret = vf_if_probe_again(b->vf, b->nif.mac);

	if (ret) {
		printf("bond: %s: the inserted VF did not come up (%d)%s: staying on virtio-net\n", b->vf->nif.name,
		       ret, ret == -EPERM ? ", the PF refused the bond's MAC" : "");
		return ret;
	}
	b->vf_present = true;
	b->active = &b->vf->nif;
	announce(b);
	b->failbacks++;
	print_ms("failback to vf", clock_us() - t0);
	return 0;
}

void bond_check_hotplug(struct bond *b)
{
	uint32_t req = platform_hotplug_request();

	if (!req || req == b->handled)
		return;
	b->handled = req;
	uint64_t t0 = clock_us();
	unsigned slot = CSC_HP_SLOT(req), op = CSC_HP_OP(req);
	if (!b->vf || slot != b->vf->adapter.instance || (op != CSC_HP_EJECT && op != CSC_HP_INSERT)) {
		printf("bond: hot-plug request 0x%08x is not for the bond's VF: ignored\n", req);
		return;
	}
	if (op == CSC_HP_EJECT) {
		if (b->vf_present)
			failover(b, t0);
		platform_hotplug_ack(req);
		printf("bond: %s released (eject acknowledged)\n", b->vf->nif.name);
	} else {
		if (!b->vf_present && failback(b, t0) != 0)
			return;	/* no acknowledgement: the VMM reports the insert as failed */
		platform_hotplug_ack(req);
	}
	/* The ACK cleared HOTPLUG_REQ (the write completes only after the
	 * VMM took it), so this request cannot be seen again; forgetting it
	 * matters after a migration, where the destination's controller
	 * numbers its requests from 1 again. */
	b->handled = 0;
}

static unsigned bond_poll(struct net_if *nif, unsigned budget)
{
	struct bond *b = (struct bond *)nif;
	unsigned n = b->vn->nif.ops->poll(&b->vn->nif, budget);

	if (b->vf_present)
		n += b->vf->nif.ops->poll(&b->vf->nif, budget);
	return n;
}

static void bond_flush(struct net_if *nif)
{
	struct bond *b = (struct bond *)nif;

	if (b->vf_present)
		b->vf->nif.ops->flush(&b->vf->nif);
	b->vn->nif.ops->flush(&b->vn->nif);
}

static bool bond_arm(struct net_if *nif)
{
	struct bond *b = (struct bond *)nif;
	bool pending = b->vn->nif.ops->arm_interrupt(&b->vn->nif);

	if (b->vf_present)
		pending |= b->vf->nif.ops->arm_interrupt(&b->vf->nif);
	return pending;
}

static void bond_stats(struct net_if *nif, char *buf, size_t size)
{
	struct bond *b = (struct bond *)nif;

	snprintf(buf, size, "active %s vf %s failovers %u failbacks %u | tx via vf %llu via vn %llu",
		 b->active->name, b->vf_present ? "present" : "absent", (unsigned)b->failovers,
		 (unsigned)b->failbacks, (unsigned long long)b->tx_vf, (unsigned long long)b->tx_vn);
}

/* The slaves' own lines, as print_stats would print them. */
static void bond_report(struct net_if *nif)
{
	struct bond *b = (struct bond *)nif;
	struct net_if *s[2] = { &b->vf->nif, &b->vn->nif };
	char line[384];

	for (unsigned i = 0; i < 2; i++) {
		if (s[i] == &b->vf->nif && !b->vf_present) {
			printf("stats slave t=%llums %s: absent\n", (unsigned long long)clock_ms(), s[i]->name);
			continue;
		}
		s[i]->ops->stats(s[i], line, sizeof(line));
		printf("stats slave t=%llums %s: %s\n", (unsigned long long)clock_ms(), s[i]->name, line);
	}
}

static const char *bond_problem(struct net_if *nif)
{
	struct bond *b = (struct bond *)nif;

	return b->vn->nif.ops->problem ? b->vn->nif.ops->problem(&b->vn->nif) : NULL;
}

static const struct net_if_ops bond_ops = {
	.poll = bond_poll,
	.flush = bond_flush,
	.arm_interrupt = bond_arm,
	.stats = bond_stats,
	.report = bond_report,
	.problem = bond_problem,
};

int bond_create(struct bond *b, unsigned vf_instance, const struct csc_boot_dev *d, const uint8_t *mac)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->nif.ops = &bond_ops;
	snprintf(b->nif.name, sizeof(b->nif.name), "bond0");
	b->vf = rt_alloc(sizeof(*b->vf), 64);
	b->vn = rt_alloc(sizeof(*b->vn), 64);
	if ((ret = vnet_if_create(b->vn, d, 0)) < 0)
		return ret;
	/* The slot may be empty (a VMM started with --vf-unplugged): the
	 * bond starts on virtio-net and fails back at the insert. */
	b->vf_present = (platform_hotplug_present() >> vf_instance) & 1;
	if (b->vf_present) {
		if ((ret = vf_if_create(b->vf, vf_instance, mac)) < 0)
			return ret;
	} else {
		vf_if_init_absent(b->vf, vf_instance);
	}
	if (mac)
		memcpy(b->nif.mac, mac, 6);
	else if (b->vf_present)
		memcpy(b->nif.mac, b->vf->adapter.hw.addr, 6);
	else
		memcpy(b->nif.mac, b->vn->dev.mac, 6);
	enslave(b, &b->vf->nif, vfif_init);
	enslave(b, &b->vn->nif, vnetif_init);
	b->active = b->vf_present ? &b->vf->nif : &b->vn->nif;
	printf("bond: bond0 over %s (%s) and %s, active %s\n", b->vf->nif.name, b->vf_present ? "present" : "absent",
	       b->vn->nif.name, b->active->name);
	return 0;
}
