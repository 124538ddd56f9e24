#!/usr/bin/env bash
# The demo federation's one-shot setup (the init service of compose.yaml):
# a CA in /var/lib/fedlead/ca (its own volume: the CA key goes nowhere
# else), certificates for the coordinator (host name "coordinator") and
# three partners, and the bundled CoIL 2000 leads split as deploy/demo.sh
# does: every fifth lead held out, the rest 50/30/20 % to acme, globex and
# initech, and a bearer token for the coordinator's dashboard. Everything
# the others read goes to /srv/fedlead. Running it
# again does nothing once it has finished; a run that was interrupted is
# started over.
# (The FL_DEMO_* variables exist for tests/e2e/deploy.sh, which runs this
# script outside a container.)
set -euo pipefail
demo=${FL_DEMO_SHARE:-/usr/local/share/fedlead/demo}
ca=${FL_DEMO_CA:-/var/lib/fedlead/ca}
out=${FL_DEMO_OUT:-/srv/fedlead}
partners=(acme globex initech)

if [ -f "$out/.ready" ]; then
	echo "demo-init: already set up; remove the volumes to start afresh"
	exit 0
fi
rm -rf "$ca" "$out/pki" "$out/data" "$out/leads.schema.json" "$out/dashboard.token"
mkdir -p "$out/pki" "$out/data"

fedlead-ca init --dir "$ca" --name "fedlead demo CA"
fedlead-ca issue --dir "$ca" --name coordinator --role coordinator --dns coordinator \
	--out "$out/pki/coordinator"
for p in "${partners[@]}"; do
	fedlead-ca issue --dir "$ca" --name "$p" --role partner --out "$out/pki/$p"
done
cp "$ca/ca.crt" "$ca/crl.pem" "$out/pki/"
rm -f "$out"/pki/*.csr

# The coordinator's HTTP endpoint listens on the container's every address
# (compose publishes it on the host's loopback only) and so needs a bearer
# token: 32 random bytes from OpenSSL's CSPRNG, hex, readable by the image's
# user alone. The nodes mount this volume too; in a real deployment the
# token lives where only the coordinator can read it.
(umask 077 && openssl rand -hex 32 >"$out/dashboard.token")

cp "$demo/coil2000.schema.json" "$out/leads.schema.json"
awk -v dir="$out/data" '
	NR == 1 {
		print > (dir "/acme.csv"); print > (dir "/globex.csv")
		print > (dir "/initech.csv"); print > (dir "/holdout.csv"); next
	}
	{ i = NR - 2 }
	i % 5 == 4 { print > (dir "/holdout.csv"); next }
	{ k = i % 10; print > (dir "/" (k < 5 ? "acme" : k < 8 ? "globex" : "initech") ".csv") }
' "$demo/train.csv"
for f in acme globex initech holdout; do
	echo "demo-init: $f: $(($(wc -l <"$out/data/$f.csv") - 1)) leads"
done
touch "$out/.ready"
echo "demo-init: CA, certificates and lead files ready in $out"
