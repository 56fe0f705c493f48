/*
 * fuzz_customvision.c
 *	  libFuzzer harness of pgvision-load's Custom Vision reader
 *	  (read_customvision_text, src/bin/pgvision-load/customvision.c): each
 *	  input is the whole content of a --customvision image list.
 *
 * The reader looks for each image's file (<id>.jpg and the like, then the
 * last segment of originalImageUri), so the harness gives it a folder of
 * its own with two empty files, named like the seeds' images, for both
 * ways of finding a file to be reached.  Regions are fractions, checked by
 * fuzz_check_items through boxes_to_upright.  Seeds:
 * test/fuzz/seed/customvision (the TAP test's list in miniature, the shape
 * cv_export_annotations writes).
 */
#include "loader_checks.h"

#include <string.h>
#include <unistd.h>

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static char images_dir[] = "/tmp/pgvision-fuzz-cv-XXXXXX";
static const char *const image_files[] = {"00000000-0000-4000-8000-000000000001.jpg", "photo.png"};

static void
remove_images(void)
{
	for (size_t i = 0; i < sizeof(image_files) / sizeof(image_files[0]); i++)
	{
		char	   *path = path_join(images_dir, image_files[i]);

		unlink(path);
		free(path);
	}
	rmdir(images_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FUZZ_ASSERT(mkdtemp(images_dir) != NULL);
	for (size_t i = 0; i < sizeof(image_files) / sizeof(image_files[0]); i++)
	{
		char	   *path = path_join(images_dir, image_files[i]);
		FILE	   *f = fopen(path, "w");

		FUZZ_ASSERT(f != NULL);
		fclose(f);
		free(path);
	}
	atexit(remove_images);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	ItemList	list = {0};
	char	   *text = fuzz_text(data, len);
	bool		ok;

	ok = read_customvision_text(text, len, "/nonexistent-pgvision-fuzz/images.json",
								images_dir, &list);
	FUZZ_ASSERT(ok || list.count == 0);
	for (int i = 0; i < list.count; i++)
	{
		FUZZ_ASSERT(list.items[i].units == BOX_NORMALISED);
		/* a file found is in the images folder */
		FUZZ_ASSERT(list.items[i].error != NULL ||
					strncmp(list.items[i].path, images_dir, strlen(images_dir)) == 0);
	}
	fuzz_check_items(&list);
	items_free(&list);
	free(text);
	return 0;
}
