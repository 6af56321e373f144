#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: nginx proxying, a
# bare pingora proxy, and portcullis (a valid session cookie, an API token, a
# [[public]] route, and a cookie with 20 routes configured) in front of the same small upstream (nginx returning 25
# bytes). Throughput on a 2-core machine swings 2x between runs; user-space
# instructions per request repeat to within 0.5%, so this is the figure that
# says whether a change helped.
#
# Each proxy runs under callgrind; after a warm-up its counters are zeroed
# (callgrind_control -z), an exact number of GETs is sent over keep-alive
# connections (examples/request_loop.rs), and the counters are dumped
# (callgrind_control -d). Counts every thread of the proxy, kernel excluded.
#
# Usage: bench/instructions.sh [REQUESTS] [CONNECTIONS]   (default 2000 8)
#        ONLY="portcullis portcullis_bearer" bench/instructions.sh   (some rows only)
#        PROFILE=profiling KEEP=dir bench/instructions.sh   (with symbols; keeps the
#        dumps in dir for callgrind_annotate --inclusive=yes)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}; CONNS=${2:-8}
need=()
command -v valgrind >/dev/null || need+=(valgrind)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" --locked --bin portcullis --example pingora_baseline \
  --example mint_cookie --example request_loop 2>&1 | tail -1
BIN=target/$PROFILE
WORK=$(mktemp -d)
cleanup() {
  for f in "$WORK"/*.pid; do
    if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  kill "${PROXY_PID:-}" 2>/dev/null || true
  rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
UP=18501; PX=18502
SECRET="bench-secret-0123456789-0123456789-abcdef"

nginx_conf() { # NAME BODY
  mkdir -p "$WORK/$1"
  cat >"$WORK/$1/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/$1.pid;
error_log $WORK/$1/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/$1/body; proxy_temp_path $WORK/$1/proxy;
  fastcgi_temp_path $WORK/$1/fcgi; uwsgi_temp_path $WORK/$1/uwsgi; scgi_temp_path $WORK/$1/scgi;
  $2
}
CONF
}
nginx_conf upstream "server { listen 127.0.0.1:$UP; location / { default_type text/plain; return 200 \"hello from the dashboard\n\"; } }"
"$NGINX" -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf"
nginx_conf front "upstream dash { server 127.0.0.1:$UP; keepalive 16; }
  server { listen 127.0.0.1:$PX; location / { proxy_pass http://dash; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"

TOKEN="pct_bench-token-0123456789-0123456789-abcdefgh"
TOKEN_SHA=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
cat >"$WORK/portcullis.toml" <<CONF
[server]
listen = "127.0.0.1:$PX"
[upstream]
url = "http://127.0.0.1:$UP"
[session]
secret = "$SECRET"
[log]
level = "warn"
[[public]]
path = "/public/"
[[tokens]]
name = "bench"
sha256 = "$TOKEN_SHA"
[[providers]]
id = "bench"
kind = "oauth2"
client_id = "bench"
authorize_url = "https://idp.example/authorize"
token_url = "https://idp.example/token"
userinfo_url = "https://idp.example/userinfo"
CONF
# The same gate with 20 routes: the request's route (the catch-all) is
# matched last, after 19 others.
cp "$WORK/portcullis.toml" "$WORK/portcullis-routes.toml"
for i in $(seq 1 19); do
  printf '[[routes]]\npath = "/dashboard-%d/"\nupstream = "http://127.0.0.1:%d"\nallowed_emails = ["someone%d@example.com"]\n' "$i" "$UP" "$i" >>"$WORK/portcullis-routes.toml"
done
COOKIE="Cookie: portcullis_session=$("$BIN/examples/mint_cookie" "$SECRET")"

# count NAME PATH [HEADER] -- COMMAND...: instructions per request of COMMAND.
count() {
  local name=$1 path=$2 header=$3; shift 4
  case " ${ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
  local out="$WORK/cg.$name"
  valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$@" >"$WORK/$name.log" 2>&1 &
  PROXY_PID=$!
  local up=""
  for _ in $(seq 300); do
    if "$BIN/examples/request_loop" "127.0.0.1:$PX" "$path" 1 1 ${header:+"$header"} >/dev/null 2>&1; then up=1; break; fi
    sleep 0.2
  done
  [ -n "$up" ] || { tail -20 "$WORK/$name.log"; echo "$name did not start"; exit 1; }
  "$BIN/examples/request_loop" "127.0.0.1:$PX" "$path" 200 "$CONNS" ${header:+"$header"} >/dev/null
  # The process that answers: nginx's worker, or the proxy itself.
  local target=$PROXY_PID
  callgrind_control -z "$target" >/dev/null 2>&1
  local result
  result=$("$BIN/examples/request_loop" "127.0.0.1:$PX" "$path" "$N" "$CONNS" ${header:+"$header"})
  callgrind_control -d "$target" >/dev/null 2>&1
  sleep 0.5
  case "$result" in *non_200=0) ;; *) echo "$name: $result (not all 200)"; exit 1 ;; esac
  local dump total
  dump=$(ls -t "$out".* | head -1)
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$dump" "$KEEP/callgrind.$name"; fi
  total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
  # The counters are dumped; a graceful stop would only wait out its grace.
  kill -9 "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=""
  echo "$name $((total / N))"
}

results=$WORK/results
{
  count nginx / "$COOKIE" -- "$NGINX" -p "$WORK/front" -c "$WORK/front/nginx.conf" -g "daemon off; master_process off;"
  # The same request as portcullis's cookie row: parsing, copying and forwarding
  # the Cookie header is any proxy's work, not the gate's.
  count pingora / "$COOKIE" -- "$BIN/examples/pingora_baseline" "127.0.0.1:$PX" "127.0.0.1:$UP"
  count portcullis / "$COOKIE" -- "$BIN/portcullis" serve -c "$WORK/portcullis.toml"
  count portcullis_bearer / "Authorization: Bearer $TOKEN" -- "$BIN/portcullis" serve -c "$WORK/portcullis.toml"
  count portcullis_public /public/x "" -- "$BIN/portcullis" serve -c "$WORK/portcullis.toml"
  count portcullis_routes20 / "$COOKIE" -- "$BIN/portcullis" serve -c "$WORK/portcullis-routes.toml"
} | tee "$results"
echo
awk -v n="$N" -v c="$CONNS" '
  function ratio(a, b) { return b ? a / b : 0 }
  { ir[$1] = $2; seen[$1] = 1 }
  END {
    printf "instructions per request (%d GETs over %d keep-alive connections, callgrind)\n", n, c
    printf "  %-20s %9s %9s %9s\n", "", "instr", "/nginx", "/pingora"
    split("nginx pingora portcullis portcullis_bearer portcullis_public portcullis_routes20", names, " ")
    for (i = 1; i <= 6; i++) {
      k = names[i]
      if (!(k in seen)) continue
      printf "  %-20s %9d %8.2fx %8.2fx\n", k, ir[k], ratio(ir[k], ir["nginx"]), ratio(ir[k], ir["pingora"])
    }
    if (("portcullis" in seen) && ("pingora" in seen))
      printf "  the gate'\''s own cost (cookie): %d instructions per request\n", ir["portcullis"] - ir["pingora"]
  }' "$results"
