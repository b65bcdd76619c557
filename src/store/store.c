/*
 * The LMDB layer. Every MDB_* or errno code is converted to a store_err
 * here and logged once, at the point where it is converted.
 *
 * The map can grow (mdb_env_set_mapsize) only while no transaction of the
 * process is open, so the store counts open transactions under a mutex and
 * grows the map when the last one ends after one of them hit MDB_MAP_FULL.
 *
 * Pages of the map stay mapped once read, and the kernel maps 16 pages
 * around each one faulted in (fault-around, whatever MADV_RANDOM says):
 * a walk over a few hundred entries maps most of the file, and the RSS
 * counts all of it for good. So when the last transaction ends after
 * the process took STORE_UNMAP_FAULTS page faults, the map's pages are
 * let go (MADV_DONTNEED). The file's pages stay in the page cache, now
 * reclaimable first; the next read maps them again (a minor fault).
 * A map shared read-only reads the same bytes after that, so even a
 * reader of another thread in between would not notice.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/store.h"

#define SUBSYS		"store"
#define META_TABLE	"meta"		/* our table: schema and kind */
#define META_SCHEMA	"schema"	/* uint32, big-endian */
#define META_KIND	"kind"		/* the kind string, no NUL */
#define FILE_MODE	0600
#define DIR_MODE	0700
/*
 * Bytes free on the data dir's file system under which a failed write
 * counts as a full disk: LMDB reports a short write as EIO.
 */
#define DISK_FULL_BYTES	(256 * 1024)

struct store_table {
	MDB_dbi		 dbi;
	unsigned	 flags;		/* STORE_TABLE_* */
	char		 name[STORE_TABLE_NAME_MAX + 1];
};

struct store {
	MDB_env		*env;
	char		*path;
	MDB_dbi		 meta;
	struct store_table tables[STORE_TABLES_MAX];
	size_t		 ntables;
	size_t		 page_size;	/* bytes */
	size_t		 map_max;	/* bytes; >= map_size */
	int		 lock_ready;	/* lock was initialised */
	pthread_mutex_t	 lock;		/* guards the fields below */
	size_t		 map_size;	/* bytes mapped now */
	unsigned	 ntxn;		/* open transactions, all threads */
	int		 grow;		/* a txn hit MDB_MAP_FULL */
	int		 writing;	/* a write txn is open ... */
	pthread_t	 writer;	/* ... on this thread */
	int		 broken;	/* a remap failed: nothing works */
	long		 faults;	/* the process's, at the last unmap */
	void		*map_addr;	/* where LMDB mapped data.mdb, */
	size_t		 map_len;	/* found in /proc; 0: not found */
	int		 instance_fd;	/* holds the one-process lock */
};

struct store_txn {
	struct store	*st;
	MDB_txn		*txn;
	enum store_txn_mode mode;
	enum store_err	 failed;	/* first error that dooms the txn */
	int		 map_full;	/* an op got MDB_MAP_FULL */
	struct store_cursor *cursors;	/* open ones, closed at the end */
};

struct store_cursor {
	struct store_txn *t;
	struct store_cursor *prev, *next; /* in t->cursors */
	MDB_cursor	*cur;
	unsigned	 table;
	int		 prefixed;	/* next stays inside prefix */
	size_t		 plen;
	unsigned char	 prefix[STORE_KEY_MAX];
};

/* Test hook: the errno the next write commit fails with, or 0. */
static atomic_int store_commit_fail;

static enum store_err	 store_err_mdb(const struct store *, const char *,
			    const char *, int);
static void		 store_bug(const struct store *, const char *);
static void		*store_unconst(const void *);
static int		 store_name_ok(const char *, size_t, int);
static enum store_err	 store_config_check(const struct store_config *);
static enum store_err	 store_dir_make(const char *);
static enum store_err	 store_dir_check(const char *);
static enum store_err	 store_file_check(const char *, const char *);
static enum store_err	 store_instance_lock(struct store *);
static enum store_err	 store_env_open(struct store *,
			    const struct store_config *);
static enum store_err	 store_meta_check(struct store *, MDB_txn *,
			    const struct store_config *);
static enum store_err	 store_meta_init(struct store *,
			    const struct store_config *);
static void		 store_map_grow(struct store *);
static void		 store_map_unmap(struct store *);
static void		 store_map_locate(struct store *);
static int		 store_disk_full(const struct store *);
static void		 store_txn_end(struct store_txn *);
static void		 store_txn_cursors_close(struct store_txn *);
static enum store_err	 store_txn_fail(struct store_txn *, const char *,
			    unsigned, int);
static enum store_err	 store_txn_check(struct store_txn *, unsigned);
static enum store_err	 store_key_check(const struct store *, size_t);
static enum store_err	 store_cursor_get(struct store_cursor *, MDB_val *,
			    MDB_val *, MDB_cursor_op, struct store_val *,
			    struct store_val *);
static enum store_err	 store_cursor_at(struct store_cursor *, const void *,
			    size_t, MDB_cursor_op, struct store_val *,
			    struct store_val *);

const char *
store_strerror(enum store_err e)
{
	switch (e) {
	case STORE_OK:
		return "success";
	case STORE_NOTFOUND:
		return "not found";
	case STORE_EXISTS:
		return "already exists";
	case STORE_FULL:
		return "store map is full";
	case STORE_DISK_FULL:
		return "no space left on the store's file system";
	case STORE_IO:
		return "store I/O error";
	case STORE_SCHEMA:
		return "store has another schema version";
	case STORE_KIND:
		return "data dir belongs to another role";
	case STORE_UNSAFE:
		return "data dir or store file has an unsafe owner or mode";
	case STORE_TABLE:
		return "bad store table declaration";
	case STORE_INVALID:
		return "invalid store argument";
	case STORE_BUSY:
		return "store busy";
	case STORE_CORRUPT:
		return "store is corrupt or not spirelet's";
	case STORE_NOMEM:
		return "out of memory";
	case STORE_ABORTED:
		return "store transaction abandoned";
	case STORE_SYSTEM:
		return "store system error";
	}
	return "unknown store error";
}

/*
 * The one place LMDB's codes become ours. what says what failed ("commit
 * failed"), table names the table or is NULL.
 */
static enum store_err
store_err_mdb(const struct store *st, const char *what, const char *table,
    int rc)
{
	enum store_err		 e;
	enum log_level		 level = LOG_LEVEL_ERROR;

	switch (rc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_NOTFOUND;
	case MDB_KEYEXIST:
		return STORE_EXISTS;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		e = STORE_FULL;
		level = LOG_LEVEL_WARN;
		break;
	case ENOSPC:
	case EDQUOT:
		e = STORE_DISK_FULL;
		break;
	case EIO:
	case MDB_PANIC:
		e = STORE_IO;
		break;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		e = STORE_CORRUPT;
		break;
	case MDB_READERS_FULL:
		e = STORE_BUSY;
		break;
	case MDB_BAD_VALSIZE:
		/* Sizes come from data a peer may have sent. */
		e = STORE_INVALID;
		level = LOG_LEVEL_DEBUG;
		break;
	case MDB_DBS_FULL:
		e = STORE_TABLE;
		break;
	case ENOMEM:
		e = STORE_NOMEM;
		break;
	case EINVAL:
	case MDB_BAD_TXN:
	case MDB_BAD_RSLOT:
	case MDB_BAD_DBI:
		e = STORE_INVALID;
		break;
	default:
		e = STORE_SYSTEM;
		break;
	}
	if (table != NULL)
		log_kv(level, SUBSYS, what, "path", st->path, "table", table,
		    "error", mdb_strerror(rc), NULL);
	else
		log_kv(level, SUBSYS, what, "path", st->path, "error",
		    mdb_strerror(rc), NULL);
	return e;
}

/* A caller broke the API's rules; the message says which. */
static void
store_bug(const struct store *st, const char *what)
{
	log_kv(LOG_LEVEL_ERROR, SUBSYS, what, "path", st->path, NULL);
}

/* LMDB's MDB_val holds a non-const pointer it does not write through. */
static void *
store_unconst(const void *p)
{
	return (void *)(uintptr_t)p;
}

/* 1 to max bytes of [a-z0-9_], and '-' too when dash is set. */
static int
store_name_ok(const char *s, size_t max, int dash)
{
	size_t			 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max)
			return 0;
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_')
			continue;
		if (dash && s[i] == '-')
			continue;
		return 0;
	}
	return i > 0;
}

static enum store_err
store_config_check(const struct store_config *cfg)
{
	size_t			 i, j;
	const char		*name;

	if (cfg->path == NULL || cfg->path[0] == '\0' ||
	    strlen(cfg->path) >= PATH_MAX - sizeof("/lock.mdb")) {
		log_error(SUBSYS, "data dir path is empty or too long");
		return STORE_INVALID;
	}
	if (cfg->kind == NULL || !store_name_ok(cfg->kind, STORE_KIND_MAX,
	    1)) {
		log_error(SUBSYS, "%s: bad store kind", cfg->path);
		return STORE_INVALID;
	}
	if (cfg->schema == 0) {
		log_error(SUBSYS, "%s: schema version must be >= 1",
		    cfg->path);
		return STORE_INVALID;
	}
	if (cfg->ntables > STORE_TABLES_MAX) {
		log_error(SUBSYS, "%s: %zu tables declared, at most %d",
		    cfg->path, cfg->ntables, STORE_TABLES_MAX);
		return STORE_TABLE;
	}
	if (cfg->ntables > 0 && cfg->tables == NULL)
		return STORE_INVALID;
	for (i = 0; i < cfg->ntables; i++) {
		name = cfg->tables[i].name;
		if (name == NULL || !store_name_ok(name,
		    STORE_TABLE_NAME_MAX, 0) || strcmp(name, META_TABLE) == 0 ||
		    (cfg->tables[i].flags & ~STORE_TABLE_DUPS) != 0) {
			log_error(SUBSYS, "%s: table %zu: bad name or flags",
			    cfg->path, i);
			return STORE_TABLE;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(cfg->tables[j].name, name) == 0) {
				log_error(SUBSYS, "%s: table %s declared "
				    "twice", cfg->path, name);
				return STORE_TABLE;
			}
		}
	}
	return STORE_OK;
}

/*
 * Creates path and any missing parents, each 0700 whatever the umask (an
 * explicit chmod, since mkdir applies the umask).
 */
static enum store_err
store_dir_make(const char *path)
{
	char			 buf[PATH_MAX];
	size_t			 i, len;

	len = strlen(path);
	if (len >= sizeof(buf))
		return STORE_INVALID;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, DIR_MODE) == 0) {
			if (chmod(buf, DIR_MODE) == -1) {
				log_warn(SUBSYS, "chmod %s", buf);
				return STORE_SYSTEM;
			}
			log_info(SUBSYS, "created directory %s", buf);
		} else if (errno != EEXIST) {
			log_warn(SUBSYS, "mkdir %s", buf);
			return STORE_SYSTEM;
		}
		buf[i] = path[i];
	}
	return STORE_OK;
}

/*
 * The data dir must be ours and writable by nobody else: whoever can write
 * to it can replace the store. stat follows a symlink on purpose, so an
 * operator may point data_dir elsewhere; the target is what is checked.
 */
static enum store_err
store_dir_check(const char *path)
{
	struct stat		 sb;
	enum store_err		 e;

	if (stat(path, &sb) == -1) {
		if (errno != ENOENT) {
			log_warn(SUBSYS, "stat %s", path);
			return STORE_SYSTEM;
		}
		e = store_dir_make(path);
		if (e != STORE_OK)
			return e;
		if (stat(path, &sb) == -1) {
			log_warn(SUBSYS, "stat %s", path);
			return STORE_SYSTEM;
		}
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_error(SUBSYS, "data dir %s is not a directory", path);
		return STORE_INVALID;
	}
	if (sb.st_uid != geteuid()) {
		log_error(SUBSYS, "data dir %s is owned by uid %u, not by "
		    "uid %u who runs spirelet", path, (unsigned)sb.st_uid,
		    (unsigned)geteuid());
		return STORE_UNSAFE;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_error(SUBSYS, "data dir %s is writable by group or other "
		    "(mode %04o): chmod go-w it", path,
		    (unsigned)(sb.st_mode & 07777));
		return STORE_UNSAFE;
	}
	return STORE_OK;
}

/*
 * A store file must be a regular file of ours with mode exactly 0600. A
 * missing one is created empty here (LMDB takes an empty file for a new
 * store), because LMDB would create it with the umask applied, and a
 * umask that drops the owner's write bit makes LMDB's second open of
 * data.mdb fail. A wider mode (a copy restored from a backup) is
 * tightened.
 */
static enum store_err
store_file_check(const char *dir, const char *name)
{
	char			 path[PATH_MAX];
	struct stat		 sb;
	int			 n, fd;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return STORE_INVALID;
	if (lstat(path, &sb) == -1) {
		if (errno != ENOENT) {
			log_warn(SUBSYS, "lstat %s", path);
			return STORE_SYSTEM;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, FILE_MODE);
		if (fd == -1) {
			log_warn(SUBSYS, "create %s", path);
			return STORE_SYSTEM;
		}
		if (fchmod(fd, FILE_MODE) == -1) {
			log_warn(SUBSYS, "fchmod %s", path);
			close(fd);
			return STORE_SYSTEM;
		}
		close(fd);
		return STORE_OK;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_error(SUBSYS, "%s is not a regular file", path);
		return STORE_UNSAFE;
	}
	if (sb.st_uid != geteuid()) {
		log_error(SUBSYS, "%s is owned by uid %u, not by uid %u who "
		    "runs spirelet", path, (unsigned)sb.st_uid,
		    (unsigned)geteuid());
		return STORE_UNSAFE;
	}
	if ((sb.st_mode & 07777) == FILE_MODE)
		return STORE_OK;
	if ((sb.st_mode & 077) != 0)
		log_warnx(SUBSYS, "%s had mode %04o, setting 0600", path,
		    (unsigned)(sb.st_mode & 07777));
	if (chmod(path, FILE_MODE) == -1) {
		log_warn(SUBSYS, "chmod %s", path);
		return STORE_SYSTEM;
	}
	return STORE_OK;
}

static enum store_err
store_env_open(struct store *st, const struct store_config *cfg)
{
	MDB_envinfo		 info;
	MDB_stat		 ms;
	unsigned		 flags = MDB_NOTLS;
	long			 pg;
	size_t			 size;
	int			 rc, dead = 0;

	pg = sysconf(_SC_PAGESIZE);
	st->page_size = pg > 0 ? (size_t)pg : 4096;
	size = cfg->map_size != 0 ? cfg->map_size : STORE_MAP_DEFAULT;
	size = (size + st->page_size - 1) / st->page_size * st->page_size;
	st->map_max = cfg->map_max > size ? (cfg->map_max / st->page_size *
	    st->page_size) : size;
	if (st->map_max < size)
		st->map_max = size;
	if (cfg->flags & STORE_OPEN_NOSYNC_UNSAFE)
		flags |= MDB_NOSYNC;

	rc = mdb_env_create(&st->env);
	if (rc != 0) {
		st->env = NULL;
		return store_err_mdb(st, "mdb_env_create failed", NULL, rc);
	}
	/* One more than the caller's tables: ours, "meta". */
	rc = mdb_env_set_maxdbs(st->env, STORE_TABLES_MAX + 1);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(st->env, STORE_READERS_MAX);
	if (rc == 0)
		rc = mdb_env_set_mapsize(st->env, size);
	if (rc != 0)
		return store_err_mdb(st, "setting up the environment failed",
		    NULL, rc);
	if (mdb_env_get_maxkeysize(st->env) < STORE_KEY_MAX) {
		log_error(SUBSYS, "liblmdb allows %d-byte keys, spirelet "
		    "needs %d", mdb_env_get_maxkeysize(st->env),
		    STORE_KEY_MAX);
		return STORE_SYSTEM;
	}
	rc = mdb_env_open(st->env, st->path, flags, FILE_MODE);
	if (rc != 0)
		return store_err_mdb(st, "mdb_env_open failed", NULL, rc);

	/*
	 * A process that died inside a read txn leaves its reader slot;
	 * left alone, it would pin old pages until the map fills. (A dead
	 * writer's lock is robust and LMDB recovers it by itself.)
	 */
	rc = mdb_reader_check(st->env, &dead);
	if (rc != 0)
		return store_err_mdb(st, "mdb_reader_check failed", NULL, rc);
	if (dead > 0)
		log_info(SUBSYS, "%s: cleared %d stale reader slots",
		    st->path, dead);
	rc = mdb_env_info(st->env, &info);
	if (rc == 0)
		rc = mdb_env_stat(st->env, &ms);
	if (rc != 0)
		return store_err_mdb(st, "mdb_env_info failed", NULL, rc);
	st->page_size = ms.ms_psize;
	/* LMDB keeps the map at least as large as the data in it. */
	st->map_size = info.me_mapsize;
	if (st->map_max < st->map_size)
		st->map_max = st->map_size;
	store_map_locate(st);
	return STORE_OK;
}

/* A store that exists: its kind, then its schema, must be the caller's. */
static enum store_err
store_meta_check(struct store *st, MDB_txn *txn,
    const struct store_config *cfg)
{
	MDB_val			 k, v;
	const unsigned char	*p;
	unsigned		 schema;
	int			 rc;

	k.mv_data = store_unconst(META_KIND);
	k.mv_size = strlen(META_KIND);
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		log_error(SUBSYS, "%s: store has no kind", st->path);
		return STORE_CORRUPT;
	}
	if (rc != 0)
		return store_err_mdb(st, "reading the store kind failed",
		    META_TABLE, rc);
	if (v.mv_size != strlen(cfg->kind) ||
	    memcmp(v.mv_data, cfg->kind, v.mv_size) != 0) {
		log_error(SUBSYS, "%s is a data dir of kind %.*s, not %s: "
		    "give each role its own data dir", st->path,
		    (int)(v.mv_size > STORE_KIND_MAX ? STORE_KIND_MAX :
		    v.mv_size), (const char *)v.mv_data, cfg->kind);
		return STORE_KIND;
	}

	k.mv_data = store_unconst(META_SCHEMA);
	k.mv_size = strlen(META_SCHEMA);
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != 4)) {
		log_error(SUBSYS, "%s: store has no valid schema version",
		    st->path);
		return STORE_CORRUPT;
	}
	if (rc != 0)
		return store_err_mdb(st, "reading the schema version failed",
		    META_TABLE, rc);
	p = v.mv_data;
	schema = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
	    (unsigned)p[2] << 8 | p[3];
	if (schema != cfg->schema) {
		log_error(SUBSYS, "%s has schema %u, this spirelet uses %u",
		    st->path, schema, cfg->schema);
		return STORE_SCHEMA;
	}
	return STORE_OK;
}

/*
 * In one write txn: record or check the kind and schema, then open (and
 * create) the caller's tables, checking their flags against the file.
 */
static enum store_err
store_meta_init(struct store *st, const struct store_config *cfg)
{
	MDB_txn			*txn = NULL;
	MDB_dbi			 main_dbi;
	MDB_stat		 ms;
	MDB_val			 k, v;
	struct store_table	*tb;
	enum store_err		 e = STORE_OK;
	unsigned char		 sbuf[4];
	unsigned		 dflags, want;
	size_t			 i;
	int			 rc, fresh = 0;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != 0) {
		txn = NULL;
		e = store_err_mdb(st, "mdb_txn_begin failed", NULL, rc);
		goto out;
	}
	rc = mdb_dbi_open(txn, META_TABLE, 0, &st->meta);
	if (rc == MDB_NOTFOUND) {
		/* New, unless someone else's LMDB data is here. */
		rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
		if (rc == 0)
			rc = mdb_stat(txn, main_dbi, &ms);
		if (rc != 0) {
			e = store_err_mdb(st, "mdb_stat failed", NULL, rc);
			goto out;
		}
		if (ms.ms_entries != 0) {
			log_error(SUBSYS, "%s holds an LMDB store that is not "
			    "spirelet's", st->path);
			e = STORE_CORRUPT;
			goto out;
		}
		rc = mdb_dbi_open(txn, META_TABLE, MDB_CREATE, &st->meta);
		if (rc != 0) {
			e = store_err_mdb(st, "creating the meta table failed",
			    META_TABLE, rc);
			goto out;
		}
		sbuf[0] = cfg->schema >> 24;
		sbuf[1] = cfg->schema >> 16;
		sbuf[2] = cfg->schema >> 8;
		sbuf[3] = cfg->schema;
		k.mv_data = store_unconst(META_SCHEMA);
		k.mv_size = strlen(META_SCHEMA);
		v.mv_data = sbuf;
		v.mv_size = sizeof(sbuf);
		rc = mdb_put(txn, st->meta, &k, &v, 0);
		if (rc == 0) {
			k.mv_data = store_unconst(META_KIND);
			k.mv_size = strlen(META_KIND);
			v.mv_data = store_unconst(cfg->kind);
			v.mv_size = strlen(cfg->kind);
			rc = mdb_put(txn, st->meta, &k, &v, 0);
		}
		if (rc != 0) {
			e = store_err_mdb(st, "writing the meta table failed",
			    META_TABLE, rc);
			goto out;
		}
		fresh = 1;
	} else if (rc == MDB_INCOMPATIBLE) {
		log_error(SUBSYS, "%s holds an LMDB store that is not "
		    "spirelet's", st->path);
		e = STORE_CORRUPT;
		goto out;
	} else if (rc != 0) {
		e = store_err_mdb(st, "opening the meta table failed",
		    META_TABLE, rc);
		goto out;
	} else {
		e = store_meta_check(st, txn, cfg);
		if (e != STORE_OK)
			goto out;
	}

	for (i = 0; i < cfg->ntables; i++) {
		tb = &st->tables[i];
		memcpy(tb->name, cfg->tables[i].name,
		    strlen(cfg->tables[i].name) + 1);
		tb->flags = cfg->tables[i].flags;
		want = (tb->flags & STORE_TABLE_DUPS) ? MDB_DUPSORT : 0;
		rc = mdb_dbi_open(txn, tb->name, MDB_CREATE | want, &tb->dbi);
		if (rc == MDB_INCOMPATIBLE) {
			log_error(SUBSYS, "%s: table %s is not a table in the "
			    "file", st->path, tb->name);
			e = STORE_TABLE;
			goto out;
		}
		if (rc == 0)
			rc = mdb_dbi_flags(txn, tb->dbi, &dflags);
		if (rc != 0) {
			e = store_err_mdb(st, "opening a table failed",
			    tb->name, rc);
			goto out;
		}
		if ((dflags & MDB_DUPSORT) != want) {
			log_error(SUBSYS, "%s: table %s is %s in the file but "
			    "declared %s", st->path, tb->name,
			    want ? "plain" : "dupsort",
			    want ? "dupsort" : "plain");
			e = STORE_TABLE;
			goto out;
		}
		st->ntables = i + 1;
	}

	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		e = store_err_mdb(st, "commit failed", NULL, rc);
		goto out;
	}
	log_kv(LOG_LEVEL_INFO, SUBSYS, fresh ? "created store" :
	    "opened store", "path", st->path, "kind", cfg->kind, NULL);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return e;
}

/*
 * One process per data dir: LMDB would let two share it, but two
 * spirelets on one datastore would each believe their caches. An
 * exclusive flock on data.mdb (not the fcntl locks LMDB takes on
 * lock.mdb) says which one has it; the kernel drops it when the holder
 * dies, so a crash never leaves the dir locked.
 */
static enum store_err
store_instance_lock(struct store *st)
{
	char	 file[PATH_MAX];

	if (snprintf(file, sizeof(file), "%s/data.mdb", st->path) >=
	    (int)sizeof(file))
		return STORE_INVALID;
	st->instance_fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (st->instance_fd == -1) {
		log_error(SUBSYS, "%s: open: %s", file, strerror(errno));
		return STORE_IO;
	}
	if (flock(st->instance_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			log_error(SUBSYS, "%s: in use by another spirelet "
			    "process", st->path);
			return STORE_BUSY;
		}
		log_error(SUBSYS, "%s: flock: %s", file, strerror(errno));
		return STORE_SYSTEM;
	}
	return STORE_OK;
}

enum store_err
store_open(const struct store_config *cfg, struct store **out)
{
	struct store		*st = NULL;
	enum store_err		 e;

	*out = NULL;
	e = store_config_check(cfg);
	if (e != STORE_OK)
		return e;
	st = mem_calloc(1, sizeof(*st));
	if (st == NULL)
		goto nomem;
	st->path = mem_strdup(cfg->path);
	if (st->path == NULL)
		goto nomem;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		log_error(SUBSYS, "%s: pthread_mutex_init failed", st->path);
		e = STORE_SYSTEM;
		goto fail;
	}
	st->lock_ready = 1;

	st->instance_fd = -1;
	e = store_dir_check(st->path);
	if (e == STORE_OK)
		e = store_file_check(st->path, "data.mdb");
	if (e == STORE_OK)
		e = store_instance_lock(st);
	if (e == STORE_OK)
		e = store_file_check(st->path, "lock.mdb");
	if (e == STORE_OK)
		e = store_env_open(st, cfg);
	if (e == STORE_OK)
		e = store_meta_init(st, cfg);
	if (e != STORE_OK)
		goto fail;
	*out = st;
	return STORE_OK;
nomem:
	log_error(SUBSYS, "%s: out of memory", cfg->path);
	e = STORE_NOMEM;
fail:
	store_close(st);
	return e;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->ntxn != 0)
		log_error(SUBSYS, "%s: closed with %u transactions open",
		    st->path, st->ntxn);
	if (st->env != NULL)
		mdb_env_close(st->env);
	if (st->instance_fd != -1)
		close(st->instance_fd);
	if (st->lock_ready)
		pthread_mutex_destroy(&st->lock);
	mem_free(st->path);
	mem_free(st);
}

const char *
store_path(const struct store *st)
{
	return st->path;
}

/*
 * Doubles the map, up to map_max. Called with st->lock held and no
 * transaction open, which mdb_env_set_mapsize requires.
 */
static void
store_map_grow(struct store *st)
{
	size_t			 want;
	int			 rc;

	st->grow = 0;
	if (st->broken || st->map_size >= st->map_max)
		return;
	want = st->map_size > st->map_max / 2 ? st->map_max :
	    st->map_size * 2;
	rc = mdb_env_set_mapsize(st->env, want);
	if (rc != 0) {
		/*
		 * LMDB has unmapped the old map and could not map the new
		 * one; it offers no way back short of reopening.
		 * XXX: reopen the environment instead of giving up.
		 */
		st->broken = 1;
		log_kv(LOG_LEVEL_ERROR, SUBSYS, "growing the map failed, the "
		    "store is unusable until restart", "path", st->path,
		    "error", mdb_strerror(rc), NULL);
		return;
	}
	log_info(SUBSYS, "%s: map grown from %zu to %zu bytes (at most %zu)",
	    st->path, st->map_size, want, st->map_max);
	st->map_size = want;
	store_map_locate(st);
}

/*
 * LMDB 0.9 turns a short write, which is how a full file system usually
 * shows, into EIO. When the file system is (nearly) full, that EIO is
 * taken for ENOSPC, so the caller hears "disk full", not "I/O error".
 */
static int
store_disk_full(const struct store *st)
{
	struct statvfs		 vfs;
	int			 fd;

	if (mdb_env_get_fd(st->env, &fd) != 0 || fstatvfs(fd, &vfs) == -1)
		return 0;
	if ((unsigned long long)vfs.f_bavail * vfs.f_frsize >=
	    DISK_FULL_BYTES)
		return 0;
	log_kv(LOG_LEVEL_DEBUG, SUBSYS, "short write on a full file system",
	    "path", st->path, NULL);
	return 1;
}

enum store_err
store_txn_begin(struct store *st, enum store_txn_mode mode,
    struct store_txn **out)
{
	MDB_envinfo		 info;
	struct store_txn	*t;
	int			 rc, retried = 0;

	*out = NULL;
	if (mode != STORE_READ && mode != STORE_WRITE) {
		store_bug(st, "bad transaction mode");
		return STORE_INVALID;
	}
	t = mem_calloc(1, sizeof(*t));
	if (t == NULL) {
		log_error(SUBSYS, "%s: out of memory", st->path);
		return STORE_NOMEM;
	}
	t->st = st;
	t->mode = mode;
again:
	pthread_mutex_lock(&st->lock);
	if (st->broken) {
		pthread_mutex_unlock(&st->lock);
		mem_free(t);
		return STORE_IO;
	}
	/* LMDB's writer lock is not recursive: this would deadlock. */
	if (mode == STORE_WRITE && st->writing &&
	    pthread_equal(st->writer, pthread_self())) {
		pthread_mutex_unlock(&st->lock);
		store_bug(st, "second write transaction on one thread");
		mem_free(t);
		return STORE_BUSY;
	}
	st->ntxn++;
	pthread_mutex_unlock(&st->lock);

	rc = mdb_txn_begin(st->env, NULL, mode == STORE_READ ? MDB_RDONLY : 0,
	    &t->txn);
	if (rc != 0) {
		pthread_mutex_lock(&st->lock);
		st->ntxn--;
		/* Another process grew the map: adopt its size. */
		if (rc == MDB_MAP_RESIZED && !retried && st->ntxn == 0 &&
		    mdb_env_set_mapsize(st->env, 0) == 0 &&
		    mdb_env_info(st->env, &info) == 0) {
			st->map_size = info.me_mapsize;
			store_map_locate(st);
			if (st->map_max < st->map_size)
				st->map_max = st->map_size;
			pthread_mutex_unlock(&st->lock);
			retried = 1;
			goto again;
		}
		pthread_mutex_unlock(&st->lock);
		mem_free(t);
		return store_err_mdb(st, "mdb_txn_begin failed", NULL, rc);
	}
	if (mode == STORE_WRITE) {
		pthread_mutex_lock(&st->lock);
		st->writing = 1;
		st->writer = pthread_self();
		pthread_mutex_unlock(&st->lock);
	}
	*out = t;
	return STORE_OK;
}

static void
store_txn_cursors_close(struct store_txn *t)
{
	while (t->cursors != NULL)
		store_cursor_close(t->cursors);
}

/* After LMDB's txn ended: the bookkeeping, a pending growth, the free. */
static void
store_txn_end(struct store_txn *t)
{
	struct store		*st = t->st;

	pthread_mutex_lock(&st->lock);
	if (t->mode == STORE_WRITE)
		st->writing = 0;
	st->ntxn--;
	if (t->map_full)
		st->grow = 1;
	if (st->grow && st->ntxn == 0)
		store_map_grow(st);
	if (st->ntxn == 0)
		store_map_unmap(st);
	pthread_mutex_unlock(&st->lock);
	mem_free(t);
}

/*
 * Lets go of the map's pages once the process faulted enough pages in
 * since the last time (see the top of the file). Called with st->lock
 * held and no transaction open, so the map is not being replaced.
 */
static void
store_map_unmap(struct store *st)
{
	struct rusage		 ru;
	long			 faults;

	if (st->broken || st->map_len == 0 ||
	    getrusage(RUSAGE_SELF, &ru) == -1)
		return;
	faults = ru.ru_minflt + ru.ru_majflt;
	if (faults - st->faults < STORE_UNMAP_FAULTS)
		return;
	st->faults = faults;
	if (madvise(st->map_addr, st->map_len, MADV_DONTNEED) == -1)
		log_debug(SUBSYS, "%s: madvise: %s", st->path,
		    strerror(errno));
}

/*
 * LMDB does not say where it mapped the file (mdb_env_info's address is
 * only that of MDB_FIXEDMAP): the mapping of data.mdb's inode at offset
 * 0 in /proc/self/maps is it. Called once the map is (re)made, with no
 * transaction open. Not found, the pages are never let go, nothing else.
 */
static void
store_map_locate(struct store *st)
{
	struct stat		 sb;
	FILE			*f;
	char			 line[512];
	unsigned long long	 lo, hi, off, ino;
	unsigned		 maj, min;
	char			 perms[8];
	int			 fd;

	st->map_addr = NULL;
	st->map_len = 0;
	if (mdb_env_get_fd(st->env, &fd) != 0 || fstat(fd, &sb) == -1)
		return;
	f = fopen("/proc/self/maps", "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi,
		    perms, &off, &maj, &min, &ino) != 7)
			continue;
		/*
		 * Shared only: dropping a private mapping's pages would
		 * drop changes (LMDB without MDB_WRITEMAP maps r--s).
		 */
		if (ino != (unsigned long long)sb.st_ino || off != 0 ||
		    makedev(maj, min) != sb.st_dev || hi <= lo ||
		    strlen(perms) != 4 || perms[3] != 's')
			continue;
		st->map_addr = (void *)(uintptr_t)lo;
		st->map_len = (size_t)(hi - lo);
		break;
	}
	fclose(f);
}

void
store_txn_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	store_txn_cursors_close(t);
	mdb_txn_abort(t->txn);
	store_txn_end(t);
}

enum store_err
store_txn_commit(struct store_txn *t)
{
	enum store_err		 e;
	int			 rc;

	if (t == NULL)
		return STORE_INVALID;
	store_txn_cursors_close(t);
	if (t->mode == STORE_READ) {
		e = t->failed;
		mdb_txn_abort(t->txn);
		store_txn_end(t);
		return e;
	}
	if (t->failed != STORE_OK) {
		e = t->failed;
		log_kv(LOG_LEVEL_DEBUG, SUBSYS, "commit refused after a failed "
		    "operation", "path", t->st->path, "error",
		    store_strerror(e), NULL);
		mdb_txn_abort(t->txn);
		store_txn_end(t);
		return e;
	}
	rc = atomic_exchange(&store_commit_fail, 0);
	if (rc != 0)
		mdb_txn_abort(t->txn);
	else
		rc = mdb_txn_commit(t->txn);
	if (rc == MDB_MAP_FULL)
		t->map_full = 1;
	if (rc == EIO && store_disk_full(t->st))
		rc = ENOSPC;
	e = store_err_mdb(t->st, "commit failed", NULL, rc);
	store_txn_end(t);
	return e;
}

enum store_err
store_txn_run(struct store *st,
    enum store_err (*fn)(struct store_txn *, void *), void *arg)
{
	struct store_txn	*t;
	enum store_err		 e;
	size_t			 before;

	for (;;) {
		pthread_mutex_lock(&st->lock);
		before = st->map_size;
		pthread_mutex_unlock(&st->lock);
		e = store_txn_begin(st, STORE_WRITE, &t);
		if (e != STORE_OK)
			return e;
		e = fn(t, arg);
		if (e == STORE_OK)
			e = store_txn_commit(t);
		else
			store_txn_abort(t);
		if (e != STORE_FULL)
			return e;
		pthread_mutex_lock(&st->lock);
		if (st->map_size <= before) {
			pthread_mutex_unlock(&st->lock);
			return e;
		}
		pthread_mutex_unlock(&st->lock);
		log_debug(SUBSYS, "%s: retrying the write in the larger map",
		    st->path);
	}
}

/* Records an LMDB failure in t: the txn may not commit after most. */
static enum store_err
store_txn_fail(struct store_txn *t, const char *what, unsigned table,
    int rc)
{
	enum store_err		 e;

	e = store_err_mdb(t->st, what, table < t->st->ntables ?
	    t->st->tables[table].name : NULL, rc);
	if (rc == MDB_MAP_FULL)
		t->map_full = 1;
	if (e != STORE_NOTFOUND && e != STORE_EXISTS &&
	    e != STORE_INVALID && t->failed == STORE_OK)
		t->failed = e;
	return e;
}

static enum store_err
store_txn_check(struct store_txn *t, unsigned table)
{
	if (t == NULL)
		return STORE_INVALID;
	if (t->failed != STORE_OK)
		return t->failed;
	if (table >= t->st->ntables) {
		store_bug(t->st, "no such table");
		return STORE_INVALID;
	}
	return STORE_OK;
}

static enum store_err
store_key_check(const struct store *st, size_t len)
{
	if (len == 0 || len > STORE_KEY_MAX) {
		log_kv(LOG_LEVEL_DEBUG, SUBSYS, "key size out of range",
		    "path", st->path, NULL);
		return STORE_INVALID;
	}
	return STORE_OK;
}

enum store_err
store_get(struct store_txn *t, unsigned table, const void *key,
    size_t klen, struct store_val *val)
{
	MDB_val			 k, v;
	enum store_err		 e;
	int			 rc;

	val->data = NULL;
	val->len = 0;
	e = store_txn_check(t, table);
	if (e == STORE_OK)
		e = store_key_check(t->st, klen);
	if (e != STORE_OK)
		return e;
	k.mv_data = store_unconst(key);
	k.mv_size = klen;
	rc = mdb_get(t->txn, t->st->tables[table].dbi, &k, &v);
	if (rc != 0)
		return store_txn_fail(t, "get failed", table, rc);
	val->data = v.mv_data;
	val->len = v.mv_size;
	return STORE_OK;
}

enum store_err
store_put(struct store_txn *t, unsigned table, const void *key,
    size_t klen, const void *val, size_t vlen, unsigned flags)
{
	MDB_val			 k, v;
	enum store_err		 e;
	unsigned		 mflags = 0;
	int			 dups, rc;

	e = store_txn_check(t, table);
	if (e == STORE_OK)
		e = store_key_check(t->st, klen);
	if (e != STORE_OK)
		return e;
	if (t->mode != STORE_WRITE) {
		store_bug(t->st, "put in a read transaction");
		return STORE_INVALID;
	}
	dups = (t->st->tables[table].flags & STORE_TABLE_DUPS) != 0;
	if (dups && vlen > STORE_KEY_MAX)
		return store_key_check(t->st, vlen);
	if (flags & STORE_PUT_NEW)
		mflags = dups ? MDB_NODUPDATA : MDB_NOOVERWRITE;
	k.mv_data = store_unconst(key);
	k.mv_size = klen;
	v.mv_data = vlen > 0 ? store_unconst(val) : (void *)"";
	v.mv_size = vlen;
	rc = mdb_put(t->txn, t->st->tables[table].dbi, &k, &v, mflags);
	if (rc != 0)
		return store_txn_fail(t, "put failed", table, rc);
	return STORE_OK;
}

enum store_err
store_del(struct store_txn *t, unsigned table, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val			 k, v, *vp = NULL;
	enum store_err		 e;
	int			 rc;

	e = store_txn_check(t, table);
	if (e == STORE_OK)
		e = store_key_check(t->st, klen);
	if (e != STORE_OK)
		return e;
	if (t->mode != STORE_WRITE) {
		store_bug(t->st, "del in a read transaction");
		return STORE_INVALID;
	}
	k.mv_data = store_unconst(key);
	k.mv_size = klen;
	if (val != NULL && (t->st->tables[table].flags & STORE_TABLE_DUPS)) {
		v.mv_data = store_unconst(val);
		v.mv_size = vlen;
		vp = &v;
	}
	rc = mdb_del(t->txn, t->st->tables[table].dbi, &k, vp);
	if (rc != 0)
		return store_txn_fail(t, "del failed", table, rc);
	return STORE_OK;
}

enum store_err
store_count(struct store_txn *t, unsigned table, size_t *n)
{
	MDB_stat		 ms;
	enum store_err		 e;
	int			 rc;

	*n = 0;
	e = store_txn_check(t, table);
	if (e != STORE_OK)
		return e;
	rc = mdb_stat(t->txn, t->st->tables[table].dbi, &ms);
	if (rc != 0)
		return store_txn_fail(t, "mdb_stat failed", table, rc);
	*n = ms.ms_entries;
	return STORE_OK;
}

enum store_err
store_cursor_open(struct store_txn *t, unsigned table,
    struct store_cursor **out)
{
	struct store_cursor	*c;
	enum store_err		 e;
	int			 rc;

	*out = NULL;
	e = store_txn_check(t, table);
	if (e != STORE_OK)
		return e;
	c = mem_calloc(1, sizeof(*c));
	if (c == NULL) {
		log_error(SUBSYS, "%s: out of memory", t->st->path);
		return STORE_NOMEM;
	}
	rc = mdb_cursor_open(t->txn, t->st->tables[table].dbi, &c->cur);
	if (rc != 0) {
		mem_free(c);
		return store_txn_fail(t, "mdb_cursor_open failed", table, rc);
	}
	c->t = t;
	c->table = table;
	c->next = t->cursors;
	if (t->cursors != NULL)
		t->cursors->prev = c;
	t->cursors = c;
	*out = c;
	return STORE_OK;
}

void
store_cursor_close(struct store_cursor *c)
{
	if (c == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->t->cursors = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	mdb_cursor_close(c->cur);
	mem_free(c);
}

/* One mdb_cursor_get, kept inside the cursor's prefix if it has one. */
static enum store_err
store_cursor_get(struct store_cursor *c, MDB_val *k, MDB_val *v,
    MDB_cursor_op op, struct store_val *okey, struct store_val *oval)
{
	int			 rc;

	if (c->t->failed != STORE_OK)
		return c->t->failed;
	rc = mdb_cursor_get(c->cur, k, v, op);
	if (rc != 0)
		return store_txn_fail(c->t, "cursor get failed", c->table, rc);
	if (c->prefixed && (k->mv_size < c->plen ||
	    memcmp(k->mv_data, c->prefix, c->plen) != 0))
		return STORE_NOTFOUND;
	if (okey != NULL) {
		okey->data = k->mv_data;
		okey->len = k->mv_size;
	}
	if (oval != NULL) {
		oval->data = v->mv_data;
		oval->len = v->mv_size;
	}
	return STORE_OK;
}

enum store_err
store_cursor_first(struct store_cursor *c, struct store_val *key,
    struct store_val *val)
{
	MDB_val			 k, v;

	c->prefixed = 0;
	return store_cursor_get(c, &k, &v, MDB_FIRST, key, val);
}

/*
 * Positions c by a caller's key, checked first: at it or after it
 * (MDB_SET_RANGE, for seek) or exactly there (MDB_SET_KEY).
 */
static enum store_err
store_cursor_at(struct store_cursor *c, const void *key, size_t klen,
    MDB_cursor_op op, struct store_val *okey, struct store_val *oval)
{
	MDB_val			 k, v;
	enum store_err		 e;

	c->prefixed = 0;
	e = store_key_check(c->t->st, klen);
	if (e != STORE_OK)
		return e;
	k.mv_data = store_unconst(key);
	k.mv_size = klen;
	return store_cursor_get(c, &k, &v, op, okey, oval);
}

enum store_err
store_cursor_seek(struct store_cursor *c, const void *key, size_t klen,
    struct store_val *okey, struct store_val *oval)
{
	return store_cursor_at(c, key, klen, MDB_SET_RANGE, okey, oval);
}

enum store_err
store_cursor_prefix(struct store_cursor *c, const void *prefix,
    size_t plen, struct store_val *okey, struct store_val *oval)
{
	MDB_val			 k, v;

	c->prefixed = 0;
	if (plen > STORE_KEY_MAX)
		return store_key_check(c->t->st, plen);
	if (plen == 0)
		return store_cursor_get(c, &k, &v, MDB_FIRST, okey, oval);
	memcpy(c->prefix, prefix, plen);
	c->plen = plen;
	c->prefixed = 1;
	k.mv_data = c->prefix;
	k.mv_size = plen;
	return store_cursor_get(c, &k, &v, MDB_SET_RANGE, okey, oval);
}

enum store_err
store_cursor_key(struct store_cursor *c, const void *key, size_t klen,
    struct store_val *oval)
{
	return store_cursor_at(c, key, klen, MDB_SET_KEY, NULL, oval);
}

enum store_err
store_cursor_next(struct store_cursor *c, struct store_val *key,
    struct store_val *val)
{
	MDB_val			 k, v;

	return store_cursor_get(c, &k, &v, MDB_NEXT, key, val);
}

enum store_err
store_cursor_next_dup(struct store_cursor *c, struct store_val *val)
{
	MDB_val			 k, v;

	return store_cursor_get(c, &k, &v, MDB_NEXT_DUP, NULL, val);
}

enum store_err
store_cursor_dups(struct store_cursor *c, size_t *n)
{
	MDB_val			 k, v;
	size_t			 count;
	int			 rc;

	*n = 0;
	if (c->t->failed != STORE_OK)
		return c->t->failed;
	if (!(c->t->st->tables[c->table].flags & STORE_TABLE_DUPS)) {
		rc = mdb_cursor_get(c->cur, &k, &v, MDB_GET_CURRENT);
		if (rc != 0)
			return store_txn_fail(c->t, "cursor get failed",
			    c->table, rc);
		*n = 1;
		return STORE_OK;
	}
	rc = mdb_cursor_count(c->cur, &count);
	if (rc != 0)
		return store_txn_fail(c->t, "mdb_cursor_count failed",
		    c->table, rc);
	*n = count;
	return STORE_OK;
}

enum store_err
store_cursor_del(struct store_cursor *c)
{
	int			 rc;

	if (c->t->failed != STORE_OK)
		return c->t->failed;
	if (c->t->mode != STORE_WRITE) {
		store_bug(c->t->st, "del in a read transaction");
		return STORE_INVALID;
	}
	rc = mdb_cursor_del(c->cur, 0);
	if (rc != 0)
		return store_txn_fail(c->t, "cursor del failed", c->table, rc);
	return STORE_OK;
}

enum store_err
store_stats(struct store *st, struct store_stats *s)
{
	MDB_envinfo		 info;
	MDB_stat		 ms;
	struct store_txn	*t = NULL;
	enum store_err		 e;
	size_t			 i;
	int			 rc;

	memset(s, 0, sizeof(*s));
	e = store_txn_begin(st, STORE_READ, &t);
	if (e != STORE_OK)
		return e;
	rc = mdb_env_info(st->env, &info);
	if (rc != 0) {
		e = store_err_mdb(st, "mdb_env_info failed", NULL, rc);
		goto out;
	}
	s->map_size = info.me_mapsize;
	s->map_max = st->map_max;
	s->page_size = st->page_size;
	s->map_used = ((size_t)info.me_last_pgno + 1) * st->page_size;
	s->ntables = st->ntables;
	for (i = 0; i < st->ntables; i++) {
		rc = mdb_stat(t->txn, st->tables[i].dbi, &ms);
		if (rc != 0) {
			e = store_err_mdb(st, "mdb_stat failed",
			    st->tables[i].name, rc);
			goto out;
		}
		s->entries[i] = ms.ms_entries;
	}
out:
	store_txn_abort(t);
	return e;
}

void
store_fail_next_commit(int err)
{
	atomic_store(&store_commit_fail, err);
}
