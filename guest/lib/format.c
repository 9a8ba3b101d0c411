#include "guest/format.h"

#include <stdbool.h>
#include <stdint.h>

#include "guest/string.h"

struct out {
	char *buf;
	size_t size, len;	/* len counts every byte, even past size */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

static void put_number(struct out *o, unsigned long long v, bool negative, unsigned base,
		       bool upper, int width, int precision, bool left, bool zero, const char *prefix)
{
	char digits[24];
	int n = 0, plen = (int)strlen(prefix) + negative;
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	do {
		digits[n++] = set[v % base];
		v /= base;
	} while (v);
	if (precision == 0 && n == 1 && digits[0] == '0')
		n = 0;
	int zeros = precision > n ? precision - n : 0;
	int total = plen + zeros + n;
	if (!left && !(zero && precision < 0))
		pad(o, ' ', width - total);
	if (negative)
		put(o, '-');
	for (const char *p = prefix; *p; p++)
		put(o, *p);
	if (!left && zero && precision < 0)
		pad(o, '0', width - total);
	pad(o, '0', zeros);
	while (n)
		put(o, digits[--n]);
	if (left)
		pad(o, ' ', width - total);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		bool left = false, zero = false, alt = false;
		int width = 0, precision = -1, lng = 0;
		for (;; fmt++) {
			if (fmt[1] == '-')
				left = true;
			else if (fmt[1] == '0')
				zero = true;
			else if (fmt[1] == '#')
				alt = true;
			else
				break;
		}
		fmt++;
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0)
				left = true, width = -width;
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		if (*fmt == '.') {
			fmt++;
			precision = 0;
			if (*fmt == '*') {
				precision = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					precision = precision * 10 + (*fmt++ - '0');
			}
		}
		for (;; fmt++) {
			if (*fmt == 'l')
				lng++;
			else if (*fmt == 'z' || *fmt == 't' || *fmt == 'j')
				lng = 2;
			else if (*fmt != 'h')
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			long long v = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
			put_number(&o, u, v < 0, 10, false, width, precision, left, zero, "");
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
					       : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
			const char *prefix = alt && base == 16 && v ? (*fmt == 'X' ? "0X" : "0x") : "";
			put_number(&o, v, false, base, *fmt == 'X', width, precision, left, zero, prefix);
			break;
		}
		case 'p':
			put_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, width, precision,
				   left, zero, "0x");
			break;
		case 'c':
			if (!left)
				pad(&o, ' ', width - 1);
			put(&o, (char)va_arg(ap, int));
			if (left)
				pad(&o, ' ', width - 1);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)(precision >= 0 ? strnlen(s, (size_t)precision) : strlen(s));
			if (!left)
				pad(&o, ' ', width - n);
			for (int i = 0; i < n; i++)
				put(&o, s[i]);
			if (left)
				pad(&o, ' ', width - n);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
