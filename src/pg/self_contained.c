/*
 * self_contained.c
 *	  Models that carry their backbone file: cv_self_contained(model), and
 *	  the check that a carried file is the one its model names.
 *
 * A model names its backbone by the SHA-256 of the file, so it predicts
 * only where that file was imported.  A Citus worker, a restored copy or a
 * replica that never ran cv_import_backbone has an empty cv_backbones.  The
 * self-contained form (model format version 4, docs/model-format.md)
 * carries the file as well, and is otherwise the same model, so a query
 * can ship it to any server as a plain value (docs/scale-out.md).
 *
 * The carried file is a fallback, never a second identity: the domain
 * cache and the shared prepared weights stay keyed by the hash the model
 * names, so where the network is already built or prepared the carried
 * bytes are not read at all.  Before anything is built from them they are
 * hashed and compared with that name: a value whose file is not the one it
 * names can neither run nor leave a net in a cache or on disk under a hash
 * it does not match.
 *
 * A net built from a carried file is written to the shared prepared
 * weights only for a role that may import backbones (pgvision_admin, or a
 * superuser): those files stay until the backbone's row is dropped, and a
 * server that holds no row would otherwise keep whatever networks any
 * role chose to send.  Others build it in their backend (about 150 ms for
 * MobileNet V2), and read the prepared file when an administrator's query
 * has left one (docs/scale-out.md, warming the nodes).
 */
#include "pgvision.h"

#include "catalog/pg_authid.h"
#include "common/cryptohash.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "common/sha2.h"
#include "utils/memutils.h"

static bool
IsZeroHash(const uint8_t hash[32])
{
	for (int i = 0; i < 32; i++)
		if (hash[i] != 0)
			return false;
	return true;
}

/* The hash as 64 hex digits (palloc'd), for messages. */
char *
BackboneHashHex(const uint8_t hash[32])
{
	char	   *hex = palloc(65);

	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	return hex;
}

/*
 * The file a self-contained model carries, as a bytea in the current
 * memory context, once its SHA-256 is checked against the hash the model
 * was trained with.
 */
bytea *
EmbeddedBackboneFile(const cv_model *model)
{
	uint8_t		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	bytea	   *file;

	Assert(model->backbone != NULL);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, model->backbone, model->backbone_len) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "pgvision: could not compute a SHA-256");
	pg_cryptohash_free(ctx);
	if (memcmp(digest, model->domain_hash, 32) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the backbone file this model carries is not the file of domain \"%s\" it was trained on",
						model->domain),
				 errdetail("The model names the file with SHA-256 %s; the file it carries has %s.",
						   BackboneHashHex(model->domain_hash), BackboneHashHex(digest))));
	file = palloc(VARHDRSZ + model->backbone_len);
	SET_VARSIZE(file, VARHDRSZ + model->backbone_len);
	memcpy(VARDATA(file), model->backbone, model->backbone_len);
	return file;
}

/* Whether a net built from a carried file may be left in the prepared weights. */
bool
MayShareCarriedNet(void)
{
	Oid			admin = get_role_oid("pgvision_admin", true);

	return superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/*
 * cv_self_contained(model): the same model carrying its backbone file, read
 * from this server's cv_backbones.  A compact model (no file) and a model
 * that already carries its file come back unchanged.
 */
PG_FUNCTION_INFO_V1(cv_self_contained);
Datum
cv_self_contained(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_CV_MODEL_P(0);
	const cv_model *model = ModelCacheGet((const uint8_t *) VARDATA(bytes),
										  VARSIZE(bytes) - VARHDRSZ);
	cv_model	carrier;
	bytea	   *file;
	uint8_t    *out;
	size_t		out_len;
	bytea	   *result;
	cv_error	err;

	if (model->backbone != NULL || IsZeroHash(model->domain_hash))
		PG_RETURN_POINTER(bytes);

	file = BackboneFileByHash(model->domain, model->domain_hash);
	if (VARSIZE(file) - VARHDRSZ > CV_MODEL_BACKBONE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the backbone file of domain \"%s\" is %zu bytes, more than a self-contained model carries (%zu)",
						model->domain, (size_t) (VARSIZE(file) - VARHDRSZ), CV_MODEL_BACKBONE_MAX)));

	/* the cached model is shared: serialize a shallow copy that adds the file */
	carrier = *model;
	carrier.backbone = (uint8_t *) VARDATA(file);
	carrier.backbone_len = VARSIZE(file) - VARHDRSZ;
	cv_error_clear(&err);
	if (cv_model_serialize(&carrier, &out, &out_len, &err) != CV_OK)
		CoreRaise(&err, ERRCODE_INTERNAL_ERROR);
	pfree(file);
	if (out_len > MaxAllocSize - VARHDRSZ)
	{
		cv_free(out);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a self-contained model of domain \"%s\" would be %zu bytes, more than a value holds",
						model->domain, out_len)));
	}
	result = palloc(VARHDRSZ + out_len);
	SET_VARSIZE(result, VARHDRSZ + out_len);
	memcpy(VARDATA(result), out, out_len);
	cv_free(out);
	PG_RETURN_POINTER(result);
}
