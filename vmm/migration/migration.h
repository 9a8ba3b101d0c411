/* Live migration engine: pre-copy over TCP between two compsc-vmm.
 *
 * The six stages (docs/migration-stream.md): pre-migration (connect,
 * authenticate with a shared token, check CPU features), reservation (the
 * destination checks memory size and devices and allocates its memory),
 * iterative pre-copy (all RAM, then the pages dirtied in the previous
 * round: the accelerator's dirty log ORed with the VMM's own bitmap, until
 * precopy_should_stop() says so), stop-and-copy (vCPUs paused; last dirty
 * pages, vCPU, irqchip, clock and device state), commitment (the
 * destination has loaded everything and says READY; the source sends
 * COMMIT and from then on never resumes on its own), activation (the
 * destination runs the VM and confirms with ACTIVATED; only then does the
 * source let go and exit).
 *
 * Threads: each side runs the protocol on its own thread so the main
 * thread's event loop (control socket) stays responsive; the thread reports
 * to the main thread through an eventfd, and the main thread finishes the
 * job (exit after a completed outgoing migration, vCPU start after an
 * incoming one). Failure rule: until COMMIT the source VM is the VM; any
 * failure resumes it (the thread does that itself, so the pause is bounded
 * by the I/O timeout). After COMMIT the source resumes only on the
 * destination's explicit ERROR; without any answer the outcome is unknown:
 * the VM stays paused here until the orchestrator calls mig_resolve()
 * (docs/migration-stream.md, "Commitment and confirm").
 *
 * The engine's pieces are listed in internal.h. */
#ifndef CSC_VMM_MIGRATION_H
#define CSC_VMM_MIGRATION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

enum mig_stage {
	MIG_STAGE_NONE,
	MIG_STAGE_PRE_MIGRATION,
	MIG_STAGE_RESERVATION,
	MIG_STAGE_PRECOPY,
	MIG_STAGE_STOP_AND_COPY,
	MIG_STAGE_COMMITMENT,
	MIG_STAGE_ACTIVATION,
	MIG_STAGE_COUNT,
};

enum mig_status {
	MIG_STATUS_NONE,	/* never started */
	MIG_STATUS_LISTENING,	/* destination waiting for a source */
	MIG_STATUS_ACTIVE,
	MIG_STATUS_COMPLETED,
	MIG_STATUS_FAILED,
	MIG_STATUS_CANCELLED,
	/* Source: COMMIT left, no answer came. Paused, devices held, until
	 * mig_resolve(); then completed or failed. */
	MIG_STATUS_OUTCOME_UNKNOWN,
};

/* The orchestrator's answer to an unknown outcome (mig_resolve). */
enum mig_resolution {
	MIG_RESOLUTION_NONE,
	MIG_RESOLUTION_RESUME_HERE,	/* the destination does not and never will run the VM */
	MIG_RESOLUTION_DESTINATION_RUNNING,	/* the destination runs it: the source lets go */
};

const char *mig_stage_name(enum mig_stage s);	/* "pre-migration", ... */
const char *mig_status_name(enum mig_status s);
const char *mig_resolution_name(enum mig_resolution r);	/* "resume-here", ... */
/* -1 if unknown ("resume-here", "destination-running"). */
int mig_resolution_parse(const char *name);
/* -1 if unknown. */
int mig_stage_parse(const char *name);

struct mig_params {
	char host[256];
	uint16_t port;
	uint64_t downtime_ms;	/* budget for stop-and-copy (default 300) */
	uint64_t bandwidth;	/* bytes per second, 0 = unlimited */
	uint32_t max_rounds;	/* pre-copy rounds after round 0 (default 30) */
	uint64_t max_precopy_ms;	/* default 60000 */
	uint64_t timeout_ms;	/* per network wait (default 5000) */
	/* Failure injection for tests: sleep stall_ms at the start of
	 * stall_stage (cancellable); in pre-copy, at the start of round
	 * stall_round. */
	enum mig_stage stall_stage;
	uint32_t stall_ms;
	uint32_t stall_round;
};
void mig_params_default(struct mig_params *p);

/* The limits of each parameter, enforced in one place (mig_params_check,
 * which mig_start_outgoing calls; the control socket and the CLI need not
 * repeat them). */
#define MIG_MAX_ROUNDS_LIMIT	60	/* + round 0 + stop-and-copy fit MIG_ROUNDS_KEPT */
#define MIG_DOWNTIME_MS_LIMIT	60000	/* a longer pause is an outage, not a live migration */
#define MIG_MAX_PRECOPY_MS_LIMIT 3600000
#define MIG_TIMEOUT_MS_MIN	100
#define MIG_TIMEOUT_MS_MAX	600000
#define MIG_BANDWIDTH_MIN	(1u << 20)	/* bytes/s, unless 0 (unlimited): slower
						 * would stretch the paused stop-and-copy */
#define MIG_STALL_MS_LIMIT	600000
/* 0, or -EINVAL with the first parameter out of range named in err
 * (by its control-socket name, e.g. "max-rounds must be at most 60"). */
int mig_params_check(const struct mig_params *p, char *err, size_t errlen);
/* "tcp:HOST:PORT"; -EINVAL with a reason otherwise. */
int mig_parse_uri(const char *uri, char *host, size_t hostlen, uint16_t *port, char *err, size_t errlen);

#define MIG_ROUNDS_KEPT 64
_Static_assert(MIG_MAX_ROUNDS_LIMIT + 2 <= MIG_ROUNDS_KEPT, "every round of a migration fits the report");

struct mig_round {
	uint32_t round;
	uint64_t pages;		/* pages sent (data + zero) */
	uint64_t zero_pages;
	uint64_t bytes;		/* stream bytes */
	uint64_t ns;
	uint64_t dirty_pages;	/* pages the guest dirtied during the round */
};

/* Snapshot of a migration, for query-migrate and the final report. */
/* What devices carried across the downtime, beyond their registers (the
 * source's figures, final once COMMIT is out). CompSC's VF: frames that
 * reached the source NIC after its queues stopped, held there and
 * delivered by the destination (and those the hold buffer had to drop);
 * TX descriptors the guest had posted that the source VF never sent, sent
 * by the destination's VF from the migrated ring. */
struct mig_carried {
	bool any;		/* a device reported (the VM has a CompSC VF) */
	uint32_t rx_held;
	uint32_t rx_dropped;
	uint32_t tx_unsent;
};

struct mig_progress {
	enum mig_status status;
	enum mig_stage stage;
	bool source;
	char peer[300];		/* tcp:HOST:PORT */
	uint32_t round;
	uint64_t bytes;		/* stream bytes sent (source) / received (destination) */
	uint64_t pages;
	uint64_t remaining_bytes;	/* estimate */
	uint64_t dirty_rate;	/* pages per second, last completed round */
	uint64_t ram_size;
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC */
	uint64_t stage_ns[MIG_STAGE_COUNT];	/* time spent in each stage */
	uint64_t pause_ns;	/* source: vCPUs stopped */
	uint64_t resume_ns;	/* destination: vCPUs started */
	/* Downtime, measured on two clocks ("Downtime across two clocks" in
	 * docs/migration-stream.md): the estimate and its bounds, all
	 * intervals of one clock each; same_clock_ns is resume_ns - pause_ns,
	 * set only when it lies within the bounds (both VMMs on one host). */
	uint64_t downtime_ns;
	uint64_t downtime_lo_ns, downtime_hi_ns;
	uint64_t downtime_same_clock_ns;
	uint64_t commit_to_resume_ns;	/* destination's clock: COMMIT received -> vCPUs started */
	uint64_t load_ns;	/* destination: loading state */
	const char *precopy_exit;	/* source: why pre-copy ended (a static string), or NULL */
	uint32_t n_rounds;
	struct mig_round rounds[MIG_ROUNDS_KEPT];
	struct mig_carried carried;
	char error[512];
	enum mig_stage failed_stage;
	enum mig_resolution resolution;	/* how an unknown outcome was resolved */
};

struct mig_hooks {
	/* Main thread, whenever the progress changed in a way worth an event
	 * (stage change, end). */
	void (*changed)(void *opaque);
	void *opaque;
};

struct migration;

/* Sets up the engine for this VM (event-loop notification). The token
 * authenticates the peer (both sides must use the same). */
/* The migration secret: at most this many bytes, no default. */
#define MIG_TOKEN_MAX 255
/* Reads a secret from a file: refused when group or others may read it,
 * when it is empty or longer than MIG_TOKEN_MAX; one trailing newline is
 * dropped. 0, or -errno with the reason in err. */
int mig_read_token_file(const char *path, char *buf, size_t size, char *err, size_t errlen);

/* How this VMM protects its streams and guards --incoming
 * (docs/migration-stream.md). */
struct mig_options {
	/* --insecure-plaintext: records after the handshake carry a CRC, not
	 * AES-GCM; for measuring the raw path only. Both sides must agree. */
	bool insecure_plaintext;
	/* Destination: one connection has this long from accept to a checked
	 * AUTH (--migration-handshake-ms), else it is dropped. */
	uint64_t handshake_ms;
	/* Destination: a source must have authenticated this long after
	 * --incoming started listening (--incoming-timeout-ms), else the VMM
	 * exits 4; 0 = wait for ever. */
	uint64_t incoming_timeout_ms;
};
#define MIG_HANDSHAKE_MS_DEFAULT	5000
#define MIG_INCOMING_TIMEOUT_MS_DEFAULT	600000
void mig_options_default(struct mig_options *o);

/* token NULL: this VMM has no migration secret and refuses to migrate.
 * opts NULL: the defaults. */
int mig_init(struct vm *vm, const char *token, const struct mig_options *opts, const struct mig_hooks *hooks);
void mig_destroy(struct vm *vm);
/* Sets the hooks' opaque pointer (the control socket exists after us). */
void mig_set_hook_opaque(struct vm *vm, void *opaque);

/* Source. Returns -EBUSY if a migration is active. */
int mig_start_outgoing(struct vm *vm, const struct mig_params *p, char *err, size_t errlen);
/* Cancels before commitment: -EALREADY when none active, -EPERM once
 * committed. */
int mig_cancel(struct vm *vm, char *err, size_t errlen);

/* Source, after an outcome-unknown migration (main thread): the
 * orchestrator's word. RESUME_HERE takes the VM back as a failed migration
 * does (devices' migrate_abort, vCPUs resumed); DESTINATION_RUNNING ends
 * the migration as completed and the VMM exits 0. -EALREADY with a reason
 * when no migration awaits a resolution. */
int mig_resolve(struct vm *vm, enum mig_resolution r, char *err, size_t errlen);

/* Destination: listens now (so a bad address is a start-up error), accepts
 * one source on the migration thread. *port gets the bound port. */
int mig_listen_incoming(struct vm *vm, const char *uri, uint16_t *port, char *err, size_t errlen);

/* Source, for devices whose DMA the dirty log does not see (docs in
 * dma_copies.c). At pre-migration: keep a copy of [gpa, gpa+len) as it is
 * sent (-ENOSPC, -EEXIST: not watched, which only costs downtime). At
 * stop-and-copy, the device stopped: mark dirty the pages of the range
 * that differ from what the destination has; returns how many. */
int mig_watch_dma(struct vm *vm, uint64_t gpa, uint64_t len);
uint64_t mig_mark_dma_dirty(struct vm *vm, uint64_t gpa, uint64_t len);

void mig_get_progress(struct vm *vm, struct mig_progress *out);
bool mig_active(struct vm *vm);

#endif
