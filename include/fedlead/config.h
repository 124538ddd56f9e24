/*
 * Table-driven configuration: one table of keys describes an INI file and the
 * command-line flags of a daemon at once, so every setting can be written in
 * the file ([section] name = value) or given as --name VALUE.
 *
 * The table is an array of struct fl_cfg_key ending with an all-zero entry
 * ({NULL}); each key names a field of the caller's struct by offsetof(). The
 * field's C type is fixed by the key's type (see enum fl_cfg_type). Names are
 * unique across sections, so a flag needs no section. In names, '-' and '_'
 * are the same character: a key "late_policy" is also "late-policy" in the
 * file and on the command line (--late-policy), so a table can follow the
 * INI habit and the flags the getopt habit.
 *
 * Values are parsed the same way from every source (default text, file,
 * flag): surrounding blanks are trimmed and control characters are refused.
 * Precedence is the caller's business: typically fl_config_defaults(), then
 * fl_config_load(), then fl_config_set() for each flag.
 *
 * The file format is libinih's as Debian builds it (tests/test_config.c
 * checks these points against the installed library): "[section]" headers, "name = value" or "name:
 * value" lines, and comments on their own line starting with ';' or '#'. After a value, only
 * ';' preceded by a blank starts a comment ("l2 = 0.5 ; strong"); '#' there
 * is part of the value ("l2 = 0.5 # x" is the value "0.5 # x", an error).
 * Indented lines are ordinary lines (libinih's multi-line continuation is
 * turned off). A line may hold at most FL_CFG_MAX_LINE characters; a longer
 * line is an error, never silently cut. Unknown sections and keys, keys given
 * twice, and malformed lines are errors that name the file and line.
 */
#ifndef FEDLEAD_CONFIG_H
#define FEDLEAD_CONFIG_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest line of a configuration file, in bytes without the line end
 * (libinih's fixed line buffer, INI_MAX_LINE 200, less "\r\n"). */
#define FL_CFG_MAX_LINE 198

/* Room for the host part of an FL_CFG_ADDR, including the NUL. */
#define FL_CFG_HOST_MAX 256

/* A field of type FL_CFG_LIST: n items, each a NUL-terminated string, with
 * v[n] == NULL; v is NULL when n is 0. Owned by the configured struct. */
struct fl_strlist {
	char **v;
	size_t n;
};

/* Value types and the C type of the field each one fills. */
enum fl_cfg_type {
	FL_CFG_STRING,  /* char *: any text; an empty value stores NULL */
	FL_CFG_PATH,    /* char *: a file name, otherwise as FL_CFG_STRING */
	FL_CFG_DOUBLE,  /* double: finite number (strtod) */
	FL_CFG_U64,     /* uint64_t: decimal digits only */
	FL_CFG_BOOL,    /* int 0/1: true/false, yes/no, on/off, 1/0 (any case) */
	FL_CFG_ENUM,    /* int: index into choices (exact, case-sensitive match) */
	FL_CFG_L2,      /* double: a number >= 0, or "auto" stored as -1.0 */
	FL_CFG_SECONDS, /* double seconds: "30", "30s", "5m", "2h", "250ms" (>= 0) */
	FL_CFG_SIZE,    /* uint64_t bytes: "65536", "64K", "16M", "1G", "1T" (x1024) */
	FL_CFG_ADDR,    /* char *: HOST:PORT, HOST an IPv4 literal, [IPv6] or a host
	                   name, PORT 0-65535 (0 = ephemeral); empty stores NULL */
	FL_CFG_LIST,    /* struct fl_strlist: comma-separated, items trimmed and
	                   non-empty; an empty value is the empty list */
};

/* Table entries for a config struct T: a key, a key with bounds, an enum. */
#define FL_CFG_KEY(T, sec, name, type, field, dflt, help)                                          \
	{                                                                                          \
		sec, name, type, offsetof(T, field), NULL, 0, 0, dflt, help                        \
	}
#define FL_CFG_KEY_RANGE(T, sec, name, type, field, lo, hi, dflt, help)                            \
	{                                                                                          \
		sec, name, type, offsetof(T, field), NULL, lo, hi, dflt, help                      \
	}
#define FL_CFG_KEY_ENUM(T, sec, name, field, choices, dflt, help)                                  \
	{                                                                                          \
		sec, name, FL_CFG_ENUM, offsetof(T, field), choices, 0, 0, dflt, help              \
	}

struct fl_cfg_key {
	const char *section;        /* INI section without brackets */
	const char *name;           /* key and flag name, unique in the table */
	enum fl_cfg_type type;      /* also fixes the C type of the field */
	size_t offset;              /* offsetof() the field in the caller's struct */
	const char *const *choices; /* FL_CFG_ENUM: NULL-terminated names */
	/* Bounds for DOUBLE, U64, L2 (when not "auto"), SECONDS (in seconds) and
	 * SIZE (in bytes), inclusive. Both 0 means unbounded; otherwise both
	 * apply, so use INFINITY or -INFINITY for an open side. */
	double min, max;
	const char *dflt; /* default as text, parsed like a value; NULL = zero/NULL */
	const char *help; /* one line for --help */
};

/*
 * Sets every field of the table to its default: keys without dflt get 0,
 * NULL or the empty list. obj must start zeroed (or hold values set by these
 * functions; they are freed). Also checks the table itself. Returns 0, or
 * FL_ERR_INTERNAL when the table or a default is wrong (a bug; fl_errmsg()
 * names the key), FL_ERR_NOMEM.
 */
int fl_config_defaults(const struct fl_cfg_key *keys, void *obj);

/*
 * Reads the INI file at path and sets every key it contains. Returns 0,
 * FL_ERR_CONFIG with fl_errmsg() naming the file and the first bad line
 * ("leads.ini:12: l2: \"abc\" is not a number or \"auto\"", "leads.ini: cannot
 * open: No such file or directory"), FL_ERR_INTERNAL for a bad table or
 * FL_ERR_NOMEM. On failure obj may hold some of the file's values; it stays
 * valid for fl_config_free().
 */
int fl_config_load(const struct fl_cfg_key *keys, void *obj, const char *path);

/*
 * Sets the key called name from the text value (a flag's argument). origin
 * starts error messages ("--l2: \"abc\" is not a number or \"auto\""); NULL
 * means the key name. Returns 0, FL_ERR_CONFIG (bad value or unknown name),
 * FL_ERR_NOMEM. On failure the field keeps its previous value.
 */
int fl_config_set(const struct fl_cfg_key *keys, void *obj, const char *name, const char *value,
                  const char *origin);

/* Number of keys in the table (entries before the {NULL} terminator). */
size_t fl_config_count(const struct fl_cfg_key *keys);

/*
 * Builds a getopt_long() option array: for key i an option named like the key
 * with required_argument, flag NULL and val first_val + i (and, for a name
 * with '_', a second option spelt with '-' and the same val), then the
 * options of extra (terminated by an entry with name NULL; extra may be NULL),
 * then the all-zero terminator. So after getopt_long() returns c with
 * first_val <= c < first_val + fl_config_count(keys), the value belongs to
 * keys[c - first_val]. Pick first_val above 255 so it cannot be a short
 * option. *out is malloc'ed as one block (free() it); names point into the
 * table and extra, which must outlive it, or into the block (the '-'
 * forms). Returns 0, FL_ERR_INTERNAL when an extra option's name or val
 * collides with a key's or first_val leaves no room, FL_ERR_NOMEM.
 */
int fl_config_getopt(const struct fl_cfg_key *keys, const struct option *extra, int first_val,
                     struct option **out);

/*
 * Prints one line per key for --help, grouped under its "[section]" in table
 * order: "  --name VALUE   help (default: x)", VALUE saying what is expected
 * (NUMBER, N, DURATION, SIZE, HOST:PORT, a|b|c, ...).
 */
void fl_config_usage(const struct fl_cfg_key *keys, FILE *fp);

/*
 * Prints the configuration held in obj as an INI file that fl_config_load()
 * reads back to the same values (durations and sizes in the largest exact
 * unit, doubles in the shortest form that round-trips). Two kinds of value
 * cannot be written this way: a string that contains " ;" or starts with
 * ";" (libinih would cut it at the comment; a blank precedes every value
 * written), and one whose line would be longer than FL_CFG_MAX_LINE (a long
 * string or list, say from a flag; list items are written with ", " between
 * them, so even a list read from a file can outgrow its line). Returns 0,
 * FL_ERR_IO when writing fails, FL_ERR_INTERNAL for an enum index outside
 * its choices.
 */
int fl_config_dump(const struct fl_cfg_key *keys, const void *obj, FILE *fp);

/* Frees the strings and lists of obj and sets them to NULL/empty; obj itself
 * belongs to the caller. */
void fl_config_free(const struct fl_cfg_key *keys, void *obj);

/*
 * Splits an FL_CFG_ADDR value into its host (brackets of an IPv6 literal
 * removed, so it can go to getaddrinfo()) and port. hostsz should be
 * FL_CFG_HOST_MAX. Returns 0, or FL_ERR_CONFIG with fl_errmsg() saying what is
 * wrong ("\"localhost\" has no port (expected HOST:PORT or [IPv6]:PORT)").
 */
int fl_config_addr_split(const char *addr, char *host, size_t hostsz, uint16_t *port);

#endif
