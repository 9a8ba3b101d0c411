/* The VM state machine's table (vm_state.h has the diagram). */
#include "vm_state.h"

#include <stddef.h>

static const char *const state_names[VM_STATE_COUNT] = {
	[VM_STATE_CREATED] = "created", [VM_STATE_INCOMING] = "incoming", [VM_STATE_RUNNING] = "running",
	[VM_STATE_PAUSED] = "paused", [VM_STATE_MIGRATING] = "migrating", [VM_STATE_MIGRATED] = "migrated",
	[VM_STATE_OUTCOME_UNKNOWN] = "outcome-unknown", [VM_STATE_STOPPING] = "stopping",
};

static const char *const event_names[VM_EV_COUNT] = {
	[VM_EV_BOOT] = "boot", [VM_EV_LISTEN] = "listen", [VM_EV_ARRIVED] = "arrived", [VM_EV_PAUSE] = "pause",
	[VM_EV_RESUME] = "resume", [VM_EV_MIGRATE] = "migrate", [VM_EV_MIGRATE_FAILED] = "migrate-failed",
	[VM_EV_COMMITTED] = "committed", [VM_EV_OUTCOME_UNKNOWN] = "outcome-unknown",
	[VM_EV_RESOLVED_HERE] = "resolved-here", [VM_EV_EXIT] = "exit",
};

/* Allowed transitions; 0 entries are forbidden (CREATED is never a target).
 * BACK stands for "the state the migration started from". */
#define BACK VM_STATE_COUNT
#define TO(s) ((s) + 1)
static const unsigned char table[VM_STATE_COUNT][VM_EV_COUNT] = {
	[VM_STATE_CREATED] = {
		[VM_EV_BOOT] = TO(VM_STATE_RUNNING), [VM_EV_LISTEN] = TO(VM_STATE_INCOMING),
		[VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
	[VM_STATE_INCOMING] = {
		[VM_EV_ARRIVED] = TO(VM_STATE_RUNNING), [VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
	[VM_STATE_RUNNING] = {
		[VM_EV_PAUSE] = TO(VM_STATE_PAUSED), [VM_EV_RESUME] = TO(VM_STATE_RUNNING),
		[VM_EV_MIGRATE] = TO(VM_STATE_MIGRATING), [VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
	[VM_STATE_PAUSED] = {
		[VM_EV_PAUSE] = TO(VM_STATE_PAUSED), [VM_EV_RESUME] = TO(VM_STATE_RUNNING),
		[VM_EV_MIGRATE] = TO(VM_STATE_MIGRATING), [VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
	[VM_STATE_MIGRATING] = {
		[VM_EV_MIGRATE_FAILED] = TO(BACK), [VM_EV_COMMITTED] = TO(VM_STATE_MIGRATED),
		[VM_EV_OUTCOME_UNKNOWN] = TO(VM_STATE_OUTCOME_UNKNOWN), [VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
	/* Neither pause, resume nor a new migration: only the orchestrator's
	 * word (migrate-resolve) decides which side runs the VM. */
	[VM_STATE_OUTCOME_UNKNOWN] = {
		[VM_EV_RESOLVED_HERE] = TO(BACK), [VM_EV_COMMITTED] = TO(VM_STATE_MIGRATED),
		[VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
	[VM_STATE_MIGRATED] = {
		[VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
	[VM_STATE_STOPPING] = {
		[VM_EV_EXIT] = TO(VM_STATE_STOPPING),
	},
};

const char *vm_state_name(enum vm_state s)
{
	return (unsigned)s < VM_STATE_COUNT ? state_names[s] : "?";
}

const char *vm_event_name(enum vm_event e)
{
	return (unsigned)e < VM_EV_COUNT ? event_names[e] : "?";
}

int vm_state_next(enum vm_state s, enum vm_event ev, enum vm_state before_migration)
{
	if ((unsigned)s >= VM_STATE_COUNT || (unsigned)ev >= VM_EV_COUNT || !table[s][ev])
		return -1;
	unsigned to = table[s][ev] - 1u;
	if (to == BACK)
		return before_migration == VM_STATE_PAUSED ? VM_STATE_PAUSED : VM_STATE_RUNNING;
	return (int)to;
}
