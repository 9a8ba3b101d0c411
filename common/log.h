/* Host-side logging: one line per message on stderr,
 *   compsc-vmm: warn: bus: unclaimed MMIO write at 0xd0001000 (4 bytes)
 * and a rate limiter for messages a guest or a peer can trigger at will. */
#ifndef CSC_COMMON_LOG_H
#define CSC_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(const char *program, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int log_parse_level(const char *name);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A bad command line: prints "program: message (see --help)" on stderr and
 * returns 2, the exit status for usage errors in every compsc program. */
#define CLI_EXIT_USAGE 2
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The --log-level option of every program: sets the level, or reports the
 * usage error; returns 0 or CLI_EXIT_USAGE. */
int cli_log_level_option(const char *value);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Allows `burst` messages per second; counts the rest and reports how many
 * were suppressed with the next message that passes. Not thread-safe on its
 * own: callers hold whatever lock protects the thing being logged, or accept
 * an approximate count. */
struct ratelimit {
	uint64_t window_start_ns;
	uint32_t burst;
	uint32_t passed;
	uint64_t suppressed;
};

#define RATELIMIT_INIT(n) { .burst = (n) }

/* true: log now; *suppressed receives how many were dropped since the last
 * message that passed (to mention it). */
bool ratelimit_pass(struct ratelimit *rl, uint64_t *suppressed);

uint64_t now_ns(void);	/* CLOCK_MONOTONIC */

#endif
