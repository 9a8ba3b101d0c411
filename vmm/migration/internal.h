/* The migration engine's private header: struct migration and the helpers
 * its pieces share. Nothing outside vmm/migration/ includes it; the public
 * interface is migration.h.
 *
 * The pieces:
 *   engine.c   lifecycle and public API, stage table, URI parsing,
 *              progress publication, failure recording, notification of
 *              the main thread, shared socket helpers
 *   auth.c     the HMAC handshake (HELLO, HELLO_ACK, AUTH) on both sides,
 *              and the session keys that seal every record after it
 *   ram.c      guest pages on the wire: runs, zero pages, bitmaps,
 *              throttle (source); RAM records into guest memory
 *              (destination)
 *   precopy.c  the convergence decision, a pure function
 *   source.c   the source's stages and its thread
 *   dest.c     the destination's stages, its thread and activation
 *
 * Threads and locking: the migration thread (source or destination) owns
 * everything in struct migration except what is under `lock`: the
 * published progress `p`, `committed` and `sock`/`listen_fd` (which the
 * main thread shuts down to cancel). The main thread reads `p` through
 * mig_get_progress() and learns of changes through `notify_fd`. */
#ifndef CSC_VMM_MIG_INTERNAL_H
#define CSC_VMM_MIG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../accel/accel.h"
#include "cpustate.h"
#include "../device.h"
#include "migration.h"
#include "stream.h"

#define MIG_BIT(s) (1u << (s))

/* The destination's optional features, announced in the reason of a
 * successful RESERVE_ACK ("features: sync"): older destinations send an
 * empty reason, and older sources ignore it (docs/migration-stream.md). */
#define MIG_FEATURES_PREFIX "features: "
#define MIG_FEATURE_SYNC "sync"
#define MIG_FEATURE_LATE "late"	/* takes LATE_DEVICE records between READY and COMMIT */	/* answers SYNC at the end of a round */

#define DEST_IO_TIMEOUT_MS 30000

/* Destination: the queue of RAM records between the migration thread and
 * the writer thread (ram.c). head and tail only grow; slot = n % SLOTS. */
#define RAM_RX_SLOTS 8
struct ram_rx {
	pthread_t thread;
	bool live;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* head moved, or stop */
	pthread_cond_t room;	/* tail moved */
	uint8_t *buf[RAM_RX_SLOTS];	/* MIG_MAX_BODY each: records are received into them */
	struct mig_ram run[RAM_RX_SLOTS];
	unsigned head, tail;
	bool stop;
	int error;		/* the writer's first failure (recorded with mig_fail) */
};

/* Destination: one device's state as received, loaded at commitment. */
struct dev_blob {
	bool have;
	uint32_t version;
	uint32_t len;
	uint8_t *data;
};

/* Source: a watched DMA region's pages as last sent (dma_copies.c). */
#define MIG_DMA_COPY_RANGES 32
#define MIG_DMA_COPY_MAX_PAGES 8192	/* 32 MiB of copies at most */
struct mig_dma_copy {
	uint64_t first, n;	/* pages */
	uint8_t *data;		/* n pages */
	uint8_t *state;		/* per page: not sent while watched, data, zero */
};

struct migration {
	struct vm *vm;
	char token[256];
	struct mig_hooks hooks;
	int notify_fd;

	pthread_mutex_t lock;	/* p, committed, sock (publication) */
	struct mig_progress p;
	uint64_t stage_start_ns;
	bool committed;
	int sock;		/* closed by the main thread after the join */
	int listen_fd;

	struct mig_params params;
	/* Read at init: a vCPU ioctl would wait for KVM_RUN to return. */
	struct mig_cpuid_summary cpuid;
	struct mig_options opts;	/* --insecure-plaintext, the destination's deadlines */
	bool plaintext;		/* records after the handshake carry a CRC only */
	pthread_t thread;
	bool thread_live;
	atomic_bool thread_done;
	atomic_bool cancel;
	bool ok;		/* thread outcome */

	struct mig_io io;
	uint8_t *rxbuf, *txbuf;
	uint64_t n_words;
	uint64_t *bitmap, *scratch;
	bool dirty_logging;
	bool paused_by_us;
	uint64_t records_out;
	uint64_t round_left;	/* pages left in the current round */
	uint64_t bytes_at_start;
	uint64_t pages_total;
	uint64_t dev_state_bytes;	/* source: device records at the last save */
	bool peer_sync;
	bool peer_late;		/* source: the destination takes LATE_DEVICE records */
	bool stream_torn;	/* source: a record (COMMIT) left in part: send nothing more */
	uint64_t commit_ns;	/* source: just before COMMIT was sent; destination: COMMIT received */
	struct mig_dma_copy dma_copies[MIG_DMA_COPY_RANGES];	/* source: dma_copies.c */
	unsigned n_dma_copies;
	uint64_t dma_copy_pages;

	/* Destination. */
	int test_fault;		/* enum dst_test_fault (dest.c): failure injection, tests only */
	int test_timer_fd;	/* delay-activated: fires when ACTIVATED is due (-1: none) */
	uint8_t activated[MIG_ACTIVATED_LEN];	/* destination: the ACTIVATED body, once running */
	struct accel_state *vstate;	/* vCPU/VM state as received */
	struct dev_blob dev[MIG_MAX_DEVICES];
	uint64_t *touched;	/* pages written since the VM was created (writer thread) */
	struct ram_rx rx;
	uint32_t rx_round;
	bool rx_round_seen;
};

/* ---- engine.c: shared by every piece ---------------------------------------- */

/* Wakes the main thread (it reads the progress and maybe finishes the job). */
void mig_notify_main(struct migration *m);
/* Moves to stage s (checked against the transition table), accounts the
 * time of the stage left, publishes and notifies. */
void mig_set_stage(struct migration *m, enum mig_stage s);
/* Records the first failure's reason and stage; returns ret if it is an
 * -errno, else -EIO, so callers can `return mig_fail(...)`. */
int mig_fail(struct migration *m, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* -ECANCELED (recorded) if the migration was cancelled or the VM stops. */
int mig_check_cancel(struct migration *m);
/* Failure injection (tests): sleeps stall_ms at the start of stage s. */
int mig_stall(struct migration *m, enum mig_stage s);
void mig_set_sock_timeouts(int fd, uint64_t ms);
/* Receives a record of `type`; an ERROR or CANCEL from the peer instead
 * fails with the peer's reason. */
int mig_recv_expect(struct migration *m, uint16_t type, struct mig_rec *rec, const char *waiting_for);
int mig_send_verdict(struct migration *m, uint16_t type, int status, const char *reason);

/* ---- auth.c ------------------------------------------------------------------ */

/* Source, connected: HELLO, HELLO_ACK (checks the destination's MAC), AUTH. */
int mig_auth_source(struct migration *m);
/* Destination, accepted: the same from the other side. A failure means
 * the peer is not (or not yet) a source: the caller drops it. */
int mig_auth_dest(struct migration *m);

/* ---- ram.c --------------------------------------------------------------------- */

/* Whether a page of MIG_PAGE_SIZE bytes is all zero (sent as a zero run). */
bool mig_page_is_zero(const uint8_t *p);
/* Source: every page of RAM (round 0), or the pages set in bitmap. */
int mig_ram_send_all(struct migration *m, struct mig_round *st);
int mig_ram_send_bitmap(struct migration *m, const uint64_t *bitmap, struct mig_round *st);
int mig_ram_send_round_marker(struct migration *m, uint32_t round);
/* Publishes a finished round (its time is now - t0). */
void mig_ram_round_done(struct migration *m, struct mig_round *st, uint64_t t0);
/* Destination: the writer thread, from the end of the reservation until the
 * stream is done. Records are received into mig_ram_rx_buffer() (waits for
 * a free slot); a RAM record there is queued by mig_ram_receive(). drain
 * waits until every queued page is in guest memory. All return the
 * writer's failure, if any. */
int mig_ram_rx_start(struct migration *m);
uint8_t *mig_ram_rx_buffer(struct migration *m);
int mig_ram_receive(struct migration *m, const struct mig_rec *rec);
int mig_ram_rx_drain(struct migration *m);
void mig_ram_rx_stop(struct migration *m);
/* Destination: pages that hold data before any RAM record arrives. */
void mig_ram_mark_touched(struct migration *m, uint64_t first_pfn, uint64_t n);

/* ---- dma_copies.c ---------------------------------------------------------------- */

/* The RAM sender records what it sent of a watched region: a page's bytes
 * (data) or zero. */
void mig_dma_copy_sent(struct migration *m, uint64_t pfn, const uint8_t *data);
void mig_dma_copy_sent_zero(struct migration *m, uint64_t pfn, uint64_t count);
/* Forgets every watched region (each migration starts afresh). */
void mig_dma_copies_reset(struct migration *m);

/* ---- source.c / dest.c ----------------------------------------------------------- */

void *mig_source_thread(void *arg);
/* Source: takes the VM back (devices' migrate_abort, vCPUs resumed, dirty
 * logging off), after a failure or the orchestrator's resume-here. The
 * migration thread, or the main thread once that thread has ended. */
void mig_source_take_back(struct migration *m);
void *mig_dest_thread(void *arg);
/* Main thread, after a successful incoming migration: runs the VM. */
void mig_dest_activate(struct migration *m);

#endif
