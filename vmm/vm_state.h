/* The VM's lifecycle as one state machine (a const table, as libvfio-user
 * keeps its migration states): the control socket, the migration engine
 * and main() move it with events and read it; nobody infers the state
 * from scattered flags. An event the table does not allow in the current
 * state is an error with a reason, not a log line.
 *
 *             boot                     pause
 *   created --------> running <------------------> paused
 *      |  listen       ^  |  migrate          migrate |
 *      v               |  v                           v
 *   incoming ----------+  migrating <-----------------+
 *            arrived      |  |   \ failed, cancelled, or refused by the
 *                         |  |    \ destination: back to where it started
 *                         |  |     \ (running or paused)
 *           committed     |  | outcome-unknown: COMMIT sent, no answer
 *           (ACTIVATED)   |  v
 *                         |  outcome-unknown --resolved-here--> back to
 *                         |     |                where it started
 *                         v     | committed (orchestrator:
 *                      migrated <-+   destination-running)
 *
 * outcome-unknown: COMMIT has left but the destination never confirmed
 * (docs/migration-stream.md, "Commitment and confirm"). The VM stays
 * paused here with its devices held: only the orchestrator knows which
 * side may run it now, and says so with migrate-resolve.
 *
 *   any state --exit--> stopping   (the process is ending)
 */
#ifndef CSC_VMM_VM_STATE_H
#define CSC_VMM_VM_STATE_H

#include <stdbool.h>

enum vm_state {
	VM_STATE_CREATED,	/* devices being set up, no vCPU has run */
	VM_STATE_INCOMING,	/* waiting for, or receiving, a migrating VM */
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,	/* paused on request (the control socket) */
	VM_STATE_MIGRATING,	/* an outgoing migration is under way */
	VM_STATE_MIGRATED,	/* committed: the VM runs on the destination now */
	VM_STATE_OUTCOME_UNKNOWN,	/* COMMIT sent, never confirmed: paused, awaiting migrate-resolve */
	VM_STATE_STOPPING,	/* exit requested: the process is ending */
	VM_STATE_COUNT,
};

enum vm_event {
	VM_EV_BOOT,		/* the boot set-up is done: vCPUs may run */
	VM_EV_LISTEN,		/* wait for an incoming migration instead */
	VM_EV_ARRIVED,		/* the incoming VM is loaded and activated */
	VM_EV_PAUSE,
	VM_EV_RESUME,
	VM_EV_MIGRATE,		/* an outgoing migration starts */
	VM_EV_MIGRATE_FAILED,	/* ...failed or was cancelled before commitment */
	VM_EV_COMMITTED,	/* ...the destination owns the VM (confirmed, or resolved so) */
	VM_EV_OUTCOME_UNKNOWN,	/* ...COMMIT left, the destination's answer did not come */
	VM_EV_RESOLVED_HERE,	/* ...the orchestrator says the VM resumes here */
	VM_EV_EXIT,
	VM_EV_COUNT,
};

const char *vm_state_name(enum vm_state s);
const char *vm_event_name(enum vm_event e);

/* The state after `ev` in state `s`, or -1 when the table forbids it.
 * `before_migration` is the state an outgoing migration started from
 * (where VM_EV_MIGRATE_FAILED and VM_EV_RESOLVED_HERE return). Pure:
 * unit-tested. */
int vm_state_next(enum vm_state s, enum vm_event ev, enum vm_state before_migration);

#endif
