/*
 * The wire format between fedlead-node and fedlead-coordinator: framing and
 * a strict, pure decoder for the messages of proto/wire.proto.
 *
 * A frame is a 4-byte big-endian body length followed by one protobuf
 * Envelope. The receiver checks the length against its limit before it
 * allocates (fl_wire_frame_len), then decodes the body (fl_wire_decode).
 * Nothing here touches a socket: fl_wire_read_frame() and
 * fl_wire_write_all() take the transport as a callback.
 *
 * The decoder is strict (it accepts what fl_wire_encode() produces and
 * little else), so every message it returns can be used without further
 * structural checks:
 *   - one body is set; every field is known, occurs at most once and has
 *     the wire type of its declaration (repeated doubles are packed);
 *     integers fit their declared width and bools are 0 or 1;
 *   - strings are at most FL_WIRE_MAX_STRING bytes of UTF-8 without NUL or
 *     other control characters, so they can be logged as they are;
 *   - round messages (stats_task, standardize, eval_task, local_train,
 *     final_model, update, status) carry a RoundRef with a 32-byte schema
 *     fingerprint; a protocol-version-1 hello carries a 32-byte fingerprint;
 *     a welcome carries a plan;
 *   - vectors have at most FL_WIRE_MAX_VECTOR entries, all finite; the
 *     four standardize vectors have one length; scalar doubles are finite;
 *   - enum values (update kind, status code) are ones this version knows,
 *     and an update's kind is set.
 * What a value means (a round number, the length of w against the schema)
 * is for the protocol state machine to judge; fl_wire_check_ref() helps.
 *
 * Unknown and repeated fields are refused rather than skipped: the
 * Hello/protocol_version handshake is how the protocol evolves, and
 * refusing them bounds what protobuf-c allocates for a frame to a small
 * multiple of its length.
 */
#ifndef FEDLEAD_WIRE_H
#define FEDLEAD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.pb-c.h"

/* 3: share commitments signed by their dealer, and the Accusation (a
 * partner naming a dealer whose share does not match its commitment).
 * 4: signed unmask replies, and the evidence of a bad reveal in the next
 * task (SecAggParams.evidence), which each node checks itself.
 * 5: the schema round (Hello.schema_round, SchemaDraft, SchemaProposal).
 * 6: under differential privacy the statistics round's numeric sums are
 * about the clip ranges' midpoints (fl_payload_stats_dp_pack()). The
 * vector has the same length, so a partner or coordinator of version 5
 * would read it without error and standardise with wrong means; the Hello
 * refuses the mix instead, before any round is run or charged.
 * 7: the standardisation carries the knots placed from the federation's
 * data (Standardize.knots): a coordinator resumed from a checkpoint that
 * holds them does not place them again, and a partner that comes back
 * with its rows as loaded encodes them first. A version 6 node given a
 * standardisation without them would train on the unencoded values. */
#define FL_WIRE_PROTOCOL_VERSION 7
/* Frame body limits in bytes: after and before the Hello is accepted. */
#define FL_WIRE_DEFAULT_MAX_FRAME (16u << 20)
#define FL_WIRE_PREAUTH_MAX_FRAME (64u << 10)
/* Entries of one repeated double field. */
#define FL_WIRE_MAX_VECTOR (1u << 24)
/* Bytes of one string field (not counting a terminating NUL). */
#define FL_WIRE_MAX_STRING 1024
/* Bytes of a schema fingerprint (SHA-256). */
#define FL_WIRE_FINGERPRINT_LEN 32
/* Bytes of the frame header. */
#define FL_WIRE_HEADER_LEN 4
/* Secure aggregation (see proto/wire.proto). */
#define FL_WIRE_MAX_PARTIES 255   /* Shamir over GF(256) */
#define FL_WIRE_MAX_REPEATED 1024 /* elements of a repeated message, string or bytes field */
#define FL_WIRE_KEY_LEN 32        /* X25519 keys and secret shares */
#define FL_WIRE_SESSION_LEN 16
#define FL_WIRE_MAX_SIGNATURE 1024
#define FL_WIRE_MAX_CERT 16384
#define FL_WIRE_SHARE_CT_LEN (2 * FL_WIRE_KEY_LEN + 12 + 16) /* two shares, nonce, tag */

/*
 * Reads the body length from a frame header. Returns 0 and sets *len, or
 * FL_ERR_LIMIT when the length is 0 or above max_frame (bytes). peer names
 * the other side in the message.
 */
int fl_wire_frame_len(const uint8_t hdr[4], size_t max_frame, const char *peer, uint32_t *len);

/*
 * Decodes and validates one frame body (without its header) of len bytes.
 * On success *out is a new envelope for fl_wire_free(); on failure *out is
 * NULL and the result is FL_ERR_PROTO (FL_ERR_NOMEM when memory ran out).
 * Safe on any bytes: memory taken is bounded by a small multiple of len,
 * so call it only after the length was checked against the frame limit.
 */
int fl_wire_decode(const uint8_t *body, size_t len, const char *peer,
                   Fedlead__Wire__Envelope **out);

/*
 * Validates env by the rules above and encodes it as one frame (header and
 * body) in a malloc'ed buffer of *len bytes for the caller to free().
 * Refuses with FL_ERR_INVALID a message the peer would refuse, so that a
 * bug shows up at the sender.
 */
int fl_wire_encode(const Fedlead__Wire__Envelope *env, uint8_t **frame, size_t *len);

/* Frees an envelope from fl_wire_decode(); NULL is fine. */
void fl_wire_free(Fedlead__Wire__Envelope *env);

/*
 * The body's name: "hello", "welcome", "reject", "stats_task",
 * "standardize", "eval_task", "local_train", "final_model", "update",
 * "status", or "invalid" (no body, or env NULL). Static.
 */
const char *fl_wire_type_name(const Fedlead__Wire__Envelope *env);

/* The RoundRef of a round message, or NULL (hello, welcome, reject, none). */
const Fedlead__Wire__RoundRef *fl_wire_ref(const Fedlead__Wire__Envelope *env);

/*
 * Checks that a message of type (e.g. fl_wire_type_name()) from peer is for
 * this federation, this schema (fingerprint of FL_WIRE_FINGERPRINT_LEN
 * bytes) and the round in progress. Returns 0 or FL_ERR_PROTO; a message
 * for an earlier round is called "stale", one for a later round "future".
 */
int fl_wire_check_ref(const Fedlead__Wire__RoundRef *ref, const char *federation_id, uint64_t round,
                      const uint8_t fingerprint[32], const char *peer, const char *type);

/*
 * Copies src into dst (n bytes, n > 0) as a string fl_wire_encode() accepts:
 * invalid UTF-8 and control characters become '?', and it is cut at a
 * character boundary to fit n - 1 and FL_WIRE_MAX_STRING bytes. For error
 * details and reasons that may quote file contents.
 */
void fl_wire_clean_string(char *dst, size_t n, const char *src);

/*
 * The blocking helpers below take the transport as a callback that returns
 * the number of bytes moved (> 0, at most n), 0 at end of file, or a
 * negative FL_ERR_* code after recording a message with fl_fail(); that
 * code is passed on as it is. n is at most INT_MAX.
 */
/*
 * Reads one frame: its header, the length check against max_frame (before
 * anything is allocated), then the body into a malloc'ed *body of *len
 * bytes for the caller to free(). End of file before the first byte is
 * FL_ERR_IO "peer P: connection closed"; within a frame FL_ERR_PROTO.
 */
int fl_wire_read_frame(int (*read_fn)(void *ctx, void *buf, size_t n), void *ctx, size_t max_frame,
                       const char *peer, uint8_t **body, size_t *len);

/* Writes all len bytes of buf, looping over short writes. */
int fl_wire_write_all(int (*write_fn)(void *, const void *, size_t), void *ctx, const uint8_t *buf,
                      size_t len);

/*
 * SHA-256 of tag (with its NUL), prefix, and m packed (NULL: nothing), into
 * out. protobuf-c packs a given message the same way every time, so two
 * partners that received the same message compute the same hash, and any
 * difference in any field gives a different one. This is how a node binds
 * its key advertisement to the task it received (see secagg.h): the task
 * hash is fl_wire_message_hash("fedlead-task-v1", plan hash || standardize
 * hash, task envelope).
 */
int fl_wire_message_hash(const char *tag, const uint8_t *prefix, size_t prefix_len,
                         const ProtobufCMessage *m, uint8_t out[32]);

#endif
