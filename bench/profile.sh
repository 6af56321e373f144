#!/usr/bin/env bash
# Where portcullis's CPU goes on the hot path: an authenticated GET through the
# gate to a small upstream (nginx returning a body), under wrk, sampled by
# `perf record` with call graphs. Prints the hottest symbols (self time) and
# the share of time in the kernel, pingora/tokio, and the gate's own code.
#
# Builds the `profiling` profile (release, with symbols) into target/profiling.
# Usage: bench/profile.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}; CONNS=${2:-64}
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v perf >/dev/null || need+=(linux-perf)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cargo build --profile profiling --locked --bin portcullis --example mint_cookie 2>&1 | tail -1
BIN=target/profiling
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null; kill "${PC_PID:-}" 2>/dev/null; rm -rf "$WORK"' EXIT
UP=18401; PC=18402
SECRET="bench-secret-0123456789-0123456789-abcdef"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy;
  fastcgi_temp_path $WORK/fcgi; uwsgi_temp_path $WORK/uwsgi; scgi_temp_path $WORK/scgi;
  server { listen 127.0.0.1:$UP; location / { default_type text/plain; return 200 "hello from the dashboard\n"; } }
}
CONF
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf"
cat > "$WORK/portcullis.toml" <<CONF
[server]
listen = "127.0.0.1:$PC"
[upstream]
url = "http://127.0.0.1:$UP"
[session]
secret = "$SECRET"
[log]
level = "warn"
[[providers]]
id = "bench"
kind = "oidc"
issuer = "http://127.0.0.1:9"
client_id = "bench"
CONF
"$BIN/portcullis" serve -c "$WORK/portcullis.toml" >/dev/null 2>"$WORK/portcullis.err" &
PC_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PC/auth/health" >/dev/null && break; sleep 0.1; done
COOKIE="portcullis_session=$("$BIN/examples/mint_cookie" "$SECRET")"
curl -sf -H "Cookie: $COOKIE" "http://127.0.0.1:$PC/" >/dev/null || { echo "the minted cookie does not pass"; exit 1; }
wrk -t2 -c"$CONNS" -d2s -H "Cookie: $COOKIE" "http://127.0.0.1:$PC/" >/dev/null # warm up
DATA=$BIN/perf.data
perf record -q -F 1999 -g -p "$PC_PID" -o "$DATA" -- sleep "$SECS" 2>/dev/null &
PERF=$!
wrk -t2 -c"$CONNS" -d"${SECS}s" -H "Cookie: $COOKIE" "http://127.0.0.1:$PC/" | grep -E "Requests/sec"
wait $PERF || true
echo
echo "== hottest symbols, self time (perf report --no-children)"
perf report -q -i "$DATA" --no-children --sort symbol --percent-limit 0.8 --stdio 2>/dev/null \
  | grep -E '^ +[0-9.]+%' | cut -c1-120 | sed 's/ *$//' | head -30
echo
echo "== self time by where the code lives"
perf report -q -i "$DATA" --no-children --sort symbol --stdio 2>/dev/null \
  | grep -E '^ +[0-9.]+%' | awk '
  { pct=$1; sub("%","",pct)
    if ($2 == "[k]") k+=pct
    else if ($0 ~ /portcullis::/) g+=pct
    else if ($0 ~ /pingora/) p+=pct
    else if ($0 ~ /tokio|mio::/) t+=pct
    else if ($0 ~ /mi_|mimalloc/) m+=pct
    else if ($0 ~ /chacha|poly1305|base64|serde|sha2/) c+=pct
    else o+=pct }
  END { printf "  kernel (syscalls, scheduler, network)  %5.1f%%\n  pingora                                %5.1f%%\n  tokio, mio                             %5.1f%%\n  mimalloc                               %5.1f%%\n  portcullis functions                   %5.1f%%\n  cookie crypto and decoding             %5.1f%%\n  everything else (libc memmove, http, bytes, ...) %5.1f%%\n", k, p, t, m, g, c, o }'
echo
echo "== the gate's filters, with everything they call (perf report --children)"
perf report -q -i "$DATA" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9.]+%' \
  | grep -E 'Gate as pingora_proxy::proxy_trait::ProxyHttp>::(request_filter|upstream_request_filter|response_filter|logging)|gate::auth::authenticate|gate::forward::rewrite|session::cookie::strip|codec::Codec::open|gate::bearer::authenticate|public_url::OriginResolver::resolve' \
  | awk '{ printf "  %6s self %6s  ", $1, $2; $1=""; $2=""; $3=""; print substr($0, 1, 110) }'
echo
echo "perf data kept in $DATA (perf report -i $DATA)"
