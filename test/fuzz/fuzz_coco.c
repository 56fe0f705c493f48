/*
 * fuzz_coco.c
 *	  libFuzzer harness of pgvision-load's COCO reader (read_coco_text,
 *	  src/bin/pgvision-load/coco.c): each input is the whole content of a
 *	  --coco annotation file.
 *
 * The reader maps image and category ids, so the interesting inputs are
 * well-formed JSON with odd ids (strings, numbers, duplicates, missing),
 * bboxes of the wrong shape or extreme numbers, and declared sizes the
 * geometry checks see: fuzz_check_items then turns every item's boxes for
 * each orientation.  No file is read (the images are only named).  Seeds:
 * test/fuzz/seed/coco (the TAP test's cases in miniature, the shape
 * cv_export_annotations writes).
 */
#include "loader_checks.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	ItemList	list = {0};
	char	   *text = fuzz_text(data, len);
	bool		ok;

	ok = read_coco_text(text, len, "/nonexistent-pgvision-fuzz/labels.json", NULL, &list);
	/* a file refused as a whole leaves no items behind */
	FUZZ_ASSERT(ok || list.count == 0);
	for (int i = 0; i < list.count; i++)
		FUZZ_ASSERT(list.items[i].units == BOX_PIXELS);
	fuzz_check_items(&list);
	items_free(&list);
	free(text);
	return 0;
}
