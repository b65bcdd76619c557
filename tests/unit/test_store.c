/*
 * Unit tests for store/: persistence, permissions, tables and cursors,
 * schema and kind checks, a full map, a full disk, and writers that die
 * in the middle of a transaction. Each test works in its own directory
 * under $TMPDIR, removed afterwards; the store's log goes to a file there
 * so messages can be checked.
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <lmdb.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"

#define SCHEMA		2
#define KIND		"server"
#define VAL_BIG		400	/* bytes: ~1000 of them take 516 KiB */
#define LOG_READ_MAX	(1024 * 1024)
#define CHILD_SKIP	77	/* a child could not set its scene up */

enum {
	T_PLAIN,
	T_DUPS,
	T_OTHER,
	T_N
};

static const struct store_table_def tables[T_N] = {
	[T_PLAIN] = { "plain", 0 },
	[T_DUPS] = { "by_selector", STORE_TABLE_DUPS },
	[T_OTHER] = { "other", 0 },
};

struct fx {
	char		 root[PATH_MAX];	/* the test's temp dir */
	char		 data[PATH_MAX];	/* root/data, the data dir */
	char		 log[PATH_MAX];		/* root/log */
	mode_t		 umask;			/* restored at teardown */
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

/* snprintf into a path buffer; a truncated path fails the test. */
static void
path_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
path_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < size);
}

static int
fx_setup(void **state)
{
	struct fx	*fx;
	const char	*tmp = getenv("TMPDIR");

	fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fx->root, sizeof(fx->root), "%s/test_store.XXXXXX", tmp);
	if (mkdtemp(fx->root) == NULL) {
		free(fx);
		return -1;
	}
	path_fmt(fx->data, sizeof(fx->data), "%s/data", fx->root);
	path_fmt(fx->log, sizeof(fx->log), "%s/log", fx->root);
	if (log_open(fx->log) == -1)
		return -1;
	log_set_level(LOG_LEVEL_DEBUG);
	fx->umask = umask(077);
	umask(fx->umask);
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx	*fx = *state;

	umask(fx->umask);
	log_close();
	store_fail_next_commit(0);
	mem_fail_after(0);
	/* Owners and modes the tests changed must not block the removal. */
	chmod(fx->data, 0700);
	/* STORE_TEST_KEEP=1 keeps the directory and its log, to debug. */
	if (getenv("STORE_TEST_KEEP") == NULL)
		nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "kept %s\n", fx->root);
	free(fx);
	return 0;
}

static struct store_config
cfg_make(const char *path)
{
	struct store_config	 cfg = {
		.path = path,
		.kind = KIND,
		.schema = SCHEMA,
		.tables = tables,
		.ntables = T_N,
	};

	return cfg;
}

static struct store *
open_ok(const char *path)
{
	struct store_config	 cfg = cfg_make(path);
	struct store		*st = NULL;

	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	assert_non_null(st);
	return st;
}

/* 1 if the log file contains s. */
static int
log_has(const struct fx *fx, const char *s)
{
	char		*buf;
	ssize_t		 n;
	int		 fd, found;

	buf = calloc(1, LOG_READ_MAX + 1);
	if (buf == NULL)
		return 0;
	fd = open(fx->log, O_RDONLY);
	if (fd == -1) {
		free(buf);
		return 0;
	}
	n = read(fd, buf, LOG_READ_MAX);
	close(fd);
	found = n > 0 && strstr(buf, s) != NULL;
	free(buf);
	return found;
}

static mode_t
mode_of(const char *dir, const char *name)
{
	char		 path[PATH_MAX];
	struct stat	 sb;

	if (name != NULL)
		path_fmt(path, sizeof(path), "%s/%s", dir, name);
	else
		path_fmt(path, sizeof(path), "%s", dir);
	if (stat(path, &sb) == -1)
		return (mode_t)-1;
	return sb.st_mode & 07777;
}

static void
put_str(struct store_txn *t, unsigned table, const char *k, const char *v)
{
	assert_int_equal(store_put(t, table, k, strlen(k), v, strlen(v), 0),
	    STORE_OK);
}

/* Asserts key k holds v (or is absent when v is NULL). */
static void
expect_str(struct store *st, unsigned table, const char *k, const char *v)
{
	struct store_txn	*t;
	struct store_val	 val;
	enum store_err		 e;

	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	e = store_get(t, table, k, strlen(k), &val);
	if (v == NULL) {
		assert_int_equal(e, STORE_NOTFOUND);
	} else {
		assert_int_equal(e, STORE_OK);
		assert_int_equal(val.len, strlen(v));
		assert_memory_equal(val.data, v, val.len);
	}
	store_txn_abort(t);
}

static void
write_one(struct store *st, unsigned table, const char *k, const char *v)
{
	struct store_txn	*t;

	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	put_str(t, table, k, v);
	assert_int_equal(store_txn_commit(t), STORE_OK);
}

static int
val_is(const struct store_val *v, const char *s)
{
	return v->len == strlen(s) && memcmp(v->data, s, v->len) == 0;
}

static void
test_create_reopen_persists(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;

	st = open_ok(fx->data);
	assert_string_equal(store_path(st), fx->data);
	write_one(st, T_PLAIN, "k1", "v1");
	write_one(st, T_OTHER, "k2", "v2");
	store_close(st);
	assert_true(log_has(fx, "created store"));

	st = open_ok(fx->data);
	expect_str(st, T_PLAIN, "k1", "v1");
	expect_str(st, T_OTHER, "k2", "v2");
	expect_str(st, T_PLAIN, "k2", NULL);
	store_close(st);
	assert_true(log_has(fx, "opened store"));
}

/*
 * The unsafe option changes only when commits reach the disk, which no
 * test here can observe; it must still open, commit and reopen.
 */
static void
test_nosync_option_commits(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;

	cfg.flags = STORE_OPEN_NOSYNC_UNSAFE;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	write_one(st, T_PLAIN, "k", "v");
	store_close(st);
	st = open_ok(fx->data);
	expect_str(st, T_PLAIN, "k", "v");
	store_close(st);
}

/*
 * A hostile umask (0277 would leave 0400 files and dirs) must not change
 * the modes: the store sets them explicitly.
 */
static void
test_modes_dir_0700_files_0600(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	char			 nested[PATH_MAX], parent[PATH_MAX];
	mode_t			 old;

	path_fmt(parent, sizeof(parent), "%s/a", fx->root);
	path_fmt(nested, sizeof(nested), "%s/a/b/data", fx->root);
	old = umask(0277);
	st = open_ok(nested);
	umask(old);
	write_one(st, T_PLAIN, "k", "v");
	assert_int_equal(mode_of(parent, NULL), 0700);
	assert_int_equal(mode_of(nested, NULL), 0700);
	assert_int_equal(mode_of(nested, "data.mdb"), 0600);
	assert_int_equal(mode_of(nested, "lock.mdb"), 0600);
	store_close(st);

	/* umask 0 must not widen them either. */
	old = umask(0);
	st = open_ok(fx->data);
	umask(old);
	assert_int_equal(mode_of(fx->data, NULL), 0700);
	assert_int_equal(mode_of(fx->data, "data.mdb"), 0600);
	assert_int_equal(mode_of(fx->data, "lock.mdb"), 0600);
	store_close(st);
}

static void
test_wide_file_mode_tightened(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	char			 path[PATH_MAX];

	st = open_ok(fx->data);
	store_close(st);
	path_fmt(path, sizeof(path), "%s/data.mdb", fx->data);
	assert_int_equal(chmod(path, 0644), 0);
	st = open_ok(fx->data);
	assert_int_equal(mode_of(fx->data, "data.mdb"), 0600);
	assert_true(log_has(fx, "had mode 0644"));
	store_close(st);
}

static void
test_dir_modes(void **state)
{
	static const struct {
		mode_t		 mode;
		enum store_err	 want;
	} cases[] = {
		{ 0700, STORE_OK },
		{ 0750, STORE_OK },	/* readable: the files stay 0600 */
		{ 0755, STORE_OK },	/* systemd StateDirectory= default */
		{ 0770, STORE_UNSAFE },
		{ 0720, STORE_UNSAFE },
		{ 0702, STORE_UNSAFE },
		{ 0777, STORE_UNSAFE },
		{ 01777, STORE_UNSAFE },
	};
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	size_t			 i;

	assert_int_equal(mkdir(fx->data, 0700), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(chmod(fx->data, cases[i].mode), 0);
		st = (struct store *)&st;
		assert_int_equal(store_open(&cfg, &st), cases[i].want);
		if (cases[i].want == STORE_OK) {
			assert_non_null(st);
			/* The operator's choice is kept, not tightened. */
			assert_int_equal(mode_of(fx->data, NULL),
			    cases[i].mode);
			store_close(st);
		} else {
			assert_null(st);
		}
	}
	assert_true(log_has(fx, "is writable by group or other"));
}

static void
test_data_dir_not_a_dir(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	int			 fd;

	fd = open(fx->data, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_open(&cfg, &st), STORE_INVALID);
	assert_null(st);
	assert_true(log_has(fx, "is not a directory"));
	unlink(fx->data);
}

/* Needs root to make a directory that is someone else's. */
static void
test_foreign_owner_refused(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	char			 path[PATH_MAX];

	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(fx->data, 0700), 0);
	assert_int_equal(chown(fx->data, 65534, 65534), 0);
	assert_int_equal(store_open(&cfg, &st), STORE_UNSAFE);
	assert_null(st);
	assert_true(log_has(fx, "is owned by uid 65534"));
	assert_int_equal(chown(fx->data, 0, 0), 0);

	/* A store file of someone else's is refused too. */
	st = open_ok(fx->data);
	store_close(st);
	path_fmt(path, sizeof(path), "%s/data.mdb", fx->data);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(store_open(&cfg, &st), STORE_UNSAFE);
	assert_null(st);
}

static void
test_bad_config_refused(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg;
	struct store		*st;
	char			 longkind[STORE_KIND_MAX + 2];
	size_t			 i;
	static const char *const kinds[] = {
		"", "Server", "ser ver", "a/b",
	};

	memset(longkind, 'a', sizeof(longkind) - 1);
	longkind[sizeof(longkind) - 1] = '\0';
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cfg = cfg_make(fx->data);
		cfg.kind = kinds[i];
		assert_int_equal(store_open(&cfg, &st), STORE_INVALID);
		assert_null(st);
	}
	cfg = cfg_make(fx->data);
	cfg.kind = longkind;
	assert_int_equal(store_open(&cfg, &st), STORE_INVALID);
	cfg = cfg_make(fx->data);
	cfg.kind = NULL;
	assert_int_equal(store_open(&cfg, &st), STORE_INVALID);
	cfg = cfg_make(fx->data);
	cfg.schema = 0;
	assert_int_equal(store_open(&cfg, &st), STORE_INVALID);
	cfg = cfg_make(NULL);
	assert_int_equal(store_open(&cfg, &st), STORE_INVALID);
	cfg = cfg_make("");
	assert_int_equal(store_open(&cfg, &st), STORE_INVALID);
	/* Nothing was created by the refused opens. */
	assert_int_equal(mode_of(fx->data, NULL), (mode_t)-1);
}

static void
test_tables_are_separate(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;

	st = open_ok(fx->data);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	put_str(t, T_PLAIN, "same", "in plain");
	put_str(t, T_OTHER, "same", "in other");
	assert_int_equal(store_txn_commit(t), STORE_OK);
	expect_str(st, T_PLAIN, "same", "in plain");
	expect_str(st, T_OTHER, "same", "in other");
	expect_str(st, T_DUPS, "same", NULL);
	store_close(st);
}

static void
test_table_cap(void **state)
{
	struct fx		*fx = *state;
	struct store_table_def	 defs[STORE_TABLES_MAX + 1];
	char			 names[STORE_TABLES_MAX + 1][16];
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	struct store_stats	 ss;
	struct store_txn	*t;
	size_t			 i;

	for (i = 0; i < STORE_TABLES_MAX + 1; i++) {
		snprintf(names[i], sizeof(names[i]), "t%zu", i);
		defs[i].name = names[i];
		defs[i].flags = i % 2 ? STORE_TABLE_DUPS : 0;
	}
	cfg.tables = defs;
	cfg.ntables = STORE_TABLES_MAX + 1;
	assert_int_equal(store_open(&cfg, &st), STORE_TABLE);
	assert_null(st);
	assert_true(log_has(fx, "at most"));

	cfg.ntables = STORE_TABLES_MAX;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	for (i = 0; i < STORE_TABLES_MAX; i++)
		put_str(t, (unsigned)i, "k", names[i]);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.ntables, STORE_TABLES_MAX);
	for (i = 0; i < STORE_TABLES_MAX; i++)
		assert_int_equal(ss.entries[i], 1);
	expect_str(st, STORE_TABLES_MAX - 1, "k",
	    names[STORE_TABLES_MAX - 1]);
	store_close(st);
}

static void
test_bad_table_declarations(void **state)
{
	static const struct store_table_def bad[][2] = {
		{ { "twice", 0 }, { "twice", 0 } },
		{ { "meta", 0 }, { "ok", 0 } },
		{ { "", 0 }, { "ok", 0 } },
		{ { "Upper", 0 }, { "ok", 0 } },
		{ { "has space", 0 }, { "ok", 0 } },
		{ { "ok", 0 }, { NULL, 0 } },
		{ { "ok", 0x80 }, { "ok2", 0 } },
		{ { "ok", 0 },
		  { "a_name_longer_than_thirty_two_bytes", 0 } },
	};
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.tables = bad[i];
		cfg.ntables = 2;
		assert_int_equal(store_open(&cfg, &st), STORE_TABLE);
		assert_null(st);
	}
}

static void
test_table_flags_must_match_file(void **state)
{
	static const struct store_table_def plain_now[T_N] = {
		[T_PLAIN] = { "plain", 0 },
		[T_DUPS] = { "by_selector", 0 },
		[T_OTHER] = { "other", 0 },
	};
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;

	st = open_ok(fx->data);
	store_close(st);
	cfg.tables = plain_now;
	assert_int_equal(store_open(&cfg, &st), STORE_TABLE);
	assert_null(st);
	assert_true(log_has(fx, "table by_selector is dupsort in the file "
	    "but declared plain"));
}

static void
test_dups_sorted_and_counted(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;
	struct store_cursor	*c;
	struct store_val	 v;
	size_t			 n;

	st = open_ok(fx->data);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	put_str(t, T_DUPS, "sel", "c");
	put_str(t, T_DUPS, "sel", "a");
	put_str(t, T_DUPS, "sel", "b");
	put_str(t, T_DUPS, "sel2", "x");
	/* The same pair again is a no-op, and an error with PUT_NEW. */
	put_str(t, T_DUPS, "sel", "a");
	assert_int_equal(store_put(t, T_DUPS, "sel", 3, "a", 1,
	    STORE_PUT_NEW), STORE_EXISTS);
	assert_int_equal(store_put(t, T_DUPS, "sel", 3, "d", 1,
	    STORE_PUT_NEW), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);

	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	assert_int_equal(store_count(t, T_DUPS, &n), STORE_OK);
	assert_int_equal(n, 5);
	assert_int_equal(store_cursor_open(t, T_DUPS, &c), STORE_OK);
	assert_int_equal(store_cursor_key(c, "sel", 3, &v), STORE_OK);
	assert_true(val_is(&v, "a"));
	assert_int_equal(store_cursor_dups(c, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_cursor_next_dup(c, &v), STORE_OK);
	assert_true(val_is(&v, "b"));
	assert_int_equal(store_cursor_next_dup(c, &v), STORE_OK);
	assert_true(val_is(&v, "c"));
	assert_int_equal(store_cursor_next_dup(c, &v), STORE_OK);
	assert_true(val_is(&v, "d"));
	assert_int_equal(store_cursor_next_dup(c, &v), STORE_NOTFOUND);
	assert_int_equal(store_cursor_key(c, "se", 2, &v), STORE_NOTFOUND);
	/* get answers the first duplicate. */
	assert_int_equal(store_get(t, T_DUPS, "sel", 3, &v), STORE_OK);
	assert_true(val_is(&v, "a"));
	store_txn_abort(t);

	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	assert_int_equal(store_del(t, T_DUPS, "sel", 3, "b", 1), STORE_OK);
	assert_int_equal(store_del(t, T_DUPS, "sel", 3, "b", 1),
	    STORE_NOTFOUND);
	assert_int_equal(store_count(t, T_DUPS, &n), STORE_OK);
	assert_int_equal(n, 4);
	/* A NULL value deletes every duplicate of the key. */
	assert_int_equal(store_del(t, T_DUPS, "sel", 3, NULL, 0), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);
	expect_str(st, T_DUPS, "sel", NULL);
	expect_str(st, T_DUPS, "sel2", "x");
	store_close(st);
}

/* Walks c from its current item with next; fills got, returns count. */
static size_t
walk_keys(struct store_cursor *c, enum store_err first,
    const struct store_val *k0, char got[][8], size_t max)
{
	struct store_val	 k = *k0;
	enum store_err		 e = first;
	size_t			 n = 0;

	while (e == STORE_OK && n < max) {
		assert_true(k.len < 8);
		memcpy(got[n], k.data, k.len);
		got[n][k.len] = '\0';
		n++;
		e = store_cursor_next(c, &k, NULL);
	}
	assert_int_equal(e, STORE_NOTFOUND);
	return n;
}

static void
test_prefix_walk(void **state)
{
	static const char *const keys[] = {
		"b/1", "a/2", "ab", "a", "a/1", "a/3",
	};
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;
	struct store_cursor	*c;
	struct store_val	 k = { NULL, 0 };
	char			 got[8][8];
	enum store_err		 e;
	size_t			 i, n;

	st = open_ok(fx->data);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		put_str(t, T_PLAIN, keys[i], "v");
	/* Another table's keys must not show up. */
	put_str(t, T_OTHER, "a/0", "v");
	assert_int_equal(store_txn_commit(t), STORE_OK);

	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	assert_int_equal(store_cursor_open(t, T_PLAIN, &c), STORE_OK);
	e = store_cursor_prefix(c, "a/", 2, &k, NULL);
	n = walk_keys(c, e, &k, got, 8);
	assert_int_equal(n, 3);
	assert_string_equal(got[0], "a/1");
	assert_string_equal(got[1], "a/2");
	assert_string_equal(got[2], "a/3");

	e = store_cursor_prefix(c, "b/", 2, &k, NULL);
	n = walk_keys(c, e, &k, got, 8);
	assert_int_equal(n, 1);
	assert_string_equal(got[0], "b/1");

	/* Past the last key, and between keys. */
	assert_int_equal(store_cursor_prefix(c, "c", 1, &k, NULL),
	    STORE_NOTFOUND);
	assert_int_equal(store_cursor_prefix(c, "a/25", 4, &k, NULL),
	    STORE_NOTFOUND);
	e = store_cursor_prefix(c, "a/2", 3, &k, NULL);
	n = walk_keys(c, e, &k, got, 8);
	assert_int_equal(n, 1);

	/* An empty prefix is the whole table, in byte order. */
	e = store_cursor_prefix(c, "", 0, &k, NULL);
	n = walk_keys(c, e, &k, got, 8);
	assert_int_equal(n, 6);
	assert_string_equal(got[0], "a");
	assert_string_equal(got[1], "a/1");
	assert_string_equal(got[4], "ab");
	assert_string_equal(got[5], "b/1");

	/* seek and first leave prefix mode. */
	e = store_cursor_seek(c, "a/3", 3, &k, NULL);
	n = walk_keys(c, e, &k, got, 8);
	assert_int_equal(n, 3);
	assert_string_equal(got[0], "a/3");
	e = store_cursor_first(c, &k, NULL);
	n = walk_keys(c, e, &k, got, 8);
	assert_int_equal(n, 6);
	store_txn_abort(t);
	store_close(st);
}

static void
test_prefix_walk_dups(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;
	struct store_cursor	*c;
	struct store_val	 k, v;
	size_t			 n = 0;
	enum store_err		 e;

	st = open_ok(fx->data);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	put_str(t, T_DUPS, "k/1", "y");
	put_str(t, T_DUPS, "k/1", "x");
	put_str(t, T_DUPS, "k/2", "z");
	put_str(t, T_DUPS, "l/1", "w");
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	assert_int_equal(store_cursor_open(t, T_DUPS, &c), STORE_OK);
	for (e = store_cursor_prefix(c, "k/", 2, &k, &v); e == STORE_OK;
	    e = store_cursor_next(c, &k, &v)) {
		if (n == 0)
			assert_true(val_is(&v, "x"));
		if (n == 1)
			assert_true(val_is(&v, "y"));
		if (n == 2)
			assert_true(val_is(&k, "k/2"));
		n++;
	}
	assert_int_equal(e, STORE_NOTFOUND);
	assert_int_equal(n, 3);
	/* The cursor may be left open: the txn closes it. */
	store_txn_abort(t);
	store_close(st);
}

static void
test_cursor_del_while_walking(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;
	struct store_cursor	*c;
	struct store_val	 k, v;
	char			 key[32], val[2];
	enum store_err		 e;
	size_t			 i, n;

	st = open_ok(fx->data);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	for (i = 1; i <= 6; i++) {
		snprintf(key, sizeof(key), "p/%zu", i);
		put_str(t, T_PLAIN, key, "v");
		val[0] = (char)('0' + i);
		val[1] = '\0';
		put_str(t, T_DUPS, "s", val);
	}
	put_str(t, T_PLAIN, "q/1", "v");
	assert_int_equal(store_txn_commit(t), STORE_OK);

	/* Delete the even keys of the prefix, and the even duplicates. */
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	assert_int_equal(store_cursor_open(t, T_PLAIN, &c), STORE_OK);
	n = 0;
	for (e = store_cursor_prefix(c, "p/", 2, &k, NULL); e == STORE_OK;
	    e = store_cursor_next(c, &k, NULL)) {
		n++;
		if ((((const char *)k.data)[2] - '0') % 2 == 0)
			assert_int_equal(store_cursor_del(c), STORE_OK);
	}
	assert_int_equal(e, STORE_NOTFOUND);
	assert_int_equal(n, 6);
	store_cursor_close(c);

	assert_int_equal(store_cursor_open(t, T_DUPS, &c), STORE_OK);
	n = 0;
	for (e = store_cursor_key(c, "s", 1, &v); e == STORE_OK;
	    e = store_cursor_next_dup(c, &v)) {
		n++;
		if ((((const char *)v.data)[0] - '0') % 2 == 0)
			assert_int_equal(store_cursor_del(c), STORE_OK);
	}
	assert_int_equal(e, STORE_NOTFOUND);
	assert_int_equal(n, 6);
	assert_int_equal(store_txn_commit(t), STORE_OK);

	expect_str(st, T_PLAIN, "p/1", "v");
	expect_str(st, T_PLAIN, "p/2", NULL);
	expect_str(st, T_PLAIN, "p/5", "v");
	expect_str(st, T_PLAIN, "p/6", NULL);
	expect_str(st, T_PLAIN, "q/1", "v");
	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	assert_int_equal(store_count(t, T_PLAIN, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_count(t, T_DUPS, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(store_cursor_open(t, T_DUPS, &c), STORE_OK);
	assert_int_equal(store_cursor_key(c, "s", 1, &v), STORE_OK);
	assert_true(val_is(&v, "1"));
	assert_int_equal(store_cursor_next_dup(c, &v), STORE_OK);
	assert_true(val_is(&v, "3"));
	assert_int_equal(store_cursor_next_dup(c, &v), STORE_OK);
	assert_true(val_is(&v, "5"));
	/* A read txn may not delete. */
	assert_int_equal(store_cursor_del(c), STORE_INVALID);
	store_txn_abort(t);
	store_close(st);
}

static void
test_abort_rolls_back(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;
	struct store_val	 v;

	st = open_ok(fx->data);
	write_one(st, T_PLAIN, "k1", "old");
	write_one(st, T_PLAIN, "k3", "old");
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	put_str(t, T_PLAIN, "k1", "new");
	put_str(t, T_PLAIN, "k2", "new");
	assert_int_equal(store_del(t, T_PLAIN, "k3", 2, NULL, 0), STORE_OK);
	/* The txn sees its own writes, other txns do not... */
	assert_int_equal(store_get(t, T_PLAIN, "k2", 2, &v), STORE_OK);
	assert_true(val_is(&v, "new"));
	expect_str(st, T_PLAIN, "k1", "old");
	store_txn_abort(t);
	/* ...and after the abort nobody does. */
	expect_str(st, T_PLAIN, "k1", "old");
	expect_str(st, T_PLAIN, "k2", NULL);
	expect_str(st, T_PLAIN, "k3", "old");
	store_txn_abort(NULL);
	store_close(st);
}

struct run_arg {
	enum store_err	 ret;
	int		 calls;
	size_t		 n;		/* big values to put */
};

static enum store_err
run_put(struct store_txn *t, void *arg)
{
	struct run_arg	*a = arg;

	a->calls++;
	put_str(t, T_PLAIN, "run", "done");
	return a->ret;
}

static void
test_txn_run_commits_or_aborts(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct run_arg		 a = { STORE_ABORTED, 0, 0 };

	st = open_ok(fx->data);
	assert_int_equal(store_txn_run(st, run_put, &a), STORE_ABORTED);
	expect_str(st, T_PLAIN, "run", NULL);
	a.ret = STORE_NOTFOUND;
	assert_int_equal(store_txn_run(st, run_put, &a), STORE_NOTFOUND);
	expect_str(st, T_PLAIN, "run", NULL);
	a.ret = STORE_OK;
	assert_int_equal(store_txn_run(st, run_put, &a), STORE_OK);
	expect_str(st, T_PLAIN, "run", "done");
	assert_int_equal(a.calls, 3);
	store_close(st);
}

static void
test_schema_mismatch(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	char			 want[PATH_MAX + 64];

	cfg.schema = 3;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	store_close(st);
	cfg.schema = 2;
	assert_int_equal(store_open(&cfg, &st), STORE_SCHEMA);
	assert_null(st);
	path_fmt(want, sizeof(want), "%s has schema 3, this spirelet uses 2",
	    fx->data);
	assert_true(log_has(fx, want));
	assert_string_equal(store_strerror(STORE_SCHEMA),
	    "store has another schema version");
	/* The refusal changed nothing. */
	cfg.schema = 3;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	store_close(st);
}

static void
test_kind_mismatch(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	char			 want[PATH_MAX + 64];

	st = open_ok(fx->data);
	store_close(st);
	cfg.kind = "agent";
	/* The kind is checked before the schema. */
	cfg.schema = SCHEMA + 1;
	assert_int_equal(store_open(&cfg, &st), STORE_KIND);
	assert_null(st);
	path_fmt(want, sizeof(want), "%s is a data dir of kind server, not "
	    "agent", fx->data);
	assert_true(log_has(fx, want));
}

/* An LMDB environment someone else made is not taken over. */
static void
test_foreign_lmdb_refused(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	MDB_env			*env;
	MDB_txn			*txn;
	MDB_dbi			 dbi;
	MDB_val			 k = { 3, (void *)(uintptr_t)"key" };
	MDB_val			 v = { 3, (void *)(uintptr_t)"val" };

	assert_int_equal(mkdir(fx->data, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, fx->data, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(store_open(&cfg, &st), STORE_CORRUPT);
	assert_null(st);
	assert_true(log_has(fx, "is not spirelet's"));
}

/* Puts n values of VAL_BIG bytes under "big/<i>". */
static enum store_err
put_big(struct store_txn *t, size_t n)
{
	static char	 val[VAL_BIG];
	char		 key[32];
	enum store_err	 e = STORE_OK;
	size_t		 i;

	memset(val, 'x', sizeof(val));
	for (i = 0; i < n && e == STORE_OK; i++) {
		snprintf(key, sizeof(key), "big/%06zu", i);
		e = store_put(t, T_PLAIN, key, strlen(key), val, sizeof(val),
		    0);
	}
	return e;
}

static enum store_err
run_big(struct store_txn *t, void *arg)
{
	struct run_arg	*a = arg;

	a->calls++;
	return put_big(t, a->n);
}

static void
test_map_full_no_growth(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	struct store_txn	*t;
	struct store_stats	 ss;
	struct store_val	 v;
	struct run_arg		 a = { STORE_OK, 0, 1000 };

	cfg.map_size = 256 * 1024;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	write_one(st, T_PLAIN, "before", "kept");

	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	assert_int_equal(put_big(t, 1000), STORE_FULL);
	/* The txn is doomed: later ops and the commit say so. */
	assert_int_equal(store_put(t, T_PLAIN, "x", 1, "y", 1, 0),
	    STORE_FULL);
	assert_int_equal(store_get(t, T_PLAIN, "before", 6, &v),
	    STORE_FULL);
	assert_int_equal(store_txn_commit(t), STORE_FULL);
	assert_true(log_has(fx, "MDB_MAP_FULL"));

	/* store_txn_run gives up too: the map may not grow. */
	assert_int_equal(store_txn_run(st, run_big, &a), STORE_FULL);
	assert_int_equal(a.calls, 1);

	expect_str(st, T_PLAIN, "before", "kept");
	expect_str(st, T_PLAIN, "big/000000", NULL);
	write_one(st, T_PLAIN, "after", "fits");
	expect_str(st, T_PLAIN, "after", "fits");
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.map_size, 256 * 1024);
	assert_int_equal(ss.map_max, 256 * 1024);
	assert_int_equal(ss.entries[T_PLAIN], 2);
	store_close(st);
}

static void
test_map_grows_to_cap(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	struct store_txn	*t;
	struct store_stats	 ss;
	struct run_arg		 a = { STORE_OK, 0, 500 };
	size_t			 grown;

	cfg.map_size = 256 * 1024;
	cfg.map_max = 1024 * 1024;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	write_one(st, T_PLAIN, "before", "kept");

	/* ~260 KiB: runs once in 256 KiB, fails, runs again in 512 KiB. */
	assert_int_equal(store_txn_run(st, run_big, &a), STORE_OK);
	assert_int_equal(a.calls, 2);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.map_size, 512 * 1024);
	assert_int_equal(ss.entries[T_PLAIN], 501);
	assert_true(log_has(fx, "map grown from 262144"));
	grown = ss.map_size;

	/*
	 * A manual txn: STORE_FULL (the 500 rewritten and 400 new values
	 * need ~730 KiB beside the last commit), the abort grows the map to
	 * 1 MiB, the same txn again fits.
	 */
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	assert_int_equal(put_big(t, 900), STORE_FULL);
	store_txn_abort(t);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.map_size, 2 * grown);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	assert_int_equal(put_big(t, 900), STORE_OK);
	assert_int_equal(store_txn_commit(t), STORE_OK);

	/* ~2 MiB never fits under the 1 MiB cap. */
	a.calls = 0;
	a.n = 4000;
	assert_int_equal(store_txn_run(st, run_big, &a), STORE_FULL);
	assert_int_equal(a.calls, 1);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_int_equal(ss.map_size, 1024 * 1024);
	assert_int_equal(ss.entries[T_PLAIN], 901);
	expect_str(st, T_PLAIN, "before", "kept");
	write_one(st, T_PLAIN, "after", "fits");
	store_close(st);

	/* The grown store reopens (LMDB keeps the map >= the data). */
	cfg.map_max = 0;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	expect_str(st, T_PLAIN, "after", "fits");
	store_close(st);
}

/* KiB of data.mdb's mapping resident in this process (/proc smaps). */
static long
map_rss_kib(const char *data_dir)
{
	char		 line[PATH_MAX + 128], name[PATH_MAX];
	unsigned long	 lo, hi;
	FILE		*f;
	long		 rss = 0, v;
	size_t		 n;
	int		 in = 0;

	path_fmt(name, sizeof(name), "%s/data.mdb", data_dir);
	f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		/* A mapping's first line: "lo-hi perms off dev ino path". */
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			line[strcspn(line, "\n")] = '\0';
			n = strlen(line);
			in = n >= strlen(name) &&
			    strcmp(line + n - strlen(name), name) == 0;
			continue;
		}
		if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
			rss += v;
	}
	fclose(f);
	return rss;
}

/* Reads every big/ value back, checking it; the txn ends. */
static void
read_all_big(struct store *st, size_t n)
{
	struct store_txn	*t;
	struct store_val	 val;
	char			 key[32];
	size_t			 i, j;

	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "big/%06zu", i);
		assert_int_equal(store_get(t, T_PLAIN, key, strlen(key),
		    &val), STORE_OK);
		assert_int_equal(val.len, VAL_BIG);
		for (j = 0; j < val.len; j++)
			assert_int_equal(((const char *)val.data)[j], 'x');
	}
	store_txn_abort(t);
}

/*
 * Reading maps the file's pages in; when the last transaction ends the
 * store lets them go, and reads afterwards see the same bytes. The
 * same once the map has grown (and moved).
 */
static void
test_map_pages_let_go(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	struct run_arg		 a = { STORE_OK, 0, 8000 };
	struct store_txn	*t;
	struct store_val	 val;

	cfg.map_size = 256 * 1024;
	cfg.map_max = 8 * 1024 * 1024;
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	/*
	 * 3 MiB of values, the map doubling from 256 KiB on the way: more
	 * than STORE_UNMAP_FAULTS faults to read back, 16 pages each.
	 */
	assert_int_equal(store_txn_run(st, run_big, &a), STORE_OK);
	assert_true(a.calls > 1);
	assert_true(log_has(fx, "map grown from 262144"));
	/* While a read txn holds them, the pages it read are mapped. */
	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	assert_int_equal(store_get(t, T_PLAIN, "big/007999", 10, &val),
	    STORE_OK);
	read_all_big(st, 8000);
	assert_true(map_rss_kib(fx->data) > 1024);
	assert_int_equal(val.len, VAL_BIG);
	store_txn_abort(t);
	/* The last txn is over: (almost) nothing of the file is mapped. */
	assert_true(map_rss_kib(fx->data) < 64);
	read_all_big(st, 8000);
	assert_true(map_rss_kib(fx->data) < 64);
	store_close(st);
	/* Reopened, the same. */
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	read_all_big(st, 8000);
	assert_true(map_rss_kib(fx->data) < 64);
	store_close(st);
}

/* A child's write txn dies uncommitted with _exit: the parent closed. */
static void
test_crash_mid_write_leaves_last_commit(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	struct store_txn	*t;
	int			 fds[2], status;
	char			 c = 0;
	pid_t			 pid;

	st = open_ok(fx->data);
	write_one(st, T_PLAIN, "k", "old");
	store_close(st);

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (store_open(&cfg, &st) != STORE_OK ||
		    store_txn_begin(st, STORE_WRITE, &t) != STORE_OK ||
		    store_put(t, T_PLAIN, "k", 1, "new", 3, 0) != STORE_OK ||
		    store_put(t, T_PLAIN, "k2", 2, "new", 3, 0) != STORE_OK)
			_exit(1);
		if (write(fds[1], "w", 1) != 1)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(c, 'w');
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	st = open_ok(fx->data);
	expect_str(st, T_PLAIN, "k", "old");
	expect_str(st, T_PLAIN, "k2", NULL);
	write_one(st, T_PLAIN, "k", "newer");
	expect_str(st, T_PLAIN, "k", "newer");
	store_close(st);
}

/*
 * One process per data dir: while a child holds the store (and its
 * writer lock, mid-transaction) the parent cannot open it; once the
 * child is killed the parent opens it, sees the last commit and writes.
 */
static void
test_killed_writer_lock_recovered(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st, *cst;
	struct store_txn	*t;
	int			 c2p[2], p2c[2], status;
	char			 c = 0;
	pid_t			 pid;

	st = open_ok(fx->data);
	write_one(st, T_PLAIN, "k", "old");
	store_close(st);

	assert_int_equal(pipe(c2p), 0);
	assert_int_equal(pipe(p2c), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		if (store_open(&cfg, &cst) != STORE_OK ||
		    store_txn_begin(cst, STORE_WRITE, &t) != STORE_OK ||
		    store_put(t, T_PLAIN, "k", 1, "new", 3, 0) != STORE_OK)
			_exit(1);
		if (write(c2p[1], "w", 1) != 1)
			_exit(2);
		/* Wait to be killed, holding the writer lock. */
		while (read(p2c[0], &c, 1) != 0)
			;
		_exit(3);
	}
	close(c2p[1]);
	close(p2c[0]);
	assert_int_equal(read(c2p[0], &c, 1), 1);
	assert_int_equal(c, 'w');
	/* A second process is refused, and names why. */
	assert_int_equal(store_open(&cfg, &st), STORE_BUSY);
	assert_null(st);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	close(c2p[0]);
	close(p2c[1]);

	st = open_ok(fx->data);
	expect_str(st, T_PLAIN, "k", "old");
	write_one(st, T_PLAIN, "k", "newer");
	expect_str(st, T_PLAIN, "k", "newer");
	store_close(st);
	st = open_ok(fx->data);
	expect_str(st, T_PLAIN, "k", "newer");
	store_close(st);
}

/*
 * In a private mount namespace (root, or an unprivileged user namespace
 * where the kernel allows one), mounts a tiny tmpfs on dir. 0, or -1.
 */
static int
tmpfs_mount(const char *dir, const char *size)
{
	char		 opts[64], map[64];
	uid_t		 uid = geteuid();
	gid_t		 gid = getegid();
	int		 fd;

	if (unshare(CLONE_NEWNS) == -1) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == -1)
			return -1;
		fd = open("/proc/self/setgroups", O_WRONLY);
		if (fd != -1) {
			(void)!write(fd, "deny", 4);
			close(fd);
		}
		snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid,
		    (unsigned)uid);
		fd = open("/proc/self/uid_map", O_WRONLY);
		if (fd == -1 || write(fd, map, strlen(map)) == -1)
			return -1;
		close(fd);
		snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid,
		    (unsigned)gid);
		fd = open("/proc/self/gid_map", O_WRONLY);
		if (fd == -1 || write(fd, map, strlen(map)) == -1)
			return -1;
		close(fd);
	}
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		return -1;
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	return mount("tmpfs", dir, "tmpfs", 0, opts);
}

/*
 * The disk-full scene, in a child so the mount stays private to it. Its
 * exit status is 0 on success, CHILD_SKIP when no tmpfs could be
 * mounted, or the number of the step that went wrong.
 */
static int
disk_full_child(const char *mnt)
{
	struct store_config	 cfg;
	struct store		*st;
	struct store_txn	*t;
	struct store_val	 v;
	char			 data[PATH_MAX];
	enum store_err		 e;

	if (tmpfs_mount(mnt, "256k") == -1)
		return CHILD_SKIP;
	path_fmt(data, sizeof(data), "%s/data", mnt);
	cfg = cfg_make(data);
	cfg.map_size = 8 * 1024 * 1024;	/* far beyond the disk */
	if (store_open(&cfg, &st) != STORE_OK)
		return 10;
	if (store_txn_begin(st, STORE_WRITE, &t) != STORE_OK ||
	    store_put(t, T_PLAIN, "before", 6, "kept", 4, 0) != STORE_OK ||
	    store_txn_commit(t) != STORE_OK)
		return 11;
	/* ~516 KiB into a 256 KiB disk: the commit's writes fail. */
	if (store_txn_begin(st, STORE_WRITE, &t) != STORE_OK)
		return 12;
	if (put_big(t, 1000) != STORE_OK) {
		store_txn_abort(t);
		return 13;
	}
	e = store_txn_commit(t);
	if (e != STORE_DISK_FULL)
		return 14;
	if (store_txn_begin(st, STORE_READ, &t) != STORE_OK)
		return 15;
	if (store_get(t, T_PLAIN, "before", 6, &v) != STORE_OK ||
	    v.len != 4 || memcmp(v.data, "kept", 4) != 0)
		return 16;
	if (store_get(t, T_PLAIN, "big/000000", 10, &v) != STORE_NOTFOUND)
		return 17;
	store_txn_abort(t);
	/* A small write still fits in the pages already on disk. */
	if (store_txn_begin(st, STORE_WRITE, &t) != STORE_OK ||
	    store_put(t, T_PLAIN, "after", 5, "fits", 4, 0) != STORE_OK ||
	    store_txn_commit(t) != STORE_OK)
		return 18;
	store_close(st);
	/* And all of it survives a reopen. */
	if (store_open(&cfg, &st) != STORE_OK)
		return 19;
	if (store_txn_begin(st, STORE_READ, &t) != STORE_OK ||
	    store_get(t, T_PLAIN, "after", 5, &v) != STORE_OK ||
	    store_get(t, T_PLAIN, "before", 6, &v) != STORE_OK)
		return 20;
	store_txn_abort(t);
	store_close(st);
	return 0;
}

static void
test_disk_full_tmpfs(void **state)
{
	struct fx		*fx = *state;
	char			 mnt[PATH_MAX];
	int			 status;
	pid_t			 pid;

	path_fmt(mnt, sizeof(mnt), "%s/mnt", fx->root);
	assert_int_equal(mkdir(mnt, 0700), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(disk_full_child(mnt));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == CHILD_SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(log_has(fx, "No space left on device"));
}

/* Disk errors at commit, injected: the same recovery as a real one. */
static void
test_commit_errors_injected(void **state)
{
	static const struct {
		int		 err;
		enum store_err	 want;
	} cases[] = {
		{ EIO, STORE_IO },
		{ ENOSPC, STORE_DISK_FULL },
		{ EDQUOT, STORE_DISK_FULL },
		{ EROFS, STORE_SYSTEM },
	};
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;
	size_t			 i;

	st = open_ok(fx->data);
	write_one(st, T_PLAIN, "k", "old");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(store_txn_begin(st, STORE_WRITE, &t),
		    STORE_OK);
		put_str(t, T_PLAIN, "k", "new");
		store_fail_next_commit(cases[i].err);
		assert_int_equal(store_txn_commit(t), cases[i].want);
		expect_str(st, T_PLAIN, "k", "old");
	}
	assert_true(log_has(fx, "Input/output error"));
	write_one(st, T_PLAIN, "k", "newer");
	expect_str(st, T_PLAIN, "k", "newer");
	store_close(st);
}

static void
test_stats(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st;
	struct store_txn	*t;
	struct store_stats	 ss;

	cfg.map_size = 1024 * 1024 + 1;		/* rounded up to a page */
	assert_int_equal(store_open(&cfg, &st), STORE_OK);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	put_str(t, T_PLAIN, "a", "1");
	put_str(t, T_PLAIN, "b", "2");
	put_str(t, T_DUPS, "s", "1");
	put_str(t, T_DUPS, "s", "2");
	put_str(t, T_DUPS, "s", "3");
	assert_int_equal(store_txn_commit(t), STORE_OK);
	assert_int_equal(store_stats(st, &ss), STORE_OK);
	assert_true(ss.page_size >= 512);
	assert_int_equal(ss.map_size % ss.page_size, 0);
	assert_true(ss.map_size > 1024 * 1024);
	assert_true(ss.map_size < 1024 * 1024 + 2 * ss.page_size);
	assert_int_equal(ss.map_max, ss.map_size);
	assert_true(ss.map_used >= 2 * ss.page_size);
	assert_true(ss.map_used <= ss.map_size);
	assert_int_equal(ss.ntables, T_N);
	assert_int_equal(ss.entries[T_PLAIN], 2);
	assert_int_equal(ss.entries[T_DUPS], 3);
	assert_int_equal(ss.entries[T_OTHER], 0);
	store_close(st);
}

static void
test_bad_arguments(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t;
	struct store_cursor	*c;
	struct store_val	 v;
	char			 big[STORE_KEY_MAX + 1];

	memset(big, 'k', sizeof(big));
	st = open_ok(fx->data);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	assert_int_equal(store_put(t, T_PLAIN, "", 0, "v", 1, 0),
	    STORE_INVALID);
	assert_int_equal(store_put(t, T_PLAIN, big, sizeof(big), "v", 1, 0),
	    STORE_INVALID);
	assert_int_equal(store_put(t, T_DUPS, "k", 1, big, sizeof(big), 0),
	    STORE_INVALID);
	assert_int_equal(store_put(t, T_N, "k", 1, "v", 1, 0),
	    STORE_INVALID);
	assert_int_equal(store_get(t, T_PLAIN, big, sizeof(big), &v),
	    STORE_INVALID);
	assert_int_equal(store_cursor_open(t, T_N, &c), STORE_INVALID);
	assert_null(c);
	/* Those do not doom the txn; the largest legal sizes work. */
	assert_int_equal(store_put(t, T_PLAIN, big, STORE_KEY_MAX, "v", 1,
	    0), STORE_OK);
	assert_int_equal(store_put(t, T_DUPS, "k", 1, big, STORE_KEY_MAX,
	    0), STORE_OK);
	assert_int_equal(store_put(t, T_PLAIN, "e", 1, NULL, 0, 0), STORE_OK);
	assert_int_equal(store_put(t, T_PLAIN, "new", 3, "1", 1,
	    STORE_PUT_NEW), STORE_OK);
	assert_int_equal(store_put(t, T_PLAIN, "new", 3, "2", 1,
	    STORE_PUT_NEW), STORE_EXISTS);
	assert_int_equal(store_txn_commit(t), STORE_OK);

	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	assert_int_equal(store_put(t, T_PLAIN, "k", 1, "v", 1, 0),
	    STORE_INVALID);
	assert_int_equal(store_del(t, T_PLAIN, "e", 1, NULL, 0),
	    STORE_INVALID);
	assert_int_equal(store_get(t, T_PLAIN, "e", 1, &v), STORE_OK);
	assert_int_equal(v.len, 0);
	assert_int_equal(store_get(t, T_PLAIN, "new", 3, &v), STORE_OK);
	assert_true(val_is(&v, "1"));
	assert_int_equal(store_get(t, T_PLAIN, big, STORE_KEY_MAX, &v),
	    STORE_OK);
	store_txn_abort(t);
	assert_int_equal(store_txn_begin(st, (enum store_txn_mode)7, &t),
	    STORE_INVALID);
	assert_null(t);
	assert_int_equal(store_txn_commit(NULL), STORE_INVALID);
	store_close(st);
}

/* LMDB's writer lock is not recursive; the store refuses, not hangs. */
static void
test_second_writer_same_thread(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t, *t2;

	st = open_ok(fx->data);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t2), STORE_BUSY);
	assert_null(t2);
	/* A read txn beside it is fine. */
	assert_int_equal(store_txn_begin(st, STORE_READ, &t2), STORE_OK);
	store_txn_abort(t2);
	store_txn_abort(t);
	assert_int_equal(store_txn_begin(st, STORE_WRITE, &t), STORE_OK);
	store_txn_abort(t);
	store_close(st);
}

struct thread_arg {
	struct store_txn *t;
	enum store_err	 e;
};

static void *
thread_read(void *arg)
{
	struct thread_arg	*a = arg;
	struct store_val	 v;

	a->e = store_get(a->t, T_PLAIN, "k", 1, &v);
	if (a->e == STORE_OK && !val_is(&v, "v"))
		a->e = STORE_CORRUPT;
	store_txn_abort(a->t);
	return NULL;
}

/* MDB_NOTLS: read txns are not tied to a thread or one per thread. */
static void
test_read_txns_not_tied_to_thread(void **state)
{
	struct fx		*fx = *state;
	struct store		*st;
	struct store_txn	*t1, *t2;
	struct thread_arg	 a;
	pthread_t		 th;

	st = open_ok(fx->data);
	write_one(st, T_PLAIN, "k", "v");
	assert_int_equal(store_txn_begin(st, STORE_READ, &t1), STORE_OK);
	assert_int_equal(store_txn_begin(st, STORE_READ, &t2), STORE_OK);
	a.t = t2;
	a.e = STORE_SYSTEM;
	assert_int_equal(pthread_create(&th, NULL, thread_read, &a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.e, STORE_OK);
	store_txn_abort(t1);
	store_close(st);
}

/* Every allocation of open, begin and cursor_open may fail cleanly. */
static void
test_alloc_failures(void **state)
{
	struct fx		*fx = *state;
	struct store_config	 cfg = cfg_make(fx->data);
	struct store		*st = NULL;
	struct store_txn	*t;
	struct store_cursor	*c;
	enum store_err		 e = STORE_NOMEM;
	unsigned long		 n;
	int			 failed = 0;

	for (n = 1; n < 100 && e == STORE_NOMEM; n++) {
		mem_fail_after(n);
		e = store_open(&cfg, &st);
		mem_fail_after(0);
		if (e == STORE_NOMEM) {
			assert_null(st);
			failed++;
		}
	}
	assert_int_equal(e, STORE_OK);
	assert_true(failed > 0);
	mem_fail_after(1);
	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_NOMEM);
	assert_null(t);
	assert_int_equal(store_txn_begin(st, STORE_READ, &t), STORE_OK);
	mem_fail_after(1);
	assert_int_equal(store_cursor_open(t, T_PLAIN, &c), STORE_NOMEM);
	assert_null(c);
	store_txn_abort(t);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
		T(test_create_reopen_persists),
		T(test_nosync_option_commits),
		T(test_modes_dir_0700_files_0600),
		T(test_wide_file_mode_tightened),
		T(test_dir_modes),
		T(test_data_dir_not_a_dir),
		T(test_foreign_owner_refused),
		T(test_bad_config_refused),
		T(test_tables_are_separate),
		T(test_table_cap),
		T(test_bad_table_declarations),
		T(test_table_flags_must_match_file),
		T(test_dups_sorted_and_counted),
		T(test_prefix_walk),
		T(test_prefix_walk_dups),
		T(test_cursor_del_while_walking),
		T(test_abort_rolls_back),
		T(test_txn_run_commits_or_aborts),
		T(test_schema_mismatch),
		T(test_kind_mismatch),
		T(test_foreign_lmdb_refused),
		T(test_map_full_no_growth),
		T(test_map_grows_to_cap),
		T(test_map_pages_let_go),
		T(test_crash_mid_write_leaves_last_commit),
		T(test_killed_writer_lock_recovered),
		T(test_disk_full_tmpfs),
		T(test_commit_errors_injected),
		T(test_stats),
		T(test_bad_arguments),
		T(test_second_writer_same_thread),
		T(test_read_txns_not_tied_to_thread),
		T(test_alloc_failures),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
