/*
 * What the model's files share inside the core layer: src/core/model.c (the
 * struct), model_codec.c (protobuf), model_file.c (framing and file I/O)
 * and model_json.c (the JSON view).
 */
#ifndef FEDLEAD_CORE_MODEL_INT_H
#define FEDLEAD_CORE_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/model.h"

/* Longest kind of a round in the history (the array holds a NUL). */
#define KIND_MAX (sizeof(((struct fl_round_log *)0)->kind) - 1)
/* Generous for a column name; fl_schema_column_name() truncates beyond it. */
#define COLUMN_NAME_MAX 1024

/* A model with zero weights and an identity scaler around s, which the
 * model owns from then on; on failure the caller still owns s. */
int fl_model_alloc(struct fl_schema *s, struct fl_model **out);

/* Whether a history entry's kind is a C string inside its array. */
int fl_model_kind_ok(const struct fl_round_log *h);

/*
 * Checks the framing of a model file (magic, length, checksum, and the
 * framing of a signature trailer) in buf; on success *payload points at the
 * ModelFile message inside buf, *payload_len bytes. Errors: FL_ERR_MODEL
 * with the texts of fl_model_decode().
 */
int fl_model_frame_open(const uint8_t *buf, size_t len, const char *origin, const uint8_t **payload,
                        size_t *payload_len);

#endif
