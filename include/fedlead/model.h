/*
 * The model file: schema, standardisation, weights and provenance.
 *
 * On disk: the magic "FLMODEL\n", a 4-byte big-endian payload length, the
 * protobuf ModelFile message (proto/model.proto), and a SHA-256 of everything
 * before it, so a single corrupt byte is detected. Loading rejects an unknown
 * major format version, a truncated or corrupt file and a schema whose
 * fingerprint does not match the one recorded.
 *
 * A signed file carries a trailer after the checksum: the magic
 * "FLSIGN1\n", a 4-byte big-endian length and a SignatureBlock
 * (proto/sign.proto, signed_model.h). The decoder checks its framing and
 * otherwise ignores it.
 *
 * The struct and its setters are src/core/model.c, the protobuf codec
 * model_codec.c, the framing and file I/O model_file.c, the JSON view
 * model_json.c.
 */
#ifndef FEDLEAD_MODEL_H
#define FEDLEAD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/schema.h"
#include "fedlead/sealed.h"

#define FL_MODEL_FORMAT_MAJOR 1
#define FL_MODEL_FORMAT_MINOR 2 /* 1.1: provenance.history; 1.2: provenance.privacy */
/* 1.3: knots placed from data (spline.h); written only by models that have
 * them, so that every other model keeps its bytes. */
#define FL_MODEL_FORMAT_MINOR_KNOTS 3
#define FL_MODEL_MAX_BYTES (256u * 1024 * 1024)
#define FL_MODEL_SIG_MAGIC "FLSIGN1\n"
#define FL_MODEL_SIG_MAX (1u << 20)
/* Names in prov.participants; fl_model_add_participant() refuses more. */
#define FL_MODEL_MAX_PARTICIPANTS 10000

struct fl_metric_set {
	uint64_t rows, positives;
	double auc, log_loss;
};

/* One completed federation round, as logged in the model's provenance. */
struct fl_round_log {
	uint64_t round;
	char kind[16]; /* "stats", "eval", "validate", "fedavg", "final" */
	double l2, train_loss, grad_norm, valid_log_loss, valid_auc; /* NaN: not measured */
	uint32_t partners;
};

#define FL_MODEL_MAX_HISTORY 1000000

/* One partner's differential privacy, as its node announced it. */
struct fl_dp_partner {
	char *partner;
	double epsilon, delta; /* this federation's budget */
	uint64_t releases;     /* the budget is split over this many */
	double clip;           /* l2 bound of a standardised row */
	uint32_t max_colluders;
	double rho; /* zCDP budget of this federation */
};

/* The differential privacy a federated model was trained under. */
struct fl_dp_record {
	char *mechanism;   /* "distributed discrete Gaussian" */
	char *accountant;  /* "zCDP" */
	uint64_t releases; /* evaluation releases asked of each partner */
	uint32_t threshold;
	/* Plan v7 on: each lead's gradient term clipped to this fraction of its
	 * partner's clip in the evaluations without the Hessian (0.8); 0: not
	 * recorded. */
	double gradient_clip;
	struct fl_dp_partner *partners;
	size_t n_partners;
};

struct fl_provenance {
	char *solver; /* "newton", "lbfgs", "sgd", "fedavg" */
	double l2;
	double pos_weight; /* class weight of converted rows (1 = none) */
	uint64_t rows, positives;
	int iterations;
	double final_loss; /* objective at the solution */
	double grad_norm;
	struct fl_metric_set train, valid; /* valid.rows == 0: no validation */
	char *created;                     /* RFC 3339, UTC */
	char *tool_version;
	/* Federation (0 / NULL for a local model). */
	char *federation_id;
	uint32_t rounds;
	char **participants;
	size_t n_participants;
	struct fl_round_log *history; /* per round, in order */
	size_t n_history;
	/* NULL: trained without differential privacy (or, in a file of
	 * format 1.0 or 1.1, not recorded). */
	struct fl_dp_record *privacy;
};

struct fl_model {
	struct fl_schema *schema; /* owned */
	size_t dim;               /* == schema->dim */
	double *w;                /* dim weights, w[0] the intercept */
	struct fl_scaler *scaler; /* owned, dim columns */
	struct fl_provenance prov;
	/* The file's format minor version (FL_MODEL_FORMAT_MINOR for a model
	 * made here): a file before 1.2 cannot say whether differential
	 * privacy was used. */
	uint32_t format_minor;
};

/*
 * A model with zero weights and an identity scaler for a schema (the schema
 * is copied). Strings in prov are set by the caller with fl_model_set_str().
 */
int fl_model_new(const struct fl_schema *s, struct fl_model **out);
/* Replaces *field (a char * inside m->prov) with a copy of value. */
int fl_model_set_str(char **field, const char *value);
int fl_model_add_participant(struct fl_model *m, const char *name);
/* Replaces the round history with a copy of n entries. */
int fl_model_set_history(struct fl_model *m, const struct fl_round_log *h, size_t n);

/* Replaces prov.privacy with a deep copy of r (NULL: none). */
int fl_model_set_privacy(struct fl_model *m, const struct fl_dp_record *r);

/*
 * The model's differential privacy in plain words, one line without a
 * newline: "trained with differential privacy: ε = 1, δ = 10⁻⁶ per partner
 * (distributed discrete Gaussian under secure aggregation, zCDP
 * accountant, 4 of 30 releases, clip 3, each lead's gradient clipped to
 * 2.4 in the evaluations without the Hessian)", "trained without differential
 * privacy", or for a file before format 1.2 "differential privacy not
 * recorded (model format 1.1)". UTF-8; truncated to fit n bytes.
 */
void fl_model_privacy_text(const struct fl_model *m, char *buf, size_t n);

/* Serialises to the file format (header, protobuf, checksum). */
int fl_model_encode(const struct fl_model *m, uint8_t **buf, size_t *len);
/* Parses the file format; origin names the source in errors. */
int fl_model_decode(const uint8_t *buf, size_t len, const char *origin, struct fl_model **out);

/* Writes atomically (file.h): temp file in the same directory, fsync,
 * rename, directory fsync; "PATH: cannot save the model (STEP): REASON". */
int fl_model_save(const struct fl_model *m, const char *path);
int fl_model_load(const char *path, struct fl_model **out);

/* The two sealed blobs (sealed.h) of a model file: the model, and the
 * signature trailer that may follow it. */
extern const struct fl_seal_format fl_model_file_seal;
extern const struct fl_seal_format fl_model_sig_seal;

/* Splits off the trailer: *model_len is the length of the unsigned part,
 * *sig and *sig_len the signature block (NULL/0 when unsigned). FL_ERR_MODEL for
 * a damaged trailer. */
int fl_model_file_split(const uint8_t *file, size_t len, size_t *model_len, const uint8_t **sig,
                        size_t *sig_len);

/*
 * Reads a whole regular file into *buf (malloc'ed, *len bytes). Refuses
 * (FL_ERR_MODEL) a file larger than the largest well-formed signed model:
 * FL_MODEL_MAX_BYTES + FL_MODEL_SIG_MAX + 56 bytes of framing. Does not
 * check the content.
 */
int fl_model_read_file(const char *path, uint8_t **buf, size_t *len);

/* Writes bytes atomically (temporary file, fsync, rename, directory
 * fsync), mode 0644; fl_model_save() is this after fl_model_encode(). */
int fl_model_write_file(const char *path, const uint8_t *buf, size_t len);

/* The whole model as pretty JSON (malloc'ed). */
int fl_model_to_json(const struct fl_model *m, char **out);

/* Logit of a standardised encoded row. */
double fl_model_logit(const struct fl_model *m, const double *x);

void fl_model_free(struct fl_model *m);

#endif
