/*
 * fuzz_csv.c
 *	  libFuzzer harness of pgvision-load's CSV reader (read_csv_stream,
 *	  src/bin/pgvision-load/folder.c): each input is the content of a --csv
 *	  file of file,tags rows, read through a memory stream.
 *
 * The reader splits RFC 4180 records by hand (quotes, doubled quotes,
 * CRLF, a quoted field the file ends in), so that is what is fuzzed; the
 * items carry tags only.  Seeds: test/fuzz/seed/csv (the TAP test's file);
 * tools/fuzz.sh adds the shared datasets' manifest.csv files.
 */
#include "loader_checks.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	ItemList	list = {0};
	char	   *text = fuzz_text(data, len);
	FILE	   *f = fmemopen(text, len, "r");

	FUZZ_ASSERT(f != NULL);
	(void) read_csv_stream(f, "/nonexistent-pgvision-fuzz/labels.csv", NULL, &list);
	fclose(f);
	for (int i = 0; i < list.count; i++)
		FUZZ_ASSERT(list.items[i].nboxes == 0);
	fuzz_check_items(&list);
	items_free(&list);
	free(text);
	return 0;
}
