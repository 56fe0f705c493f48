/*
 * known.c
 *	  The content hashes of the images a project already holds, so that a
 *	  second run sends only what is missing.
 *
 * cv_images keeps sha256(image bytes) in a generated column, unique per
 * project, and cv_add_image treats the same bytes as the same image.  The
 * loader reads those hashes once at the start (32 bytes an image: 3 MB for
 * a hundred thousand images), hashes each file it reads with OpenSSL's
 * SHA-256 (libcrypto, which libpq already links), and skips the files whose
 * hash is in the set without sending their bytes.  Files added during the
 * run join the set, so two copies of one photo under different names count
 * once.  A plain open-addressing table: SHA-256 output is uniformly
 * distributed, so its first bytes are a perfect hash.
 */
#include "load.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void
sha256_bytes(const uint8_t *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int outlen = SHA256_LEN;

	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
		outlen != SHA256_LEN)
		fatal("SHA-256 failed (OpenSSL)");
}

static size_t
slot_of(const uint8_t hash[SHA256_LEN], size_t capacity)
{
	uint64_t	h;

	memcpy(&h, hash, sizeof(h));
	return (size_t) (h & (capacity - 1));
}

bool
hashset_contains(const HashSet *set, const uint8_t hash[SHA256_LEN])
{
	size_t		i;

	if (set->capacity == 0)
		return false;
	for (i = slot_of(hash, set->capacity); set->used[i]; i = (i + 1) & (set->capacity - 1))
		if (memcmp(set->slots + i * SHA256_LEN, hash, SHA256_LEN) == 0)
			return true;
	return false;
}

static void
insert_slot(HashSet *set, const uint8_t hash[SHA256_LEN])
{
	size_t		i = slot_of(hash, set->capacity);

	while (set->used[i])
	{
		if (memcmp(set->slots + i * SHA256_LEN, hash, SHA256_LEN) == 0)
			return;
		i = (i + 1) & (set->capacity - 1);
	}
	memcpy(set->slots + i * SHA256_LEN, hash, SHA256_LEN);
	set->used[i] = true;
	set->count++;
}

void
hashset_add(HashSet *set, const uint8_t hash[SHA256_LEN])
{
	/* keep the table at most half full: probes stay short */
	if ((set->count + 1) * 2 > set->capacity)
	{
		HashSet		old = *set;

		set->capacity = old.capacity ? old.capacity * 2 : 1024;
		set->slots = xmalloc(set->capacity * SHA256_LEN);
		set->used = xmalloc(set->capacity * sizeof(bool));
		memset(set->used, 0, set->capacity * sizeof(bool));
		set->count = 0;
		for (size_t i = 0; i < old.capacity; i++)
			if (old.used[i])
				insert_slot(set, old.slots + i * SHA256_LEN);
		free(old.slots);
		free(old.used);
	}
	insert_slot(set, hash);
}

void
hashset_free(HashSet *set)
{
	free(set->slots);
	free(set->used);
	memset(set, 0, sizeof(*set));
}
