/* Control socket: see api.h and docs/api.md. */
#include "api.h"

#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/platform_regs.h"
#include "../common/unix_sock.h"
#include "device.h"
#include "hotplug.h"
#include "migration/migration.h"
#include "options.h"
#include "vf_device.h"
#include "vm.h"

struct api;

struct api_client {
	struct api *api;
	int fd;
	size_t len;
	bool discarding;	/* inside an over-long line */
	char buf[API_MAX_LINE];
};

struct api {
	struct vm *vm;
	char path[108];
	int listen_fd;
	bool user_paused;
	struct api_client *clients[API_MAX_CLIENTS];
	struct ratelimit refused_log;	/* untrusted peers: logged a few times a second */
	enum mig_status last_status;
	enum mig_stage last_stage;
	/* The client waiting for its device-del / device-add (the reply
	 * comes when the hot-plug controller is done), and its id. */
	struct api_client *hp_client;
	json_t *hp_id;
};

static void client_close(struct api *api, struct api_client *c)
{
	if (api->hp_client == c)
		api->hp_client = NULL;	/* the operation goes on; its event still tells */
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		if (api->clients[i] == c)
			api->clients[i] = NULL;
	evloop_remove(&api->vm->loop, c->fd);
	close(c->fd);
	free(c);
}

/* One line per message. A client that does not keep up loses its
 * connection instead of blocking the VMM. */
static bool client_send(struct api_client *c, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	bool ok = false;

	if (text) {
		size_t n = strlen(text);
		text[n] = '\n';
		ssize_t w = send(c->fd, text, n + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		ok = w == (ssize_t)(n + 1);
		free(text);
	}
	return ok;
}

static void reply(struct api *api, struct api_client *c, json_t *id, json_t *ret)
{
	json_t *msg = json_pack("{s:o}", "return", ret ? ret : json_object());

	if (id)
		json_object_set(msg, "id", id);
	if (!client_send(c, msg))
		client_close(api, c);
	json_decref(msg);
}

static void reply_error(struct api *api, struct api_client *c, json_t *id, const char *cls, const char *desc)
{
	json_t *msg = json_pack("{s:{s:s,s:s}}", "error", "class", cls, "desc", desc);

	if (id)
		json_object_set(msg, "id", id);
	if (!client_send(c, msg))
		client_close(api, c);
	json_decref(msg);
}

static void broadcast(struct api *api, const char *event, json_t *data)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	json_t *msg = json_pack("{s:s,s:o,s:{s:I,s:I}}", "event", event, "data", data, "timestamp", "seconds",
				(json_int_t)ts.tv_sec, "microseconds", (json_int_t)(ts.tv_nsec / 1000));
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		if (api->clients[i] && !client_send(api->clients[i], msg))
			client_close(api, api->clients[i]);
	json_decref(msg);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static json_t *progress_json(const struct mig_progress *p)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}",
			      "status", mig_status_name(p->status), "stage", mig_stage_name(p->stage),
			      "role", p->status == MIG_STATUS_NONE ? "none" : p->source ? "source" : "destination",
			      "peer", p->peer, "round", (json_int_t)p->round, "transferred-bytes", (json_int_t)p->bytes,
			      "pages", (json_int_t)p->pages, "remaining-bytes", (json_int_t)p->remaining_bytes,
			      "dirty-rate-pages-per-s", (json_int_t)p->dirty_rate, "ram-bytes", (json_int_t)p->ram_size);
	if (p->start_ns) {
		uint64_t end = p->end_ns ? p->end_ns : now_ns();
		json_object_set_new(o, "total-time-ms", json_real(ms(end - p->start_ns)));
		json_object_set_new(o, "start-ns", json_integer((json_int_t)p->start_ns));
	}
	if (p->pause_ns)
		json_object_set_new(o, "pause-ns", json_integer((json_int_t)p->pause_ns));
	if (p->resume_ns)
		json_object_set_new(o, "resume-ns", json_integer((json_int_t)p->resume_ns));
	if (p->downtime_ns) {
		json_object_set_new(o, "downtime-ms", json_real(ms(p->downtime_ns)));
		json_object_set_new(o, "downtime-bounds-ms",
				    json_pack("[f,f]", ms(p->downtime_lo_ns), ms(p->downtime_hi_ns)));
	}
	if (p->downtime_same_clock_ns)
		json_object_set_new(o, "downtime-same-clock-ms", json_real(ms(p->downtime_same_clock_ns)));
	if (p->commit_to_resume_ns)
		json_object_set_new(o, "commit-to-resume-ms", json_real(ms(p->commit_to_resume_ns)));
	if (p->precopy_exit)
		json_object_set_new(o, "precopy-exit", json_string(p->precopy_exit));
	if (p->load_ns)
		json_object_set_new(o, "destination-load-ms", json_real(ms(p->load_ns)));
	json_t *stages = json_object();
	for (int s = 1; s < MIG_STAGE_COUNT; s++)
		json_object_set_new(stages, mig_stage_name((enum mig_stage)s), json_real(ms(p->stage_ns[s])));
	json_object_set_new(o, "stage-ms", stages);
	json_t *rounds = json_array();
	for (uint32_t i = 0; i < p->n_rounds; i++) {
		const struct mig_round *r = &p->rounds[i];
		json_array_append_new(rounds, json_pack("{s:I,s:I,s:I,s:I,s:f,s:I}", "round", (json_int_t)r->round,
							"pages", (json_int_t)r->pages, "zero-pages",
							(json_int_t)r->zero_pages, "bytes", (json_int_t)r->bytes,
							"ms", ms(r->ns), "dirty-pages", (json_int_t)r->dirty_pages));
	}
	json_object_set_new(o, "rounds", rounds);
	if (p->carried.any)
		json_object_set_new(o, "carried",
				    json_pack("{s:I,s:I,s:I}", "rx-held-frames", (json_int_t)p->carried.rx_held,
					      "rx-dropped-frames", (json_int_t)p->carried.rx_dropped,
					      "tx-unsent-descriptors", (json_int_t)p->carried.tx_unsent));
	if (p->error[0]) {
		json_object_set_new(o, "error", json_string(p->error));
		json_object_set_new(o, "failed-stage", json_string(mig_stage_name(p->failed_stage)));
	}
	if (p->resolution != MIG_RESOLUTION_NONE)
		json_object_set_new(o, "resolution", json_string(mig_resolution_name(p->resolution)));
	return o;
}

void api_migration_changed(void *opaque)
{
	struct api *api = opaque;
	struct mig_progress p;

	if (!api)
		return;
	mig_get_progress(api->vm, &p);
	if (p.status == api->last_status && p.stage == api->last_stage)
		return;
	api->last_status = p.status;
	api->last_stage = p.stage;
	broadcast(api, "MIGRATION", progress_json(&p));
}

static const char *vm_state(struct api *api)
{
	return vm_state_name(vm_state_get(api->vm));
}

/* Reads an optional non-negative integer argument; false (with a reply)
 * when present and not one. Sizes may be strings like "100M". */
static bool arg_u64(json_t *args, const char *key, uint64_t *out, bool size_ok, char *err, size_t errlen)
{
	json_t *v = json_object_get(args, key);

	if (!v)
		return true;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	if (size_ok && json_is_string(v) && parse_size(json_string_value(v), out) == 0)
		return true;
	snprintf(err, errlen, "'%s' must be a non-negative integer%s", key, size_ok ? " or a size like \"100M\"" : "");
	return false;
}

static void cmd_migrate(struct api *api, struct api_client *c, json_t *id, json_t *args)
{
	static const char *const known[] = { "uri", "downtime-ms", "bandwidth", "max-rounds", "max-precopy-ms",
					     "timeout-ms", "stall-stage", "stall-ms", "stall-round" };
	struct mig_params p;
	char err[300];
	const char *key;
	json_t *v;
	uint64_t rounds, stall_ms = 0, stall_round = 0;

	mig_params_default(&p);
	rounds = p.max_rounds;
	json_object_foreach(args, key, v) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= strcmp(key, known[i]) == 0;
		if (!ok) {
			snprintf(err, sizeof(err), "migrate: unknown argument '%s'", key);
			return reply_error(api, c, id, "GenericError", err);
		}
	}
	const char *uri = json_string_value(json_object_get(args, "uri"));
	if (!uri)
		return reply_error(api, c, id, "GenericError", "migrate: 'uri' (tcp:HOST:PORT) is required");
	if (mig_parse_uri(uri, p.host, sizeof(p.host), &p.port, err, sizeof(err)) < 0)
		return reply_error(api, c, id, "GenericError", err);
	if (!arg_u64(args, "downtime-ms", &p.downtime_ms, false, err, sizeof(err)) ||
	    !arg_u64(args, "bandwidth", &p.bandwidth, true, err, sizeof(err)) ||
	    !arg_u64(args, "max-rounds", &rounds, false, err, sizeof(err)) ||
	    !arg_u64(args, "max-precopy-ms", &p.max_precopy_ms, false, err, sizeof(err)) ||
	    !arg_u64(args, "timeout-ms", &p.timeout_ms, false, err, sizeof(err)) ||
	    !arg_u64(args, "stall-ms", &stall_ms, false, err, sizeof(err)) ||
	    !arg_u64(args, "stall-round", &stall_round, false, err, sizeof(err)))
		return reply_error(api, c, id, "GenericError", err);
	/* The limits are mig_params_check()'s (mig_start_outgoing runs it);
	 * a value too large for its field is saturated so it fails there. */
	p.max_rounds = rounds > UINT32_MAX ? UINT32_MAX : (uint32_t)rounds;
	p.stall_ms = stall_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)stall_ms;
	p.stall_round = stall_round > UINT32_MAX ? UINT32_MAX : (uint32_t)stall_round;
	v = json_object_get(args, "stall-stage");
	if (v) {
		int s = json_is_string(v) ? mig_stage_parse(json_string_value(v)) : -1;
		if (s < 0)
			return reply_error(api, c, id, "GenericError", "migrate: 'stall-stage' is not a stage name");
		p.stall_stage = (enum mig_stage)s;
	}
	if (api->vm->hotplug && hotplug_pending(api->vm->hotplug))
		return reply_error(api, c, id, "GenericError",
				   "migrate: a hot-plug request is pending: wait for device-del/device-add to end");
	if (mig_start_outgoing(api->vm, &p, err, sizeof(err)) < 0)
		return reply_error(api, c, id, "GenericError", err);
	reply(api, c, id, NULL);
}

/* The orchestrator's word on an outgoing migration whose outcome is
 * unknown (docs/migration-stream.md, "Commitment and confirm"). */
static void cmd_migrate_resolve(struct api *api, struct api_client *c, json_t *id, json_t *args)
{
	const char *key;
	json_t *v;
	char err[300];

	json_object_foreach(args, key, v) {
		if (strcmp(key, "outcome") != 0) {
			snprintf(err, sizeof(err), "migrate-resolve: unknown argument '%s'", key);
			return reply_error(api, c, id, "GenericError", err);
		}
	}
	const char *outcome = json_string_value(json_object_get(args, "outcome"));
	int r = outcome ? mig_resolution_parse(outcome) : -1;
	if (r < 0)
		return reply_error(api, c, id, "GenericError",
				   "migrate-resolve: 'outcome' must be \"resume-here\" or \"destination-running\"");
	if (mig_resolve(api->vm, (enum mig_resolution)r, err, sizeof(err)) < 0)
		return reply_error(api, c, id, "GenericError", err);
	reply(api, c, id, NULL);
}

static void hotplug_done(void *opaque, const struct hotplug_result *r)
{
	struct api *api = opaque;
	const char *op = r->op == CSC_HP_EJECT ? "device-del" : "device-add";
	char name[16];

	snprintf(name, sizeof(name), "vf%u", r->slot);
	json_t *data = json_pack("{s:s,s:s,s:s,s:f,s:f,s:f}", "id", name, "op", op, "status",
				 r->ret == 0 ? "done" : r->ret == -ETIMEDOUT ? "timeout" : "failed", "ack-ms",
				 ms(r->ack_ns), "attach-ms", ms(r->attach_ns), "total-ms", ms(r->total_ns));
	if (r->ret)
		json_object_set_new(data, "error", json_string(r->err));
	struct api_client *c = api->hp_client;
	json_t *id = api->hp_id;
	api->hp_client = NULL;
	api->hp_id = NULL;
	if (c) {
		if (r->ret)
			reply_error(api, c, id, "GenericError", r->err);
		else
			reply(api, c, id, json_deep_copy(data));
	}
	json_decref(id);
	broadcast(api, "HOTPLUG", data);
}

/* device-del / device-add (docs/api.md): answered when the guest has
 * acknowledged, or its time ran out. */
static void cmd_hotplug(struct api *api, struct api_client *c, json_t *id, json_t *args, bool add)
{
	static const char *const known[] = { "id", "path", "timeout-ms", "driver" };
	const char *cmd = add ? "device-add" : "device-del", *key;
	char err[400];
	json_t *v;
	uint64_t timeout = HOTPLUG_TIMEOUT_MS_DEFAULT;
	unsigned slot = 0;

	json_object_foreach(args, key, v) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= strcmp(key, known[i]) == 0 && (add || strcmp(key, "path"));
		if (!ok) {
			snprintf(err, sizeof(err), "%s: unknown argument '%.64s'", cmd, key);
			return reply_error(api, c, id, "GenericError", err);
		}
	}
	const char *driver = json_string_value(json_object_get(args, "driver"));
	if (json_object_get(args, "driver") && (!driver || strcmp(driver, "vf"))) {
		snprintf(err, sizeof(err), "%s: only driver \"vf\" can be hot-plugged", cmd);
		return reply_error(api, c, id, "GenericError", err);
	}
	if (!arg_u64(args, "timeout-ms", &timeout, false, err, sizeof(err)))
		return reply_error(api, c, id, "GenericError", err);
	const char *name = json_string_value(json_object_get(args, "id"));
	const char *path = json_string_value(json_object_get(args, "path"));
	if (json_object_get(args, "path") && (!path || !*path || strlen(path) >= 108)) {
		snprintf(err, sizeof(err), "%s: 'path' must be a socket path", cmd);
		return reply_error(api, c, id, "GenericError", err);
	}
	if (name) {
		char *end;
		unsigned long n = strncmp(name, "vf", 2) == 0 ? strtoul(name + 2, &end, 10) : ULONG_MAX;
		if (n == ULONG_MAX || end == name + 2 || *end || n >= CSC_HP_MAX_SLOTS) {
			snprintf(err, sizeof(err), "%s: 'id' must name a VF slot (vf0, vf1, ...)", cmd);
			return reply_error(api, c, id, "GenericError", err);
		}
		slot = (unsigned)n;
	} else if (json_object_get(args, "id")) {
		snprintf(err, sizeof(err), "%s: 'id' must be a string", cmd);
		return reply_error(api, c, id, "GenericError", err);
	} else {
		/* Without an id: del takes the first attached VF, add the first
		 * empty slot. */
		bool found = false;
		for (unsigned i = 0; i < api->vm->n_vfs && !found; i++) {
			struct vf_device *d = api->vm->vfs[i];
			if (atomic_load(&d->present) != add) {
				slot = d->instance;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, sizeof(err), "%s: %s", cmd, add ? "no empty VF slot (start the VMM with --vf-unplugged PATH)"
								    : "no VF is attached");
			return reply_error(api, c, id, "GenericError", err);
		}
	}
	if (add && !path && !name) {
		snprintf(err, sizeof(err), "device-add: 'path' (a VF's vfio-user socket) or 'id' of a --vf-unplugged slot "
			 "is required");
		return reply_error(api, c, id, "GenericError", err);
	}
	/* The guest must be running to answer, and a migration moves the
	 * device list as it is. */
	enum vm_state st = vm_state_get(api->vm);
	if (st != VM_STATE_RUNNING) {
		snprintf(err, sizeof(err), "%s: the VM is %s (hot-plug needs a running VM)", cmd, vm_state_name(st));
		return reply_error(api, c, id, "GenericError", err);
	}
	if (!api->vm->hotplug)
		return reply_error(api, c, id, "GenericError", "this VM has no hot-plug controller");
	int ret = add ? hotplug_insert(api->vm->hotplug, slot, path, (uint32_t)timeout, hotplug_done, api, err,
				       sizeof(err))
		      : hotplug_eject(api->vm->hotplug, slot, (uint32_t)timeout, hotplug_done, api, err, sizeof(err));
	if (ret < 0) {
		char msg[460];
		snprintf(msg, sizeof(msg), "%s: %s", cmd, err);
		return reply_error(api, c, id, "GenericError", msg);
	}
	api->hp_client = c;
	api->hp_id = id ? json_incref(id) : NULL;
}

static void cmd_status(struct api *api, struct api_client *c, json_t *id)
{
	struct mig_progress p;
	json_t *devs = json_array();

	for (unsigned i = 0; i < api->vm->devices.n; i++) {
		const struct device_entry *e = &api->vm->devices.dev[i];
		if (device_migrates(e))
			json_array_append_new(devs, json_pack("{s:s,s:i}", "name", e->name, "version", (int)e->ops->version));
	}
	json_t *vfs = json_array();
	for (unsigned i = 0; i < api->vm->n_vfs; i++) {
		struct vf_device *d = api->vm->vfs[i];
		char name[16];
		snprintf(name, sizeof(name), "vf%u", d->instance);
		json_array_append_new(vfs, json_pack("{s:s,s:b,s:s}", "id", name, "present", atomic_load(&d->present),
						     "path", d->path));
	}
	mig_get_progress(api->vm, &p);
	reply(api, c, id, json_pack("{s:s,s:I,s:i,s:o,s:o,s:{s:s,s:s},s:I}", "state", vm_state(api), "ram-bytes",
				    (json_int_t)api->vm->ram_size, "vcpus", (int)api->vm->n_vcpus, "devices", devs,
				    "vf-slots", vfs, "migration", "status", mig_status_name(p.status), "stage",
				    mig_stage_name(p.stage), "pid", (json_int_t)getpid()));
}

static void handle_line(struct api *api, struct api_client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *id = NULL;
	char err[300];

	if (!req) {
		snprintf(err, sizeof(err), "malformed JSON: %s", jerr.text);
		return reply_error(api, c, NULL, "GenericError", err);
	}
	if (!json_is_object(req)) {
		json_decref(req);
		return reply_error(api, c, NULL, "GenericError", "a command is a JSON object");
	}
	id = json_object_get(req, "id");
	const char *cmd = json_string_value(json_object_get(req, "execute"));
	json_t *args = json_object_get(req, "arguments");
	if (!cmd) {
		reply_error(api, c, id, "GenericError", "missing 'execute' (a string)");
	} else if (args && !json_is_object(args)) {
		reply_error(api, c, id, "GenericError", "'arguments' must be an object");
	} else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "query-status") == 0) {
		cmd_status(api, c, id);
	} else if (strcmp(cmd, "query-migrate") == 0) {
		struct mig_progress p;
		mig_get_progress(api->vm, &p);
		reply(api, c, id, progress_json(&p));
	} else if (strcmp(cmd, "migrate") == 0) {
		json_t *empty = json_object();
		cmd_migrate(api, c, id, args ? args : empty);
		json_decref(empty);
	} else if (strcmp(cmd, "migrate-resolve") == 0) {
		json_t *empty = json_object();
		cmd_migrate_resolve(api, c, id, args ? args : empty);
		json_decref(empty);
	} else if (strcmp(cmd, "migrate-cancel") == 0) {
		if (mig_cancel(api->vm, err, sizeof(err)) < 0)
			reply_error(api, c, id, "GenericError", err);
		else
			reply(api, c, id, NULL);
	} else if (strcmp(cmd, "pause") == 0) {
		/* The state machine says whether a pause is allowed now (not
		 * while incoming or migrating); the vCPUs stop once. */
		if (vm_state_event(api->vm, VM_EV_PAUSE, err, sizeof(err)) < 0) {
			reply_error(api, c, id, "GenericError", err);
		} else {
			if (!api->user_paused && vm_pause(api->vm) == 0)
				api->user_paused = true;
			reply(api, c, id, NULL);
		}
	} else if (strcmp(cmd, "resume") == 0 || strcmp(cmd, "cont") == 0) {
		if (vm_state_event(api->vm, VM_EV_RESUME, err, sizeof(err)) < 0) {
			reply_error(api, c, id, "GenericError", err);
		} else {
			if (api->user_paused) {
				vm_resume(api->vm);
				api->user_paused = false;
			}
			reply(api, c, id, NULL);
		}
	} else if (strcmp(cmd, "device-del") == 0 || strcmp(cmd, "device-add") == 0) {
		json_t *empty = json_object();
		if (api->hp_client)
			reply_error(api, c, id, "GenericError", "another device-del/device-add is in progress");
		else
			cmd_hotplug(api, c, id, args ? args : empty, cmd[7] == 'a');
		json_decref(empty);
	} else if (strcmp(cmd, "quit") == 0) {
		reply(api, c, id, NULL);
		vm_request_exit(api->vm, 0);
	} else {
		snprintf(err, sizeof(err), "unknown command '%.64s'", cmd);
		reply_error(api, c, id, "CommandNotFound", err);
	}
	json_decref(req);
}

static void client_readable(void *opaque, uint32_t events)
{
	struct api_client *c = opaque;
	struct api *api = c->api;
	(void)events;

	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			client_close(api, c);
		return;
	}
	c->len += (size_t)n;
	size_t start = 0;
	for (size_t i = c->len - (size_t)n; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		if (c->discarding)
			c->discarding = false;
		else if (i > start)
			handle_line(api, c, c->buf + start, i - start);
		start = i + 1;
		/* handle_line may have closed the client. */
		bool alive = false;
		for (int k = 0; k < API_MAX_CLIENTS; k++)
			alive |= api->clients[k] == c;
		if (!alive)
			return;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len == sizeof(c->buf)) {
		c->len = 0;
		if (!c->discarding) {
			c->discarding = true;
			reply_error(api, c, NULL, "GenericError", "line too long (limit 65536 bytes)");
		}
	}
}

static void accept_client(void *opaque, uint32_t events)
{
	struct api *api = opaque;
	(void)events;

	/* The control socket can pause, migrate (send all of guest RAM
	 * elsewhere) and quit the VM: only a trusted peer is served (this
	 * user, root or the group of $COMPSC_SOCKET_GROUP; unix_sock.h). */
	int fd = unix_sock_accept(api->listen_fd, SOCK_NONBLOCK, "api", &api->refused_log);
	if (fd < 0)
		return;
	int slot = -1;
	for (int i = 0; i < API_MAX_CLIENTS && slot < 0; i++)
		if (!api->clients[i])
			slot = i;
	struct api_client *c = slot >= 0 ? malloc(sizeof(*c)) : NULL;
	if (!c) {
		static const char busy[] = "{\"error\":{\"class\":\"GenericError\",\"desc\":\"too many clients\"}}\n";
		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("api: %s", strerror(errno));
		close(fd);
		return;
	}
	c->api = api;
	c->fd = fd;
	c->len = 0;
	c->discarding = false;
	if (evloop_add(&api->vm->loop, fd, EPOLLIN, client_readable, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	api->clients[slot] = c;
	json_t *hello = json_pack("{s:{s:s,s:s,s:[ssssssssss]}}", "greeting", "program", "compsc-vmm", "version", "1",
				  "commands", "status", "pause", "resume", "migrate", "migrate-cancel",
				  "migrate-resolve", "query-migrate", "device-del", "device-add", "quit");
	if (!client_send(c, hello))
		client_close(api, c);
	json_decref(hello);
}

struct api *api_create(struct vm *vm, const char *path, char *err, size_t errlen)
{
	struct api *api = calloc(1, sizeof(*api));
	char why[256];

	if (!api) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	api->vm = vm;
	snprintf(api->path, sizeof(api->path), "%s", path);
	api->refused_log = (struct ratelimit)RATELIMIT_INIT(5);
	api->listen_fd = unix_sock_listen(path, 8, SOCK_NONBLOCK, UNIX_SOCK_PRIVATE, why, sizeof(why));
	if (api->listen_fd < 0) {
		snprintf(err, errlen, "--api: %s", why);
		free(api);
		return NULL;
	}
	int ret = evloop_add(&vm->loop, api->listen_fd, EPOLLIN, accept_client, api);
	if (ret < 0) {
		snprintf(err, errlen, "--api %s: %s", path, strerror(-ret));
		close(api->listen_fd);
		unlink(path);
		free(api);
		return NULL;
	}
	return api;
}

void api_destroy(struct api *api)
{
	if (!api)
		return;
	for (int i = 0; i < API_MAX_CLIENTS; i++)
		if (api->clients[i])
			client_close(api, api->clients[i]);
	evloop_remove(&api->vm->loop, api->listen_fd);
	close(api->listen_fd);
	unlink(api->path);
	json_decref(api->hp_id);
	free(api);
}
