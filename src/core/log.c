/* Logging in SPIRE's text or JSON line shape. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"

struct line {
	char	 s[LOG_LINE_MAX];
	size_t	 len;
};

static void	line_add(struct line *, const char *, size_t);
static void	line_str(struct line *, const char *);
static void	line_value(struct line *, const char *);
static void	line_field(struct line *, const char *, const char *);
static void	log_emit(enum log_level, const char *, const char *,
		    const char *, const char *, va_list);
static void	log_vfmt(enum log_level, const char *, const char *,
		    const char *, va_list)
		    __attribute__((format(printf, 4, 0)));

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_ERROR] = "error",
};

static pthread_mutex_t	 log_lock = PTHREAD_MUTEX_INITIALIZER;
static int		 log_fd = STDERR_FILENO;
static char		*log_path;
static enum log_level	 log_min = LOG_LEVEL_INFO;
static enum log_format	 log_fmt = LOG_FORMAT_TEXT;

int
log_open(const char *path)
{
	char	*copy = NULL;
	int	 fd = STDERR_FILENO;

	if (path != NULL) {
		copy = mem_strdup(path);
		if (copy == NULL)
			return -1;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0600);
		if (fd == -1) {
			mem_free(copy);
			return -1;
		}
	}
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	mem_free(log_path);
	log_path = copy;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

int
log_reopen(void)
{
	char	*path;
	int	 rc;

	if (log_path == NULL)
		return 0;
	path = mem_strdup(log_path);
	if (path == NULL)
		return -1;
	rc = log_open(path);
	mem_free(path);
	return rc;
}

void
log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
	mem_free(log_path);
	log_path = NULL;
	pthread_mutex_unlock(&log_lock);
}

void
log_set_level(enum log_level level)
{
	log_min = level;
}

void
log_set_format(enum log_format f)
{
	log_fmt = f;
}

int
log_enabled(enum log_level level)
{
	return level >= log_min;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	static const struct {
		const char	*name;
		enum log_level	 level;
	} names[] = {
		{ "debug", LOG_LEVEL_DEBUG },
		{ "info", LOG_LEVEL_INFO },
		{ "warn", LOG_LEVEL_WARN },
		{ "warning", LOG_LEVEL_WARN },
		{ "error", LOG_LEVEL_ERROR },
	};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -1;
}

int
log_parse_format(const char *s, enum log_format *out)
{
	if (strcasecmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcasecmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

static void
line_add(struct line *l, const char *s, size_t n)
{
	/* Keep one byte for the newline; a long line is cut, not split. */
	if (n > sizeof(l->s) - 1 - l->len)
		n = sizeof(l->s) - 1 - l->len;
	memcpy(l->s + l->len, s, n);
	l->len += n;
}

static void
line_str(struct line *l, const char *s)
{
	line_add(l, s, strlen(s));
}

/*
 * A value: quoted and escaped in JSON, and in text wherever logrus (SPIRE's
 * logger) would quote it: any byte outside [A-Za-z0-9-._/@^+].
 */
static void
line_value(struct line *l, const char *v)
{
	const unsigned char	*p;
	char			 esc[8];
	int			 quote;

	if (v == NULL)
		v = "none";
	quote = log_fmt == LOG_FORMAT_JSON || *v == '\0';
	for (p = (const unsigned char *)v; *p != '\0' && !quote; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._/@^+", *p) != NULL))
			quote = 1;
	}
	if (!quote) {
		line_str(l, v);
		return;
	}
	line_add(l, "\"", 1);
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			line_add(l, esc, 2);
		} else if (*p == '\n') {
			line_add(l, "\\n", 2);
		} else if (*p == '\t') {
			line_add(l, "\\t", 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			line_add(l, esc, 6);
		} else {
			line_add(l, (const char *)p, 1);
		}
	}
	line_add(l, "\"", 1);
}

static void
line_field(struct line *l, const char *key, const char *value)
{
	if (log_fmt == LOG_FORMAT_JSON) {
		if (l->len > 1)
			line_add(l, ",", 1);
		line_value(l, key);
		line_add(l, ":", 1);
	} else {
		if (l->len > 0)
			line_add(l, " ", 1);
		line_str(l, key);
		line_add(l, "=", 1);
	}
	line_value(l, value);
}

/*
 * Formats and writes one line. extra_key/extra_val is one more field
 * (the error text of log_warn), ap holds the caller's key/value pairs.
 */
static void
log_emit(enum log_level level, const char *subsys, const char *msg,
    const char *extra_key, const char *extra_val, va_list ap)
{
	struct line	 l;
	struct timeval	 tv;
	struct tm	 tm;
	char		 ts[64];
	const char	*k, *v;
	ssize_t		 n;
	size_t		 done;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000) % 1000);
	l.len = 0;
	if (log_fmt == LOG_FORMAT_JSON)
		line_add(&l, "{", 1);
	line_field(&l, "time", ts);
	line_field(&l, "level", level_names[level]);
	line_field(&l, "msg", msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		line_field(&l, k, v);
	}
	if (extra_key != NULL)
		line_field(&l, extra_key, extra_val);
	if (subsys != NULL)
		line_field(&l, "subsystem_name", subsys);
	if (log_fmt == LOG_FORMAT_JSON)
		line_add(&l, "}", 1);
	l.s[l.len++] = '\n';

	pthread_mutex_lock(&log_lock);
	for (done = 0; done < l.len; done += (size_t)n) {
		n = write(log_fd, l.s + done, l.len - done);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	pthread_mutex_unlock(&log_lock);
}

/* Calls log_emit with an empty pair list. */
static void
log_emit_plain(enum log_level level, const char *subsys, const char *msg,
    const char *extra_key, const char *extra_val, ...)
{
	va_list	 ap;

	va_start(ap, extra_val);
	log_emit(level, subsys, msg, extra_key, extra_val, ap);
	va_end(ap);
}

static void
log_vfmt(enum log_level level, const char *subsys, const char *err,
    const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX / 2];

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit_plain(level, subsys, msg, err != NULL ? "error" : NULL,
	    err, (const char *)NULL);
}

void
log_kv_va(enum log_level level, const char *subsys, const char *msg,
    va_list ap)
{
	if (!log_enabled(level))
		return;
	log_emit(level, subsys, msg, NULL, NULL, ap);
}

void
log_kv(enum log_level level, const char *subsys, const char *msg, ...)
{
	va_list	 ap;

	va_start(ap, msg);
	log_kv_va(level, subsys, msg, ap);
	va_end(ap);
}

#define LOG_FMT_FN(name, level)						\
void									\
name(const char *subsys, const char *fmt, ...)				\
{									\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	log_vfmt(level, subsys, NULL, fmt, ap);				\
	va_end(ap);							\
}

LOG_FMT_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FMT_FN(log_info, LOG_LEVEL_INFO)
LOG_FMT_FN(log_warnx, LOG_LEVEL_WARN)
LOG_FMT_FN(log_error, LOG_LEVEL_ERROR)

void
log_warn(const char *subsys, const char *fmt, ...)
{
	va_list	 ap;
	char	 err[128];
	int	 saved = errno;

	snprintf(err, sizeof(err), "%s", strerror(saved));
	va_start(ap, fmt);
	log_vfmt(LOG_LEVEL_WARN, subsys, err, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *subsys, const char *fmt, ...)
{
	va_list	 ap;
	char	 err[128];

	snprintf(err, sizeof(err), "%s", strerror(errno));
	va_start(ap, fmt);
	log_vfmt(LOG_LEVEL_ERROR, subsys, err, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *subsys, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vfmt(LOG_LEVEL_ERROR, subsys, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
