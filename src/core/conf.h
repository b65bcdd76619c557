/*
 * The option-table engine (STYLE rule 12). A config file is loaded once
 * into a struct conf, which owns the parsed HCL tree and collects every
 * error as "file:line: message". Each block is described by one sorted
 * table of options; conf_apply() fills a caller's struct from a block
 * through its table, checking type, bounds and duplicates, and reports
 * every problem instead of stopping at the first. The load has failed
 * when conf_error_count() is not 0.
 *
 * SPIRE's tolerance is kept where SPIRE (through hashicorp/hcl v1's
 * decoder) has it: ints and bools may be quoted ("8081", "true"), option
 * names match without regard to case, strings may be given as bare
 * numbers or bools. Durations are Go duration strings (core/duration.h).
 *
 * Strings and lists written into a struct point into the config and stay
 * valid until conf_free(); defaults point at the table's constants.
 *
 * Declaring a table (see doc/configuration.md for a fuller example):
 *
 *	struct srv { const char *addr; int64_t port; int64_t ca_ttl; };
 *	static const struct conf_option srv_opts[] = {   (sorted by name)
 *		{ "bind_address", CONF_OPT_STRING(struct srv, addr),
 *		    .def_str = "0.0.0.0", .help = "address to listen on" },
 *		{ "bind_port", CONF_OPT_INT(struct srv, port),
 *		    .def = 8081, .min = 1, .max = 65535, .help = "port" },
 *		{ "ca_ttl", CONF_OPT_DURATION(struct srv, ca_ttl),
 *		    .def = DURATION_HOURS(24), .min = DURATION_MINUTES(1),
 *		    .max = CONF_NO_MAX, .help = "CA lifetime" },
 *	};
 *	static const struct conf_table srv_table =
 *	    CONF_TABLE("server", srv_opts);
 *
 * The module is "conf", not "config": a src/core/config.h would be found
 * before autoconf's config.h by every .c file in src/core that includes
 * it (quoted includes look in the including file's directory first).
 */
#ifndef CORE_CONF_H
#define CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/duration.h"
#include "core/hcl.h"

enum conf_type {
	CONF_STRING,		/* const char *: string, heredoc, or a
				 * number's or bool's literal text */
	CONF_INT,		/* int64_t: 8081, "8081", 0x1f, "0755" */
	CONF_BOOL,		/* bool: true, "true", 1, "0" (any case) */
	CONF_DURATION,	/* int64_t milliseconds: "1h30m", "0" */
	CONF_ENUM,		/* int: index of the value in choices,
				 * matched ignoring case */
	CONF_STRINGS,		/* struct conf_strings: ["a", "b"] */
	CONF_BLOCK,		/* a nested struct filled through sub */
	CONF_NODE,		/* const struct hcl_item *: the item as
				 * parsed, for the caller to read */
};

/* Option flags. */
#define CONF_REQUIRED	0x1	/* absent is an error */
#define CONF_REPEAT	0x2	/* CONF_NODE only: may appear more than
				 * once (the first is stored; walk the
				 * others with hcl_item_next_same) */

/* A CONF_STRINGS value: n strings, v NULL when n is 0. */
struct conf_strings {
	const char	**v;
	size_t		  n;
};

struct conf;
struct conf_table;

/*
 * One row. Rows of a table are sorted by name (strcasecmp order, each
 * name once); conf_table_verify() checks that and the rest.
 */
struct conf_option {
	const char		*name;
	enum conf_type	 type;
	size_t			 offset;	/* of the field in the struct */
	unsigned		 flags;		/* CONF_REQUIRED, ... */
	/* Default for INT, BOOL (0 or 1), DURATION (ms), ENUM (index). */
	int64_t			 def;
	const char		*def_str;	/* default for STRING */
	/*
	 * Bounds for INT and DURATION (ms), inclusive; both 0 is none,
	 * max CONF_NO_MAX is no upper one. The default is not held to
	 * them, so 0 can mean "not set" for an option whose minimum is 1.
	 */
	int64_t			 min;
	int64_t			 max;
	const char *const	*choices;	/* ENUM: ends with NULL */
	const struct conf_table *sub;		/* BLOCK: its options */
	/*
	 * Called with the field after it was set from the file. Returns 0,
	 * or -1 with a reason in why ("must be an absolute path"), which
	 * the engine reports as file:line: option "name": reason.
	 */
	int		       (*check)(const void *field, char *why,
				    size_t whylen);
	const char		*help;		/* one line, for -h and docs */
};

struct conf_table {
	const char			*name;	/* "server", in messages */
	const struct conf_option	*opts;
	size_t				 n;
};

/* A max for options with only a minimum. */
#define CONF_NO_MAX	INT64_MAX

#define CONF_TABLE(name, rows) \
	{ (name), (rows), sizeof(rows) / sizeof((rows)[0]) }

/*
 * The offset of field f of struct type st, which must have C type ct; a
 * mismatch does not compile. The CONF_OPT_* macros below use it.
 */
#define CONF_AT(st, f, ct)						\
	(offsetof(st, f) + 0 * sizeof(char[1 - 2 *			\
	    !__builtin_types_compatible_p(__typeof__(((st *)0)->f), ct)]))

#define CONF_OPT_STRING(st, f) \
	.type = CONF_STRING, .offset = CONF_AT(st, f, const char *)
#define CONF_OPT_INT(st, f) \
	.type = CONF_INT, .offset = CONF_AT(st, f, int64_t)
#define CONF_OPT_BOOL(st, f) \
	.type = CONF_BOOL, .offset = CONF_AT(st, f, bool)
#define CONF_OPT_DURATION(st, f) \
	.type = CONF_DURATION, .offset = CONF_AT(st, f, int64_t)
#define CONF_OPT_ENUM(st, f, list) \
	.type = CONF_ENUM, .offset = CONF_AT(st, f, int), .choices = (list)
#define CONF_OPT_STRINGS(st, f) \
	.type = CONF_STRINGS, \
	.offset = CONF_AT(st, f, struct conf_strings)
#define CONF_OPT_NODE(st, f) \
	.type = CONF_NODE, .offset = CONF_AT(st, f, const struct hcl_item *)
#define CONF_OPT_BLOCK(st, f, table) \
	.type = CONF_BLOCK, .offset = offsetof(st, f), .sub = (table)

/*
 * One `Kind "name" { ... }` of a plugins block. Which kinds and names
 * exist is for the caller, who reports unknown ones with conf_error()
 * at line.
 */
struct conf_plugin {
	const char		*kind;		/* "NodeAttestor" */
	const char		*name;		/* "join_token" */
	unsigned		 line;		/* of the declaration */
	bool			 enabled;	/* enabled = false: off */
	const char		*cmd;		/* plugin_cmd or NULL */
	const char		*checksum;	/* plugin_checksum or NULL */
	const char		*data_file;	/* plugin_data_file or NULL */
	/*
	 * plugin_data's object, NULL when absent; apply the plugin's own
	 * table to it with conf_apply() (NULL gives the defaults).
	 */
	const struct hcl_node	*data;
};

/*
 * Reads path (at most CONFIG_FILE_MAX bytes), expands $VAR and ${VAR}
 * first when expand_env is set (SPIRE's -expandEnv), and parses it.
 * Returns a config that holds the tree, or the errors when reading or
 * parsing failed (conf_root() is then NULL); the caller frees it with
 * conf_free(). NULL only when memory ran out.
 */
struct conf	*conf_load_file(const char *path, bool expand_env)
		    __attribute__((warn_unused_result));
/* The same over len bytes of text; name stands for the file in messages. */
struct conf	*conf_load_buffer(const char *name, const char *text,
		    size_t len, bool expand_env)
		    __attribute__((warn_unused_result));
/* Frees the config, its tree and its errors. Accepts NULL. */
void		 conf_free(struct conf *);
/* The file's top-level object, or NULL when the load failed. */
const struct hcl_node *conf_root(const struct conf *);
/* The name given at load, for messages; valid until conf_free(). */
const char	*conf_file(const struct conf *);

/*
 * Sets every option of table in dst to its default, then applies the
 * items of obj (an HCL_OBJECT; NULL applies defaults only). Unknown,
 * duplicate, mistyped and out-of-range options are errors recorded in
 * cfg, each at its line; all are reported. Returns 0, or -1 when this
 * call recorded an error (dst then holds defaults and whatever did
 * apply). A table that fails conf_table_verify() is a bug: fatalx().
 */
int		 conf_apply(struct conf *, const struct conf_table *,
		    const struct hcl_node *obj, void *dst);

/*
 * The plugins of a `plugins { ... }` object, in file order, accepting
 * both `Kind "name" { ... }` and `Kind { name { ... } }` as SPIRE does.
 * A plugin declared twice, a malformed entry, or an unknown option in a
 * plugin's body is an error recorded in cfg. *out (n entries; NULL when
 * none) lives in cfg until conf_free(). Returns 0, or -1 when an error
 * was recorded (*out then holds every plugin that had a kind, a name
 * and a block, so the caller can still check those).
 */
int		 conf_plugins(struct conf *, const struct hcl_node *obj,
		    struct conf_plugin **out, size_t *n);

/*
 * Records an error at line (0: about the whole file), printf-style,
 * shown as "file:line: message". Upper layers use it for what only they
 * can judge (an unknown plugin, two options that exclude each other).
 */
void		 conf_error(struct conf *, unsigned line, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
/* Errors recorded so far, counting those past CONFIG_ERRORS_MAX. */
size_t		 conf_error_count(const struct conf *);
/*
 * The ith kept error, "file:line: message", valid until conf_free();
 * NULL past the kept ones.
 */
const char	*conf_error_at(const struct conf *, size_t i);
/* Writes each kept error on its own line, then how many were dropped. */
void		 conf_print_errors(const struct conf *, FILE *);

/*
 * Go's os.ExpandEnv over len bytes of text: $NAME and ${NAME} become
 * lookup(NAME) (getenv when lookup is NULL), empty when it returns NULL;
 * $ followed by neither stays; a bad ${ is dropped as Go drops it. The
 * result (NUL-terminated, *outlen bytes) is the caller's to mem_free.
 * Returns 0, or -1 with errno E2BIG (result over CONFIG_FILE_MAX),
 * ENAMETOOLONG (a name over CONFIG_ENV_NAME_MAX) or ENOMEM, and *outp
 * NULL.
 */
int		 conf_expand_env(const char *in, size_t len,
		    const char *(*lookup)(const char *name, void *arg),
		    void *arg, char **outp, size_t *outlen)
		    __attribute__((warn_unused_result));

/*
 * Checks a table and its sub-tables: names sorted and unique, types
 * and flags that fit, defaults inside bounds, enums with choices.
 * 0, or -1 with the first problem in why.
 */
int		 conf_table_verify(const struct conf_table *, char *why,
		    size_t whylen);
/* One line per option (nested blocks as block.option): type, default. */
void		 conf_table_print(const struct conf_table *, FILE *);

#endif
