/* printf-style formatting for the guest: %d %i %u %x %X %o %p %s %c %%, with
 * flags '-', '0', width, precision (also '*'), and length modifiers hh h l
 * ll z t j. No floating point (the guest is built without SSE). */
#ifndef GUEST_FORMAT_H
#define GUEST_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
