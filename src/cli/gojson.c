/* Go's encoding/json text from jansson trees. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/gojson.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/mem.h"

/* Longest "%.16e" of a double: sign, 17 digits, point, e, sign, 3. */
#define GOJSON_FLOAT_MAX	32

struct gojson_key {
	const char	*key;
	json_t		*value;
};

static int	gojson_put(struct buf *, const char *);
static int	gojson_string(struct buf *, const char *, size_t, unsigned);
static int	gojson_newline(struct buf *, unsigned, int);
static int	gojson_value(struct buf *, json_t *, unsigned, int);
static int	gojson_object(struct buf *, json_t *, unsigned, int);
static int	gojson_array(struct buf *, json_t *, unsigned, int);
static int	gojson_key_cmp(const void *, const void *);
static size_t	gojson_utf8_len(const unsigned char *, size_t);

static int
gojson_put(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/*
 * The length of the valid UTF-8 sequence at s (n bytes left), or 0 when
 * it is not one: what Go replaces with U+FFFD. jansson only holds valid
 * strings, but the check costs little and keeps the output valid.
 */
static size_t
gojson_utf8_len(const unsigned char *s, size_t n)
{
	size_t		 len, i;
	unsigned long	 cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A string as Go quotes it: \" \\ \b \f \n \r \t, other controls \u00XX. */
static int
gojson_string(struct buf *b, const char *str, size_t n, unsigned flags)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)str;
	char			 esc[8];
	size_t			 i = 0, len;

	if (buf_append(b, "\"", 1) == -1)
		return -1;
	while (i < n) {
		esc[0] = '\0';
		len = 1;
		switch (s[i]) {
		case '"':
			snprintf(esc, sizeof(esc), "\\\"");
			break;
		case '\\':
			snprintf(esc, sizeof(esc), "\\\\");
			break;
		case '\b':
			snprintf(esc, sizeof(esc), "\\b");
			break;
		case '\f':
			snprintf(esc, sizeof(esc), "\\f");
			break;
		case '\n':
			snprintf(esc, sizeof(esc), "\\n");
			break;
		case '\r':
			snprintf(esc, sizeof(esc), "\\r");
			break;
		case '\t':
			snprintf(esc, sizeof(esc), "\\t");
			break;
		case '<':
		case '>':
		case '&':
			if (flags & GOJSON_HTML_SAFE)
				snprintf(esc, sizeof(esc), "\\u00%c%c",
				    hex[s[i] >> 4], hex[s[i] & 0xf]);
			break;
		default:
			if (s[i] < 0x20) {
				snprintf(esc, sizeof(esc), "\\u00%c%c",
				    hex[s[i] >> 4], hex[s[i] & 0xf]);
				break;
			}
			len = gojson_utf8_len(s + i, n - i);
			if (len == 0) {
				snprintf(esc, sizeof(esc), "\\ufffd");
				len = 1;
			} else if (len == 3 && s[i] == 0xe2 &&
			    s[i + 1] == 0x80 && (s[i + 2] == 0xa8 ||
			    s[i + 2] == 0xa9)) {
				/* U+2028, U+2029: Go escapes them always. */
				snprintf(esc, sizeof(esc), "\\u202%c",
				    s[i + 2] == 0xa8 ? '8' : '9');
			}
			break;
		}
		if (esc[0] != '\0') {
			if (gojson_put(b, esc) == -1)
				return -1;
		} else if (buf_append(b, s + i, len) == -1)
			return -1;
		i += len;
	}
	return buf_append(b, "\"", 1);
}

int
gojson_format_float(double v, char *buf, size_t size)
{
	char	 e[GOJSON_FLOAT_MAX], digits[GOJSON_FLOAT_MAX];
	char	 out[GOJSON_FLOAT_MAX * 2];
	char	*p, *end;
	double	 a = fabs(v);
	long	 exp10;
	size_t	 nd = 0, o = 0;
	int	 prec, n;

	if (!isfinite(v))
		return -1;
	/* The shortest precision that reads back as the same double. */
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e is [-]d[.ddd]e[+-]xx: split it into digits and exponent. */
	p = e;
	if (*p == '-')
		out[o++] = *p++;
	for (; *p != 'e'; p++) {
		if (*p != '.')
			digits[nd++] = *p;
	}
	exp10 = strtol(p + 1, &end, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	if (a != 0 && (a < 1e-6 || a >= 1e21)) {
		/* Go's 'e' format, with "e-07" cleaned up to "e-7". */
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		n = snprintf(out + o, sizeof(out) - o, "e%c%ld",
		    exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
		o += (size_t)n;
	} else if (exp10 < 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (; exp10 < -1; exp10++)
			out[o++] = '0';
		memcpy(out + o, digits, nd);
		o += nd;
	} else {
		/* Digits up to the point, zeros to fill, then a fraction. */
		for (n = 0; n <= exp10; n++)
			out[o++] = (size_t)n < nd ? digits[n] : '0';
		if ((size_t)exp10 + 1 < nd) {
			out[o++] = '.';
			memcpy(out + o, digits + exp10 + 1, nd - exp10 - 1);
			o += nd - exp10 - 1;
		}
	}
	out[o] = '\0';
	if (o + 1 > size)
		return -1;
	memcpy(buf, out, o + 1);
	return (int)o;
}

/* A newline and the indentation of depth, when indenting. */
static int
gojson_newline(struct buf *b, unsigned flags, int depth)
{
	int	i;

	if (!(flags & GOJSON_INDENT))
		return 0;
	if (buf_append(b, "\n", 1) == -1)
		return -1;
	for (i = 0; i < depth; i++) {
		if (buf_append(b, "    ", 4) == -1)
			return -1;
	}
	return 0;
}

static int
gojson_key_cmp(const void *a, const void *b)
{
	const struct gojson_key	*x = a, *y = b;

	return strcmp(x->key, y->key);
}

static int
gojson_object(struct buf *b, json_t *o, unsigned flags, int depth)
{
	struct gojson_key	*keys;
	const char		*k;
	json_t			*v;
	size_t			 n = json_object_size(o), i = 0;
	int			 rc = -1;

	if (n == 0)
		return buf_append(b, "{}", 2);
	keys = mem_calloc(n, sizeof(*keys));
	if (keys == NULL)
		return -1;
	json_object_foreach(o, k, v) {
		keys[i].key = k;
		keys[i].value = v;
		i++;
	}
	if (flags & GOJSON_SORT_KEYS)
		qsort(keys, n, sizeof(*keys), gojson_key_cmp);
	if (buf_append(b, "{", 1) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if ((i > 0 && buf_append(b, ",", 1) == -1) ||
		    gojson_newline(b, flags, depth + 1) == -1 ||
		    gojson_string(b, keys[i].key, strlen(keys[i].key),
		    flags) == -1 ||
		    gojson_put(b, flags & GOJSON_INDENT ? ": " : ":") == -1 ||
		    gojson_value(b, keys[i].value, flags, depth + 1) == -1)
			goto out;
	}
	if (gojson_newline(b, flags, depth) == -1 ||
	    buf_append(b, "}", 1) == -1)
		goto out;
	rc = 0;
out:
	mem_free(keys);
	return rc;
}

static int
gojson_array(struct buf *b, json_t *a, unsigned flags, int depth)
{
	size_t	i, n = json_array_size(a);

	if (n == 0)
		return buf_append(b, "[]", 2);
	if (buf_append(b, "[", 1) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((i > 0 && buf_append(b, ",", 1) == -1) ||
		    gojson_newline(b, flags, depth + 1) == -1 ||
		    gojson_value(b, json_array_get(a, i), flags,
		    depth + 1) == -1)
			return -1;
	}
	if (gojson_newline(b, flags, depth) == -1)
		return -1;
	return buf_append(b, "]", 1);
}

static int
gojson_value(struct buf *b, json_t *v, unsigned flags, int depth)
{
	char	num[GOJSON_FLOAT_MAX * 2];

	if (depth > CLI_JSON_DEPTH_MAX)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return gojson_object(b, v, flags, depth);
	case JSON_ARRAY:
		return gojson_array(b, v, flags, depth);
	case JSON_STRING:
		return gojson_string(b, json_string_value(v),
		    json_string_length(v), flags);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return gojson_put(b, num);
	case JSON_REAL:
		if (gojson_format_float(json_real_value(v), num,
		    sizeof(num)) == -1)
			return -1;
		return gojson_put(b, num);
	case JSON_TRUE:
		return gojson_put(b, "true");
	case JSON_FALSE:
		return gojson_put(b, "false");
	case JSON_NULL:
		return gojson_put(b, "null");
	}
	return -1;
}

char *
gojson_dumps(json_t *v, unsigned flags)
{
	struct buf	 b;
	uint8_t		*p;
	size_t		 n;

	if (v == NULL)
		return NULL;
	buf_init(&b, CLI_JSON_MAX);
	if (gojson_value(&b, v, flags, 0) == -1 ||
	    buf_append(&b, "", 1) == -1) {
		buf_cleanup(&b);
		return NULL;
	}
	p = buf_take(&b, &n);
	return (char *)p;
}
