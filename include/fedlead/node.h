/*
 * The partner's side of the federation protocol, without any networking:
 * given a decoded task from the coordinator, compute the reply from the
 * partner's rows. The network client (nodeclient) feeds it.
 */
#ifndef FEDLEAD_NODE_H
#define FEDLEAD_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/schema.h"
#include "fedlead/secagg.h"
#include "wire.pb-c.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

struct fl_fednode;

/* Takes ownership of raw (the partner's encoded, unstandardised rows). */
int fl_fednode_new(const struct fl_schema *s, struct fl_dataset *raw, struct fl_fednode **out);
void fl_fednode_free(struct fl_fednode *n);

/*
 * For secure aggregation: the key that signs this partner's key
 * advertisements (its certificate key) and the CA store that checks the
 * other partners' certificates. Both stay owned by the caller.
 */
void fl_fednode_set_credentials(struct fl_fednode *n, EVP_PKEY *key, X509_STORE *store);

/* Builds the Hello frame (malloc'ed) for federation_id (may be ""). */
int fl_fednode_hello(const struct fl_fednode *n, const char *federation_id, uint8_t **frame,
		     size_t *len);

/*
 * Applies the coordinator's Welcome: checks the protocol version and the
 * plan and splits off the validation rows. Safe to call again after a
 * reconnect (the split is deterministic).
 */
int fl_fednode_welcome(struct fl_fednode *n, const Fedlead__Wire__Welcome *w);

#define FL_FEDNODE_REPLY 1 /* *frame holds the reply to send */
#define FL_FEDNODE_NONE 0  /* nothing to send */
#define FL_FEDNODE_FINAL 2 /* a FinalModel: the caller verifies and saves it */

/*
 * Handles one task. Returns FL_FEDNODE_REPLY with a malloc'ed frame, NONE,
 * FINAL, or a negative FL_ERR_* for a message that must close the
 * connection (wrong federation, stale round, malformed task). A task the
 * node cannot do for a reason of its own (say, a dimension mismatch) is
 * answered with an error Status instead.
 */
int fl_fednode_handle(struct fl_fednode *n, const Fedlead__Wire__Envelope *env, uint8_t **frame,
		      size_t *len);

/* Builds a Status frame for the round of ref. */
int fl_fednode_status(const struct fl_fednode *n, const Fedlead__Wire__RoundRef *ref,
		      Fedlead__Wire__StatusCode code, const char *detail, uint8_t **frame,
		      size_t *len);

/* The newest round this node has seen. */
uint64_t fl_fednode_last_round(const struct fl_fednode *n);

/* Rows on this site: training and validation parts (after the Welcome). */
void fl_fednode_rows(const struct fl_fednode *n, size_t *train, size_t *valid);

/* The node's own rules for secure aggregation (see secagg.h); until set,
 * sums over at least 2 partners and one survivor set per federation. */
void fl_fednode_set_policy(struct fl_fednode *n, const struct fl_secagg_policy *pol);

#endif
