/*
 * replay.c - runs a fuzz target over its corpus without libFuzzer, so that
 * every corpus file is a regression test of `make test`. Built as
 * test_fuzz_NAME, it reads tests/fuzz/corpus/NAME/ (or the files named on
 * its command line) and prints one PASS line; a crash fails the run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX	(1 << 20)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay(const char *path, uint8_t *buf)
{
	FILE	*f;
	uint8_t	*in;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, INPUT_MAX, f);
	fclose(f);
	/* a copy of its own, so that reading past the input is caught */
	if ((in = malloc(n ? n : 1)) == NULL)
		return -1;
	memcpy(in, buf, n);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}

int
main(int argc, char *argv[])
{
	char		 dir[512], path[1024];
	const char	*name, *base;
	struct dirent	*e;
	DIR		*d;
	uint8_t		*buf;
	int		 i, n = 0, rc = 1;

	if ((buf = malloc(INPUT_MAX)) == NULL)
		return 1;
	base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	name = strncmp(base, "test_fuzz_", 10) == 0 ? base + 10 : base;
	if (argc > 1) {
		for (i = 1; i < argc; i++, n++)
			if (replay(argv[i], buf) == -1)
				goto out;
	} else {
		snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", name);
		if ((d = opendir(dir)) == NULL) {
			perror(dir);
			goto out;
		}
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (replay(path, buf) == -1) {
				closedir(d);
				goto out;
			}
			n++;
		}
		closedir(d);
	}
	printf("PASS corpus_%s (%d inputs)\n", name, n);
	rc = 0;
out:
	free(buf);
	return rc;
}
