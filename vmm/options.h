/* Parsing helpers for command-line values. */
#ifndef CSC_VMM_OPTIONS_H
#define CSC_VMM_OPTIONS_H

#include <stdint.h>

/* "256M", "1G", "4096", "64k": bytes; -EINVAL on anything else (including
 * overflow, empty strings, negative numbers and trailing garbage). */
int parse_size(const char *text, uint64_t *bytes);

#endif
