/* The control socket (`compsc-vmm --api PATH`): line-delimited JSON
 * commands and events in the spirit of QEMU's QMP, served by the main
 * thread's event loop. Commands and replies are documented in docs/api.md.
 * Every byte from a client is untrusted: malformed JSON, over-long lines
 * and unknown commands get an error reply, never a crash. */
#ifndef CSC_VMM_API_H
#define CSC_VMM_API_H

#include <stddef.h>

struct vm;
struct api;

#define API_MAX_CLIENTS 16
#define API_MAX_LINE 65536

struct api *api_create(struct vm *vm, const char *path, char *err, size_t errlen);
void api_destroy(struct api *api);
/* Migration hook (main thread): emits MIGRATION events on changes. */
void api_migration_changed(void *opaque);

#endif
