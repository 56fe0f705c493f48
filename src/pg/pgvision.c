/*
 * pgvision.c
 *	  Module entry point: settings and one-time set-up of the core.
 *
 * pgvision needs no shared_preload_libraries: everything here is safe to
 * run whenever a backend first loads the library.
 */
#include "pgvision.h"

#include <limits.h>

#include "utils/guc.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

/* Default caps: 20 MB of encoded bytes and 64 megapixels. */
int			pgvision_max_image_bytes = 20 * 1024 * 1024;
int			pgvision_max_image_pixels = 64 * 1024 * 1024;

/* Object detection: the hosted services' cap on boxes per image, and NMS. */
int			pgvision_max_regions_per_image = 300;
double		pgvision_nms_overlap = 0.45;

void		_PG_init(void);

static void
DefineSettings(void)
{
	DefineCustomIntVariable("pgvision.max_image_bytes",
							"Largest encoded image accepted, in bytes.",
							"Larger inputs are rejected before they are decoded.",
							&pgvision_max_image_bytes,
							20 * 1024 * 1024, 1, (int) MaxAllocSize,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgvision.max_image_pixels",
							"Largest image accepted, in pixels (width times height).",
							"Images whose header declares more are rejected before any pixel buffer is allocated.",
							&pgvision_max_image_pixels,
							64 * 1024 * 1024, 1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	/*
	 * SUSET like the image caps: it is a rule for every writer of a project
	 * (and bounds what training on an image costs), so a session must not
	 * lift it for itself; a superuser can ALTER ROLE ... SET it.
	 */
	DefineCustomIntVariable("pgvision.max_regions_per_image",
							"Most regions (tagged boxes) one image may have.",
							"Checked for every write to cv_regions: cv_add_region, cv_add_image(regions => ...) and plain INSERTs.",
							&pgvision_max_regions_per_image,
							300, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomRealVariable("pgvision.nms_overlap",
							 "Overlap (intersection over union) above which non-maximum suppression drops the less probable of two detections of the same tag.",
							 "0 lets no two detections of a tag overlap; 1 drops none.",
							 &pgvision_nms_overlap,
							 0.45, 0.0, 1.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomRealVariable("pgvision.near_duplicate_similarity",
							 "Cosine similarity of view-0 features at which cv_add_image says a new image looks like one already in the project.",
							 "-1 uses the domain's own (0.95 for imported backbones, 0.995 for compact: docs/similar.md); 0 turns the notice off, and with it the features cv_add_image computes for each new image of a classification project.",
							 &pgvision_near_duplicate_similarity,
							 -1.0, -1.0, 1.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

/*
 * The regions cap for the SQL triggers.  Reading it through a function of
 * this library (not current_setting) loads the library first, so the
 * setting is always the real one: never missing, and never a placeholder a
 * session set before the library was loaded.
 */
PG_FUNCTION_INFO_V1(cv_max_regions_per_image);
Datum
cv_max_regions_per_image(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pgvision_max_regions_per_image);
}

void
_PG_init(void)
{
	BackendMemoryInit();
	CoreBridgeInit();
	DefineSettings();
	TrainSettingsInit();
	BackboneSettingsInit();
	PreparedWeightsSettingsInit();
	SuggestSettingsInit();
	MarkGUCPrefixReserved("pgvision");
}
