/* Parsing helpers for command-line values. */
#ifndef CSC_VMM_OPTIONS_H
#define CSC_VMM_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/net.h"

/* "256M", "1G", "4096", "64k": bytes; -EINVAL on anything else (including
 * overflow, empty strings, negative numbers and trailing garbage). */
int parse_size(const char *text, uint64_t *bytes);

/* --net: "tap:NAME[,mac=52:54:00:12:34:56]" (a unicast MAC); 0 or -EINVAL
 * with a message in err. */
int virtio_net_parse(const char *spec, struct virtio_net_opts *o, char *err, size_t err_len);

#endif
