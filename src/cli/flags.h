/*
 * Command-line flags the way SPIRE's Go tools read them (Go's flag
 * package): -name value, -name=value, --name likewise, booleans as -name
 * or -name=true|false, parsing stops at the first non-flag or "--".
 */
#ifndef CLI_FLAGS_H
#define CLI_FLAGS_H

enum flag_type {
	FLAG_STRING,	/* const char ** into argv */
	FLAG_BOOL,	/* int * */
	FLAG_INT,	/* long * */
	FLAG_LIST,	/* struct flag_list *: the flag may repeat */
};

/* Values of a repeatable flag, pointing into argv. */
struct flag_list {
	const char	**v;	/* owned array; free with flags_free_list */
	int		  n;
};

struct flag {
	const char	*name;
	enum flag_type	 type;
	void		*dest;
	const char	*help;
};

/* flags_parse's result for -h, -help or --help (usage printed). */
#define FLAGS_HELP	(-2)

/*
 * Parses argv[0..argc) against the table (ended by a NULL name). Returns
 * the index of the first argument that is not a flag; FLAGS_HELP after
 * printing the flag list for -h; or -1 after printing the error and the
 * flag list to stderr. Values are not copied.
 */
int	flags_parse(const struct flag *, int, char *[]);
/* The same, naming the command ("entry create") in the usage line. */
int	flags_parse_cmd(const char *name, const struct flag *, int,
	    char *[]);
/*
 * A command of flags only: parses argv[1..argc) (argv[0] names the
 * command) and admits no operand. -1 to go on; else the exit status, 0
 * after -h and 2 after an error (an operand is one, silently).
 */
int	flags_parse_only(const struct flag *, int, char *[]);
/*
 * Prints the table as a usage block to stderr, the way Go's flag package
 * does: "  -name string" and the help on the next line after a tab.
 */
void	flags_usage(const struct flag *);
void	flags_free_list(struct flag_list *);

#endif
