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
}

void
_PG_init(void)
{
	CoreBridgeInit();
	DefineSettings();
	TrainSettingsInit();
	BackboneSettingsInit();
	MarkGUCPrefixReserved("pgvision");
}
