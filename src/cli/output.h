/*
 * What the operator commands print, in the shapes SPIRE's Go CLI gives
 * them: gRPC errors as grpc-go formats them, times as time.Time.String,
 * durations as time.Duration.String, strings quoted as %q, and the
 * -output json printer (protojson of the response, re-marshalled by
 * encoding/json: keys sorted, HTML-safe, one line).
 */
#ifndef CLI_OUTPUT_H
#define CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* -output of spire-server's and spire-agent's commands. */
enum output_format {
	OUTPUT_PRETTY,
	OUTPUT_JSON,
};

/* Bytes output_time and output_duration need at most, NUL included. */
#define OUTPUT_TIME_MAX		64
#define OUTPUT_DURATION_MAX	40
/* Bytes of an "rpc error: ..." line kept. */
#define OUTPUT_ERROR_MAX	1024

/*
 * "json", "pretty" or "prettyprint" in any case (as cliprinter takes
 * them); NULL or "" is pretty. 0, or -1 for anything else.
 */
int	 output_format_parse(const char *, enum output_format *);

/*
 * The name grpc-go's codes.Code.String gives: "OK", "Canceled",
 * "NotFound", ...; "Code(n)" for others, written into buf (at least 16
 * bytes) which is then returned.
 */
const char *output_code_name(int code, char *buf, size_t size);

/*
 * "rpc error: code = <Name> desc = <message>", the text of a grpc-go
 * status error, into buf (truncated to size).
 */
void	 output_rpc_error(char *buf, size_t size, int code, const char *msg);

/*
 * Unix time t as Go's time.Time.String prints it for whole seconds:
 * "2006-01-02 15:04:05 -0700 MST", in UTC or in local time. The length,
 * or -1 when it does not fit.
 */
int	 output_time(int64_t t, int utc, char *buf, size_t size);
/* t as RFC 3339 in UTC: "2006-01-02T15:04:05Z". Length or -1. */
int	 output_time_rfc3339(int64_t t, char *buf, size_t size);

/*
 * ns nanoseconds as Go's time.Duration.String: "0s", "850ns", "1.5µs",
 * "2.958205ms", "1.5s", "2m3.5s", "1h0m0s". Length or -1.
 */
int	 output_duration(int64_t ns, char *buf, size_t size);

/*
 * s as Go's %q quotes it (strconv.Quote): in double quotes, with \", \\,
 * \a \b \f \n \r \t \v, other control bytes as \x.., invalid UTF-8 as
 * \x.. and printable non-ASCII as it is.
 */
void	 output_quote(FILE *, const char *s);

/* one when n is 1, else many: util.Pluralizer. */
const char *output_plural(long n, const char *one, const char *many);

/*
 * Prints the tree as cliprinter's JSON printer does (sorted keys,
 * HTML-safe escaping, one line and a newline) to stdout, and drops the
 * reference. 0, or -1 with an "Error: ..." line on stderr when the
 * tree is NULL (out of memory) or does not serialise.
 */
int	 output_json_take(json_t *);

/* Prints "Error: <message>\n" to stderr and returns 1 (exit status). */
int	 output_errorf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
