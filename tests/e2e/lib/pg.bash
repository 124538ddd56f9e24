# A PostgreSQL server of the test's own (tests/e2e/pgsql.sh, bench/pgsql_read.sh):
# initdb and pg_ctl from Debian's postgresql package in a temporary
# directory, listening only on a Unix socket there (no TCP port at all),
# password authentication (scram-sha-256) for the role "fl" whose password
# clients read from a password file (PGPASSFILE), as libpq's conventions
# say. Stopped by its PID when the script exits, whatever the reason.
#
# The server refuses to run as root, and tests run as root: then initdb and
# the server run as the unprivileged user "nobody" (runuser), which owns
# the server's directory and nothing else; as any other user they run as
# that user.
#
# pg_start sets PGD (the directory, also the socket's), PGHOST, PGUSER,
# PGPASSFILE and PG_PASSWORD, and creates the database "crm". Before it the
# caller sets PG_CLEANUP (a command run at exit after the server stops; the
# EXIT trap is this file's). Exits 77 when the server programs are missing.

PGBIN="${FL_PGBIN:-}"
if [ -z "$PGBIN" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && PGBIN=$d
	done
fi
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ] ||
	! command -v psql >/dev/null; then
	echo "skip - PostgreSQL's server (initdb, pg_ctl; Debian package postgresql, installed by deploy/install-deps.sh test) is not installed"
	exit 77
fi

PGD=
PG_PID=
pg_stop() {
	if [ -n "$PG_PID" ] && kill -0 "$PG_PID" 2>/dev/null; then
		# SIGINT: PostgreSQL's fast shutdown. The server is not our child
		# (pg_ctl started it): tail --pid waits for that PID to exit.
		kill -INT "$PG_PID" 2>/dev/null || true
		timeout 60 tail --pid="$PG_PID" -s 0.1 -f /dev/null || kill -KILL "$PG_PID" 2>/dev/null || true
	fi
	PG_PID=
	if [ -n "$PGD" ]; then rm -rf "$PGD"; fi
}
trap 'pg_stop; eval "${PG_CLEANUP:-:}"' EXIT

as_pg() {
	# From /: nobody may not enter the test's own directory.
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u nobody -- "$@")
	else
		"$@"
	fi
}

pg_start() {
	PGD=$(mktemp -d "${TMPDIR:-/tmp}/fl_pg.XXXXXX")
	chmod 755 "$PGD"
	[ "$(id -u)" = 0 ] && chown nobody "$PGD"
	PG_PASSWORD="fl-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
	printf '%s\n' "$PG_PASSWORD" >"$PGD/pw"
	[ "$(id -u)" = 0 ] && chown nobody "$PGD/pw"
	as_pg "$PGBIN/initdb" -D "$PGD/data" -U fl --pwfile="$PGD/pw" --auth=scram-sha-256 \
		-E UTF8 --locale=C >"$PGD/initdb.log" 2>&1 || {
		echo "not ok - initdb failed:"
		sed 's/^/    # /' "$PGD/initdb.log"
		exit 1
	}
	rm -f "$PGD/pw"
	# -w: pg_ctl returns when the server accepts connections.
	as_pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 120 \
		-o "-k $PGD -c listen_addresses= -c fsync=off" start >/dev/null || {
		echo "not ok - the PostgreSQL server did not start:"
		sed 's/^/    # /' "$PGD/server.log"
		exit 1
	}
	PG_PID=$(head -n 1 "$PGD/data/postmaster.pid")
	export PGHOST="$PGD" PGUSER=fl PGPASSFILE="$PGD/pgpass"
	unset PGPORT PGDATABASE PGSERVICE PGPASSWORD
	(
		umask 077
		printf '*:*:*:fl:%s\n' "$PG_PASSWORD" >"$PGPASSFILE"
	)
	psql -X -q -d postgres -c "CREATE DATABASE crm" >/dev/null
}

# sql: runs psql's standard input (or -c ...) on the crm database, quietly,
# stopping at the first error.
sql() {
	psql -X -q -v ON_ERROR_STOP=1 -d crm "$@"
}

# pg_load_bank FILE: the bank-marketing leads as a CRM keeps them, in
# crm_lead: an id, a creation time, typed columns (numeric balance), in the
# file's order.
pg_load_bank() {
	sql <<EOF
CREATE TABLE bank_raw (n serial, age int, job text, marital text, education text,
  "default" text, balance int, housing text, loan text, contact text, day int,
  month text, duration int, campaign int, pdays int, previous int, poutcome text, y text);
\copy bank_raw (age, job, marital, education, "default", balance, housing, loan, contact, day, month, duration, campaign, pdays, previous, poutcome, y) FROM '$1' WITH (FORMAT csv, DELIMITER ';', HEADER)
CREATE TABLE crm_lead AS
  SELECT 'L-' || lpad(n::text, 5, '0') AS lead_id,
         timestamptz '2024-01-01 09:00+00' + n * interval '1 hour' AS created_at,
         age, job, marital, education, "default", balance::numeric(12, 2) AS balance,
         housing, loan, contact, day, month, duration, campaign, pdays, previous, poutcome, y
  FROM bank_raw;
ALTER TABLE crm_lead ADD PRIMARY KEY (lead_id);
DROP TABLE bank_raw;
EOF
}
