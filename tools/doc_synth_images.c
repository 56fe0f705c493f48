/*
 * doc_synth_images.c
 *	  Writes the synthetic detection photos of the unit tests
 *	  (test/unit/detect_synth.c: red rectangles and blue discs on noise) as
 *	  PNG files with a manifest, for tools/doc_pictures.sh, which trains a
 *	  detector on them and draws its detections for docs/pictures.md.
 *
 * The pictures in docs/ must be our own: nothing derived from ../shared is
 * committed, and these images are drawn from a seed alone.
 *
 * usage: doc_synth_images OUT_DIR COUNT FIRST_SEED [SIZE]
 * writes OUT_DIR/synth_SEED.png and OUT_DIR/manifest.jsonl, one line per
 * image: {"file": "synth_SEED.png", "regions": [{"tag": ..., "left": ...,
 * "top": ..., "width": ..., "height": ...}, ...]}, the shape cv_add_image's
 * regions argument takes.
 */
#include "../test/unit/detect_synth.c"

#include <stdio.h>
#include <stdlib.h>

#define MAX_OBJECTS 3

int
main(int argc, char **argv)
{
	const char *dir;
	int			count;
	uint32_t	first_seed;
	int			size = 256;
	char		path[4096];
	FILE	   *manifest;

	if (argc < 4 || argc > 5)
	{
		fprintf(stderr, "usage: doc_synth_images OUT_DIR COUNT FIRST_SEED [SIZE]\n");
		return 2;
	}
	dir = argv[1];
	count = atoi(argv[2]);
	first_seed = (uint32_t) strtoul(argv[3], NULL, 10);
	if (argc == 5)
		size = atoi(argv[4]);
	snprintf(path, sizeof(path), "%s/manifest.jsonl", dir);
	manifest = fopen(path, "w");
	if (manifest == NULL || count < 1)
	{
		fprintf(stderr, "doc_synth_images: cannot write %s\n", path);
		return 1;
	}
	for (int i = 0; i < count; i++)
	{
		uint32_t	seed = first_seed + (uint32_t) i;
		cv_rgb_image img = {0};
		cv_truth_box boxes[MAX_OBJECTS];
		int			n_boxes = 0;
		uint8_t    *png = NULL;
		size_t		png_len = 0;
		cv_error	err;
		FILE	   *f;

		cv_error_clear(&err);
		if (detect_synth_image(seed, size, size, MAX_OBJECTS, &img, boxes, &n_boxes, &err) != CV_OK ||
			cv_image_encode_png(&img, &png, &png_len, &err) != CV_OK)
		{
			fprintf(stderr, "doc_synth_images: seed %u: %s\n", seed, err.message);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/synth_%u.png", dir, seed);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(png, 1, png_len, f) != png_len || fclose(f) != 0)
		{
			fprintf(stderr, "doc_synth_images: cannot write %s\n", path);
			return 1;
		}
		fprintf(manifest, "{\"file\": \"synth_%u.png\", \"regions\": [", seed);
		for (int b = 0; b < n_boxes; b++)
			fprintf(manifest, "%s{\"tag\": \"%s\", \"left\": %.6f, \"top\": %.6f, \"width\": %.6f, \"height\": %.6f}",
					b ? ", " : "", boxes[b].tag == DETECT_SYNTH_RECT ? "rectangle" : "disc",
					boxes[b].box.left, boxes[b].box.top, boxes[b].box.width, boxes[b].box.height);
		fprintf(manifest, "]}\n");
		cv_free(png);
		cv_rgb_image_free(&img);
	}
	return fclose(manifest) == 0 ? 0 : 1;
}
