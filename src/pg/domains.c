/*
 * domains.c
 *	  Feature extractors by domain name, built once per backend.
 *
 * `compact` is built in.  Extractors are immutable once made (see
 * learn/features.h), so one serves every call in the backend.
 */
#include "pgvision.h"

#include "utils/memutils.h"

#define DOMAIN_CACHE_SIZE 8

typedef struct DomainCacheEntry
{
	char		name[CV_DOMAIN_NAME_MAX + 1];
	cv_feature_extractor *extractor;
} DomainCacheEntry;

static DomainCacheEntry domain_cache[DOMAIN_CACHE_SIZE];
static MemoryContext domain_context = NULL;

const cv_feature_extractor *
DomainGetExtractor(const char *domain)
{
	cv_error	err;
	cv_feature_extractor *fx = NULL;
	MemoryContext old;
	int			free_slot = -1;

	for (int i = 0; i < DOMAIN_CACHE_SIZE; i++)
	{
		if (domain_cache[i].extractor == NULL)
		{
			if (free_slot < 0)
				free_slot = i;
		}
		else if (strcmp(domain_cache[i].name, domain) == 0)
			return domain_cache[i].extractor;
	}

	if (strcmp(domain, "compact") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("domain \"%s\" is not available", domain)));

	if (domain_context == NULL)
		domain_context = AllocSetContextCreate(TopMemoryContext, "pgvision domains",
											   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(domain_context);
	cv_error_clear(&err);
	if (cv_features_compact_create(&fx, &err) != CV_OK)
	{
		MemoryContextSwitchTo(old);
		CoreRaise(&err, ERRCODE_DATA_CORRUPTED);
	}
	MemoryContextSwitchTo(old);

	if (free_slot < 0)
	{
		/* Full: drop the last slot (domains are few; this is a backstop). */
		free_slot = DOMAIN_CACHE_SIZE - 1;
		cv_features_destroy(domain_cache[free_slot].extractor);
	}
	strlcpy(domain_cache[free_slot].name, domain, sizeof(domain_cache[free_slot].name));
	domain_cache[free_slot].extractor = fx;
	return fx;
}
