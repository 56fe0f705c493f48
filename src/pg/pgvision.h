/*
 * pgvision.h
 *	  Shared declarations of the PostgreSQL binding: settings, the bridge
 *	  from core status codes to SQLSTATEs, and the on-disk cv_image layout.
 */
#ifndef PGVISION_H
#define PGVISION_H

#include "postgres.h"
#include "fmgr.h"

#include "common/cv_common.h"
#include "image/image.h"

/* Settings (pgvision.c) */
extern int	pgvision_max_image_bytes;
extern int	pgvision_max_image_pixels;
extern int	pgvision_max_regions_per_image;

/*
 * pgvision.nms_overlap: the intersection over union above which
 * non-maximum suppression drops the less probable of two detections of the
 * same tag (0..1, default 0.45).
 */
extern double pgvision_nms_overlap;

/* The installed schema (schema_version.c): 0.2.0's project_id columns */
extern bool FeaturesHaveProjectId(void);
extern bool IterationRowsHaveProjectId(void);

/* Core bridge (core_bridge.c) */
extern void CoreBridgeInit(void);

/*
 * Raise a core error as an ereport(ERROR).  corrupt_sqlstate says what
 * CV_ERR_CORRUPT means here: INVALID_BINARY_REPRESENTATION for user input,
 * DATA_CORRUPTED for stored values that should have been valid.
 */
extern void CoreRaise(const cv_error *err, int corrupt_sqlstate) pg_attribute_noreturn();

/*
 * cv_image: a varlena holding a small fixed header, then the encoded file
 * bytes unchanged.  The header caches what the encoded header says (upright
 * size, format, orientation) so accessors read only the first bytes of a
 * possibly toasted value (the type uses STORAGE external: photos are
 * already compressed, and uncompressed out-of-line values can be sliced).
 */
typedef struct CvImage
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* CV_IMAGE_VERSION */
	uint8		format;			/* cv_image_format */
	uint8		orientation;	/* EXIF 1..8 */
	uint8		reserved;		/* must be zero */
	int32		width;			/* upright */
	int32		height;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* the encoded file */
} CvImage;

#define CV_IMAGE_VERSION	1
#define CV_IMAGE_HEADER_SIZE	offsetof(CvImage, data)
#define CvImageDataLen(img)	(VARSIZE(img) - CV_IMAGE_HEADER_SIZE)

#define DatumGetCvImageP(x)		((CvImage *) PG_DETOAST_DATUM(x))
#define PG_GETARG_CV_IMAGE_P(n)	DatumGetCvImageP(PG_GETARG_DATUM(n))
#define PG_GETARG_CV_IMAGE_HEADER_P(n) \
	((CvImage *) PG_DETOAST_DATUM_SLICE(PG_GETARG_DATUM(n), 0, CV_IMAGE_HEADER_SIZE))

/* image_type.c: validate encoded bytes and build a cv_image (errors out) */
extern CvImage *CvImageFromBytes(const char *data, Size len);

#endif							/* PGVISION_H */

/* ---- Training and prediction ---- */
#include "learn/features.h"
#include "model/model.h"

extern int	pgvision_max_training_workers;
extern int	pgvision_training_threads;

/*
 * cv_model: a varlena whose payload is the serialized model bytes.
 * Functions called row after row with a model (cv_predict, cv_detect) use
 * ModelFromArg below instead, which fetches an out-of-line model once per
 * statement and call site.
 */
#define PG_GETARG_CV_MODEL_P(n)	((bytea *) PG_DETOAST_DATUM(PG_GETARG_DATUM(n)))

/* model_cache.c: the parsed model of serialized bytes, cached per backend */
extern const cv_model *ModelCacheGet(const uint8_t *bytes, Size len);
/* the same for argument argno of a call, remembered for its call site */
extern const cv_model *ModelFromArg(FunctionCallInfo fcinfo, int argno);
/* the same remembering the cache entry: its model while cached, else NULL */
typedef struct ModelCacheHandle
{
	void	   *entry;
	uint64		serial;
} ModelCacheHandle;
extern const cv_model *ModelCacheGetHandle(const uint8_t *bytes, Size len,
										   ModelCacheHandle *handle);
extern const cv_model *ModelCacheHandleModel(const ModelCacheHandle *handle);

/* domains.c: the feature extractor of a domain, cached per backend */
/*
 * model_hash: the backbone file's SHA-256 a model names (NULL: the one
 * stored now under that name; ignored for compact).
 */
extern const cv_feature_extractor *DomainGetExtractor(const char *domain, const uint8_t *model_hash);
/*
 * The same for features of a given extractor version (a model's: the
 * engine it was trained on); version 0 is the engine pgvision.engine says.
 */
extern const cv_feature_extractor *DomainGetExtractorVersion(const char *domain,
															 const uint8_t *model_hash,
															 uint32 version);

/*
 * The extractor a model's features come from (its domain, hash and
 * version); a self-contained model's carried file serves when this server
 * has not stored the backbone.
 */
extern const cv_feature_extractor *ModelGetExtractor(const cv_model *model);

/* The SHA-256 of a backbone domain's file (undefined_object if none). */
extern void BackboneHashByName(const char *domain, uint8_t hash[32]);
/* The stored backbone file with this hash, copied (undefined_object if none). */
extern bytea *BackboneFileByHash(const char *domain, const uint8_t hash[32]);

/* Raise undefined_object unless a backbone file with this hash is stored. */
extern void BackboneCheckStored(const char *domain, const uint8_t hash[32]);
/* The same two, served first from the file a model carries (carrier may be NULL). */
extern bytea *BackboneFileFor(const char *domain, const uint8_t hash[32], const cv_model *carrier);
extern void BackboneCheckFor(const char *domain, const uint8_t hash[32], const cv_model *carrier);

/* self_contained.c: models that carry their backbone file */
extern bytea *EmbeddedBackboneFile(const cv_model *model);	/* checked against its hash */
extern char *BackboneHashHex(const uint8_t hash[32]);
extern bool MayShareCarriedNet(void);

/*
 * prepared_weights.c: the shared prepared-weights files of backbone nets
 * (NULL: none usable; the net then comes from the backbone file)
 */
struct cv_net;
extern bool pgvision_prepared_weights;
extern void PreparedWeightsSettingsInit(void);
extern struct cv_net *PreparedNetOpen(const uint8_t hash[32], const char *variant);
extern struct cv_net *PreparedNetShare(const uint8_t hash[32], const char *variant,
									   const struct cv_net *built);

/* backend_memory.c: malloc keeps the pages of the per-call buffers */
extern void BackendMemoryInit(void);
extern void BackendMemoryAfterBuild(void);

/* detect_backbones.c: the feature maps of a detection domain, cached per backend */
struct cv_detect_backbone;
struct cv_detect_work;
struct cv_detector;
/* maps_version: a model's (CV_DETECT_MAPS_VERSION*), or 0 for pgvision.engine's */
extern struct cv_detect_backbone *DetectBackboneGet(const char *domain, const uint8_t *hash,
													int input_width, int input_height,
													const int *tensors, uint32 maps_version);
/* The maps a detection model reads (its carried file serves as in ModelGetExtractor). */
extern struct cv_detect_backbone *ModelDetectBackbone(const cv_model *model);
extern struct cv_detect_work *DetectBackboneWork(const struct cv_detect_backbone *bb,
												 const struct cv_detector *det,
												 int src_height);

/* embed.c: view 0's feature vector of an encoded image (fx->dim floats, palloc'd) */
extern float *EmbedImage(const cv_feature_extractor *fx, const char *image, Size image_len);

/* suggest.c: pgvision.suggest_order */
extern void SuggestSettingsInit(void);

/* similar.c: pgvision.near_duplicate_similarity */
extern double pgvision_near_duplicate_similarity;

/* image_type.c: decode an image for a model's input (errors out) */
extern void CvImageDecodeFor(const char *data, Size len, int min_width, int min_height,
							 cv_rgb_image *out);

/* training (train_job.c, train_worker.c) */
extern void TrainIteration(int64 iteration_id, bool own_transactions);
extern void TrainSettingsInit(void);

/* backbones.c */
extern int	pgvision_threads;
extern void BackboneSettingsInit(void);

/* pgvision.engine */
#define PGV_ENGINE_AUTO		0
#define PGV_ENGINE_FLOAT	1
#define PGV_ENGINE_INT8		2
extern int	pgvision_engine;
/* the cv_net_engine new features (or detection maps) are computed on */
extern int	EngineForNewFeatures(bool detection);
/* the same for a value of the setting: "auto", "float" or "int8" */
extern int	EngineFromSetting(const char *setting, bool detection);

/*
 * Smallest decoded size asked for when an image feeds a domain of input
 * size n: training crops 80% views, and prediction decodes the same way so
 * that view 0 sees the same pixels in both.
 */
#define DecodeSizeFor(n)	((n) * 5 / 4 + 1)

/* The advisory lock a running training holds (training_lock in train_worker.c) */
#define TRAINING_LOCK_KEY	1668707442	/* "cvtr" */
