/* The guest's libc subset: what the guest code and lwIP need, nothing more. */
#ifndef GUEST_STRING_H
#define GUEST_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strstr(const char *haystack, const char *needle);
int atoi(const char *s);
/* Parses an unsigned decimal or 0x-hex number; returns the characters
 * consumed (0 if none). */
size_t parse_u64(const char *s, unsigned long long *out);

#endif
