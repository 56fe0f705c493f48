/*
 * test_nn_hostile.c
 *	  Truncated and bit-flipped copies of the shared models through
 *	  cv_net_load: every case must fail with an error or load cleanly (and
 *	  then run), never crash or read outside the bytes.  Each case gets its
 *	  own allocation of exactly its length, so valgrind or ASan see any read
 *	  past the end (see docs/backbones.md for the valgrind run).
 *
 * The mutations come from a fixed-seed xorshift generator: the corpus is
 * the same on every run.  PGVISION_HOSTILE_CASES scales the number of
 * cases per model (default 300 truncations and 300 bit flips), so that the
 * valgrind run can use fewer.
 */
#include "unit.h"
#include "nn/nn.h"

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
cases_per_kind(void)
{
	const char *e = getenv("PGVISION_HOSTILE_CASES");
	int			n = e ? atoi(e) : 300;

	return n > 0 ? n : 300;
}

typedef struct tally
{
	int			ok;
	int			errors[CV_ERR_INTERNAL + 1];
} tally;

/* Load (and if it loads, run on grey pixels) one mutated copy. */
static void
try_bytes(const uint8_t *src, size_t len, tally *t)
{
	uint8_t    *copy = malloc(len ? len : 1);
	cv_net	   *net = NULL;
	cv_error	err;
	cv_status	st;

	memcpy(copy, src, len);
	cv_error_clear(&err);
	st = cv_net_load(copy, len, &net, &err);
	free(copy);					/* the loaded net must not need the bytes */
	CHECK(st >= CV_OK && st <= CV_ERR_INTERNAL);
	CHECK(st != CV_ERR_INTERNAL);
	if (st != CV_OK)
	{
		CHECK(net == NULL);
		CHECK(err.code == st && err.message[0] != '\0');
		t->errors[st]++;
		return;
	}
	t->ok++;
	{
		const cv_net_info *info = cv_net_get_info(net);
		cv_net_workspace *ws = NULL;
		size_t		npx = (size_t) info->input_width * info->input_height * 3;
		uint8_t    *px = malloc(npx);
		float	   *scores = malloc((size_t) info->num_outputs * sizeof(float));
		float	   *feat = malloc(((size_t) info->feature_dim + 1) * sizeof(float));

		memset(px, 100, npx);
		if (cv_net_workspace_create(net, &ws, &err) == CV_OK)
		{
			CHECK(cv_net_run(net, ws, px, scores, info->feature_dim ? feat : NULL,
							 &err) == CV_OK);
			cv_net_workspace_free(ws);
		}
		free(px);
		free(scores);
		free(feat);
	}
	cv_net_free(net);
}

static void
hostile_model(const char *file, uint64_t seed)
{
	size_t		len;
	uint8_t    *orig = unit_read_file(unit_shared_path(file), &len);
	uint8_t    *buf;
	int			n = cases_per_kind();
	uint64_t	s = seed;
	tally		tr = {0},
				fl = {0};

	CHECK_MSG(orig != NULL, "missing %s", file);
	if (orig == NULL)
		return;

	/*
	 * Truncations: the first bytes densely, then anywhere.  These files end
	 * with a zip of metadata (the labels) after the flatbuffer, which the
	 * reader never needs: a cut inside it may load; a cut more than 64 kB
	 * before the end is inside the flatbuffer and must fail.
	 */
	for (int i = 0; i < n; i++)
	{
		size_t		cut = i < 64 ? (size_t) i : (size_t) (xorshift(&s) % len);
		int			before = tr.ok;

		try_bytes(orig, cut, &tr);
		CHECK_MSG(tr.ok == before || cut + 65536 > len,
				  "%s cut to %zu bytes of %zu loaded", file, cut, len);
	}

	/* bit flips: 1 to 4 bits; the first kilobytes (tables, vtables, offsets)
	 * get half of the flips, since most of the file is weight bytes */
	buf = malloc(len);
	for (int i = 0; i < n; i++)
	{
		int			bits = 1 + (int) (xorshift(&s) % 4);

		memcpy(buf, orig, len);
		for (int b = 0; b < bits; b++)
		{
			size_t		pos = xorshift(&s) % (i % 2 ? len : (len < 4096 ? len : 4096));

			if (i % 4 == 3)
				pos = len - 1 - xorshift(&s) % (len < 65536 ? len : 65536);	/* tail */
			buf[pos] ^= (uint8_t) (1u << (xorshift(&s) % 8));
		}
		try_bytes(buf, len, &fl);
	}
	printf("     %s: truncated %d errors, %d loaded (cut in the metadata zip); flipped %d loaded, %d corrupt, %d unsupported, "
		   "%d limit, %d data, %d other\n", file, n - tr.ok, tr.ok, fl.ok,
		   fl.errors[CV_ERR_CORRUPT], fl.errors[CV_ERR_UNSUPPORTED],
		   fl.errors[CV_ERR_LIMIT], fl.errors[CV_ERR_DATA],
		   fl.errors[CV_ERR_PARAM] + fl.errors[CV_ERR_NOMEM]);
	free(buf);
	free(orig);
}

static void
test_hostile_v1(void)
{
	hostile_model("models/mobilenet_v1_0.25_128_quant.tflite", 0x9e3779b97f4a7c15ull);
}

static void
test_hostile_v2(void)
{
	hostile_model("models/mobilenet_v2_1.0_224_quant.tflite", 0xd1b54a32d192ed03ull);
}

static void
test_hostile_tf2(void)
{
	hostile_model("models/tf2_mobilenet_v2_1.0_224_ptq.tflite", 0x8cb92ba72f3d8dd7ull);
}

UNIT_MAIN("nn_hostile",
		  UNIT_CASE(test_hostile_v1),
		  UNIT_CASE(test_hostile_v2),
		  UNIT_CASE(test_hostile_tf2))
