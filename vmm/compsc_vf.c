/* CompSC on the hypervisor side, for one VF (the VF device's migration
 * hooks; the guest side is the igbvf driver, the shared pieces compsc/).
 *
 *   stage            source (this VMM)                  destination
 *   pre-migration    migrating = 1 in the shared area
 *   stop-and-copy    write lock (bounded wait: no op set
 *                    is half done), vCPUs pause, the PF
 *                    stops the VF's queues (no more DMA),
 *                    copy the area once and validate it,
 *                    every DMA region counted dirty,
 *                    I/O registers and the counters' final
 *                    readings staged from the PF's
 *                    side-effect-free view, held frames
 *                    taken from the PF -> VF state record  load: the VF gets the
 *                                                        source VF's MAC (PF assign)
 *   activation                                           version += 1, migrating = 0,
 *                                                        unlock; once the vCPUs
 *                                                        run: held frames injected,
 *                                                        the queues restart
 *   failure before   unlock, migrating = 0, the PF
 *   commitment       restarts the VF, held frames back
 *
 * The shared area is guest memory and the guest is hostile: the live area
 * is touched only through the lock/flag/version helpers of
 * compsc/shared_area.h after csc_area_locate; everything else is read from
 * one copy that csc_area_validate accepted. The NIC is another process:
 * its replies are checked. A guest without the area (compsc=off) still
 * migrates: that is the negative control, and what breaks is its own. */
#include "compsc_vf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/hex.h"
#include "../common/layout.h"
#include "../common/log.h"
#include "../common/mac.h"
#include "../compsc/heldq.h"
#include "../compsc/shared_area.h"
#include "migration/migration.h"
#include "migration/stream.h"
#include "pf_client.h"
#include "vm.h"

#define WRITE_LOCK_WAITS 2000		/* x 100 us: the driver leaves its op set within 200 ms */
#define HELD_MAX_FRAMES 256		/* the NIC's RX buffer holds at most this many */
#define HELD_MAX_BYTES (512u << 10)

/* VF state record, version 1 (little-endian):
 *   u64 area GPA (0: the guest has no CompSC area) | u8 mac[6] | u8 flags
 *   | u8 0 | u32 held frames | u32 blob bytes | blob (compsc/heldq.h)
 * flags bit 0: the source's slot was empty (the VF hot-unplugged, as in
 * the bonding baseline): nothing else is set, and the destination's slot
 * must be empty too (--vf-unplugged), since the guest has released it. */
#define CSC_VF_HDR 24
#define CSC_VF_F_EMPTY 0x01

static struct csc_shared_area *live_area(struct vf_device *d)
{
	uint64_t gpa = atomic_load(&d->vm->compsc_area_gpa);

	if (!gpa || csc_area_locate(gpa, d->vm->ram_size, NULL, 0) < 0)
		return NULL;
	return vm_gpa_to_hva(d->vm, gpa, CSC_AREA_SIZE);
}

/* Waiting for the write lock: the driver is most often in a read section
 * of a few microseconds (every send and receive takes one), seldom in an
 * op set. So spin a little first, then sleep: the wait counts in the
 * downtime (the quiesce comes after the pause is timed). */
#define QUIESCE_SPINS 64		/* x ~1 us */

static void quiesce_wait(void *ctx)
{
	unsigned *waits = ctx;

	if ((*waits)++ < QUIESCE_SPINS) {
		uint64_t end = now_ns() + 1000;
		while (now_ns() < end)
			__builtin_ia32_pause();
		return;
	}
	struct timespec ts = { 0, 100000 };
	nanosleep(&ts, NULL);
}

static int pf_simple(struct vf_device *d, const char *cmd, char *err, size_t errlen)
{
	char line[64];

	snprintf(line, sizeof(line), "%s %d", cmd, d->vf_index);
	json_t *r = pf_call(d->pf_path, line, err, errlen);
	json_decref(r);
	return r ? 0 : -EIO;
}

void compsc_vf_attached(struct vf_device *d)
{
	char err[300];

	/* A new owner: whatever an earlier VMM's migration left (queues
	 * stopped by the PF at its stop-and-copy) does not carry over. */
	if (d->vf_index >= 0 && pf_simple(d, "enable", err, sizeof(err)) < 0)
		log_debug("vf%u: cannot reach the PF to restart the VF's queues: %s", d->instance, err);
}

/* The VF's MAC as the PF has it assigned. 0, or -ENOENT. */
static int read_mac(struct vf_device *d, uint8_t mac[6])
{
	char err[300];
	int ret = -ENOENT;
	json_t *list = pf_call(d->pf_path, "list", err, sizeof(err));
	json_t *vfs = list ? json_object_get(list, "vfs") : NULL, *v;
	size_t i;

	json_array_foreach(vfs, i, v)
		if (json_integer_value(json_object_get(v, "vf")) == d->vf_index && json_is_string(json_object_get(v, "mac")))
			ret = mac_parse(json_string_value(json_object_get(v, "mac")), mac) == 0 ? 0 : -ENOENT;
	json_decref(list);
	return ret;
}

void compsc_vf_migrate_begin(void *dev)
{
	struct vf_device *d = dev;
	struct csc_shared_area *a = atomic_load(&d->present) ? live_area(d) : NULL;

	if (!atomic_load(&d->present))
		return;	/* an empty slot: nothing to carry */
	d->csc_have_mac = d->vf_index >= 0 && read_mac(d, d->csc_mac) == 0;

	if (!a) {
		log_warn("vf%u: the guest registered no CompSC shared area (compsc=off?): its VF state will not "
			 "follow it", d->instance);
		return;
	}
	d->held_out = d->held_dropped = d->tx_unsent = 0;
	csc_area_set_migrating(a, 1);
	vm_mark_dirty(d->vm, atomic_load(&d->vm->compsc_area_gpa), CSC_AREA_SIZE);
	/* Keep what is sent of the DMA regions, so that stop-and-copy sends
	 * only the pages the VF changed since (mig_mark_dma_dirty). A region
	 * not watched (invalid area, too much memory) is sent whole then. */
	struct csc_shared_area copy;
	char err[200];
	memcpy(&copy, a, sizeof(copy));
	if (csc_area_validate(&copy, sizeof(copy), d->vm->ram_size, err, sizeof(err)) < 0)
		return;	/* stop-and-copy refuses it, with the reason */
	for (uint32_t k = 0; k < copy.n_dma; k++)
		if (mig_watch_dma(d->vm, copy.dma[k].gpa, copy.dma[k].len) < 0)
			log_info("vf%u: DMA region %u not watched: sent whole at stop-and-copy", d->instance, k);
}

/* The source's stop, in one round trip to the PF: stop the VF's queues
 * (what arrives for the VM from then on is held in the NIC's buffer), its
 * registers as the PF sees them (no read side effects), and the frames
 * held so far. Sent here, its replies read by stop_recv. */
enum { STOP_DISABLE, STOP_REGS, STOP_TAKE, STOP_N };

static void stop_lines(const struct vf_device *d, char text[STOP_N][32], const char *lines[STOP_N])
{
	static const char *const cmd[STOP_N] = { "disable", "regs", "take" };

	for (unsigned i = 0; i < STOP_N; i++) {
		snprintf(text[i], sizeof(text[i]), "%s %d", cmd[i], d->vf_index);
		lines[i] = text[i];
	}
}

static void stop_send(struct vf_device *d)
{
	char text[STOP_N][32], err[300];
	const char *lines[STOP_N];

	stop_lines(d, text, lines);
	d->stop_fd = pf_batch_send(d->pf_path, lines, STOP_N, err, sizeof(err));
	if (d->stop_fd < 0)
		log_warn("vf%u: cannot reach the PF at quiesce: %s", d->instance, err);
}

/* The stop's replies, indexed STOP_*: each NULL on failure (reason in
 * err). A stop never sent is sent now. */
static void stop_recv(struct vf_device *d, json_t *rep[STOP_N], char *err, size_t errlen)
{
	char text[STOP_N][32];
	const char *lines[STOP_N];

	if (d->stop_fd < 0)
		stop_send(d);
	stop_lines(d, text, lines);
	if (d->stop_fd >= 0) {
		pf_batch_recv(d->stop_fd, d->pf_path, lines, STOP_N, rep, err, errlen);
	} else {
		for (unsigned i = 0; i < STOP_N; i++)
			rep[i] = NULL;
		snprintf(err, errlen, "%s: cannot connect", d->pf_path);
	}
	d->stop_fd = -1;
}

int compsc_vf_migrate_quiesce(void *dev, char *err, size_t errlen)
{
	struct vf_device *d = dev;
	struct csc_shared_area *a = atomic_load(&d->present) ? live_area(d) : NULL;

	if (!a)
		return 0;
	unsigned waits = 0;
	if (csc_area_try_write_lock(a, QUIESCE_SPINS + WRITE_LOCK_WAITS, quiesce_wait, &waits) < 0) {
		snprintf(err, errlen, "vf%u: the guest's driver did not leave its operation set within %d ms",
			 d->instance, WRITE_LOCK_WAITS / 10);
		return -ETIMEDOUT;
	}
	d->csc_locked = true;
	vm_mark_dirty(d->vm, atomic_load(&d->vm->compsc_area_gpa), CSC_AREA_SIZE);
	/* The driver is out of the VF now (the lock): the PF may stop it
	 * while the vCPUs pause, and save collects the replies. */
	stop_send(d);
	return 0;
}

/* The PF's side-effect-free view of the source VF's registers. */
struct regs_ctx {
	json_t *regs;
};

static int read_reg(void *ctx, uint32_t offset, uint32_t *value)
{
	struct regs_ctx *c = ctx;
	const char *name;
	json_t *r;

	json_object_foreach(c->regs, name, r) {
		if (json_integer_value(json_object_get(r, "offset")) == (json_int_t)offset) {
			*value = (uint32_t)json_integer_value(json_object_get(r, "value"));
			return 0;
		}
	}
	return -ENOENT;
}

/* TX descriptors between the head and the tail of each queue, as the
 * stopped source VF left them: posted by the guest, never sent. The
 * migrated ring still holds them and the restored driver reposts them on
 * the destination. */
static uint32_t tx_unsent(struct regs_ctx *rc)
{
	uint32_t total = 0;

	for (unsigned n = 0; n < VF_NUM_QUEUES; n++) {
		uint32_t len, head, tail;
		if (read_reg(rc, VF_TDLEN(n), &len) < 0 || read_reg(rc, VF_TDH(n), &head) < 0 ||
		    read_reg(rc, VF_TDT(n), &tail) < 0)
			continue;
		uint32_t entries = len / 16;
		if (entries && head < entries && tail < entries)
			total += (tail + entries - head) % entries;
	}
	return total;
}

/* The frames of one "take" reply into q; returns how many the NIC still
 * holds. */
static json_int_t add_taken(struct vf_device *d, struct csc_heldq *q, json_t *reply)
{
	uint8_t frame[CSC_HELDQ_MAX_FRAME];
	json_t *frames = json_object_get(reply, "frames"), *f;
	size_t i;

	json_array_foreach(frames, i, f) {
		const char *hex = json_string_value(f);
		size_t len = hex ? strlen(hex) / 2 : 0;
		/* Not a frame we can carry (the NIC is another process): counted
		 * as dropped, like a frame the queue has no room for. */
		if (!hex || len > sizeof(frame) || hex_decode(frame, hex, len) < 0 || csc_heldq_push(q, frame, len) < 0)
			d->held_dropped++;
	}
	return json_integer_value(json_object_get(reply, "left"));
}

/* The held frames into q, a "take" at a time (each reply carries a
 * bounded number); first: a reply already received, or NULL. */
static int take_held(struct vf_device *d, struct csc_heldq *q, json_t *first, char *err, size_t errlen)
{
	char line[64];

	if (first && add_taken(d, q, first) <= 0)
		return 0;
	snprintf(line, sizeof(line), "take %d", d->vf_index);
	for (int round = 0; round < 64; round++) {
		json_t *r = pf_call(d->pf_path, line, err, errlen);
		if (!r)
			return -EIO;
		json_int_t left = add_taken(d, q, r);
		json_decref(r);
		if (left <= 0)
			return 0;
	}
	return 0;
}

/* A heldq blob from the stream (hostile): parsed into scratch storage to
 * check it whole. 0, or -errno with the reason in err. */
static int check_held_blob(const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	struct csc_heldq q;
	void *storage = malloc(len ? len : 1);
	int ret;

	if (!storage)
		return -ENOMEM;
	ret = csc_heldq_init(&q, storage, len ? len : 1, HELD_MAX_FRAMES);
	if (ret == 0)
		ret = csc_heldq_load(&q, blob, len, err, errlen);
	free(storage);
	return ret;
}

/* Keeps a private copy of a blob in *dst (replacing what was there). */
static int keep_blob(uint8_t **dst, size_t *dst_len, const uint8_t *blob, size_t len)
{
	free(*dst);
	*dst = malloc(len ? len : 1);
	*dst_len = *dst ? len : 0;
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, blob, len);
	return 0;
}

/* The frames of a "take" reply, and of the takes after it (taken NULL:
 * fresh takes only), as a heldq blob in *dst (replacing it; left alone if
 * there are none). */
static void keep_taken(struct vf_device *d, json_t *taken, uint8_t **dst, size_t *dst_len)
{
	struct csc_heldq q;
	char err[300];
	size_t blob_len;
	uint8_t *storage = malloc(HELD_MAX_BYTES);

	if (!storage || csc_heldq_init(&q, storage, HELD_MAX_BYTES, HELD_MAX_FRAMES) < 0) {
		log_warn("vf%u: out of memory: held frames lost", d->instance);
		free(storage);
		return;
	}
	if (take_held(d, &q, taken, err, sizeof(err)) < 0)
		log_warn("vf%u: held frames: %s", d->instance, err);
	csc_heldq_blob(&q, &blob_len);
	if (csc_heldq_pending(&q))
		keep_blob(dst, dst_len, storage, blob_len);
	free(storage);
}

/* A save that cannot go on: the reason goes to the log and to the
 * migration's report. */
static int save_fail(struct vf_device *d, char *why, size_t whylen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	log_error("vf%u: %s", d->instance, why);
	return ret;
}

int compsc_vf_save(void *dev, uint8_t *buf, size_t cap, size_t *len, char *why, size_t whylen)
{
	struct vf_device *d = dev;
	struct csc_shared_area *a = live_area(d);
	uint64_t gpa = a ? atomic_load(&d->vm->compsc_area_gpa) : 0;
	char err[300];
	int ret;

	if (cap < CSC_VF_HDR)
		return -ENOSPC;
	if (!atomic_load(&d->present)) {
		memset(buf, 0, CSC_VF_HDR);
		buf[14] = CSC_VF_F_EMPTY;
		*len = CSC_VF_HDR;
		log_info("vf%u: the slot is empty: nothing but that is migrated", d->instance);
		return 0;
	}
	/* 1. No more DMA (stop_send, at quiesce or now). A failed "disable"
	 * can only mean no such VF, and then the others fail too. */
	json_t *rep[STOP_N];
	stop_recv(d, rep, err, sizeof(err));
	json_t *stopped = rep[STOP_DISABLE], *regs = rep[STOP_REGS], *taken = rep[STOP_TAKE];
	if (!a) {	/* no area to stage the registers in (compsc=off) */
		json_decref(regs);
		regs = NULL;
	}
	if (!stopped) {
		d->csc_disabled = true;	/* it may have stopped all the same: abort restarts it */
		if (taken)
			keep_taken(d, taken, &d->held_blob, &d->held_blob_len);
		json_decref(regs);
		json_decref(taken);
		return save_fail(d, why, whylen, -EIO, "cannot stop the source VF's queues: %s", err);
	}
	json_decref(stopped);
	d->csc_disabled = true;
	/* 2. Frames held since the stop go with the VM; kept here at once, so
	 * that a save failing below gives them back to the VF (abort). */
	struct csc_heldq q;
	size_t room = cap - CSC_VF_HDR;
	if (csc_heldq_init(&q, buf + CSC_VF_HDR, room < HELD_MAX_BYTES ? room : HELD_MAX_BYTES, HELD_MAX_FRAMES) < 0) {
		keep_taken(d, taken, &d->held_blob, &d->held_blob_len);
		json_decref(regs);
		json_decref(taken);
		return save_fail(d, why, whylen, -ENOSPC, "no room for the held frames in the device record");
	}
	if ((ret = take_held(d, &q, taken, err, sizeof(err))) < 0)
		log_warn("vf%u: held frames: %s", d->instance, err);
	json_decref(taken);
	size_t blob_len;
	csc_heldq_blob(&q, &blob_len);
	d->held_out = csc_heldq_pending(&q);
	keep_blob(&d->held_blob, &d->held_blob_len, buf + CSC_VF_HDR, blob_len);
	/* 3. The VF's MAC, for the destination's VF (read at pre-migration,
	 * outside the downtime, when that worked). */
	uint8_t mac[6] = { 0 };
	if (d->csc_have_mac || read_mac(d, d->csc_mac) == 0)
		memcpy(mac, d->csc_mac, 6);
	if (a) {
		/* 4. One copy of the area, validated; DMA regions and the area
		 * itself dirty; I/O registers staged for the driver. */
		struct csc_shared_area copy;
		memcpy(&copy, a, sizeof(copy));
		if (csc_area_validate(&copy, sizeof(copy), d->vm->ram_size, err, sizeof(err)) < 0) {
			json_decref(regs);
			return save_fail(d, why, whylen, -EINVAL, "the guest's CompSC shared area is invalid: %s", err);
		}
		/* The VF is stopped: what it wrote since the driver's last
		 * dummy writes is final now. */
		uint64_t dma_pages = 0, dma_changed = 0;
		for (uint32_t k = 0; k < copy.n_dma; k++) {
			uint64_t first = copy.dma[k].gpa / CSC_PAGE_SIZE;
			dma_pages += (copy.dma[k].gpa + copy.dma[k].len - 1) / CSC_PAGE_SIZE - first + 1;
			dma_changed += mig_mark_dma_dirty(d->vm, copy.dma[k].gpa, copy.dma[k].len);
		}
		log_info("vf%u: DMA regions: %" PRIu64 " of %" PRIu64 " pages differ from what was sent", d->instance,
			 dma_changed, dma_pages);
		if (!regs) {
			return save_fail(d, why, whylen, -EIO, "cannot read the source VF's registers: %s", err);
		}
		struct regs_ctx rc = { json_object_get(regs, "regs") };
		d->tx_unsent = tx_unsent(&rc);
		ret = csc_area_stage_ioregs(a, &copy, read_reg, &rc);
		if (ret == 0)
			ret = csc_area_stage_counters(a, &copy, read_reg, &rc);
		json_decref(regs);
		if (ret < 0) {
			return save_fail(d, why, whylen, ret, "cannot stage the I/O registers and final counter readings");
		}
		vm_mark_dirty(d->vm, gpa, CSC_AREA_SIZE);
	}
	mig_put64(buf, gpa);
	memcpy(buf + 8, mac, 6);
	buf[14] = buf[15] = 0;
	mig_put32(buf + 16, d->held_out);
	mig_put32(buf + 20, (uint32_t)blob_len);
	*len = CSC_VF_HDR + blob_len;
	log_info("vf%u: CompSC state saved: area 0x%" PRIx64 ", %u frames held (%u dropped)", d->instance, gpa,
		 d->held_out, d->held_dropped);
	return 0;
}

/* Held frames go back to a VF as "inject" lines, INJECT_BATCH to a round
 * trip: the guest waits for them. */
#define INJECT_BATCH 16

struct inject_batch {
	struct vf_device *d;
	char *lines[INJECT_BATCH];
	unsigned n, failed;
	char err[300];
};

static void inject_flush(struct inject_batch *b)
{
	json_t *rep[INJECT_BATCH];
	char err[300];

	if (!b->n)
		return;
	if (pf_call_batch(b->d->pf_path, (const char *const *)b->lines, b->n, rep, err, sizeof(err)) < 0 &&
	    !b->err[0])
		snprintf(b->err, sizeof(b->err), "%s", err);
	for (unsigned i = 0; i < b->n; i++) {
		b->failed += !rep[i];
		json_decref(rep[i]);
		free(b->lines[i]);
	}
	b->n = 0;
}

static int inject(void *ctx, const uint8_t *frame, size_t len)
{
	struct inject_batch *b = ctx;
	/* A jumbo frame does not fit a pf.sock line: it is dropped, counted. */
	char *line = 32 + 2 * len < PF_LINE_MAX ? malloc(32 + 2 * len) : NULL;

	if (!line) {
		b->failed++;
		return 0;	/* the frames after it still go */
	}
	int n = sprintf(line, "inject %d ", b->d->vf_index);
	hex_encode(line + n, frame, len);
	line[n + 2 * len] = '\0';
	b->lines[b->n++] = line;
	if (b->n == INJECT_BATCH)
		inject_flush(b);
	return 0;
}

static void deliver_held(struct vf_device *d, const uint8_t *blob, size_t len)
{
	struct csc_heldq q;
	struct inject_batch b = { .d = d };
	char err[200];
	void *storage = malloc(len ? len : 1);

	if (!storage || csc_heldq_init(&q, storage, len ? len : 1, HELD_MAX_FRAMES) < 0 ||
	    csc_heldq_load(&q, blob, len, err, sizeof(err)) < 0) {
		free(storage);
		return;
	}
	uint32_t n = csc_heldq_pending(&q);
	csc_heldq_deliver(&q, inject, &b);
	inject_flush(&b);
	if (b.failed)
		log_warn("vf%u: %u of %u held frames could not be injected: %s", d->instance, b.failed, n,
			 b.err[0] ? b.err : "too long for pf.sock, or out of memory");
	if (n)
		log_info("vf%u: %u held frames delivered", d->instance, n - b.failed);
	free(storage);
}

/* Hands the kept frames to the VF, those held at stop-and-copy first
 * (then those taken after the destination announced the VM), and drops
 * them. */
static void deliver_kept(struct vf_device *d)
{
	if (d->held_blob)
		deliver_held(d, d->held_blob, d->held_blob_len);
	if (d->late_blob)
		deliver_held(d, d->late_blob, d->late_blob_len);
	free(d->held_blob);
	free(d->late_blob);
	d->held_blob = d->late_blob = NULL;
}

void compsc_vf_migrate_abort(void *dev)
{
	struct vf_device *d = dev;
	struct csc_shared_area *a = atomic_load(&d->present) ? live_area(d) : NULL;
	char err[300];

	if (!atomic_load(&d->present))
		return;

	uint8_t *first = NULL, *rest = NULL;
	size_t first_len = 0, rest_len = 0;
	if (d->stop_fd >= 0) {
		/* Stopped at quiesce, never saved (a later step failed): what
		 * the PF took goes back with the rest. Without a reply the NIC
		 * may have stopped the VF all the same: "enable" is harmless. */
		json_t *rep[STOP_N];
		stop_recv(d, rep, err, sizeof(err));
		d->csc_disabled = true;
		if (rep[STOP_TAKE])
			keep_taken(d, rep[STOP_TAKE], &first, &first_len);
		for (unsigned i = 0; i < STOP_N; i++)
			json_decref(rep[i]);
	}
	bool stopped = d->csc_disabled;
	/* Frames that came after the last take sit in the VF's buffer, ahead
	 * of where injected ones would go: take them as well, then give all
	 * back oldest first, then restart the queues. */
	if (stopped)
		keep_taken(d, NULL, &rest, &rest_len);
	deliver_kept(d);
	if (first)
		deliver_held(d, first, first_len);
	if (rest)
		deliver_held(d, rest, rest_len);
	free(first);
	free(rest);
	if (stopped && pf_simple(d, "enable", err, sizeof(err)) < 0)
		log_error("vf%u: cannot restart the VF's queues: %s", d->instance, err);
	d->csc_disabled = false;
	/* Past the stop the destination may have announced the VM (it does
	 * at load, and may even have run it before an orchestrator said
	 * resume-here): take the network back. */
	if (stopped && pf_simple(d, "announce", err, sizeof(err)) < 0)
		log_warn("vf%u: cannot announce the VM's MAC again: %s", d->instance, err);
	if (a) {
		csc_area_set_migrating(a, 0);
		if (d->csc_locked)
			csc_area_write_unlock(a);
	}
	d->csc_locked = false;
}

int compsc_vf_load(void *dev, uint32_t version, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct vf_device *d = dev;

	if (version != 1 || len < CSC_VF_HDR) {
		snprintf(err, errlen, "vf state: version %u of %zu bytes, this build loads version 1", version, len);
		return -EPROTO;
	}
	uint64_t gpa = mig_get64(buf);
	uint32_t blob_len = mig_get32(buf + 20);
	if (blob_len != len - CSC_VF_HDR || (gpa && csc_area_locate(gpa, d->vm->ram_size, err, errlen) < 0)) {
		if (gpa && blob_len == len - CSC_VF_HDR)
			return -EINVAL;
		snprintf(err, errlen, "vf state: %u bytes of held frames in a %zu-byte record", blob_len, len);
		return -EINVAL;
	}
	bool src_empty = buf[14] & CSC_VF_F_EMPTY;
	if (src_empty != !atomic_load(&d->present)) {
		snprintf(err, errlen, "vf%u: the source's slot is %s, this VMM's is %s (%s)", d->instance,
			 src_empty ? "empty (hot-unplugged)" : "attached", src_empty ? "attached" : "empty",
			 src_empty ? "start the destination with --vf-unplugged, then device-add"
				   : "the guest uses its VF: attach one with --vf");
		return -ENODEV;
	}
	if (src_empty)
		return 0;
	/* Checked as a whole before anything changes. */
	int ret = check_held_blob(buf + CSC_VF_HDR, blob_len, err, errlen);
	if (ret < 0)
		return ret;

	/* The destination's VF takes the VM's MAC, the way an orchestrator
	 * reserves a hostdev (the driver's restoration replays it anyway).
	 * Then the network learns the VM is here now, before READY, so that
	 * what the source still holds after READY is all it will ever get
	 * (sent in LATE_DEVICE) and nothing goes astray. Frames wait in this
	 * VF's buffer until the driver has restored it. One round trip:
	 * "arrive" holds and announces only if the MAC was taken. */
	static const uint8_t zero[6];
	char why[300], line[80], line2[32], mac_text[MAC_STR_LEN];
	json_t *r;
	if (memcmp(buf + 8, zero, 6) != 0) {
		snprintf(line, sizeof(line), "arrive %d mac=%s", d->vf_index, mac_format(buf + 8, mac_text));
		if (!(r = pf_call(d->pf_path, line, err, errlen)))
			return -EIO;
	} else {
		/* The source could not read its VF's MAC: this VF keeps its own. */
		const char *lines[2] = { line, line2 };
		json_t *rep[2];
		snprintf(line, sizeof(line), "hold %d", d->vf_index);
		snprintf(line2, sizeof(line2), "announce %d", d->vf_index);
		pf_call_batch(d->pf_path, lines, 2, rep, why, sizeof(why));
		if (!rep[0])
			log_warn("vf%u: cannot make the VF hold frames: %s", d->instance, why);
		json_decref(rep[0]);
		r = rep[1];
	}
	d->csc_announced = r && json_is_true(json_object_get(r, "announced"));
	if (!d->csc_announced)
		log_warn("vf%u: cannot announce the VM's MAC (activation tries again)", d->instance);
	json_decref(r);
	if (keep_blob(&d->held_blob, &d->held_blob_len, buf + CSC_VF_HDR, blob_len) < 0)
		return -ENOMEM;
	atomic_store(&d->vm->compsc_area_gpa, gpa);
	return 0;
}

int compsc_vf_late_save(void *dev, uint8_t *buf, size_t cap, size_t *len)
{
	struct vf_device *d = dev;
	struct csc_heldq q;
	char err[300];

	if (!d->csc_disabled) {
		*len = 0;
		return 0;
	}
	if (csc_heldq_init(&q, buf, cap < HELD_MAX_BYTES ? cap : HELD_MAX_BYTES, HELD_MAX_FRAMES) < 0)
		return -ENOSPC;
	if (take_held(d, &q, NULL, err, sizeof(err)) < 0)
		log_warn("vf%u: late held frames: %s", d->instance, err);
	csc_heldq_blob(&q, len);
	d->held_out += csc_heldq_pending(&q);
	keep_blob(&d->late_blob, &d->late_blob_len, buf, *len);
	log_info("vf%u: %u more frames held until the destination announced the VM", d->instance,
		 csc_heldq_pending(&q));
	return 0;
}

void compsc_vf_migrate_carried(void *dev, struct mig_carried *c)
{
	struct vf_device *d = dev;

	c->rx_held += d->held_out;
	c->rx_dropped += d->held_dropped;
	c->tx_unsent += d->tx_unsent;
}

int compsc_vf_late_load(void *dev, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct vf_device *d = dev;

	if (len == 0)
		return 0;
	int ret = check_held_blob(buf, len, err, errlen);
	return ret < 0 ? ret : keep_blob(&d->late_blob, &d->late_blob_len, buf, len);
}

void compsc_vf_activate(void *dev)
{
	struct vf_device *d = dev;
	struct csc_shared_area *a = atomic_load(&d->present) ? live_area(d) : NULL;
	char err[300];

	if (!atomic_load(&d->present))
		return;

	/* The network learns where the VM is before it runs: done at load
	 * already (before READY), again here only if that failed. Frames for
	 * it wait in the new VF's buffer until the driver has restored it. */
	if (!d->csc_announced && pf_simple(d, "announce", err, sizeof(err)) < 0)
		log_warn("vf%u: cannot announce the VM's MAC: %s", d->instance, err);
	d->csc_announced = false;

	if (a) {
		/* The destination bumps the version (a failed migration then
		 * leaves nothing to undo on the source): the driver's first
		 * read lock here runs its restoration. */
		uint32_t v = csc_area_bump_version(a);
		csc_area_set_migrating(a, 0);
		csc_area_write_unlock(a);
		log_info("vf%u: CompSC version %u: the driver restores the VF at its next operation", d->instance, v);
	}
}

/* After the vCPUs started: the frames held during the downtime go into
 * the VF's buffer and its queues may run. Nothing here holds the guest
 * back: its driver restores the VF first (mailbox reset, op-set replay,
 * rings), and until then the VF keeps what arrives. */
void compsc_vf_running(void *dev)
{
	struct vf_device *d = dev;
	char err[300];

	if (!atomic_load(&d->present))
		return;
	deliver_kept(d);
	if (pf_simple(d, "enable", err, sizeof(err)) < 0)
		log_warn("vf%u: cannot restart the VF's queues: %s", d->instance, err);
}
