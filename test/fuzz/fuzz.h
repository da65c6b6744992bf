/* fuzz.h - what every fuzz harness shares: the libFuzzer entry point and a check */
#ifndef VMNET_FUZZ_H
#define VMNET_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called by libFuzzer (make fuzz) or by fuzz-main.c (the corpus replay of make check). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: say which, and crash so the fuzzer keeps the input. */
static inline void fuzz_check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz: invariant broken: %s\n", what);
	abort();
}

#endif
