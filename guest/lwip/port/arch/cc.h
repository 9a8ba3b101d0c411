/* lwIP architecture description for the freestanding CompSC guest (x86-64,
 * no libc, no floating point). */
#ifndef CSC_LWIP_ARCH_CC_H
#define CSC_LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

#include "guest/rt.h"

/* No <inttypes.h>, <ctype.h> or <errno.h> in the guest. */
#define LWIP_NO_INTTYPES_H 1
#define X8_F  "02x"
#define U16_F "hu"
#define S16_F "hd"
#define X16_F "hx"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"
#define LWIP_NO_CTYPE_H 1
#define LWIP_PROVIDE_ERRNO 1

#define BYTE_ORDER LITTLE_ENDIAN

#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) panic("lwIP assertion \"%s\" failed at %s:%d", x, __FILE__, __LINE__)

/* Initial sequence numbers, ports, IP IDs: a TSC-seeded xorshift (net/port.c). */
uint32_t csc_lwip_rand(void);
#define LWIP_RAND() csc_lwip_rand()

#endif
