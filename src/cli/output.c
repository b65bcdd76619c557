/* Output in the shapes of SPIRE's Go CLI. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/gojson.h"
#include "cli/output.h"
#include "core/mem.h"

/* grpc-go's names, by code number. */
static const char *const output_codes[] = {
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
	"FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
	"Internal", "Unavailable", "DataLoss", "Unauthenticated",
};

#define OUTPUT_NCODES	(sizeof(output_codes) / sizeof(output_codes[0]))

/* Fraction digits for output_duration. */
static char	*output_frac(char *, uint64_t *, int);
static char	*output_uint(char *, uint64_t);

int
output_format_parse(const char *s, enum output_format *out)
{
	if (s == NULL || *s == '\0' || strcasecmp(s, "pretty") == 0 ||
	    strcasecmp(s, "prettyprint") == 0)
		*out = OUTPUT_PRETTY;
	else if (strcasecmp(s, "json") == 0)
		*out = OUTPUT_JSON;
	else
		return -1;
	return 0;
}

const char *
output_code_name(int code, char *buf, size_t size)
{
	if (code >= 0 && (size_t)code < OUTPUT_NCODES)
		return output_codes[code];
	snprintf(buf, size, "Code(%d)", code);
	return buf;
}

void
output_rpc_error(char *buf, size_t size, int code, const char *msg)
{
	char	name[24];

	snprintf(buf, size, "rpc error: code = %s desc = %s",
	    output_code_name(code, name, sizeof(name)),
	    msg != NULL ? msg : "");
}

int
output_time(int64_t t, int utc, char *buf, size_t size)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	long		 off;
	size_t		 n;
	int		 m;

	if ((utc ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm)) == NULL)
		return -1;
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S ", &tm);
	if (n == 0)
		return -1;
	off = utc ? 0 : tm.tm_gmtoff;
	m = snprintf(buf + n, size - n, "%c%02ld%02ld %s",
	    off < 0 ? '-' : '+', (off < 0 ? -off : off) / 3600,
	    ((off < 0 ? -off : off) % 3600) / 60,
	    utc ? "UTC" : tm.tm_zone);
	if (m < 0 || (size_t)m >= size - n)
		return -1;
	return (int)n + m;
}

int
output_time_rfc3339(int64_t t, char *buf, size_t size)
{
	struct tm	tm;
	time_t		tt = (time_t)t;
	size_t		n;

	if (gmtime_r(&tt, &tm) == NULL)
		return -1;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return n == 0 ? -1 : (int)n;
}

/*
 * Writes, backwards before end, the prec lowest decimal digits of *v as
 * a fraction without trailing zeros (and no point when they are all
 * zero), and divides *v by 10^prec: Go's fmtFrac.
 */
static char *
output_frac(char *end, uint64_t *v, int prec)
{
	char	*w = end;
	int	 print = 0, i, digit;

	for (i = 0; i < prec; i++) {
		digit = (int)(*v % 10);
		print = print || digit != 0;
		if (print)
			*--w = (char)('0' + digit);
		*v /= 10;
	}
	if (print)
		*--w = '.';
	return w;
}

/* Writes v in decimal backwards before end: Go's fmtInt. */
static char *
output_uint(char *end, uint64_t v)
{
	char	*w = end;

	if (v == 0)
		*--w = '0';
	while (v > 0) {
		*--w = (char)('0' + v % 10);
		v /= 10;
	}
	return w;
}

int
output_duration(int64_t ns, char *buf, size_t size)
{
	char		 tmp[OUTPUT_DURATION_MAX];
	char		*end = tmp + sizeof(tmp), *w = end;
	uint64_t	 u = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	size_t		 n;

	if (u < 1000000000ULL) {
		if (u == 0) {
			w -= 2;
			memcpy(w, "0s", 2);
		} else if (u < 1000ULL) {
			w -= 2;
			memcpy(w, "ns", 2);
			w = output_uint(w, u);
		} else if (u < 1000000ULL) {
			/* U+00B5 MICRO SIGN, as Go writes it. */
			w -= 3;
			memcpy(w, "\xc2\xb5s", 3);
			w = output_frac(w, &u, 3);
			w = output_uint(w, u);
		} else {
			w -= 2;
			memcpy(w, "ms", 2);
			w = output_frac(w, &u, 6);
			w = output_uint(w, u);
		}
	} else {
		*--w = 's';
		w = output_frac(w, &u, 9);
		w = output_uint(w, u % 60);
		u /= 60;
		if (u > 0) {
			*--w = 'm';
			w = output_uint(w, u % 60);
			u /= 60;
			if (u > 0) {
				*--w = 'h';
				w = output_uint(w, u);
			}
		}
	}
	if (ns < 0)
		*--w = '-';
	n = (size_t)(end - w);
	if (n + 1 > size)
		return -1;
	memcpy(buf, w, n);
	buf[n] = '\0';
	return (int)n;
}

void
output_quote(FILE *f, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len;

	fputc('"', f);
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			continue;
		case '\\':
			fputs("\\\\", f);
			continue;
		case '\a':
			fputs("\\a", f);
			continue;
		case '\b':
			fputs("\\b", f);
			continue;
		case '\f':
			fputs("\\f", f);
			continue;
		case '\n':
			fputs("\\n", f);
			continue;
		case '\r':
			fputs("\\r", f);
			continue;
		case '\t':
			fputs("\\t", f);
			continue;
		case '\v':
			fputs("\\v", f);
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\x%02x", *p);
			continue;
		}
		if (*p < 0x80) {
			fputc(*p, f);
			continue;
		}
		/*
		 * A whole UTF-8 sequence goes out as it is.
		 * XXX: Go escapes runes unicode.IsPrint rejects (\u00a0,
		 * \u200b...) as \u; they are printed raw here.
		 */
		len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
		    (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (len == 0 || strnlen((const char *)p, len) < len ||
		    ((p[1] & 0xc0) != 0x80) || (len > 2 &&
		    (p[2] & 0xc0) != 0x80) || (len > 3 &&
		    (p[3] & 0xc0) != 0x80)) {
			fprintf(f, "\\x%02x", *p);
			continue;
		}
		fwrite(p, 1, len, f);
		p += len - 1;
	}
	fputc('"', f);
}

const char *
output_plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int
output_json_take(json_t *v)
{
	char	*s;

	s = gojson_dumps(v, GOJSON_SORT_KEYS | GOJSON_HTML_SAFE);
	json_decref(v);
	if (s == NULL) {
		fprintf(stderr, "Error: cannot format the JSON output\n");
		return -1;
	}
	printf("%s\n", s);
	mem_free(s);
	return 0;
}

int
output_errorf(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}
