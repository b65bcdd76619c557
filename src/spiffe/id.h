/*
 * SPIFFE IDs and trust domains, per the SPIFFE-ID standard:
 *
 *   spiffe://<trust domain>[/<segment>...]
 *
 * The scheme is matched without regard to case and always written in
 * lower case. Trust domains are lower case [a-z0-9._-], 1 to 255 bytes,
 * with no port, user info or percent-encoding. Path segments are
 * [a-zA-Z0-9._-], never empty, "." or "..", with no trailing slash,
 * query or fragment. A whole ID is at most 2048 bytes.
 *
 * Parsed values are plain structs with NUL-terminated fields and no
 * heap storage: copy them freely, nothing needs freeing.
 */
#ifndef SPIFFE_ID_H
#define SPIFFE_ID_H

#include <stddef.h>

#include "core/limits.h"

#define SPIFFE_SCHEME		"spiffe://"
#define SPIFFE_SCHEME_LEN	9

/* One code per rule, so callers and logs can say which one failed. */
enum spiffe_err {
	SPIFFE_OK = 0,
	SPIFFE_ERR_EMPTY,		/* the input is empty */
	SPIFFE_ERR_TOO_LONG,		/* ID over SPIFFE_ID_MAX bytes */
	SPIFFE_ERR_SCHEME,		/* not "spiffe://" */
	SPIFFE_ERR_TD_MISSING,		/* nothing before the path */
	SPIFFE_ERR_TD_TOO_LONG,		/* trust domain over SPIFFE_TD_MAX */
	SPIFFE_ERR_TD_UPPER,		/* upper-case letter in the TD */
	SPIFFE_ERR_TD_PORT,		/* ':' in the trust domain */
	SPIFFE_ERR_TD_USERINFO,		/* '@' in the trust domain */
	SPIFFE_ERR_TD_PERCENT,		/* percent-encoding in the TD */
	SPIFFE_ERR_TD_CHAR,		/* another character not allowed */
	SPIFFE_ERR_TD_HAS_PATH,		/* a trust domain ID with a path */
	SPIFFE_ERR_QUERY,		/* '?' */
	SPIFFE_ERR_FRAGMENT,		/* '#' */
	SPIFFE_ERR_PATH_NO_SLASH,	/* a path not starting with '/' */
	SPIFFE_ERR_PATH_EMPTY_SEGMENT,	/* "//" */
	SPIFFE_ERR_PATH_DOT_SEGMENT,	/* "." or ".." segment */
	SPIFFE_ERR_PATH_TRAILING_SLASH,	/* ends with '/' */
	SPIFFE_ERR_PATH_PERCENT,	/* percent-encoding in the path */
	SPIFFE_ERR_PATH_CHAR,		/* another character not allowed */
	SPIFFE_ERR_BUFFER,		/* the output buffer is too small */
};

struct spiffe_td {
	char	 name[SPIFFE_TD_MAX + 1];	/* "example.org" */
};

struct spiffe_id {
	struct spiffe_td td;
	/* "" for the trust domain's own ID, else "/a/b". */
	char		 path[SPIFFE_ID_MAX - SPIFFE_SCHEME_LEN];
};

/*
 * Parses s (len bytes; NULs in it are invalid characters) as a SPIFFE
 * ID. On failure *out is zeroed.
 */
enum spiffe_err	 spiffe_id_parse(const char *s, size_t len,
		    struct spiffe_id *out)
		    __attribute__((warn_unused_result));
/*
 * Parses a trust domain given either bare ("example.org") or as its ID
 * ("spiffe://example.org", which must have no path). On failure *out is
 * zeroed.
 */
enum spiffe_err	 spiffe_td_parse(const char *s, size_t len,
		    struct spiffe_td *out)
		    __attribute__((warn_unused_result));
/* Checks a path alone: "" or "/seg/seg", by the rules above. */
enum spiffe_err	 spiffe_path_check(const char *path, size_t len)
		    __attribute__((warn_unused_result));
/*
 * Makes td's ID with the given path ("" or "/seg/..."), checked, with
 * the whole length capped as for a parsed ID. *out zeroed on failure.
 */
enum spiffe_err	 spiffe_id_make(const struct spiffe_td *, const char *path,
		    struct spiffe_id *out)
		    __attribute__((warn_unused_result));

/* "spiffe://td/path" into buf (NUL-terminated); SPIFFE_ERR_BUFFER. */
enum spiffe_err	 spiffe_id_format(const struct spiffe_id *, char *buf,
		    size_t len)
		    __attribute__((warn_unused_result));
/* "spiffe://td" into buf; SPIFFE_ERR_BUFFER when it does not fit. */
enum spiffe_err	 spiffe_td_format_id(const struct spiffe_td *, char *buf,
		    size_t len)
		    __attribute__((warn_unused_result));

/* 1 when both IDs are the same, 0 otherwise. */
int		 spiffe_id_equal(const struct spiffe_id *,
		    const struct spiffe_id *);
/* 1 when the ID belongs to the trust domain, 0 otherwise. */
int		 spiffe_id_member_of(const struct spiffe_id *,
		    const struct spiffe_td *);
/* 1 when the ID is a trust domain's own ID (empty path). */
int		 spiffe_id_is_td(const struct spiffe_id *);
/*
 * 1 when the ID's path lies strictly below prefix, segment-wise:
 * "/spire/agent" and "/spire/agent/" both take "/spire/agent/x" but
 * neither "/spire/agent" itself nor "/spire/agentx". 0 otherwise.
 */
int		 spiffe_id_under(const struct spiffe_id *, const char *prefix);

const char	*spiffe_strerror(enum spiffe_err);

#endif
