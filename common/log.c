#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_program = "compsc";
static enum log_level log_level = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_init(const char *program, enum log_level level)
{
	log_program = program;
	log_level = level;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_parse_level(const char *name)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", log_program, level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* One write per line so messages of several threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return CLI_EXIT_USAGE;
}

int cli_log_level_option(const char *value)
{
	int level = log_parse_level(value);

	if (level < 0)
		return cli_usage_error("--log-level: '%s' is not one of error, warn, info, debug", value);
	log_set_level((enum log_level)level);
	return 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool ratelimit_pass(struct ratelimit *rl, uint64_t *suppressed)
{
	uint64_t now = now_ns();

	if (now - rl->window_start_ns >= 1000000000ull) {
		rl->window_start_ns = now;
		rl->passed = 0;
	}
	if (rl->passed >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->passed++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
