/*
 * Replays a corpus without libFuzzer: calls LLVMFuzzerTestOneInput() on
 * every regular file of the directories (or files) named on the command
 * line, in name order, so that ctest runs every seed and every crash
 * reproducer in each build (gcc, ASan) and a regression fails the test.
 * An empty corpus is an error: it means the path is wrong.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		fprintf(stderr, "%s: cannot read\n", path);
		if (fp)
			fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	/* An exact-size copy, so ASan sees a read past the input. */
	{
		uint8_t *exact = malloc(n > 0 ? (size_t)n : 1);

		if (exact == NULL)
			return -1;
		memcpy(exact, buf, (size_t)n);
		free(buf);
		fprintf(stderr, "replay %s (%ld bytes)\n", path, n);
		LLVMFuzzerTestOneInput(exact, (size_t)n);
		free(exact);
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, size_t *count)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	DIR *d;
	int r = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: not found\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char full[4096], **v;

		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((v = realloc(names, (n + 1) * sizeof(*names))) == NULL) {
			r = -1;
			break;
		}
		names = v;
		if ((names[n] = strdup(full)) == NULL) {
			r = -1;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && run_file(names[i]) != 0)
			r = -1;
		free(names[i]);
	}
	free(names);
	*count += n;
	return r;
}

int main(int argc, char **argv)
{
	size_t count = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) != 0)
			return 1;
	if (count == 0) {
		fprintf(stderr, "no corpus files in the given paths\n");
		return 1;
	}
	printf("%zu inputs replayed\n", count);
	return 0;
}
