#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for weft's tests and benchmarks.
#
#   tests/pg_cluster.sh start   creates and starts one; prints shell lines:
#       export WEFT_PG_DSN='host=127.0.0.1 port=... user=weft password=... dbname=weft'
#       export WEFT_PG_SOCKDIR=...    (the Unix socket directory)
#       export WEFT_PG_RESTART='...'  (restarts it: for the server-restart tests)
#       export WEFT_PG_STOP='...'     (stops it and removes its directory)
#   eval "$(tests/pg_cluster.sh start)"
# PG_CPUS=0 pins the server (every backend) to those CPUs (benchmarks).
#
# The cluster runs as a non-root user (postgres refuses root): the invoking
# user, or when that is root the Debian `postgres` user (a `weftpg` system
# user is created if there is none). Password auth (scram) everywhere, so a
# wrong password really fails; TLS on (a self-signed certificate) so sslmode
# is testable. Durability is off: the data is thrown away.
set -euo pipefail
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "pg_cluster.sh: no initdb (apt-get install postgresql)" >&2; exit 1; }

cmd=${1:-start}
[ "$cmd" = start ] || { echo "usage: $0 start" >&2; exit 2; }

if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then RUNAS=postgres
  else
    id weftpg >/dev/null 2>&1 || useradd --system --no-create-home weftpg
    RUNAS=weftpg
  fi
  as() { runuser -u "$RUNAS" -- "$@"; }
else
  RUNAS=$(id -un)
  as() { "$@"; }
fi

dir=$(mktemp -d /tmp/weft-pg.XXXXXX)
chmod 755 "$dir"
[ "$RUNAS" != "$(id -un)" ] && chown "$RUNAS" "$dir"
pw=weft-$RANDOM$RANDOM
printf '%s\n' "$pw" >"$dir/pw"
chmod 644 "$dir/pw"
as "$PGBIN/initdb" -D "$dir/data" -U weft --pwfile="$dir/pw" --auth=scram-sha-256 \
  -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pw"
# A self-signed certificate so the server offers TLS.
if command -v openssl >/dev/null; then
  as openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=localhost -days 3 -keyout "$dir/data/server.key" \
    -out "$dir/data/server.crt" >/dev/null 2>&1 && chmod 600 "$dir/data/server.key" &&
    echo "ssl = on" >>"$dir/data/postgresql.conf"
fi
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 64MB
log_min_messages = warning
EOF

# A free loopback port: try a few random ones (another cluster may race us).
started=
for _ in 1 2 3 4 5 6 7 8; do
  port=$((20000 + RANDOM % 30000))
  if as ${PG_CPUS:+taskset -c "$PG_CPUS"} "$PGBIN/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/log" -w -t 30 start >/dev/null 2>&1; then
    started=1; break
  fi
done
[ -n "$started" ] || { cat "$dir/log" >&2; rm -rf "$dir"; exit 1; }

ctl="runuser -u $RUNAS -- $PGBIN/pg_ctl -D $dir/data"
[ "$RUNAS" = "$(id -un)" ] && ctl="$PGBIN/pg_ctl -D $dir/data"
PGPASSWORD=$pw "$PGBIN/psql" -qX -h 127.0.0.1 -p "$port" -U weft -d postgres \
  -c "CREATE DATABASE weft" >/dev/null

echo "export WEFT_PG_DSN='host=127.0.0.1 port=$port user=weft password=$pw dbname=weft sslmode=disable'"
echo "export WEFT_PG_SOCKDIR='$dir'"
echo "export WEFT_PG_PORT='$port'"
echo "export WEFT_PG_RESTART='$ctl -o \"-p $port\" -l $dir/log -w -m fast restart >/dev/null'"
echo "export WEFT_PG_STOP='$ctl -m immediate stop >/dev/null 2>&1; rm -rf $dir'"
