/*
 * What the operator commands share: the -socketPath and -output flags,
 * SPIFFE IDs and selectors as the Go CLI parses them, and calls to the
 * server's admin socket or the agent's Workload API socket with errors
 * worded as grpc-go words them.
 */
#ifndef CLI_ADMIN_H
#define CLI_ADMIN_H

#include <stddef.h>
#include <sys/types.h>

#include <pb.h>

#include "cli/flags.h"
#include "cli/output.h"
#include "rpc/call.h"
#include "core/limits.h"
#include "spiffe/id.h"
#include "spire/api/types/types.pb.h"

#define ADMIN_SERVER_SOCKET	"/tmp/spire-server/private/api.sock"
#define ADMIN_AGENT_SOCKET	"/tmp/spire-agent/public/api.sock"

/* The flags every server command has, and the parsed -output. */
struct admin_cmd {
	const char		*name;		/* "entry create", for usage */
	const char		*socket;	/* -socketPath */
	const char		*output;	/* -output */
	enum output_format	 format;
	char			 target[SPIFFE_ID_MAX + 16]; /* "unix:/abs" */
};

/* The -output row of a flag table, for a struct admin_cmd c. */
#define ADMIN_FLAG_OUTPUT(c)						\
	{ "output", FLAG_STRING, &(c).output,				\
	    "Desired output format (pretty, json); default: pretty." }
/* The -socketPath row of a server command's table. */
#define ADMIN_FLAG_SOCKET(c)						\
	{ "socketPath", FLAG_STRING, &(c).socket,			\
	    "Path to the SPIRE Server API socket (default "		\
	    "\"" ADMIN_SERVER_SOCKET "\")" }
/* The -socketPath row of an agent command's table. */
#define ADMIN_FLAG_AGENT_SOCKET(c)					\
	{ "socketPath", FLAG_STRING, &(c).socket,			\
	    "Path to the SPIRE Agent API Unix domain socket (default "	\
	    "\"" ADMIN_AGENT_SOCKET "\")" }
#define ADMIN_FLAG_END	{ NULL, FLAG_BOOL, NULL, NULL }

/*
 * Parses argv (argv[0] is the command's last word) against flags, which
 * must point into c for -socketPath and -output. Returns -1 when the
 * command should go on, else the exit status to return now: 0 after
 * -h, 2 after a usage error (printed with the flag list), as the rest
 * of spirelet does. A stray argument is a usage error too.
 */
int	admin_parse(struct admin_cmd *c, const struct flag *flags, int argc,
	    char *argv[]);

/*
 * One unary call on the command's socket (metadata md[0..nmd), NULL for
 * none). 0 when the reply is OK (in resp; pb_release it); -1 with err
 * holding "rpc error: code = ... desc = ..." otherwise.
 */
int	admin_call(const struct admin_cmd *, const char *path,
	    const struct rpc_md *md, size_t nmd, double timeout,
	    const pb_msgdesc_t *req_fields, const void *req,
	    const pb_msgdesc_t *resp_fields, void *resp, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/* admin_list_pages' failures (err holds the reply's text for CALL). */
#define ADMIN_LIST_CALL		(-1)	/* a call failed */
#define ADMIN_LIST_TOO_MANY	(-2)	/* over CLI_PAGES_MAX pages */
#define ADMIN_LIST_NOMEM	(-3)

/*
 * A List method followed page after page (admin_call with timeout
 * CLI_ADMIN_TIMEOUT_SEC) until the reply's token is empty: each request
 * carries the last reply's token in *req_token (a field of req), each
 * reply of resp_size bytes is appended to *pages, and token_off is the
 * offset of its next_page_token. 0; or an ADMIN_LIST_* failure. Either
 * way *pages holds *npages decoded replies, which the caller pb_releases
 * (the next request's token points into them) and then mem_frees.
 */
int	admin_list_pages(const struct admin_cmd *, const char *path,
	    const pb_msgdesc_t *req_fields, void *req, char **req_token,
	    const pb_msgdesc_t *resp_fields, size_t resp_size,
	    size_t token_off, void **pages, size_t *npages, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * Allocations that live as long as the command (request messages point
 * into them), freed together.
 */
struct admin_pool {
	void	**v;		/* owned pointers */
	size_t	  n;
};

/* Zeroed memory from the pool, or NULL when memory ran out. */
void	*admin_pool_alloc(struct admin_pool *, size_t n, size_t size);
char	*admin_pool_strdup(struct admin_pool *, const char *);
/* Frees everything; the pool is empty and reusable. */
void	 admin_pool_free(struct admin_pool *);

/*
 * Parses s as a SPIFFE ID (exactly as go-spiffe's FromString) into the
 * types.SPIFFEID *out, whose strings come from the pool. 0, or -1 with
 * go-spiffe's reason in err ("scheme is missing or invalid", ...).
 */
int	admin_id_parse(struct admin_pool *, const char *s,
	    spire_api_types_SPIFFEID *out, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* The same into a struct spiffe_id. */
int	admin_spiffe_check(const char *s, struct spiffe_id *out, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * Parses a selector "type:value", split at the first colon as
 * util.ParseSelector does ("unix:uid:1000" is type unix, value
 * uid:1000), with its strings from the pool. 0, or -1 with err set to
 * spire-server's text: `selector "x" must be formatted as type:value`.
 */
int	admin_selector_parse(struct admin_pool *, const char *s,
	    spire_api_types_Selector *out, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* All of strs[0..n) into a new array *out from the pool; 0 or -1. */
int	admin_selectors_parse(struct admin_pool *, const char *const *strs,
	    size_t n, spire_api_types_Selector **out, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * -matchSelectorsOn / -matchFederatesWithOn: exact, any, superset or
 * subset as the MatchBehavior number (both enums share numbers). -1 for
 * anything else.
 */
int	admin_match_parse(const char *);

/*
 * Go's three-state commoncli.BoolFlag for -banned and -canReattest:
 * "true" 2, "false" 1, anything else (or NULL) 0 for all.
 */
int	admin_tristate(const char *);

/*
 * Reads a whole file, or standard input for "-" or NULL, into a new
 * NUL-terminated buffer (mem_free), at most CLI_FILE_MAX bytes. 0, or
 * -1 with the reason in err.
 */
int	admin_read_file(const char *path, char **out, size_t *len, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/*
 * dir/name as Go's path.Join writes it for the usual cases (no "./" in
 * front, one slash between); name NULL gives dir alone. 0, or -1 when
 * it does not fit in size.
 */
int	admin_path_join(char *buf, size_t size, const char *dir,
	    const char *name) __attribute__((warn_unused_result));

/*
 * Creates or truncates path with mode (as SPIRE's diskutil writes files
 * for its CLI) and writes len bytes. 0, or -1 with the reason in err.
 */
int	admin_write_file(const char *path, const void *data, size_t len,
	    mode_t mode, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* strerror(e) as Go words errno: "no such file or directory". */
const char *admin_strerror(int e);

/* The SPIFFE ID a types.SPIFFEID names: "spiffe://td/path". */
void	admin_id_string(const spire_api_types_SPIFFEID *, char *buf,
	    size_t size);

#endif
