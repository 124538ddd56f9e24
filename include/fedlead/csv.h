/*
 * Streaming RFC 4180 CSV reader.
 *
 * Reads one record at a time; memory is bounded by the longest record, never
 * by the file. Handles quoted fields with embedded separators, quotes and
 * newlines, CRLF or LF line ends, a leading UTF-8 byte-order mark, and blank
 * lines (skipped). Every record knows the physical line it started on, so
 * errors can say "leads.csv:1042:7".
 *
 * Files as CRMs write them (the dialect): the field separator is ',', ';',
 * tab or '|', detected from the header (the first record) and confirmed on
 * the rows after it, or given by the caller. The text must be UTF-8 (a
 * byte-order mark is allowed): a field that is not, or that holds a NUL
 * byte, stops the reader with an error naming line and column. A
 * Windows-1252 or Latin-1 file is converted to UTF-8 as it is read when the
 * caller names that encoding.
 */
#ifndef FEDLEAD_CSV_H
#define FEDLEAD_CSV_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits, checked before memory is taken for a record. */
#define FL_CSV_MAX_FIELDS 65536
#define FL_CSV_MAX_RECORD (16u * 1024 * 1024) /* bytes of field text per record */

struct fl_csv;

enum fl_csv_encoding {
	FL_CSV_UTF8 = 0, /* the default; a leading byte-order mark is skipped */
	FL_CSV_WINDOWS_1252 = 1,
	FL_CSV_LATIN1 = 2, /* ISO-8859-1 */
};

/*
 * How numbers are written: "1.234,5" is decimal ',' with thousands '.',
 * "$1,234.50" decimal '.' with thousands ',' and currency "$". All zero is
 * the default: a plain decimal point, no grouping, no symbol.
 */
#define FL_NUMBER_THOUSANDS_MAX 4 /* bytes: a no-break space is 2 in UTF-8 */
#define FL_NUMBER_CURRENCY_MAX 8
struct fl_number_format {
	char decimal; /* '.' or ','; 0 means '.' */
	char thousands[FL_NUMBER_THOUSANDS_MAX +
	               1];                         /* "" none, ",", ".", " ", "'", no-break space */
	char currency[FL_NUMBER_CURRENCY_MAX + 1]; /* "" none, else stripped at either end */
};

/* How a partner's file is written. All zero is the default: separator
 * detected, UTF-8, plain numbers. */
struct fl_csv_dialect {
	char delimiter; /* ',', ';', '\t' or '|'; 0: detect from the header */
	enum fl_csv_encoding encoding;
	struct fl_number_format number; /* the file's numbers (a feature may differ) */
};

struct fl_csv_field {
	const char *s; /* NUL-terminated field text, quotes removed */
	size_t len;
};

struct fl_csv_record {
	const struct fl_csv_field *fields; /* valid until the next fl_csv_next() */
	size_t n_fields;
	uint64_t line; /* 1-based physical line where the record starts */
	/* With fl_csv_want_numbers(), for a record read by the numeric fast
	 * path, else NULL: num_ok[k] says field k is a plain decimal whose
	 * value fl_parse_double() gives as num[k] (valid as fields). */
	const double *num;
	const unsigned char *num_ok;
};

/*
 * Opens path for reading ("-" reads standard input). The name used in error
 * messages is the path as given. On failure *out is NULL and fl_errmsg() says
 * why ("leads.csv: No such file or directory").
 */
int fl_csv_open(const char *path, struct fl_csv **out);

/*
 * fl_csv_open() with a dialect (NULL: the default, as fl_csv_open()). The
 * separator, when detected, is decided by the first fl_csv_next(): the
 * candidate that splits the header into the most fields the first rows
 * agree with. When the caller gives one and the header does not split on
 * it but would on another, fl_csv_next() fails with FL_ERR_DATA
 * "leads.csv:1: the header has one field containing ';' — the file looks
 * semicolon-separated (use --delimiter ';')". Fails with FL_ERR_INVALID for
 * a separator or encoding outside the lists above, FL_ERR_INTERNAL when
 * iconv lacks the encoding.
 */
int fl_csv_open_dialect(const char *path, const struct fl_csv_dialect *dialect,
                        struct fl_csv **out);

/* The separator in use: the given or detected one once fl_csv_next() has
 * returned the header, else 0. */
char fl_csv_delimiter(const struct fl_csv *csv);

/*
 * Parses a separator as a person writes it (--delimiter, the schema's
 * "delimiter"): ",", ";", "|", "tab" or a tab character, or "auto" (0,
 * detect). Returns 0, or FL_ERR_INVALID with fl_errmsg() "what: \"x\" is
 * not a field separator (',', ';', tab, '|' or auto)".
 */
int fl_csv_delimiter_parse(const char *what, const char *text, char *out);

/*
 * Parses an encoding name (--encoding, the schema's "encoding"): "utf-8",
 * "windows-1252" (or "cp1252"), "latin1" (or "iso-8859-1"), in any case.
 * Returns 0, or FL_ERR_INVALID "what: \"x\" is not a supported encoding
 * (utf-8, windows-1252 or latin1)".
 */
int fl_csv_encoding_parse(const char *what, const char *text, enum fl_csv_encoding *out);

/* The parts of a dialect, for fl_csv_dialect_set() and _merge(). */
#define FL_DIALECT_DELIMITER 1u
#define FL_DIALECT_ENCODING 2u
#define FL_DIALECT_DECIMAL 4u
#define FL_DIALECT_THOUSANDS 8u
#define FL_DIALECT_CURRENCY 16u

/*
 * Sets the part of *d that key names ("delimiter", "encoding", "decimal",
 * "thousands" or "currency": a schema key, a config key, an option without
 * its dashes) from text, and its FL_DIALECT_* bit in *set (set may be
 * NULL). what names it in messages ("--delimiter"). Returns 0, or
 * FL_ERR_INVALID with the message of the parser above.
 */
int fl_csv_dialect_set(struct fl_csv_dialect *d, unsigned *set, const char *key, const char *what,
                       const char *text);

/* Copies into *dst the parts of *src whose bits are in set: a command's
 * options over what the schema says. */
void fl_csv_dialect_merge(struct fl_csv_dialect *dst, const struct fl_csv_dialect *src,
                          unsigned set);

/* The separator's name in messages and in the schema: ",", ";", "tab", "|";
 * "auto" for 0. */
const char *fl_csv_delimiter_name(char delimiter);
/* "utf-8", "windows-1252" or "latin1". */
const char *fl_csv_encoding_name(enum fl_csv_encoding encoding);

/*
 * Reads the next record. Returns 1 and fills *rec, 0 at end of file, or a
 * negative FL_ERR_* (FL_ERR_DATA for malformed CSV such as an unterminated
 * quote, for text that is not UTF-8 ("leads.csv:3:2: not UTF-8 text (byte
 * 0xE9); save the file as UTF-8 or name its encoding (--encoding
 * windows-1252 or latin1)") and for a header on the wrong separator,
 * FL_ERR_LIMIT for an oversized record, FL_ERR_IO) with fl_errmsg() naming
 * file and line.
 */
int fl_csv_next(struct fl_csv *csv, struct fl_csv_record *rec);

/*
 * Reads a part of a file, so that several readers share one pass (each on
 * its own thread): the header, the first record, is read as usual (its
 * separator decided from the start of the file, as every reader of the
 * file decides it), then the records in bytes [begin, end) of the file
 * (begin 0: the ones right after the header), as if the file ended at end.
 * line is the physical line at begin, for messages. begin and end must be
 * record boundaries from fl_csv_split(). Only a reader of a UTF-8 file
 * opened by path, before its first fl_csv_next(); otherwise FL_ERR_INVALID.
 * A reader with begin > 0 reports no progress, and its bytes read count
 * from begin.
 */
int fl_csv_set_range(struct fl_csv *csv, uint64_t begin, uint64_t end, uint64_t line);

/*
 * The smallest part fl_csv_split() makes: more than a first read and the
 * separator detection's look-ahead, so that a reader limited to a part
 * sees the header and the rows after it exactly as one reading the whole
 * file does.
 */
#define FL_CSV_SPLIT_MIN (1u << 20)

/*
 * Where to cut the regular file path into up to `parts` parts of at least
 * min_part bytes (FL_CSV_SPLIT_MIN at least) at record boundaries near
 * equal shares: *n_cut offsets into cut[] (each the byte after an LF that
 * is outside quotes, counting quotes from the start of the file) and the
 * physical line starting there into line[] (room for parts - 1 each). 0
 * cuts (one part) for a small file, standard input, something that is
 * not a regular file, or a file whose lines do not end in LF. Returns 0,
 * or FL_ERR_IO when the file cannot be read.
 */
int fl_csv_split(const char *path, unsigned parts, uint64_t min_part, uint64_t *cut, uint64_t *line,
                 unsigned *n_cut);

/*
 * Asks fl_csv_next() to parse the numbers of the records after the header
 * as it cuts their fields: a record made only of unquoted printable ASCII
 * fields without blanks, ending in LF or CRLF, is cut and its plain
 * decimals ("-12", "0.3072", "+5", at most 19 digits) parsed in one pass
 * over its bytes, into rec->num and rec->num_ok; any other record is read
 * as always, with rec->num NULL. The fields are the same either way. Only a
 * speed-up: callers must handle rec->num NULL.
 */
void fl_csv_want_numbers(struct fl_csv *csv);

/* Rewinds to the first record (the header). Fails on a pipe. */
int fl_csv_rewind(struct fl_csv *csv);

/* The path as given to fl_csv_open(). */
const char *fl_csv_path(const struct fl_csv *csv);

/* Bytes consumed from the file so far (for throughput figures). */
uint64_t fl_csv_bytes_read(const struct fl_csv *csv);

void fl_csv_free(struct fl_csv *csv);

/*
 * Progress of long reads. Once set, every reader opened afterwards calls fn
 * from fl_csv_next() every FL_CSV_PROGRESS_RECORDS records, with where it
 * is in the current pass over the file (a rewind starts pass 2). Process
 * wide because the readers are opened deep inside the commands (loading,
 * scoring, drafting); only the programs' commands a person runs set it,
 * never a library path or the node's daemon. fn NULL turns it off.
 */
#define FL_CSV_PROGRESS_RECORDS 65536
struct fl_csv_progress {
	const char *name; /* the reader's name, as in its messages */
	uint64_t bytes;   /* of the file read in this pass */
	uint64_t size;    /* bytes of the file from where reading started; 0: unknown (a pipe) */
	uint64_t records; /* records of this pass, the header included */
	unsigned pass;    /* 1, then 2 after the first rewind, ... */
};
typedef void (*fl_csv_progress_fn)(void *arg, const struct fl_csv_progress *p);
void fl_csv_set_progress(fl_csv_progress_fn fn, void *arg);

/*
 * Parses a decimal number such as "12", "-0.5", "1e-3", "  7 " (surrounding
 * blanks allowed) exactly as strtod() would round it, with a fast path for
 * plain decimals. Rejects empty text, trailing garbage, hexadecimal, NaN and
 * infinities, and values that overflow. Returns 0 or -1.
 */
int fl_parse_double(const char *s, size_t len, double *out);

/*
 * fl_parse_double() of a number written in format f (NULL: plain): the
 * currency symbol is stripped at the start or the end (a sign may stand
 * before or after it: "-$5", "$-5", "5 €"), thousands separators must group
 * the integer part in threes ("1.234.567", never "12.34"), and the decimal
 * separator is f->decimal only (with decimal ',', "12.5" is refused unless
 * '.' is the thousands separator). Returns 0 or -1.
 */
int fl_parse_number(const char *s, size_t len, const struct fl_number_format *f, double *out);

/*
 * Sets one field of *f from the text a person writes (the schema's
 * "decimal", "thousands" and "currency", --decimal and friends); what names
 * the setting in messages. Returns 0, or FL_ERR_INVALID with fl_errmsg()
 * "decimal: \";\" is not a decimal separator (\".\" or \",\")",
 * "thousands: \"x\" is not a thousands separator (\",\", \".\", \" \", \"'\", a
 * no-break space or \"\" for none)", "currency: \"1$\" is not a currency
 * symbol (1 to 8 bytes, no digits, signs, points or commas)". Checks that
 * the decimal and thousands separators differ.
 */
int fl_number_set_decimal(struct fl_number_format *f, const char *what, const char *text);
int fl_number_set_thousands(struct fl_number_format *f, const char *what, const char *text);
int fl_number_set_currency(struct fl_number_format *f, const char *what, const char *text);

/* "decimal \",\", thousands \".\", currency \"$\"" for messages: the parts
 * that differ from plain numbers, "" when none. */
void fl_number_describe(const struct fl_number_format *f, char *buf, size_t bufsz);

#endif
