/*
 * domains.c
 *	  Feature extractors by domain, built once per backend and kept warm.
 *
 * `compact` is built in.  An imported domain is a backbone network stored
 * once in cv_backbones and identified by the SHA-256 of its file: models
 * name the hash they were trained with, so the cache is keyed by content
 * and can never serve another file's network under a reused name.  Only the
 * first use in a backend pays for loading: mapping the shared prepared
 * weights (prepared_weights.c), or, for the first backend of all, reading
 * the file, dequantizing the weights and planning the buffers.  Extractors are immutable once made
 * (learn/features.h), so one serves every call in the backend.
 *
 * A self-contained model (self_contained.c) carries its backbone file: its
 * net comes from the cache or the prepared weights by hash as for any
 * model, and only when neither has it from the carried file, checked
 * first; cv_backbones is then not read, so such a model predicts on a
 * server that never imported the backbone (a Citus worker).
 */
#include "pgvision.h"

#include <unistd.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "nn/nn.h"

#define DOMAIN_CACHE_SIZE 4

typedef struct DomainCacheEntry
{
	MemoryContext context;		/* NULL when empty */
	char		name[CV_DOMAIN_NAME_MAX + 1];
	uint8_t		hash[32];		/* zeros for compact */
	int			engine;			/* cv_net_engine; 0 for compact */
	cv_feature_extractor *extractor;
	uint64		last_used;
} DomainCacheEntry;

static DomainCacheEntry domain_cache[DOMAIN_CACHE_SIZE];
static uint64 domain_clock = 0;
static MemoryContext domain_context = NULL;

static const cv_feature_extractor *DomainGetExtractorFrom(const char *domain,
														  const uint8_t *model_hash,
														  uint32 version,
														  const cv_model *carrier);

static bool
IsCompact(const char *domain)
{
	return strcmp(domain, "compact") == 0;
}

/* Run a query with one text or bytea argument; SPI must be connected. */
static void
QueryOne(const char *sql, Oid type, Datum arg)
{
	if (SPI_execute_with_args(sql, 1, &type, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pgvision: could not read cv_backbones");
}

/*
 * This server as a message names it: cluster_name when set, the host name
 * and the port.  On a Citus worker it says which node lacks the file.
 */
static char *
ThisServerName(void)
{
	char		host[256];

	if (gethostname(host, sizeof(host)) != 0)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (cluster_name != NULL && cluster_name[0] != '\0')
		return psprintf("\"%s\" (%s, port %d)", cluster_name, host, PostPortNumber);
	return psprintf("%s, port %d", host, PostPortNumber);
}

/* A model's backbone file is not in this server's cv_backbones. */
static void
BackboneNotStored(const char *domain, const uint8_t hash[32])
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("the backbone network of domain \"%s\" that this model was trained on is not stored on this server",
					domain),
			 errdetail("Server %s; the model names the file with SHA-256 %s.",
					   ThisServerName(), BackboneHashHex(hash)),
			 errhint("Import that file here with cv_import_backbone, or predict with cv_self_contained(model), "
					 "which carries the file to any server. A backbone dropped or replaced since training "
					 "needs the same file again, or a new training.")));
}

/* The content hash of a backbone domain by name. */
void
BackboneHashByName(const char *domain, uint8_t hash[32])
{
	bool		isnull;
	bytea	   *h;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	QueryOne("SELECT sha256 FROM cv_backbones WHERE domain = $1", TEXTOID, CStringGetTextDatum(domain));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("domain \"%s\" does not exist", domain),
				 errhint("cv_domains lists the domains; cv_import_backbone adds one.")));
	h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (VARSIZE_ANY_EXHDR(h) != 32)
		elog(ERROR, "pgvision: backbone hash of \"%s\" has the wrong length", domain);
	memcpy(hash, VARDATA_ANY(h), 32);
	SPI_finish();
}

/*
 * The stored file of the backbone whose file has this hash, copied into the
 * caller's memory context (domain names it in the error).
 */
bytea *
BackboneFileByHash(const char *domain, const uint8_t hash[32])
{
	bytea	   *key = palloc(VARHDRSZ + 32);
	bool		isnull;
	bytea	   *file;
	bytea	   *copy;
	MemoryContext target = CurrentMemoryContext;

	SET_VARSIZE(key, VARHDRSZ + 32);
	memcpy(VARDATA(key), hash, 32);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	QueryOne("SELECT file FROM cv_backbones WHERE sha256 = $1", BYTEAOID, PointerGetDatum(key));
	if (SPI_processed != 1)
		BackboneNotStored(domain, hash);
	file = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	copy = MemoryContextAlloc(target, VARHDRSZ + VARSIZE_ANY_EXHDR(file));
	SET_VARSIZE(copy, VARHDRSZ + VARSIZE_ANY_EXHDR(file));
	memcpy(VARDATA(copy), VARDATA_ANY(file), VARSIZE_ANY_EXHDR(file));
	SPI_finish();
	return copy;
}

void
BackboneCheckStored(const char *domain, const uint8_t hash[32])
{
	bytea	   *key = palloc(VARHDRSZ + 32);

	SET_VARSIZE(key, VARHDRSZ + 32);
	memcpy(VARDATA(key), hash, 32);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	QueryOne("SELECT 1 FROM cv_backbones WHERE sha256 = $1", BYTEAOID, PointerGetDatum(key));
	if (SPI_processed != 1)
		BackboneNotStored(domain, hash);
	SPI_finish();
	pfree(key);
}

/*
 * The backbone file with this hash: the one the model carries (checked),
 * else this server's stored one.
 */
bytea *
BackboneFileFor(const char *domain, const uint8_t hash[32], const cv_model *carrier)
{
	if (carrier != NULL && carrier->backbone != NULL)
		return EmbeddedBackboneFile(carrier);
	return BackboneFileByHash(domain, hash);
}

/* Raise unless the file is carried by the model or stored here. */
void
BackboneCheckFor(const char *domain, const uint8_t hash[32], const cv_model *carrier)
{
	if (carrier != NULL && carrier->backbone != NULL)
		return;
	BackboneCheckStored(domain, hash);
}

/*
 * Load the backbone whose file has this hash into the current context:
 * from its shared prepared file when there is one (prepared_weights.c),
 * else from the stored file, sharing what was built for the next backends
 * and using the shared copy from then on.
 */
static cv_feature_extractor *
LoadBackbone(const char *domain, const uint8_t hash[32], int engine, const cv_model *carrier)
{
	char	   *variant = psprintf("features engine %d", engine);
	cv_net	   *net;
	bytea	   *file;
	cv_feature_extractor *fx = NULL;
	cv_feature_extractor *shared = NULL;
	cv_error	err;

	/* the same question as without the file: is the network still stored */
	BackboneCheckFor(domain, hash, carrier);
	cv_error_clear(&err);
	net = PreparedNetOpen(hash, variant);
	if (net != NULL)
	{
		if (cv_features_backbone_from_net(domain, net, hash, &fx, &err) == CV_OK)
			return fx;
		ereport(DEBUG1, (errmsg("pgvision: prepared net of \"%s\" refused: %s", domain, err.message)));
		cv_error_clear(&err);
	}

	file = BackboneFileFor(domain, hash, carrier);
	if (cv_features_backbone_create_engine(domain, (const uint8_t *) VARDATA(file),
										   VARSIZE(file) - VARHDRSZ, hash, engine, &fx,
										   &err) != CV_OK)
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	pfree(file);
	if (carrier != NULL && carrier->backbone != NULL && !MayShareCarriedNet())
		return fx;
	net = PreparedNetShare(hash, variant, cv_features_backbone_net(fx));
	if (net != NULL && cv_features_backbone_from_net(domain, net, hash, &shared, &err) == CV_OK)
	{
		cv_features_destroy(fx);
		fx = shared;
	}
	BackendMemoryAfterBuild();
	return fx;
}

const cv_feature_extractor *
DomainGetExtractor(const char *domain, const uint8_t *model_hash)
{
	return DomainGetExtractorVersion(domain, model_hash, 0);
}

const cv_feature_extractor *
DomainGetExtractorVersion(const char *domain, const uint8_t *model_hash, uint32 version)
{
	return DomainGetExtractorFrom(domain, model_hash, version, NULL);
}

const cv_feature_extractor *
ModelGetExtractor(const cv_model *model)
{
	return DomainGetExtractorFrom(model->domain, model->domain_hash,
								  model->extractor_version, model);
}

static const cv_feature_extractor *
DomainGetExtractorFrom(const char *domain, const uint8_t *model_hash, uint32 version,
					   const cv_model *carrier)
{
	int			engine = 0;
	uint8_t		hash[32] = {0};
	DomainCacheEntry *slot = NULL;
	MemoryContext old;
	MemoryContext entry_context;
	cv_feature_extractor *fx = NULL;
	cv_error	err;

	if (!IsCompact(domain))
	{
		if (version == CV_BACKBONE_VERSION_INT8)
			engine = CV_NET_ENGINE_INT8;
		else if (version == 0)
			engine = EngineForNewFeatures(false);
		else
			engine = CV_NET_ENGINE_FLOAT;
		if (model_hash != NULL)
			memcpy(hash, model_hash, 32);
		else
			BackboneHashByName(domain, hash);
	}

	for (int i = 0; i < DOMAIN_CACHE_SIZE; i++)
	{
		DomainCacheEntry *e = &domain_cache[i];

		if (e->context != NULL && strcmp(e->name, domain) == 0 &&
			memcmp(e->hash, hash, 32) == 0 && e->engine == engine)
		{
			e->last_used = ++domain_clock;
			return e->extractor;
		}
		if (slot == NULL || e->context == NULL ||
			(slot->context != NULL && e->last_used < slot->last_used))
			slot = e;
	}

	if (domain_context == NULL)
		domain_context = AllocSetContextCreate(TopMemoryContext, "pgvision domains",
											   ALLOCSET_SMALL_SIZES);
	entry_context = AllocSetContextCreate(domain_context, "pgvision domain", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(entry_context);
	PG_TRY();
	{
		if (IsCompact(domain))
		{
			cv_error_clear(&err);
			if (cv_features_compact_create(&fx, &err) != CV_OK)
				CoreRaise(&err, ERRCODE_INTERNAL_ERROR);
		}
		else
			fx = LoadBackbone(domain, hash, engine, carrier);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(entry_context);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);

	/* Evict: the extractor's memory (network, workspace) is in its context. */
	if (slot->context != NULL)
	{
		cv_features_destroy(slot->extractor);
		MemoryContextDelete(slot->context);
	}
	slot->context = entry_context;
	strlcpy(slot->name, domain, sizeof(slot->name));
	memcpy(slot->hash, hash, 32);
	slot->engine = engine;
	slot->extractor = fx;
	slot->last_used = ++domain_clock;
	return fx;
}
