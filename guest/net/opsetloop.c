/* app=opsetloop: CompSC op sets in a loop on vf0, while lwIP and any other
 * apps keep running - so that a live migration lands between any two op
 * sets and its restoration has to replay whatever state the loop had
 * reached (up or down, any multicast list, either LPE value).
 *
 * One iteration is, one op set per main-loop pass:
 *   set-mac (the address in use), set-multicast (iteration % 31 groups),
 *   set-lpe (1518 or 1522, alternating), down, reset (every 4th
 *   iteration), up.
 * Keys: loops=N (100; 0 runs until run-secs), opset-us=U (pause between op
 * sets, 0), progress=K (a line every K iterations, 50).
 * Lines: "opsetloop: N iterations, E errors" every K iterations and
 * "opsetloop: done: N iterations (M op sets), E errors" at the end. */
#include "../../common/csc_errno.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "net.h"
#include "netif_vf.h"

enum step { STEP_MAC, STEP_MC, STEP_LPE, STEP_DOWN, STEP_RESET, STEP_UP, STEP_COUNT };

static const char *const step_names[STEP_COUNT] = {
	"set-mac", "set-multicast", "set-lpe", "down", "reset", "up",
};

static struct {
	struct igbvf_adapter *a;
	uint64_t loops, pause_us, progress, next_us;
	uint32_t iteration, opsets, errors;
	enum step step;
	bool finished;
} ol;

int opsetloop_start(void)
{
	struct vf_if *vi = vf_if_get(0);

	if (!vi) {
		printf("opsetloop: needs a VF (compsc-vmm --vf)\n");
		return 2;
	}
	ol.a = &vi->adapter;
	ol.loops = cmdline_get_u64("loops", 100);
	ol.pause_us = cmdline_get_u64("opset-us", 0);
	ol.progress = cmdline_get_u64("progress", 50);
	printf("opsetloop: %llu iterations on vf0 (set-mac set-multicast set-lpe down [reset] up), CompSC %s\n",
	       (unsigned long long)ol.loops, igbvf_csc_on(ol.a) ? "on" : "off");
	return 0;
}

static int do_step(struct igbvf_adapter *a, enum step step, uint32_t i)
{
	switch (step) {
	case STEP_MAC: {
		uint8_t mac[6];
		memcpy(mac, a->hw.addr, 6);
		return igbvf_set_mac(a, mac);
	}
	case STEP_MC: {
		uint8_t list[30][6];
		unsigned n = i % 31;
		for (unsigned k = 0; k < n; k++) {
			static const uint8_t prefix[5] = { 0x01, 0x00, 0x5e, 0x00, 0x01 };
			memcpy(list[k], prefix, 5);
			list[k][5] = (uint8_t)(i + k);
		}
		return igbvf_set_multicast(a, (const uint8_t (*)[6])list, n);
	}
	case STEP_LPE:
		return igbvf_set_lpe(a, 1518 + 4 * (i & 1));
	case STEP_DOWN:
		return igbvf_down(a);
	case STEP_RESET:
		return i % 4 == 3 ? igbvf_reset(a) : 1;	/* 1: skipped */
	case STEP_UP:
		return igbvf_up(a, a->irq_mode);
	default:
		return -EINVAL;
	}
}

bool opsetloop_poll(uint64_t now, uint64_t *next)
{
	if (ol.finished)
		return false;
	if (now < ol.next_us) {
		if (ol.next_us < *next)
			*next = ol.next_us;
		return false;
	}
	int ret = do_step(ol.a, ol.step, ol.iteration);
	if (ret < 0) {
		if (ol.errors++ < 10)
			printf("opsetloop: iteration %u: %s failed (%d)\n", (unsigned)ol.iteration, step_names[ol.step],
			       ret);
	} else if (ret == 0) {
		ol.opsets++;
	}
	if (++ol.step == STEP_COUNT) {
		ol.step = STEP_MAC;
		ol.iteration++;
		if (ol.progress && ol.iteration % ol.progress == 0)
			printf("opsetloop: %u iterations, %u errors\n", (unsigned)ol.iteration, (unsigned)ol.errors);
		if (ol.loops && ol.iteration >= ol.loops) {
			ol.finished = true;
			printf("opsetloop: done: %u iterations (%u op sets), %u errors\n", (unsigned)ol.iteration,
			       (unsigned)ol.opsets, (unsigned)ol.errors);
		}
	}
	ol.next_us = now + ol.pause_us;
	return true;
}

bool opsetloop_done(void)
{
	return ol.finished;
}

void opsetloop_report(void)
{
	printf("opsetloop: %u iterations, %u errors, at %s\n", (unsigned)ol.iteration, (unsigned)ol.errors,
	       step_names[ol.step]);
}
