/*
 * Logging. One line per event carrying time, level, message, key=value
 * fields and the subsystem, in SPIRE's text (logfmt) or JSON shape, so an
 * operator's log tooling reads spirelet and SPIRE alike:
 *
 *   time="2026-12-03T21:40:39Z" level=info msg="listening" path=/tmp/a.sock
 *       subsystem_name=rpc
 *
 * Messages are lower case with no full stop. Never log key material.
 * Safe to call from the worker thread.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

/*
 * Sends lines to the file at path (appending, mode 0600), or to stderr
 * when path is NULL. 0, or -1 with errno set and the old target kept.
 */
int	 log_open(const char *path);
/* Reopens the log file after rotation (SIGHUP). 0 or -1 as log_open. */
int	 log_reopen(void);
void	 log_close(void);
void	 log_set_level(enum log_level);
void	 log_set_format(enum log_format);
int	 log_enabled(enum log_level);
/* "debug", "info", "warn" or "error", any case; 0 or -1 when unknown. */
int	 log_parse_level(const char *, enum log_level *);
/* "text" or "json", any case; 0 or -1 when unknown. */
int	 log_parse_format(const char *, enum log_format *);

/*
 * A message with fields: after msg come pairs of (const char *key,
 * const char *value), ended by NULL. A NULL value prints as "none".
 */
void	 log_kv(enum log_level, const char *subsys, const char *msg, ...)
	    __attribute__((sentinel));
void	 log_kv_va(enum log_level, const char *, const char *, va_list);

/* printf-style messages without fields. */
void	 log_debug(const char *subsys, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_info(const char *subsys, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* log_warn adds error=strerror(errno); log_warnx does not. */
void	 log_warn(const char *subsys, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_warnx(const char *subsys, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_error(const char *subsys, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Start-up failures and broken invariants only: log, then exit(1). */
void	 fatal(const char *subsys, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	 fatalx(const char *subsys, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif
