/*
 * HCL version 1, the configuration syntax SPIRE reads with hashicorp/hcl
 * v1, parsed into a tree. What is accepted, and how it differs from
 * hashicorp/hcl v1 where it does, is in doc/configuration.md.
 *
 * The parser takes a whole buffer in one call rather than init/feed/
 * finish (STYLE rule 12): a config file is read whole and capped at
 * CONFIG_FILE_MAX, heredocs need their closing line before a value is
 * known, and one call over (data, size) is what a libFuzzer harness
 * drives (tests/fuzz/fuzz_hcl.c). Every cap is in core/limits.h.
 *
 * The tree keeps each literal's kind: 8081 is HCL_NUMBER and "8081" is
 * HCL_STRING, so the option engine can accept both where SPIRE does.
 */
#ifndef CORE_HCL_H
#define CORE_HCL_H

#include <stddef.h>

#include "core/limits.h"

enum hcl_kind {
	HCL_OBJECT,	/* a block body, key = { ... }, or the file */
	HCL_LIST,	/* [ ... ] */
	HCL_STRING,	/* "quoted", escapes decoded */
	HCL_HEREDOC,	/* <<EOF ... EOF, raw lines */
	HCL_NUMBER,	/* integer literal: 8081, -1, 0x1f, 0755 */
	HCL_FLOAT,	/* 1.5, 1e3, .5 */
	HCL_BOOL,	/* true, false */
};

struct hcl_item;

/*
 * A value. Every pointer in it points into the same document and stays
 * valid until hcl_doc_free.
 */
struct hcl_node {
	enum hcl_kind	 kind;
	unsigned	 line;		/* 1-based, where the value starts */
	unsigned	 col;		/* 1-based byte column */
	/*
	 * Scalars: NUL-terminated text. Strings and heredocs hold the
	 * decoded value (never a NUL inside); numbers and booleans the
	 * literal as written. NULL for objects and lists.
	 */
	char		*text;
	size_t		 len;		/* bytes in text */
	struct hcl_item	*items;		/* HCL_OBJECT: first item, file order */
	struct hcl_node	*elems;		/* HCL_LIST: first element */
	size_t		 count;		/* items or elements */
	struct hcl_node	*next;		/* next element of the enclosing list */
};

/*
 * One `key = value`, `key { ... }` or `Kind "label" ... { ... }` in an
 * object. A block is an item whose value is an HCL_OBJECT; `key { }`
 * and `key = { }` give the same tree.
 */
struct hcl_item {
	char		*key;		/* unquoted or quoted, decoded */
	char		**labels;	/* nlabels strings, after the key */
	size_t		 nlabels;
	unsigned	 line;		/* of the key */
	unsigned	 col;
	struct hcl_node	*value;		/* never NULL */
	struct hcl_item	*next;		/* next item of the same object */
};

struct hcl_doc;

enum hcl_status {
	HCL_OK,
	HCL_SYNTAX,	/* the text is not HCL; hcl_error says where */
	HCL_LIMIT,	/* a cap in core/limits.h was passed */
	HCL_NOMEM,	/* memory ran out */
};

/* Where and why parsing stopped. */
struct hcl_error {
	unsigned	 line;		/* 1-based; 0 when not about a place */
	unsigned	 col;
	char		 msg[CONFIG_ERROR_MSG_MAX];
};

/*
 * Parses len bytes of text (no NUL needed; a NUL byte is an error).
 * On HCL_OK *docp is a new document the caller frees with hcl_doc_free;
 * it copies what it needs, so text may be freed at once. On failure
 * *docp is NULL, err (if not NULL) tells where and why, and nothing is
 * left allocated. Stops at the first error, as hashicorp/hcl does.
 */
enum hcl_status	 hcl_parse(const char *text, size_t len,
		    struct hcl_doc **docp, struct hcl_error *err)
		    __attribute__((warn_unused_result));
/* Frees the document and every node in it. Accepts NULL. */
void		 hcl_doc_free(struct hcl_doc *);
/* The file's top-level object; valid until hcl_doc_free. */
const struct hcl_node *hcl_doc_root(const struct hcl_doc *);
/*
 * Memory that lives as long as the document (the option engine keeps
 * list arrays there). Aligned for any type; NULL when memory ran out.
 */
void		*hcl_doc_alloc(struct hcl_doc *, size_t)
		    __attribute__((warn_unused_result));

/*
 * The first item of obj whose key is key, ignoring case as
 * hashicorp/hcl's decoder does. NULL when none or obj is not an object.
 */
const struct hcl_item *hcl_object_find(const struct hcl_node *obj,
		    const char *key);
/* The next item after it in the same object with the same key, or NULL. */
const struct hcl_item *hcl_item_next_same(const struct hcl_item *);
/* "block", "list", "string", "heredoc", "number", "number", "bool". */
const char	*hcl_kind_name(enum hcl_kind);
/* A word for each status, for logs. */
const char	*hcl_strerror(enum hcl_status);

#endif
