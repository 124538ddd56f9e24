#!/usr/bin/env bash
# End-to-end test of deploy/fedlead-ca, the federation's certificate tool:
# init, issue, csr + sign (the partner's key never reaches the CA), renew,
# list, revoke and the CRL, key file permissions, what a signed certificate
# contains (checked with the openssl command, independently of the tool),
# and the errors a person sees.
#
# Run by ctest with FL_SRC (source root). By hand:
#   FL_SRC=. bash tests/e2e/ca.sh
#
# Single-quoted bash -c snippets expand in the child shell, on purpose.
# shellcheck disable=SC2016
set -euo pipefail

: "${FL_SRC:?FL_SRC must name the source root}"
CA_TOOL="$(cd "$FL_SRC" && pwd)/deploy/fedlead-ca"
[ -f "$CA_TOOL" ] || {
	echo "not ok - $CA_TOOL is missing"
	exit 1
}

T="$(mktemp -d "${TMPDIR:-/tmp}/fl_e2e_ca.XXXXXX")"
trap 'rm -rf "$T"' EXIT
trap 'echo "not ok - the script stopped at line $LINENO"' ERR
cd "$T"

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
	shift
	for line in "$@"; do echo "    # $line"; done
}

# ca ARGS...: runs the tool, stdout in out, stderr in err, status in $rc.
ca() {
	rc=0
	bash "$CA_TOOL" "$@" >out 2>err || rc=$?
}

# expect NAME RC [STDERR]: the last run's status and, when given, its stderr.
expect() {
	local name=$1 want_rc=$2
	if [ "$rc" != "$want_rc" ]; then
		not_ok "$name" "exit status $rc, want $want_rc" "stderr: $(head -c 600 err)"
		return
	fi
	if [ $# -ge 3 ] && [ "$(cat err)" != "$3" ]; then
		not_ok "$name" "stderr: $(head -c 600 err)" "want:   $3"
		return
	fi
	ok "$name"
}

check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

mode_of() { stat -c %a "$1"; }
# The public key of a key or certificate file, as DER hex.
pub_of_key() { openssl pkey -in "$1" -pubout -outform DER | od -An -tx1 | tr -d ' \n'; }
pub_of_cert() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | od -An -tx1 | tr -d ' \n'; }
ext_of() { openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | tail -n +2 | sed 's/^ *//'; }
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
verify() { openssl verify -CAfile ca/ca.crt "$@" 2>&1; }

# ---- init ----
ca init --dir ca --name "Acme Federation CA"
expect "init creates a CA" 0 ""
check "init says what it made" grep -q '^ca: CA "Acme Federation CA" created' out
check "the CA key is 0600" [ "$(mode_of ca/ca.key)" = 600 ]
check "the CA certificate names the CA" \
	[ "$(openssl x509 -in ca/ca.crt -noout -subject)" = "subject=CN = Acme Federation CA" ]
check "the CA certificate is a CA" \
	[ "$(ext_of ca/ca.crt basicConstraints)" = "CA:TRUE, pathlen:0" ]
check "the CA key is ECDSA P-256" bash -c 'openssl pkey -in ca/ca.key -noout -text | grep -q "NIST CURVE: P-256"'
check "init writes an empty CRL signed by the CA" bash -c \
	'openssl crl -in ca/crl.pem -CAfile ca/ca.crt -noout 2>&1 | grep -qx "verify OK" &&
	 openssl crl -in ca/crl.pem -noout -text | grep -q "No Revoked Certificates"'
ca init --dir ca
expect "init refuses to overwrite a CA" 1 \
	"fedlead-ca: ca/ca.key: already exists; refusing to overwrite a CA"

# ---- issue: coordinator and partner ----
ca issue --dir ca --name coord.example --role coordinator --dns localhost --ip 127.0.0.1 --out coord
expect "issue makes a coordinator certificate" 0 ""
check "the coordinator key is 0600" [ "$(mode_of coord.key)" = 600 ]
check "the coordinator certificate chains to the CA as a TLS server" \
	[ "$(verify -purpose sslserver coord.crt)" = "coord.crt: OK" ]
check "the coordinator certificate has serverAuth only" \
	[ "$(ext_of coord.crt extendedKeyUsage)" = "TLS Web Server Authentication" ]
check "the coordinator certificate names its host and address" \
	[ "$(ext_of coord.crt subjectAltName)" = "DNS:localhost, IP Address:127.0.0.1" ]
check "the coordinator certificate is not a CA" \
	[ "$(ext_of coord.crt basicConstraints)" = "CA:FALSE" ]
check "the certificate holds the key made with it" [ "$(pub_of_key coord.key)" = "$(pub_of_cert coord.crt)" ]

ca issue --dir ca --name acme --role partner --out acme
expect "issue makes a partner certificate" 0 ""
check "the partner key is 0600" [ "$(mode_of acme.key)" = 600 ]
check "the partner's subject is its name alone" \
	[ "$(openssl x509 -in acme.crt -noout -subject)" = "subject=CN = acme" ]
check "the partner certificate has clientAuth only" \
	[ "$(ext_of acme.crt extendedKeyUsage)" = "TLS Web Client Authentication" ]
check "the partner certificate has its name as DNS name" [ "$(ext_of acme.crt subjectAltName)" = "DNS:acme" ]
check "the partner certificate chains to the CA as a TLS client" \
	[ "$(verify -purpose sslclient acme.crt)" = "acme.crt: OK" ]
check "a partner certificate cannot serve as the coordinator" \
	bash -c 'openssl verify -CAfile ca/ca.crt -purpose sslserver acme.crt 2>&1 | grep -q "unsuitable certificate purpose"'

ca issue --dir ca --name acme --role partner --out acme-again
expect "a second certificate for a name is refused" 1 \
	"fedlead-ca: acme already has a valid certificate (serial $(serial_of acme.crt)); use 'fedlead-ca renew', or revoke it first"
check "the refusal leaves no key behind" [ ! -e acme-again.key ]

# ---- csr at the partner, sign at the CA ----
sum_certs() { (cd ca/certs && sha256sum ./*.pem); }
before="$(sum_certs)"
mkdir partner
ca csr --name globex --out partner/globex
expect "csr makes a key and a request" 0 ""
check "csr says where the request goes" grep -q '^partner/globex.csr: request for "globex"; send it to the CA' out
check "the partner's key is 0600" [ "$(mode_of partner/globex.key)" = 600 ]
cp partner/globex.csr request.csr
ca sign --dir ca --csr request.csr --role partner --out globex.crt
expect "sign signs a partner's request" 0 ""
check "the signed certificate holds the partner's key" \
	[ "$(pub_of_key partner/globex.key)" = "$(pub_of_cert globex.crt)" ]
check "the signed certificate chains to the CA" [ "$(verify -purpose sslclient globex.crt)" = "globex.crt: OK" ]
# The only private key in the CA directory is the CA's own.
check "the CA directory holds no partner key" \
	[ "$(grep -rl 'PRIVATE KEY' ca | sort)" = "ca/ca.key" ]
check "adding a partner re-issued no other certificate" \
	[ "$(sum_certs | grep -v "$(serial_of globex.crt).pem")" = "$before" ]
check "earlier certificates still verify" [ "$(verify coord.crt acme.crt)" = "coord.crt: OK
acme.crt: OK" ]

# A request that asks to be a CA does not make one.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out evil.key 2>/dev/null
printf '[req]\ndistinguished_name = dn\n[dn]\n' >req.cnf
openssl req -config req.cnf -new -key evil.key -subj "/CN=evil/O=Other Org" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "subjectAltName=DNS:bank.example" -out evil.csr
ca sign --dir ca --csr evil.csr --role partner --out evil.crt
expect "a request with extra extensions is signed" 0 ""
check "its CA:TRUE is not copied" [ "$(ext_of evil.crt basicConstraints)" = "CA:FALSE" ]
check "its DNS name is not copied" [ "$(ext_of evil.crt subjectAltName)" = "DNS:evil" ]
check "its extra subject fields are dropped" \
	[ "$(openssl x509 -in evil.crt -noout -subject)" = "subject=CN = evil" ]

# A coordinator's request brings its host names when the CA gives none.
ca csr --name coord2 --out coord2 --dns coord2.example --ip 10.1.2.3
ca sign --dir ca --csr coord2.csr --role coordinator --out coord2.crt
expect "sign signs a coordinator's request" 0 ""
check "the request's host names are used" \
	[ "$(ext_of coord2.crt subjectAltName)" = "DNS:coord2.example, IP Address:10.1.2.3" ]

ca csr --name initech --out initech
ca sign --dir ca --csr initech.csr --role partner --name initrode --out initech.crt
expect "sign checks the expected name" 1 \
	'fedlead-ca: initech.csr: the request is for "initech", not "initrode"'
echo "not a request" >junk.csr
ca sign --dir ca --csr junk.csr --role partner --out junk.crt
expect "sign refuses a file that is not a request" 1
check "the refusal names the file" grep -q '^fedlead-ca: junk.csr: not a valid certificate request: ' err
ca sign --dir ca --csr missing.csr --role partner --out m.crt
expect "sign names a missing request" 1 "fedlead-ca: missing.csr: no such file"

# ---- renew ----
ca csr --name acme --out acme-2027
ca renew --dir ca --csr acme-2027.csr --out acme-2027.crt
expect "renew signs a new key for an existing name" 0 ""
check "renew keeps the role" [ "$(ext_of acme-2027.crt extendedKeyUsage)" = "TLS Web Client Authentication" ]
check "the old certificate stays valid until revoked" [ "$(verify acme.crt)" = "acme.crt: OK" ]
ca renew --dir ca --csr initech.csr --out initech.crt
expect "renew needs a current certificate" 1 \
	"fedlead-ca: initech has no valid certificate to renew; use 'fedlead-ca sign'"

# ---- expired ----
ca issue --dir ca --name oldco --role partner --start 20200101000000Z --end 20200102000000Z --out oldco
expect "issue with explicit dates" 0 ""
check "a certificate from the past has expired" \
	bash -c 'openssl verify -CAfile ca/ca.crt oldco.crt 2>&1 | grep -q "certificate has expired"'

# ---- list ----
ca list --dir ca
expect "list" 0 ""
# serial status role expiry-date expiry-time name
row() { awk -v n="$1" '$6 == n { print $2, $3 }' out | tr '\n' ';'; }
check "list shows the header" grep -Eq '^SERIAL +STATUS +ROLE +EXPIRES +NAME$' out
check "list shows the coordinator" [ "$(row coord.example)" = "V coordinator;" ]
check "list shows both of acme's certificates" [ "$(row acme)" = "V partner;V partner;" ]
check "list shows an expired certificate" [ "$(row oldco)" = "E partner;" ]
check "list shows the expiry date" \
	grep -Eq "^$(serial_of oldco.crt) +E +partner +2020-01-02 00:00:00Z +oldco$" out
check "list has one line per certificate" [ "$(wc -l <out)" = 8 ]

# ---- revoke and the CRL ----
acme_serial="$(serial_of acme.crt)"
ca revoke --dir ca --cert acme.crt --reason keyCompromise
expect "revoke" 0 ""
check "revoke says what to do next" \
	[ "$(cat out)" = "serial $acme_serial revoked (keyCompromise); distribute ca/crl.pem" ]
check "the CRL lists the revoked serial" \
	bash -c "openssl crl -in ca/crl.pem -noout -text | grep -q 'Serial Number: $acme_serial'"
check "the CRL gives the reason" \
	bash -c "openssl crl -in ca/crl.pem -noout -text | grep -q 'Key Compromise'"
check "the CRL is signed by the CA" \
	bash -c 'openssl crl -in ca/crl.pem -CAfile ca/ca.crt -noout 2>&1 | grep -qx "verify OK"'
check "with the CRL the revoked certificate fails" \
	bash -c 'openssl verify -CAfile ca/ca.crt -CRLfile ca/crl.pem -crl_check acme.crt 2>&1 | grep -q "certificate revoked"'
check "with the CRL the renewed certificate passes" \
	[ "$(verify -CRLfile ca/crl.pem -crl_check acme-2027.crt)" = "acme-2027.crt: OK" ]
ca list --dir ca
check "list shows the revocation" [ "$(row acme)" = "R partner;V partner;" ]
ca revoke --dir ca --cert acme.crt
expect "revoking twice is refused" 1 "fedlead-ca: acme.crt: already revoked"
ca revoke --dir ca --serial "$(serial_of globex.crt)" --reason superseded
expect "revoke by serial" 0 ""
check "the CRL lists both" [ "$(openssl crl -in ca/crl.pem -noout -text | grep -c 'Serial Number:')" = 2 ]
n1="$(openssl crl -in ca/crl.pem -noout -crlnumber)"
ca crl --dir ca
expect "crl rewrites the CRL" 0 ""
check "crl says how long it is valid" [ "$(cat out)" = "ca/crl.pem: written, valid for 30 days" ]
check "the new CRL has a higher number" [ "$(openssl crl -in ca/crl.pem -noout -crlnumber)" != "$n1" ]
check "the new CRL still lists both" [ "$(openssl crl -in ca/crl.pem -noout -text | grep -c 'Serial Number:')" = 2 ]

# A certificate of another CA is not ours to revoke, even with our serial.
ca init --dir other
ca issue --dir other --name acme --role partner --out other-acme
ca revoke --dir ca --cert other-acme.crt
expect "revoke refuses another CA's certificate" 1 \
	"fedlead-ca: other-acme.crt: not issued by the CA in ca"
check "another CA's certificate does not verify" \
	bash -c 'openssl verify -CAfile ca/ca.crt other-acme.crt 2>&1 | grep -q "unable to get local issuer certificate"'

# ---- errors a person sees ----
ca issue --dir nowhere --name x --role partner
expect "a missing CA directory is named" 1 \
	"fedlead-ca: nowhere: no such CA directory (create one with 'fedlead-ca init --dir nowhere')"
mkdir empty
ca list --dir empty
expect "a directory that is not a CA is named" 1 \
	"fedlead-ca: empty/ca.key: missing; empty is not a fedlead CA directory"
ca issue --dir ca --name "two words" --role partner
expect "a bad name is a usage error" 2 \
	"fedlead-ca: issue: --name \"two words\" is not a usable name (1-64 letters, digits, '-', '.', '_', '@', starting with a letter or digit)
Try 'fedlead-ca --help'."
ca issue --dir ca --name x --role admin
expect "a bad role is a usage error" 2 "fedlead-ca: issue: --role must be coordinator or partner, not \"admin\"
Try 'fedlead-ca --help'."
ca issue --dir ca --name x --role coordinator --ip "1.2.3.4,DNS:evil.example"
expect "an address that would smuggle a name is refused" 2 \
	"fedlead-ca: issue: --ip \"1.2.3.4,DNS:evil.example\" is not an IP address
Try 'fedlead-ca --help'."
ca issue --dir ca --name x --role partner --days soon
expect "bad --days" 2 "fedlead-ca: issue: --days must be a whole number of days (1-999999), not \"soon\"
Try 'fedlead-ca --help'."
ca list --dir ca --name x
expect "an option of another command" 2 "fedlead-ca: list: unknown option --name
Try 'fedlead-ca --help'."
ca csr --name x
expect "a missing required option" 2 "fedlead-ca: csr: --out is required
Try 'fedlead-ca --help'."
ca frobnicate
expect "an unknown command" 2 "fedlead-ca: unknown command \"frobnicate\"
Try 'fedlead-ca --help'."
ca --help
expect "--help" 0 ""
check "--help lists the commands" bash -c 'for c in init issue csr sign renew revoke crl list; do grep -q "^  $c " out || exit 1; done'
check "every private key made in this test is 0600" \
	bash -c '[ -z "$(find . -name "*.key" ! -perm 600)" ]'

trap - ERR
echo "$pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then exit 1; fi
