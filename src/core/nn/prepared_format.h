/*
 * prepared_format.h
 *	  The layout of a prepared-network blob (header, sections, stored
 *	  pointers), shared by its writer (prepared.c) and its loader
 *	  (prepared_load.c), with the two computations they must agree on: the
 *	  checksum and the build's identity.  Private to those two files.
 */
#ifndef CV_NN_PREPARED_FORMAT_H
#define CV_NN_PREPARED_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn_internal.h"

/*
 * Bump when anything copied into the blob changes meaning without changing
 * size: a packed layout of gemm.c, qconv.c or qdepthwise.c, a field's use.
 * The host identity (the library's version and file) covers rebuilds too.
 */
#define PREP_LAYOUT_VERSION 1
#define PREP_FORMAT_VERSION 1
#define PREP_MAGIC "PGVNNPR\n"
#define PREP_IDENTITY_LEN 192
#define PREP_CPU_LEN 96
#define PREP_ALIGN 64

/* Sections, in file order. */
enum
{
	SEC_NET,
	SEC_VALUES,
	SEC_STEPS,
	SEC_STORAGES,
	SEC_INPUTS,
	SEC_CONCAT,
	SEC_ACTIVATIONS,
	SEC_ACTIVATION_NAMES,
	SEC_NAMES,
	SEC_DATA,
	NSECTIONS
};

typedef struct prep_header
{
	char		magic[8];
	uint32_t	format_version;
	uint32_t	header_bytes;
	uint64_t	total_bytes;
	uint64_t	checksum;		/* of every byte but these 8 */
	char		identity[PREP_IDENTITY_LEN];
	char		cpu_path[PREP_CPU_LEN];
	uint64_t	offset[NSECTIONS];
	uint64_t	bytes[NSECTIONS];
} prep_header;

/*
 * A pointer as stored: 0 is NULL, REF_DROPPED the single float that stands
 * for the int8 engine's dropped float weights (qbuild.c), and otherwise
 * REF_BASE + its byte offset in the data section.
 */
#define REF_DROPPED 1
#define REF_BASE 2

/* The checksum of every byte of the blob but its checksum field. */
uint64_t	nn_prep_checksum(const uint8_t *blob, size_t len);

/*
 * The identity of this build with host's words added, into buf
 * (PREP_IDENTITY_LEN bytes); false when it does not fit.
 */
bool		nn_prep_identity(const char *host, char *buf);

#endif							/* CV_NN_PREPARED_FORMAT_H */
