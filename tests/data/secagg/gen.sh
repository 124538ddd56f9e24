#!/usr/bin/env bash
# Regenerates the golden vectors of tests/test_secagg.c with the openssl
# command alone, so that the expected values do not come from src/crypto/masks.c.
# Run from anywhere: bash tests/data/secagg/gen.sh (needs openssl 3, od).
set -euo pipefail
cd "$(dirname "$0")"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --- prg.txt: fl_sa_mask(seed, +1) on a zero vector of N elements ----------
# The mask is the ChaCha20 keystream (key = seed, 16-byte IV of zeros: block
# counter 0, nonce 0) read as little-endian uint64s. openssl enc -chacha20
# encrypts zeros, which gives the keystream itself. N spans several of the
# 64 KiB chunks the implementation streams in, so chunk boundaries
# (elements 8191/8192, 16383/16384) are checked too.
SEED=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
N=20000
head -c $((N * 8)) /dev/zero |
	openssl enc -chacha20 -K $SEED -iv 00000000000000000000000000000000 >"$TMP/ks"
od -An -v -t x8 --endian=little -w8 "$TMP/ks" | tr -d ' ' >"$TMP/words"
{
	echo "# ChaCha20 keystream, key $SEED, IV 0, as little-endian uint64"
	echo "# made by gen.sh with: head -c $((N * 8)) /dev/zero | openssl enc -chacha20 -K \$SEED -iv 0...0 | od -t x8 --endian=little"
	echo "seed $SEED"
	echo "n $N"
	for i in 0 1 2 3 4 5 6 7 8 1023 8191 8192 8193 16383 16384 16385 19998 19999; do
		echo "$i $(sed -n "$((i + 1))p" "$TMP/words")"
	done
} >prg.txt

# --- agree.txt: fl_sa_agree() on the RFC 7748 section 6.1 keys -------------
# X25519 by openssl pkeyutl -derive, then HKDF-SHA256 by openssl kdf with
# salt "fedlead-secagg-v1" and info
#   be32(len label) label be32(len fed) fed be64(round)
#   be32(len id_lo) id_lo be32(len id_hi) id_hi
# where id_lo < id_hi bytewise.
ALICE_SEC=77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a
BOB_PUB=de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f
LABEL=mask FED=fed-2024 ROUND=7 ID_LO=acme ID_HI=beta
# PKCS#8 and SubjectPublicKeyInfo DER prefixes of raw X25519 keys (RFC 8410).
printf '302e020100300506032b656e04220420%s' $ALICE_SEC | xxd -r -p >"$TMP/a.der"
printf '302a300506032b656e032100%s' $BOB_PUB | xxd -r -p >"$TMP/b.der"
openssl pkey -inform DER -in "$TMP/a.der" -out "$TMP/a.pem"
openssl pkey -pubin -inform DER -in "$TMP/b.der" -out "$TMP/b.pem"
SHARED=$(openssl pkeyutl -derive -inkey "$TMP/a.pem" -peerkey "$TMP/b.pem" | od -An -v -t x1 | tr -d ' \n')
hexstr() { printf '%s' "$1" | od -An -v -t x1 | tr -d ' \n'; }
lp() { printf '%08x%s' "${#1}" "$(hexstr "$1")"; }
INFO=$(lp $LABEL)$(lp $FED)$(printf '%016x' $ROUND)$(lp $ID_LO)$(lp $ID_HI)
KEY=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:$SHARED \
	-kdfopt salt:fedlead-secagg-v1 -kdfopt hexinfo:$INFO HKDF | tr -d ':' | tr 'A-F' 'a-f')
{
	echo "# made by gen.sh: openssl pkeyutl -derive, then openssl kdf HKDF"
	echo "alice_sec $ALICE_SEC"
	echo "bob_pub $BOB_PUB"
	echo "label $LABEL"
	echo "federation $FED"
	echo "round $ROUND"
	echo "id_lo $ID_LO"
	echo "id_hi $ID_HI"
	echo "shared $SHARED"
	echo "info $INFO"
	echo "key $KEY"
} >agree.txt
