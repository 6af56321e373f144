#!/usr/bin/env bash
# Throughput and latency of one small upstream served three ways, interleaved:
#   direct       wrk -> upstream (nginx returning a small body)
#   nginx        wrk -> nginx reverse proxy -> upstream (no auth at all)
#   caddy        wrk -> Caddy reverse_proxy -> upstream (no auth; Go's net/http, as oauth2-proxy)
#   pingora      wrk -> a bare pingora proxy, no filters (examples/pingora_baseline.rs)
#   portcullis   wrk -> portcullis (valid session cookie) -> upstream
#   pc+redis     the same, with [store] kind = "redis" on a local redis-server
#   redirect     wrk -> portcullis (no cookie: 302 to the login page)
# Prints requests/s, p50, p99 and RSS for each, and the ratios; then the latency of
# a WebSocket ticket's mint plus redemption with each store, and how many Redis
# connections the Redis-backed instance held under load.
#
# Usage: bench/throughput.sh [SECONDS_PER_RUN] [ROUNDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}; ROUNDS=${2:-3}; CONNS=${3:-64}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
command -v caddy >/dev/null || need+=(caddy)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked --bin portcullis --example mint_cookie --example pingora_baseline --example ticket_latency 2>&1 | tail -1
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null; kill "${PC_PID:-}" "${PB_PID:-}" "${PR_PID:-}" "${RD_PID:-}" "${CD_PID:-}" 2>/dev/null; rm -rf "$WORK"' EXIT
UP=18301; NX=18302; PC=18303; PB=18304; RD=18305; PR=18306; CD=18307
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
  upstream dashboard { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$UP; location / { default_type text/plain; return 200 "hello from the dashboard\n"; } }
  server {
    listen 127.0.0.1:$NX;
    location / {
      proxy_pass http://dashboard;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:$UP;
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
CONF
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf"
cat > "$WORK/Caddyfile" <<CONF
{
  admin off
  auto_https off
}
http://127.0.0.1:$CD {
  reverse_proxy 127.0.0.1:$UP
}
CONF
HOME="$WORK" XDG_DATA_HOME="$WORK" XDG_CONFIG_HOME="$WORK" caddy run --config "$WORK/Caddyfile" --adapter caddyfile >/dev/null 2>"$WORK/caddy.err" &
CD_PID=$!

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
target/release/portcullis serve -c "$WORK/portcullis.toml" >/dev/null 2>"$WORK/portcullis.err" &
PC_PID=$!
redis-server --port "$RD" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >/dev/null &
RD_PID=$!
sed -e "s/127.0.0.1:$PC/127.0.0.1:$PR/" "$WORK/portcullis.toml" > "$WORK/portcullis-redis.toml"
printf '[store]\nkind = "redis"\nurl = "redis://127.0.0.1:%s"\n' "$RD" >> "$WORK/portcullis-redis.toml"
sleep 0.3
target/release/portcullis serve -c "$WORK/portcullis-redis.toml" >/dev/null 2>"$WORK/portcullis-redis.err" &
PR_PID=$!
target/release/examples/pingora_baseline "127.0.0.1:$PB" "127.0.0.1:$UP" >/dev/null 2>&1 &
PB_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PC/auth/health" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$CD/" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$CD/" >/dev/null || { echo "Caddy did not start:"; cat "$WORK/caddy.err"; exit 1; }
# The bench's provider is never reachable, so wait only for the store's part of readiness.
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PR/auth/ready" | grep -q "store:" || break; sleep 0.1; done
COOKIE="portcullis_session=$(target/release/examples/mint_cookie "$SECRET")"
curl -sf -H "Cookie: $COOKIE" "http://127.0.0.1:$PC/" >/dev/null || { echo "the minted cookie does not pass"; exit 1; }
curl -sf -H "Cookie: $COOKIE" "http://127.0.0.1:$PR/" >/dev/null || { echo "the minted cookie does not pass the Redis-backed instance"; cat "$WORK/portcullis-redis.err"; exit 1; }
IDLE_KB=$(awk '/VmRSS/ {print $2}' /proc/$PC_PID/status)

rss_kb() { # the proxy's resident memory: portcullis, or nginx master + workers
  case "$1" in
    portcullis|redirect) awk '/VmRSS/ {print $2}' /proc/$PC_PID/status ;;
    pc+redis) awk '/VmRSS/ {print $2}' /proc/$PR_PID/status ;;
    pingora) awk '/VmRSS/ {print $2}' /proc/$PB_PID/status ;;
    caddy) awk '/VmRSS/ {print $2}' /proc/$CD_PID/status ;;
    nginx) ps -o rss= -C nginx | awk '{s+=$1} END {print s/2}' ;;  # two nginx roles share the processes
    direct) echo 0 ;;
  esac
}
pids_of() { # the processes doing a run's proxying (for nginx, also the upstream)
  case "$1" in
    portcullis|redirect) echo "$PC_PID" ;;
    pc+redis) echo "$PR_PID" ;;
    pingora) echo "$PB_PID" ;;
    caddy) echo "$CD_PID" ;;
    nginx|direct) local m; m=$(cat "$WORK/nginx.pid"); echo "$m" $(pgrep -P "$m") ;;
  esac
}
cpu_ticks() { # user and system clock ticks of a run's processes so far
  local u=0 s=0 p f
  for p in $(pids_of "$1"); do
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat")
    u=$((u + f[11])); s=$((s + f[12]))
  done
  echo "$u $s"
}
declare -A RPS P50 P99 RSS CPU
run() { # name url [header]
  local name=$1 url=$2; shift 2
  local before; before=$(cpu_ticks "$name")
  local out; out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" "$url")
  local after; after=$(cpu_ticks "$name")
  local reqs; reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  # CPU microseconds per request, user and system (clock ticks are 10 ms).
  CPU[$name]+="$(awk -v b="$before" -v a="$after" -v n="$reqs" 'BEGIN {split(b, x, " "); split(a, y, " "); printf "%.1f/%.1f", (y[1]-x[1])*10000/n, (y[2]-x[2])*10000/n}') "
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  RPS[$name]+="$rps "; P50[$name]+="$p50 "; P99[$name]+="$p99 "; RSS[$name]=$(rss_kb "$name")
  printf '  %-11s %10s req/s  p50 %-9s p99 %-9s\n' "$name" "$rps" "$p50" "$p99"
}
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS (${SECS}s each, $CONNS connections)"
  run direct "http://127.0.0.1:$UP/"
  run nginx "http://127.0.0.1:$NX/"
  run caddy "http://127.0.0.1:$CD/"
  run pingora "http://127.0.0.1:$PB/"
  run portcullis "http://127.0.0.1:$PC/" -H "Cookie: $COOKIE"
  ( sleep "$((SECS / 2))"; redis-cli -p "$RD" CLIENT LIST | grep -vc "cmd=client" > "$WORK/redis-clients" ) &
  run pc+redis "http://127.0.0.1:$PR/" -H "Cookie: $COOKIE"
  run redirect "http://127.0.0.1:$PC/"
done
echo
for port in "$PC" "$PR"; do
  [ "$port" = "$PC" ] && store=memory || store=redis
  printf '%-7s ' "$store"; target/release/examples/ticket_latency "127.0.0.1:$port" "$COOKIE" 2000
done
echo "Redis connections held by the Redis-backed instance under load: $(cat "$WORK/redis-clients")"

python3 - "$IDLE_KB" <<PY
import sys, statistics
def ms(v):
    v = v.strip()
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit): return float(v[:-len(unit)]) * f
    return float(v)
data = {
$(for n in direct nginx caddy pingora portcullis pc+redis redirect; do echo "  '$n': ('${RPS[$n]}', '${P50[$n]}', '${P99[$n]}', '${RSS[$n]}', '${CPU[$n]}'),"; done)
}
res = {}
print()
print(f"{'':12}{'req/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'RSS MiB':>10}{'CPU us/req user+sys':>22}")
cpu = {}
for name, (rps, p50, p99, rss, cpus) in data.items():
    r = statistics.median(float(x) for x in rps.split())
    a = statistics.median(ms(x) for x in p50.split())
    b = statistics.median(ms(x) for x in p99.split())
    u = statistics.median(float(x.split("/")[0]) for x in cpus.split())
    s = statistics.median(float(x.split("/")[1]) for x in cpus.split())
    res[name] = (r, a, b)
    cpu[name] = (u, s)
    print(f"{name:12}{r:12.0f}{a:10.3f}{b:10.3f}{int(rss)/1024:10.1f}{u:12.1f} +{s:6.1f}")
# nginx's row holds its upstream's work too: the direct row is that alone.
nu, ns = cpu['nginx'][0] - cpu['direct'][0], cpu['nginx'][1] - cpu['direct'][1]
print(f"{'nginx alone':12}{'':42}{nu:12.1f} +{ns:6.1f}  (nginx minus direct: the proxying only)")
print()
print(f"portcullis/nginx  throughput {res['portcullis'][0]/res['nginx'][0]:.2f}x  p99 {res['portcullis'][2]/res['nginx'][2]:.2f}x")
print(f"portcullis/caddy  throughput {res['portcullis'][0]/res['caddy'][0]:.2f}x  p99 {res['portcullis'][2]/res['caddy'][2]:.2f}x")
print(f"portcullis/direct throughput {res['portcullis'][0]/res['direct'][0]:.2f}x")
print(f"portcullis/pingora throughput {res['portcullis'][0]/res['pingora'][0]:.2f}x  (the gate's own cost)")
print(f"redirect/forward  throughput {res['redirect'][0]/res['portcullis'][0]:.2f}x")
print(f"redis/memory store throughput {res['pc+redis'][0]/res['portcullis'][0]:.2f}x  p99 {res['pc+redis'][2]/res['portcullis'][2]:.2f}x")
print(f"portcullis idle RSS {int(sys.argv[1])/1024:.1f} MiB")
PY
