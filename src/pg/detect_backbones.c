/*
 * detect_backbones.c
 *	  The feature maps detectors read, by backbone file and input size,
 *	  built once per backend and kept warm (the detection twin of
 *	  domains.c).
 *
 * An entry is keyed by the backbone file's SHA-256, the input size and the
 * two map tensors, so a model is always served the maps it was trained on
 * and a replaced file is never mistaken for the old one.  Building an
 * entry maps the shared prepared net of those maps (prepared_weights.c);
 * the first backend of all reads the file from cv_backbones, cuts the
 * network at the maps, plans it for the input size and shares it.
 */
#include "pgvision.h"

#include "utils/memutils.h"

#include "detect/detect_backbone.h"
#include "nn/nn.h"

#define DETECT_CACHE_SIZE 4

typedef struct DetectCacheEntry
{
	MemoryContext context;		/* NULL when empty */
	uint8_t		hash[32];
	int			input_width;
	int			input_height;
	int			tensors[2];
	int			engine;			/* cv_net_engine */
	cv_detect_backbone *backbone;
	cv_detect_work *work;		/* cv_detect's buffers, in context; NULL until used */
	uint64		last_used;
} DetectCacheEntry;

static DetectCacheEntry detect_cache[DETECT_CACHE_SIZE];
static uint64 detect_clock = 0;
static MemoryContext detect_context = NULL;

/*
 * The maps of a backbone domain at an input size.  hash NULL: the file
 * stored now under that name; tensors NULL: chosen by the rule of
 * detect_backbone.h (what training does).
 */
static cv_detect_backbone *DetectBackboneFrom(const char *domain, const uint8_t *model_hash,
											  int input_width, int input_height,
											  const int *model_tensors, uint32 maps_version,
											  const cv_model *carrier);

cv_detect_backbone *
DetectBackboneGet(const char *domain, const uint8_t *model_hash, int input_width,
				  int input_height, const int *model_tensors, uint32 maps_version)
{
	return DetectBackboneFrom(domain, model_hash, input_width, input_height, model_tensors,
							  maps_version, NULL);
}

cv_detect_backbone *
ModelDetectBackbone(const cv_model *model)
{
	return DetectBackboneFrom(model->domain, model->domain_hash, model->input_width,
							  model->input_height, model->detector->map_tensor,
							  model->extractor_version, model);
}

/* carrier: a self-contained model whose file serves when none is stored here */
static cv_detect_backbone *
DetectBackboneFrom(const char *domain, const uint8_t *model_hash, int input_width,
				   int input_height, const int *model_tensors, uint32 maps_version,
				   const cv_model *carrier)
{
	int			engine = maps_version == CV_DETECT_MAPS_VERSION_INT8 ? CV_NET_ENGINE_INT8 :
		(maps_version == 0 ? EngineForNewFeatures(true) : CV_NET_ENGINE_FLOAT);
	uint8_t		hash[32];
	int			tensors[2] = {-1, -1};
	DetectCacheEntry *slot = NULL;
	MemoryContext old,
				entry_context;
	cv_detect_backbone *bb = NULL;
	bytea	   *file = NULL;
	cv_error	err;

	if (model_hash != NULL)
		memcpy(hash, model_hash, 32);
	else
		BackboneHashByName(domain, hash);
	if (model_tensors != NULL)
	{
		tensors[0] = model_tensors[0];
		tensors[1] = model_tensors[1];
	}

	for (int i = 0; i < DETECT_CACHE_SIZE; i++)
	{
		DetectCacheEntry *e = &detect_cache[i];

		if (e->context != NULL && memcmp(e->hash, hash, 32) == 0 &&
			e->input_width == input_width && e->input_height == input_height &&
			e->engine == engine &&
			(model_tensors == NULL ||
			 (e->tensors[0] == tensors[0] && e->tensors[1] == tensors[1])))
		{
			e->last_used = ++detect_clock;
			return e->backbone;
		}
		if (slot == NULL || e->context == NULL ||
			(slot->context != NULL && e->last_used < slot->last_used))
			slot = e;
	}

	if (detect_context == NULL)
		detect_context = AllocSetContextCreate(TopMemoryContext, "pgvision detection backbones",
											   ALLOCSET_SMALL_SIZES);
	entry_context = AllocSetContextCreate(detect_context, "pgvision detection backbone",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(entry_context);
	PG_TRY();
	{
		char	   *variant;
		cv_net	   *net;
		cv_detect_backbone *shared = NULL;

		cv_error_clear(&err);
		if (model_tensors == NULL)
		{
			file = BackboneFileFor(domain, hash, carrier);
			if (cv_detect_backbone_choose((const uint8_t *) VARDATA(file), VARSIZE(file) - VARHDRSZ,
										  tensors, &err) != CV_OK)
				CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
		}
		else
			BackboneCheckFor(domain, hash, carrier);

		/* the shared prepared maps (prepared_weights.c), else built from the file */
		variant = psprintf("maps engine %d %dx%d tensors %d,%d", engine, input_width,
						   input_height, tensors[0], tensors[1]);
		net = PreparedNetOpen(hash, variant);
		if (net != NULL && cv_detect_backbone_from_net(net, tensors, &bb, &err) != CV_OK)
		{
			ereport(DEBUG1, (errmsg("pgvision: prepared maps of \"%s\" refused: %s", domain,
									err.message)));
			cv_error_clear(&err);
			bb = NULL;
		}
		if (bb == NULL)
		{
			if (file == NULL)
				file = BackboneFileFor(domain, hash, carrier);
			if (cv_detect_backbone_create_engine((const uint8_t *) VARDATA(file),
												 VARSIZE(file) - VARHDRSZ, input_width,
												 input_height, tensors, engine, &bb,
												 &err) != CV_OK)
				CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
			/* a carried file's net is shared only by its administrators (self_contained.c) */
			net = carrier != NULL && carrier->backbone != NULL && !MayShareCarriedNet() ? NULL :
				PreparedNetShare(hash, variant, cv_detect_backbone_net(bb));
			if (net != NULL && cv_detect_backbone_from_net(net, tensors, &shared, &err) == CV_OK)
			{
				cv_detect_backbone_free(bb);
				bb = shared;
			}
			BackendMemoryAfterBuild();
		}
		if (file != NULL)
			pfree(file);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(entry_context);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);

	if (slot->context != NULL)
	{
		cv_detect_backbone_free(slot->backbone);
		MemoryContextDelete(slot->context);
	}
	slot->context = entry_context;
	memcpy(slot->hash, hash, 32);
	slot->input_width = input_width;
	slot->input_height = input_height;
	slot->tensors[0] = tensors[0];
	slot->tensors[1] = tensors[1];
	slot->engine = engine;
	slot->backbone = bb;
	slot->work = NULL;
	slot->last_used = ++detect_clock;
	return bb;
}

/*
 * The buffers cv_detect reuses from row to row for a cached backbone,
 * grown to fit det on a photo of src_height rows.  They live in the cache
 * entry's context: a buffer allocated in the query's context would be
 * freed at the query's end and, above glibc's thresholds, come back as
 * fresh pages on every call.  NULL (the core then allocates for the call)
 * when bb is not cached, memory is short, or the photo is taller than
 * DETECT_WORK_MAX_ROWS after decoding: the rendering's sums grow with the
 * rows (12 bytes a row and output column, 16 MB at that height and 320
 * columns), and a rare panorama must not keep that much for the rest of
 * the session.
 */
#define DETECT_WORK_MAX_ROWS 4096

cv_detect_work *
DetectBackboneWork(const cv_detect_backbone *bb, const cv_detector *det, int src_height)
{
	if (src_height > DETECT_WORK_MAX_ROWS)
		return NULL;
	for (int i = 0; i < DETECT_CACHE_SIZE; i++)
	{
		DetectCacheEntry *e = &detect_cache[i];
		MemoryContext old;
		cv_error	err;
		cv_status	st;

		if (e->context == NULL || e->backbone != bb)
			continue;
		old = MemoryContextSwitchTo(e->context);
		if (e->work == NULL)
			e->work = cv_detect_work_create();
		cv_error_clear(&err);
		st = e->work != NULL ? cv_detect_work_reserve(e->work, bb, det, src_height, &err) :
			CV_ERR_NOMEM;
		MemoryContextSwitchTo(old);
		return st == CV_OK ? e->work : NULL;
	}
	return NULL;
}
