/* Operation sets: the interface state machine as a const table, the
 * recording calls, the replay, and the check of an untrusted record.
 * See opset.h for the protocol. */
#include "opset.h"

#include "../common/csc_errno.h"
#include "regclass.h"
#include "util.h"

#define BAD 0xff

/* next_state[state][op]: where op leads from state, BAD if not allowed. */
static const uint8_t next_state[CSC_IF_NSTATES][CSC_OP_COUNT] = {
	[CSC_IF_UNINIT] = {
		[CSC_OP_NONE] = BAD, [CSC_OP_INIT] = CSC_IF_DOWN, [CSC_OP_UP] = BAD,
		[CSC_OP_DOWN] = BAD, [CSC_OP_SET_MAC] = BAD, [CSC_OP_SET_MC] = BAD,
		[CSC_OP_SET_LPE] = BAD, [CSC_OP_CONFIG_INTR] = BAD, [CSC_OP_CONFIG_RINGS] = BAD,
	},
	[CSC_IF_DOWN] = {
		[CSC_OP_NONE] = BAD, [CSC_OP_INIT] = CSC_IF_DOWN, [CSC_OP_UP] = CSC_IF_UP,
		[CSC_OP_DOWN] = BAD, [CSC_OP_SET_MAC] = CSC_IF_DOWN, [CSC_OP_SET_MC] = CSC_IF_DOWN,
		[CSC_OP_SET_LPE] = CSC_IF_DOWN, [CSC_OP_CONFIG_INTR] = CSC_IF_DOWN,
		[CSC_OP_CONFIG_RINGS] = CSC_IF_DOWN,
	},
	[CSC_IF_UP] = {
		[CSC_OP_NONE] = BAD, [CSC_OP_INIT] = BAD, [CSC_OP_UP] = BAD,
		[CSC_OP_DOWN] = CSC_IF_DOWN, [CSC_OP_SET_MAC] = CSC_IF_UP, [CSC_OP_SET_MC] = CSC_IF_UP,
		[CSC_OP_SET_LPE] = CSC_IF_UP, [CSC_OP_CONFIG_INTR] = CSC_IF_UP,
		[CSC_OP_CONFIG_RINGS] = BAD,
	},
};

/* Which parameters each op set may record. */
#define R_MAC	0x01u
#define R_MC	0x02u
#define R_LPE	0x04u
#define R_INTR	0x08u
#define R_RING	0x10u

static const uint8_t records_in[CSC_OP_COUNT] = {
	[CSC_OP_INIT] = R_MAC | R_MC | R_LPE,	/* igbvf's reset path re-applies them */
	[CSC_OP_UP] = R_INTR | R_RING,
	[CSC_OP_SET_MAC] = R_MAC,
	[CSC_OP_SET_MC] = R_MC,
	[CSC_OP_SET_LPE] = R_LPE,
	[CSC_OP_CONFIG_INTR] = R_INTR,
	[CSC_OP_CONFIG_RINGS] = R_RING,
};

void csc_rec_init(struct csc_rec *rec)
{
	csc_zero(rec, sizeof(*rec));
	rec->state = CSC_IF_UNINIT;
	rec->in_progress = CSC_OP_NONE;
}

size_t csc_rec_size(void)
{
	return sizeof(struct csc_rec);
}

int csc_opset_next_state(enum csc_if_state state, enum csc_opset op)
{
	if ((unsigned)state >= CSC_IF_NSTATES || (unsigned)op >= CSC_OP_COUNT)
		return -EINVAL;
	return next_state[state][op] == BAD ? -EINVAL : next_state[state][op];
}

int csc_opset_begin(struct csc_rec *rec, enum csc_opset op)
{
	if (rec->in_progress != CSC_OP_NONE)
		return -EBUSY;
	if (csc_opset_next_state((enum csc_if_state)rec->state, op) < 0)
		return -EINVAL;
	if (op == CSC_OP_INIT) {
		/* The reset makes the VF and the PF forget every setting
		 * and disables the queues: so does the record. */
		rec->have = 0;
		for (unsigned i = 0; i < CSC_REC_RINGS; i++)
			rec->rings[i].valid = 0;
	}
	rec->in_progress = op;
	return 0;
}

int csc_opset_end(struct csc_rec *rec, enum csc_opset op)
{
	int next;

	if (op == CSC_OP_NONE || rec->in_progress != (uint32_t)op)
		return -EINVAL;
	next = csc_opset_next_state((enum csc_if_state)rec->state, op);
	if (next < 0)
		return next;
	rec->state = (uint32_t)next;
	rec->in_progress = CSC_OP_NONE;
	rec->seq++;
	return 0;
}

void csc_opset_abort(struct csc_rec *rec)
{
	rec->in_progress = CSC_OP_NONE;
}

static int may_record(const struct csc_rec *rec, unsigned what)
{
	return rec->in_progress < CSC_OP_COUNT && (records_in[rec->in_progress] & what);
}

static int mac_ok(const uint8_t mac[6])
{
	unsigned any = 0;

	for (int i = 0; i < 6; i++)
		any |= mac[i];
	return any && !(mac[0] & 1);	/* unicast, not zero: what the PF accepts */
}

int csc_rec_mac(struct csc_rec *rec, const uint8_t mac[6])
{
	if (!may_record(rec, R_MAC) || !mac_ok(mac))
		return -EINVAL;
	csc_copy(rec->mac, mac, 6);
	rec->have |= CSC_HAVE_MAC;
	return 0;
}

int csc_rec_mc(struct csc_rec *rec, const uint8_t (*list)[6], unsigned n)
{
	if (!may_record(rec, R_MC) || (n && !list))
		return -EINVAL;
	if (n > CSC_REC_MAX_MC)
		n = CSC_REC_MAX_MC;
	csc_zero(rec->mc, sizeof(rec->mc));
	csc_copy(rec->mc, list, (size_t)n * 6);
	rec->mc_count = n;
	rec->have |= CSC_HAVE_MC;
	return 0;
}

int csc_rec_lpe(struct csc_rec *rec, uint32_t max_frame)
{
	if (!may_record(rec, R_LPE) || max_frame < CSC_MAX_FRAME_MIN || max_frame > CSC_MAX_FRAME_MAX)
		return -EINVAL;
	rec->max_frame = max_frame;
	rec->have |= CSC_HAVE_LPE;
	return 0;
}

int csc_rec_intr(struct csc_rec *rec, const struct csc_intr_rec *intr)
{
	if (!may_record(rec, R_INTR))
		return -EINVAL;
	rec->intr = *intr;
	rec->have |= CSC_HAVE_INTR;
	return 0;
}

/* Ring geometry the device accepts; NULL or why not. */
static const char *ring_problem(unsigned dir, unsigned queue, uint64_t base, uint32_t len, uint32_t buf_size)
{
	if (dir > CSC_RING_RX)
		return "direction unknown";
	if (queue >= CSC_REC_QUEUES)
		return "queue out of range";
	if (base & (CSC_RING_ALIGN - 1))
		return "base not 32-byte aligned (the register drops bits 4:0)";
	if (len == 0 || len % CSC_RING_LEN_UNIT || len > CSC_RING_LEN_MAX)
		return "length not a non-zero multiple of 128 within RDLEN/TDLEN";
	if (buf_size > CSC_BUF_SIZE_MAX)
		return "buffer size above 127 KiB";
	if (dir == CSC_RING_RX && (buf_size == 0 || buf_size % 1024))
		return "RX buffer size not a non-zero multiple of 1 KiB";
	return 0;
}

int csc_rec_ring(struct csc_rec *rec, enum csc_ring_dir dir, unsigned queue, uint64_t base, uint32_t len,
		 uint32_t buf_size)
{
	if (!may_record(rec, R_RING) || ring_problem(dir, queue, base, len, buf_size))
		return -EINVAL;
	struct csc_ring_rec *r = &rec->rings[dir * CSC_REC_QUEUES + queue];
	csc_zero(r, sizeof(*r));
	r->base = base;
	r->len = len;
	r->buf_size = buf_size;
	r->dir = (uint8_t)dir;
	r->queue = (uint8_t)queue;
	r->valid = 1;
	return 0;
}

int csc_opset_write_ok(const struct csc_rec *rec, uint32_t offset)
{
	enum csc_reg_class cls = csc_reg_class(offset);

	if (cls == CSC_REG_OPSET || cls == CSC_REG_REPLAYED)
		return rec->in_progress != CSC_OP_NONE;
	return 1;
}

/* The state the replay restores: see csc_rec_replay in opset.h. An op set
 * in progress that is not valid from the state (only possible in a
 * damaged record) is ignored: the committed state is the safe choice. */
static enum csc_if_state replay_target(const struct csc_rec *rec, int *rolled)
{
	enum csc_if_state state = rec->state < CSC_IF_NSTATES ? (enum csc_if_state)rec->state : CSC_IF_UNINIT;
	int next = rec->in_progress != CSC_OP_NONE
			   ? csc_opset_next_state(state, (enum csc_opset)rec->in_progress)
			   : -EINVAL;

	*rolled = next >= 0;
	return next >= 0 ? (enum csc_if_state)next : state;
}

int csc_rec_replay(struct csc_rec *rec, const struct csc_replay_ops *ops, void *ctx)
{
	int rolled, ret;
	enum csc_if_state target;

	if (!ops || !ops->reset || !ops->set_mac || !ops->update_mc || !ops->set_lpe || !ops->configure_rings ||
	    !ops->configure_interrupts || !ops->up || !ops->down)
		return -EINVAL;
	target = replay_target(rec, &rolled);
	if (target == CSC_IF_UNINIT)
		goto done;
	if ((ret = ops->reset(ctx)))
		return ret;
	if ((rec->have & CSC_HAVE_MAC) && (ret = ops->set_mac(ctx, rec->mac)))
		return ret;
	if (rec->have & CSC_HAVE_MC) {
		unsigned n = rec->mc_count <= CSC_REC_MAX_MC ? rec->mc_count : CSC_REC_MAX_MC;
		if ((ret = ops->update_mc(ctx, (const uint8_t (*)[6])rec->mc, n)))
			return ret;
	}
	if ((rec->have & CSC_HAVE_LPE) && (ret = ops->set_lpe(ctx, rec->max_frame)))
		return ret;
	if (target == CSC_IF_DOWN) {
		if ((ret = ops->down(ctx)))
			return ret;
		goto done;
	}
	for (unsigned i = 0; i < CSC_REC_RINGS; i++)
		if (rec->rings[i].valid && (ret = ops->configure_rings(ctx, &rec->rings[i])))
			return ret;
	if ((rec->have & CSC_HAVE_INTR) && (ret = ops->configure_interrupts(ctx, &rec->intr)))
		return ret;
	if (ops->restore_regs && (ret = ops->restore_regs(ctx)))
		return ret;
	if ((ret = ops->up(ctx)))
		return ret;
done:
	rec->state = target;
	rec->in_progress = CSC_OP_NONE;
	if (rolled)
		rec->seq++;
	return 0;
}

static int fail(struct csc_msg *m, const char *what, uint64_t value, const char *why)
{
	csc_msg_str(m, what);
	csc_msg_str(m, " ");
	csc_msg_dec(m, value);
	csc_msg_str(m, why);
	return -EINVAL;
}

int csc_rec_validate(const struct csc_rec *rec, uint64_t ram_size, char *err, size_t errlen)
{
	struct csc_msg m;

	csc_msg_init(&m, err, errlen);
	if (rec->state >= CSC_IF_NSTATES)
		return fail(&m, "interface state", rec->state, " unknown");
	if (rec->in_progress >= CSC_OP_COUNT)
		return fail(&m, "op set in progress", rec->in_progress, " unknown");
	if (rec->in_progress != CSC_OP_NONE &&
	    csc_opset_next_state((enum csc_if_state)rec->state, (enum csc_opset)rec->in_progress) < 0) {
		csc_msg_str(&m, "op set ");
		csc_msg_str(&m, csc_opset_name((enum csc_opset)rec->in_progress));
		csc_msg_str(&m, " in progress is not allowed in state ");
		csc_msg_str(&m, csc_if_state_name((enum csc_if_state)rec->state));
		return -EINVAL;
	}
	if (rec->have & ~CSC_HAVE_ALL)
		return fail(&m, "settings mask", rec->have, " has unknown bits");
	if (rec->mc_count > CSC_REC_MAX_MC)
		return fail(&m, "multicast count", rec->mc_count, " exceeds 30");
	if ((rec->have & CSC_HAVE_LPE) && (rec->max_frame < CSC_MAX_FRAME_MIN || rec->max_frame > CSC_MAX_FRAME_MAX))
		return fail(&m, "max frame", rec->max_frame, " outside 64..16128");
	if ((rec->have & CSC_HAVE_MAC) && !mac_ok(rec->mac)) {
		csc_msg_str(&m, "MAC address is not a unicast address");
		return -EINVAL;
	}
	for (unsigned i = 0; i < CSC_REC_RINGS; i++) {
		const struct csc_ring_rec *r = &rec->rings[i];
		const char *why;
		if (r->valid == 0)
			continue;
		if (r->valid != 1)
			return fail(&m, "ring", i, ": valid flag is neither 0 nor 1");
		if ((unsigned)r->dir * CSC_REC_QUEUES + r->queue != i)
			return fail(&m, "ring", i, ": direction/queue do not match its slot");
		if ((why = ring_problem(r->dir, r->queue, r->base, r->len, r->buf_size))) {
			fail(&m, "ring", i, ": ");
			csc_msg_str(&m, why);
			return -EINVAL;
		}
		if (r->base >= ram_size || r->len > ram_size - r->base) {
			fail(&m, "ring", i, ": descriptors at ");
			csc_msg_hex(&m, r->base);
			csc_msg_str(&m, " + ");
			csc_msg_hex(&m, r->len);
			csc_msg_str(&m, " are beyond guest RAM");
			return -EINVAL;
		}
	}
	return 0;
}

const char *csc_opset_name(enum csc_opset op)
{
	static const char *const names[CSC_OP_COUNT] = {
		[CSC_OP_NONE] = "none",		  [CSC_OP_INIT] = "init",
		[CSC_OP_UP] = "up",		  [CSC_OP_DOWN] = "down",
		[CSC_OP_SET_MAC] = "set-mac",	  [CSC_OP_SET_MC] = "set-multicast",
		[CSC_OP_SET_LPE] = "set-lpe",	  [CSC_OP_CONFIG_INTR] = "config-interrupts",
		[CSC_OP_CONFIG_RINGS] = "config-rings",
	};

	return (unsigned)op < CSC_OP_COUNT ? names[op] : "?";
}

const char *csc_if_state_name(enum csc_if_state state)
{
	static const char *const names[CSC_IF_NSTATES] = {
		[CSC_IF_UNINIT] = "uninitialised", [CSC_IF_DOWN] = "down", [CSC_IF_UP] = "up",
	};

	return (unsigned)state < CSC_IF_NSTATES ? names[state] : "?";
}
