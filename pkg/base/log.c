#include "base/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "base/banned.h"

enum log_level log_level_current = LOG_LEVEL_INFO;
static FILE *log_stream;

int log_set_level(const char *name)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			log_level_current = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_set_stream(FILE *f)
{
	log_stream = f;
}

/* A string value as the reader of a logfmt line must see it: inside quotes
 * (`quoted`: the format put them there) a quote and a backslash are
 * escaped; every control character (a newline above all: it would start
 * a line of its own, with a level and a message of its choosing) is
 * written as \n, \r, \t or \xHH. An unquoted value that would end its key
 * early or start another (a space, a quote, an '=') is quoted here. */
static void put_value(FILE *out, const char *s, size_t n, bool quoted)
{
	bool quote = false;
	if (!quoted)
		for (size_t i = 0; i < n && !quote; i++) {
			unsigned char ch = (unsigned char)s[i];
			quote = ch <= ' ' || ch == '"' || ch == '=' || ch == '\\' || ch == 0x7f;
		}
	if (quote)
		fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\n')
			fputs("\\n", out);
		else if (ch == '\r')
			fputs("\\r", out);
		else if (ch == '\t')
			fputs("\\t", out);
		else if (ch < ' ' || ch == 0x7f)
			fprintf(out, "\\x%02x", ch);
		else if ((quoted || quote) && (ch == '"' || ch == '\\')) {
			fputc('\\', out);
			fputc(ch, out);
		} else
			fputc(ch, out);
	}
	if (quote)
		fputc('"', out);
}

/* One conversion (spec: "%...c", its stars already replaced by numbers),
 * its argument taken from ap. Numbers cannot carry a line break and are
 * printed as they are; strings and characters go through put_value. */
static void put_conversion(FILE *out, const char *spec, const char *len, char conv, int prec,
			   bool has_prec, bool quoted, va_list *ap)
{
	char num[128];
	/* spec is one conversion taken from a format the compiler checked
	 * (log_emit's format attribute), with the argument of its type. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	switch (conv) {
	case 'd':
	case 'i':
		if (!strcmp(len, "ll"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, long long));
		else if (!strcmp(len, "l"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, long));
		else if (!strcmp(len, "z"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, ssize_t));
		else if (!strcmp(len, "j"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, intmax_t));
		else if (!strcmp(len, "t"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, ptrdiff_t));
		else
			snprintf(num, sizeof(num), spec, va_arg(*ap, int));
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		if (!strcmp(len, "ll"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, unsigned long long));
		else if (!strcmp(len, "l"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, unsigned long));
		else if (!strcmp(len, "z"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, size_t));
		else if (!strcmp(len, "j"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, uintmax_t));
		else if (!strcmp(len, "t"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, ptrdiff_t));
		else
			snprintf(num, sizeof(num), spec, va_arg(*ap, unsigned));
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		if (!strcmp(len, "L"))
			snprintf(num, sizeof(num), spec, va_arg(*ap, long double));
		else
			snprintf(num, sizeof(num), spec, va_arg(*ap, double));
		break;
	case 'p':
		snprintf(num, sizeof(num), spec, va_arg(*ap, void *));
		break;
	case 'c': {
		char ch = (char)va_arg(*ap, int);
		put_value(out, &ch, 1, quoted);
		return;
	}
	case 's': {
		const char *s = va_arg(*ap, const char *);
		if (!s)
			s = "(null)";
		put_value(out, s, has_prec ? strnlen(s, prec < 0 ? 0 : (size_t)prec) : strlen(s),
			  quoted);
		return;
	}
	default:
		/* Not a conversion log lines use: shown as written. */
		snprintf(num, sizeof(num), "%s", spec);
		break;
	}
#pragma GCC diagnostic pop
	fputs(num, out);
}

/* vfprintf, with every value escaped (put_conversion). */
static void put_kv(FILE *out, const char *fmt, va_list *ap)
{
	const char *p = fmt;
	while (*p) {
		if (*p != '%') {
			fputc(*p++, out);
			continue;
		}
		if (p[1] == '%') {
			fputc('%', out);
			p += 2;
			continue;
		}
		bool quoted = p > fmt && p[-1] == '"';
		char spec[64], len[3] = "";
		size_t n = 0;
		int prec = -1;
		bool has_prec = false;
		spec[n++] = *p++;
		while (*p && strchr("-+ #0", *p) && n < 8)
			spec[n++] = *p++;
		if (*p == '*') {
			n += (size_t)snprintf(spec + n, sizeof(spec) - n, "%d", va_arg(*ap, int));
			p++;
		} else
			while (*p >= '0' && *p <= '9' && n < 20)
				spec[n++] = *p++;
		if (*p == '.') {
			has_prec = true;
			spec[n++] = *p++;
			if (*p == '*') {
				prec = va_arg(*ap, int);
				p++;
			} else {
				prec = 0;
				while (*p >= '0' && *p <= '9' && prec < 100000)
					prec = prec * 10 + (*p++ - '0');
			}
			n +=
			    (size_t)snprintf(spec + n, sizeof(spec) - n, "%d", prec < 0 ? 0 : prec);
		}
		for (size_t k = 0; k < 2 && *p && strchr("hlzjtL", *p); k++)
			len[k] = *p++;
		if (!*p)
			break; /* a format cut short: nothing to convert */
		n += (size_t)snprintf(spec + n, sizeof(spec) - n, "%s%c", len, *p);
		put_conversion(out, spec, len, *p++, prec, has_prec, quoted, ap);
	}
}

void log_emit(enum log_level lvl, const char *msg, const char *kvfmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	FILE *out = log_stream ? log_stream : stderr;
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	/* One stream lock for the line: lines never interleave. */
	flockfile(out);
	fprintf(out, "ts=%s.%03ldZ level=%s msg=\"", when, ts.tv_nsec / 1000000L, names[lvl]);
	put_value(out, msg ? msg : "", msg ? strlen(msg) : 0, true);
	fputc('"', out);
	if (kvfmt && *kvfmt) {
		va_list ap;
		va_start(ap, kvfmt);
		fputc(' ', out);
		put_kv(out, kvfmt, &ap);
		va_end(ap);
	}
	fputc('\n', out);
	funlockfile(out);
}
