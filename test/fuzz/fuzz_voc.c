/*
 * fuzz_voc.c
 *	  libFuzzer harness of pgvision-load's Pascal VOC reader
 *	  (read_voc_text, src/bin/pgvision-load/voc.c): each input is the
 *	  content of one annotation file of a --voc folder.
 *
 * libxml2 parses it as read_voc does (no network, no entity expansion);
 * the reader then makes exactly one item of it, rejected with a reason or
 * with its boxes, which fuzz_check_items turns for every orientation.
 * Seeds: test/fuzz/seed/voc (the devkit's layout, the TAP test's cases).
 */
#include "loader_checks.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	ItemList	list = {0};

	read_voc_text((const char *) data, len, "/nonexistent-pgvision-fuzz/Annotations",
				  "fuzz.xml", NULL, &list);
	FUZZ_ASSERT(list.count == 1);
	fuzz_check_items(&list);
	items_free(&list);
	return 0;
}
