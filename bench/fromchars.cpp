// bench_fromchars: the parsing limit the CSV reader is measured against.
//
//   bench_fromchars FILE.csv
//
// Reads the file as bench_csvparse's reader does (read() into a 256 KiB
// buffer, a partial last line carried to the next block) and parses every
// field after the header with std::from_chars (libstdc++ 12: fast_float's
// algorithm, exact). A field that is not a number is skipped to the next
// separator (a quoted one to its closing quote, doubled quotes inside), as
// a loader that only wants the numbers would. The separator is ','; lines
// end at LF (a CR before it is skipped). There is no UTF-8 check, no blank
// trimming, no error position: this is the floor for tokenising and number
// parsing, not a reader.
//
// Prints "rows", "fields", "numbers", "bytes", "seconds" (wall), "cpu"
// (user + system) and a checksum of the numbers, the same lines as
// bench_csvparse, so bench/parse.sh can set one against the other.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vector>

static double now()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu()
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
	       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

struct totals {
	uint64_t rows = 0, fields = 0, numbers = 0;
	double sum = 0;
};

// Parses the complete lines in [p, e); returns where the unparsed rest starts.
static const char *parse_lines(const char *p, const char *e, bool &header, totals &t)
{
	for (;;) {
		const char *nl = static_cast<const char *>(memchr(p, '\n', (size_t)(e - p)));

		if (nl == nullptr)
			return p;
		if (header) {
			header = false;
			p = nl + 1;
			continue;
		}
		const char *line_end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (p == line_end) { // a blank line
			p = nl + 1;
			continue;
		}
		for (;;) {
			double v;
			auto res = std::from_chars(p, line_end, v);
			const char *q = res.ptr;

			t.fields++;
			if (res.ec == std::errc() && (q == line_end || *q == ',')) {
				t.sum += v;
				t.numbers++;
			} else if (p < line_end && *p == '"') {
				// A quoted field: to the closing quote ("" is one quote).
				for (q = p + 1;; q++) {
					q = static_cast<const char *>(
					        memchr(q, '"', (size_t)(e - q)));
					if (q == nullptr || q + 1 >= e || q[1] != '"')
						break;
				}
				q = q == nullptr ? line_end : q + 1;
				if (q > line_end) { // a line end inside quotes
					nl = static_cast<const char *>(
					        memchr(q, '\n', (size_t)(e - q)));
					if (nl == nullptr)
						return e; // not expected in the benchmark files
					line_end = nl > q && nl[-1] == '\r' ? nl - 1 : nl;
				}
			} else {
				q = static_cast<const char *>(
				        memchr(p, ',', (size_t)(line_end - p)));
				if (q == nullptr)
					q = line_end;
			}
			if (q >= line_end)
				break;
			p = q + 1;
		}
		t.rows++;
		p = nl + 1;
	}
}

int main(int argc, char **argv)
{
	const size_t block = 256 * 1024;
	std::vector<char> buf(4 * block);
	size_t have = 0;
	totals t;
	bool header = true;
	struct stat sb;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_fromchars FILE.csv\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY)) < 0 || fstat(fd, &sb) != 0) {
		perror(argv[1]);
		return 1;
	}
	double t0 = now(), c0 = cpu();
	for (;;) {
		if (buf.size() - have < block)
			buf.resize(buf.size() * 2); // a line longer than the buffer
		ssize_t n = read(fd, buf.data() + have, block);

		if (n < 0) {
			perror(argv[1]);
			return 1;
		}
		if (n == 0) {
			if (have > 0) { // a last line without LF
				buf[have++] = '\n';
				parse_lines(buf.data(), buf.data() + have, header, t);
			}
			break;
		}
		have += (size_t)n;
		const char *rest = parse_lines(buf.data(), buf.data() + have, header, t);
		have -= (size_t)(rest - buf.data());
		memmove(buf.data(), rest, have);
	}
	double wall = now() - t0, used = cpu() - c0;
	close(fd);
	printf("rows %llu\nfields %llu\nnumbers %llu\nbytes %lld\nseconds %.6f\ncpu %.6f\n"
	       "checksum %.17g\n",
	       (unsigned long long)t.rows, (unsigned long long)t.fields,
	       (unsigned long long)t.numbers, (long long)sb.st_size, wall, used, t.sum);
	return 0;
}
