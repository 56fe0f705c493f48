/*
 * prepared_weights.c
 *	  Shared prepared weights: the networks of imported backbones, planned
 *	  and packed once, kept in files under the data directory that every
 *	  backend maps read-only (docs/backbones.md, "Shared prepared weights").
 *
 * Building a backbone's net in a new backend (reading the file from
 * cv_backbones, parsing, dequantizing, packing) costs 100 ms and more and
 * 15 to 20 MB of private memory; every parallel worker pays it.  The first
 * backend to build a net writes it as a prepared blob (src/core/nn
 * prepared.c) to $PGDATA/pgsql_tmp_pgvision/<file sha256>-<variant>.pgvnet;
 * the others map that file and run from it in place, sharing its pages.
 *
 *	 key	  the backbone file's SHA-256 (the name's prefix: what a drop
 *			  removes) and a hash of the variant: what the net was loaded
 *			  for (classifier or cut maps, input size, tensors, engine) and
 *			  the CPU path its weights were packed for.  The blob's header
 *			  holds the build's identity (pgvision's version and the
 *			  library file's size, time and inode) and is refused by
 *			  another build, which rebuilds and replaces the file.  So a
 *			  file is never stale: same name, same content.
 *	 writing  to a temporary file of this backend's pid, fsync, then
 *			  durable_rename into place: readers see a whole file or none,
 *			  and two backends creating one at once just both write it.
 *			  Any error is a WARNING (once per backend) or DEBUG1, never a
 *			  failed prediction; the net built in memory serves anyway.
 *	 reading  every blob is validated completely (checksum, identity, CPU
 *			  path, every offset and shape) before use; a refused file is
 *			  rebuilt and replaced.
 *	 dropping an AFTER DELETE OR UPDATE trigger on cv_backbones notes the old
 *			  hash; at commit (not before: a rolled back drop keeps the
 *			  files) its files are removed.  Backends that mapped one keep
 *			  their mapping until their cache lets go of it.
 *	 crashes  temporary files of dead backends (or older than ten minutes)
 *			  are removed whenever a backend writes a new file.
 */
#include "pgvision.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <signal.h>
#include <time.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "common/cryptohash.h"
#include "common/file_perm.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "nn/nn.h"

#define PREPARED_DIR "pgsql_tmp_pgvision"
#define PREPARED_SUFFIX ".pgvnet"
#define TEMP_INFIX ".tmp."
#define STALE_TEMP_SECONDS 600

bool		pgvision_prepared_weights = true;

/* One mapped file, unmapped when the memory context holding the net goes. */
typedef struct PreparedMapping
{
	MemoryContextCallback callback;
	void	   *address;
	size_t		length;
} PreparedMapping;

static bool warned_writing = false;

/* The hashes whose files go at commit, with the subtransaction that noted each. */
typedef struct ForgetEntry
{
	uint8_t		hash[32];
	int			nest_level;
} ForgetEntry;

static List *pending_forget = NIL;	/* of ForgetEntry, in TopMemoryContext */
static bool callbacks_registered = false;

static const char *HostIdentity(void);

void
PreparedWeightsSettingsInit(void)
{
	/*
	 * The library file is looked at as it is loaded, so that a reinstall
	 * after this backend loaded the old library cannot lend the old code
	 * the new library's identity.
	 */
	(void) HostIdentity();

	DefineCustomBoolVariable("pgvision.prepared_weights",
							 "Share the prepared weights of imported backbones between backends.",
							 "Networks are planned and packed once into files under the data directory "
							 "that every backend maps read-only; off builds each in this backend's memory.",
							 &pgvision_prepared_weights,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

static void
HexInto(const uint8_t *bytes, int n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < n; i++)
	{
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * What identifies this build: pgvision's version and the library file it
 * was loaded from (size, modification time, inode), so that a reinstall
 * never reads a blob of the library it replaced.
 */
static const char *
HostIdentity(void)
{
	static char identity[128];
	char		path[MAXPGPATH];
	struct stat st;

	if (identity[0] != '\0')
		return identity;
	snprintf(path, sizeof(path), "%s/pgvision%s", pkglib_path, DLSUFFIX);
	if (stat(path, &st) != 0)
		memset(&st, 0, sizeof(st));
	snprintf(identity, sizeof(identity), "pgvision %s so %lld-%lld-%llu", PGVISION_VERSION,
			 (long long) st.st_size, (long long) st.st_mtime,
			 (unsigned long long) st.st_ino);
	return identity;
}

/* The file name of a variant (relative to the data directory). */
static void
PreparedPath(const uint8_t hash[32], const char *variant, char *path, size_t len)
{
	char		cpu[96];
	char	   *text;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hash_hex[65];
	char		variant_hex[17];
	pg_cryptohash_ctx *ctx;

	cv_net_prepared_cpu_path(cpu, sizeof(cpu));
	text = psprintf("%s | %s", variant, cpu);
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) text, strlen(text)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "pgvision: could not hash a prepared-weights key");
	pg_cryptohash_free(ctx);
	pfree(text);
	HexInto(hash, 32, hash_hex);
	HexInto(digest, 8, variant_hex);
	snprintf(path, len, "%s/%s-%s%s", PREPARED_DIR, hash_hex, variant_hex, PREPARED_SUFFIX);
}

static void
UnmapCallback(void *arg)
{
	PreparedMapping *m = arg;

	if (m->address != NULL)
		munmap(m->address, m->length);
	m->address = NULL;
}

/*
 * The net in a prepared file, mapped read-only and unmapped with the
 * current memory context; NULL (and why, at DEBUG1) when there is no
 * usable file.
 */
static cv_net *
OpenPrepared(const char *path)
{
	int			fd;
	struct stat st;
	void	   *address;
	cv_net	   *net = NULL;
	cv_error	err;
	PreparedMapping *m;

	fd = open(path, O_RDONLY | PG_BINARY, 0);
	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(DEBUG1, (errcode_for_file_access(),
							 errmsg("pgvision: could not open \"%s\": %m", path)));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0)
	{
		close(fd);
		return NULL;
	}
	/* the page tables at once: the checksum reads every page anyway */
	address = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (address == MAP_FAILED)
	{
		ereport(DEBUG1, (errmsg("pgvision: could not map \"%s\": %m", path)));
		return NULL;
	}
	m = MemoryContextAllocZero(CurrentMemoryContext, sizeof(PreparedMapping));
	m->address = address;
	m->length = (size_t) st.st_size;
	m->callback.func = UnmapCallback;
	m->callback.arg = m;
	cv_error_clear(&err);
	if (cv_net_load_prepared(address, (size_t) st.st_size, HostIdentity(), &net, &err) != CV_OK)
	{
		ereport(DEBUG1, (errmsg("pgvision: rebuilding \"%s\": %s", path, err.message)));
		munmap(address, m->length);
		pfree(m);
		return NULL;
	}
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &m->callback);
	return net;
}

/* Whether a temporary file name of ours belongs to a backend that is gone. */
static bool
TempIsAbandoned(const char *dir, const char *name)
{
	const char *infix = strstr(name, TEMP_INFIX);
	char		path[MAXPGPATH];
	struct stat st;
	long		pid;

	if (infix == NULL)
		return false;
	pid = strtol(infix + strlen(TEMP_INFIX), NULL, 10);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) != 0)
		return false;
	if (time(NULL) - st.st_mtime > STALE_TEMP_SECONDS)
		return true;
	return pid > 0 && pid != MyProcPid && kill((pid_t) pid, 0) != 0 && errno == ESRCH;
}

/*
 * Remove the files in our directory whose names start with prefix (all of
 * them when NULL) and are final, or temporary ones abandoned by a crash.
 * Errors are DEBUG1: another backend may be removing the same file.
 */
static void
RemoveFiles(const char *prefix, bool finals, bool abandoned_temps)
{
	DIR		   *dir = AllocateDir(PREPARED_DIR);
	struct dirent *de;

	if (dir == NULL)
		return;					/* no directory: nothing to remove */
	while ((de = ReadDirExtended(dir, PREPARED_DIR, DEBUG1)) != NULL)
	{
		char		path[MAXPGPATH];
		bool		temp = strstr(de->d_name, TEMP_INFIX) != NULL;

		if (de->d_name[0] == '.' ||
			(prefix != NULL && strncmp(de->d_name, prefix, strlen(prefix)) != 0))
			continue;
		if (temp ? !(abandoned_temps && TempIsAbandoned(PREPARED_DIR, de->d_name)) :
			!(finals && strstr(de->d_name, PREPARED_SUFFIX) != NULL))
			continue;
		snprintf(path, sizeof(path), "%s/%s", PREPARED_DIR, de->d_name);
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(DEBUG1, (errcode_for_file_access(),
							 errmsg("pgvision: could not remove \"%s\": %m", path)));
	}
	FreeDir(dir);
}

static void
WriteFailed(const char *what, const char *path)
{
	ereport(warned_writing ? DEBUG1 : WARNING,
			(errcode_for_file_access(),
			 errmsg("pgvision: could not %s shared prepared weights \"%s\": %m", what, path),
			 errdetail("Predictions work; new backends build the network in their own memory."),
			 warned_writing ? 0 : errhint("Check the free space and permissions of the data directory.")));
	warned_writing = true;
}

/*
 * Write the net's prepared blob to path, best effort: a temporary file,
 * fsync, and an atomic rename.  Never raises an error.
 */
static void
SavePrepared(const cv_net *net, const char *path)
{
	size_t		len = cv_net_prepared_size(net);
	char		temp[MAXPGPATH];
	char	   *raw = NULL;
	uint8_t    *blob;
	int			fd = -1;
	cv_error	err;
	MemoryContext work;
	MemoryContext old;

	if (len == 0 || len > MaxAllocHugeSize - 64)
		return;
	if (MakePGDirectory(PREPARED_DIR) != 0 && errno != EEXIST)
	{
		WriteFailed("create the directory of", path);
		return;
	}
	RemoveFiles(NULL, false, true);
	snprintf(temp, sizeof(temp), "%s%s%d", path, TEMP_INFIX, MyProcPid);

	work = AllocSetContextCreate(CurrentMemoryContext, "pgvision prepared blob",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	/* out of memory: no file, and no error either */
	raw = MemoryContextAllocExtended(work, len + 64, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (raw == NULL)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
		ereport(DEBUG1, (errmsg("pgvision: no memory to write \"%s\"", path)));
		return;
	}
	blob = (uint8_t *) TYPEALIGN(64, raw);
	cv_error_clear(&err);
	if (cv_net_save_prepared(net, HostIdentity(), blob, len, &err) != CV_OK)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
		ereport(DEBUG1, (errmsg("pgvision: not writing \"%s\": %s", path, err.message)));
		return;
	}

	fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, pg_file_create_mode);
	if (fd < 0)
		WriteFailed("create", temp);
	else
	{
		size_t		done = 0;
		bool		ok = true;

		while (done < len && ok)
		{
			ssize_t		n = write(fd, blob + done, Min(len - done, (size_t) 1 << 24));

			if (n <= 0)
			{
				if (n == 0)
					errno = ENOSPC;
				if (errno != EINTR)
					ok = false;
				continue;
			}
			done += (size_t) n;
		}
		if (!ok)
			WriteFailed("write", temp);
		else if (pg_fsync(fd) != 0)
		{
			WriteFailed("fsync", temp);
			ok = false;
		}
		if (close(fd) != 0 && ok)
		{
			WriteFailed("close", temp);
			ok = false;
		}
		/* durable_rename fsyncs the new name and the directory too */
		if (ok && durable_rename(temp, path, DEBUG1) != 0)
		{
			WriteFailed("rename into place", path);
			ok = false;
		}
		if (!ok)
			unlink(temp);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
}

/*
 * The net of a backbone variant from its shared prepared file, mapped into
 * the current memory context's lifetime; NULL when there is none usable
 * (or pgvision.prepared_weights is off).  variant describes what the net
 * is loaded for (kind, engine, input size, tensors).
 */
cv_net *
PreparedNetOpen(const uint8_t hash[32], const char *variant)
{
	char		path[MAXPGPATH];

	if (!pgvision_prepared_weights)
		return NULL;
	PreparedPath(hash, variant, path, sizeof(path));
	return OpenPrepared(path);
}

/*
 * Share a net just built from the backbone file: write its prepared file
 * and, if that worked, return the mapped copy (in the current memory
 * context's lifetime) for the caller to use instead of the private one;
 * NULL otherwise.  Never raises an error for the file.
 */
cv_net *
PreparedNetShare(const uint8_t hash[32], const char *variant, const cv_net *built)
{
	char		path[MAXPGPATH];

	if (!pgvision_prepared_weights || built == NULL)
		return NULL;
	PreparedPath(hash, variant, path, sizeof(path));
	SavePrepared(built, path);
	return OpenPrepared(path);
}

/* ---- removal at commit ---- */

static void
ForgetXactCallback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (pending_forget == NIL)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		foreach(lc, pending_forget)
		{
			ForgetEntry *e = lfirst(lc);
			char		prefix[66];

			HexInto(e->hash, 32, prefix);
			prefix[64] = '-';
			prefix[65] = '\0';
			RemoveFiles(prefix, true, false);
		}
	}
	/* prepared (two-phase) transactions keep the files: a cache, rebuilt on use */
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_ABORT)
	{
		list_free_deep(pending_forget);
		pending_forget = NIL;
	}
}

static void
ForgetSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_forget)
		{
			ForgetEntry *e = lfirst(lc);

			if (e->nest_level >= level)
				e->nest_level = level - 1;
		}
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending_forget)
		{
			ForgetEntry *e = lfirst(lc);

			if (e->nest_level >= level)
				pending_forget = foreach_delete_current(pending_forget, lc);
		}
	}
}

/*
 * AFTER DELETE OR UPDATE trigger on cv_backbones: the old row's file is no
 * longer stored under it, so its prepared files go when the transaction
 * commits.
 */
PG_FUNCTION_INFO_V1(cv_backbones_forget_prepared);
Datum
cv_backbones_forget_prepared(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	old;
	bool		isnull;
	int			attnum;
	Datum		d;
	bytea	   *h;
	ForgetEntry *e;
	MemoryContext oldcxt;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!(TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		  TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("cv_backbones_forget_prepared must be an AFTER DELETE OR UPDATE row trigger")));
	old = trigdata->tg_trigtuple;
	attnum = SPI_fnumber(trigdata->tg_relation->rd_att, "sha256");
	if (attnum <= 0)
		elog(ERROR, "pgvision: cv_backbones has no sha256 column");
	d = heap_getattr(old, attnum, trigdata->tg_relation->rd_att, &isnull);
	if (!isnull)
	{
		h = DatumGetByteaPP(d);
		if (VARSIZE_ANY_EXHDR(h) == 32)
		{
			if (!callbacks_registered)
			{
				RegisterXactCallback(ForgetXactCallback, NULL);
				RegisterSubXactCallback(ForgetSubXactCallback, NULL);
				callbacks_registered = true;
			}
			oldcxt = MemoryContextSwitchTo(TopMemoryContext);
			e = palloc(sizeof(ForgetEntry));
			memcpy(e->hash, VARDATA_ANY(h), 32);
			e->nest_level = GetCurrentTransactionNestLevel();
			pending_forget = lappend(pending_forget, e);
			MemoryContextSwitchTo(oldcxt);
		}
	}
	return PointerGetDatum(NULL);
}
