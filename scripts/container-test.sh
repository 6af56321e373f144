#!/usr/bin/env bash
# Builds the real Dockerfile with buildah (an OCI builder that needs no daemon) and
# runs the image it makes: `check` on a config at the image's default path, the
# default command serving /auth/health and /auth/ready as a non-root user, a clean
# stop on SIGTERM within server.shutdown_grace, and the demo as the README tells a
# Docker user to start it.
#
# No registry is reachable from CI, so the two base images the Dockerfile names are
# stand-ins made here from Debian's packages, under the same names:
#   rust:1-bookworm                        debootstrap's bookworm, a C toolchain and
#                                          this machine's Rust toolchain
#   gcr.io/distroless/cc-debian12:nonroot  libc6, libgcc-s1 and ca-certificates only,
#                                          unpacked as distroless does, user nonroot
# The stand-ins are cached under ~/.cache/portcullis/containers between runs;
# a build's own layers are dropped after every run (vfs storage copies the
# whole tree per layer, 15-25 GiB a build), so each run builds afresh.
#
# Where Docker is at hand, the same checks by hand:
#   docker build -t portcullis . && docker run --rm portcullis check
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/containers"
mkdir -p "$CACHE"
bah() { buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs "$@"; }
say() { echo "container-test: $*" >&2; }
fail() { echo "container-test: FAILED: $*" >&2; exit 1; }

for tool in buildah debootstrap curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing; scripts/setup.sh installs it"
done

# A stand-in is rebuilt when what it is made from changes.
TOOLCHAIN=$(rustc --print sysroot)
BUILDER_KEY="builder-v1 $(rustc --version) $(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -c1-16)"
RUNTIME_KEY="runtime-v1"
BUILDER_IMAGE=docker.io/library/rust:1-bookworm
RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

standin_key() { bah inspect --type image --format '{{index .OCIv1.Config.Labels "portcullis.standin"}}' "$1" 2>/dev/null || true; }

build_builder() {
  say "making the stand-in for $BUILDER_IMAGE (debootstrap; a few minutes, once)"
  local rootfs="$CACHE/builder-rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase \
    --include=ca-certificates,gcc,g++,libc6-dev,make,pkg-config,curl,git \
    bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; fail "debootstrap of the builder stand-in"; }
  # This machine's Rust toolchain, where the real image keeps its own.
  mkdir -p "$rootfs/usr/local/rust" "$rootfs/usr/local/cargo/bin"
  cp -a "$TOOLCHAIN/bin" "$TOOLCHAIN/lib" "$TOOLCHAIN/libexec" "$rootfs/usr/local/rust/"
  # cargo must trust what this machine trusts, or it cannot reach crates.io here.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  local ctr
  ctr=$(bah from scratch)
  bah add "$ctr" "$rootfs" / >/dev/null
  bah config --label "portcullis.standin=$BUILDER_KEY" \
    --env PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env CARGO_HOME=/usr/local/cargo --env RUSTUP_HOME=/usr/local/rustup \
    --cmd /bin/bash "$ctr"
  bah commit -q --rm "$ctr" "$BUILDER_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

build_runtime() {
  say "making the stand-in for $RUNTIME_IMAGE (Debian's libc6, libgcc-s1, ca-certificates)"
  local work="$CACHE/runtime-work"
  rm -rf "$work" && mkdir -p "$work/debs" "$work/root"
  (cd "$work/debs" && { apt-get download libc6 libgcc-s1 ca-certificates >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download libc6 libgcc-s1 ca-certificates >/dev/null; }; }) \
    || fail "apt-get download of libc6, libgcc-s1 and ca-certificates"
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
  local r="$work/root"
  rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/lintian" "$r/usr/share/locale"
  # What update-ca-certificates would write: the bundle, from the package's certs.
  mkdir -p "$r/etc/ssl/certs"
  find "$r/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$r/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$r/tmp" "$r/home/nonroot"
  chmod 1777 "$r/tmp"
  chown 65532:65532 "$r/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$r/etc/group"
  local ctr
  ctr=$(bah from scratch)
  bah add "$ctr" "$r" / >/dev/null
  bah config --label "portcullis.standin=$RUNTIME_KEY" --user 65532:65532 \
    --workingdir /home/nonroot \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  bah commit -q --rm "$ctr" "$RUNTIME_IMAGE" >/dev/null
  rm -rf "$work"
}

[ "$(standin_key "$BUILDER_IMAGE")" = "$BUILDER_KEY" ] || build_builder
[ "$(standin_key "$RUNTIME_IMAGE")" = "$RUNTIME_KEY" ] || build_runtime

# Each layer is a whole copy of the builder's tree in vfs storage (a build
# takes 15-25 GiB while it runs). Layers left by an interrupted run are dropped
# first when the disk is short, and every run drops its own at the end,
# whatever its outcome (the stand-ins and the tagged image stay).
prune() { bah rm --all >/dev/null 2>&1 || true; bah rmi --prune >/dev/null 2>&1 || true; }
free_gib=$(df -BG --output=avail "$CACHE" | tail -1 | tr -dc 0-9)
if [ "${free_gib:-0}" -lt 40 ]; then
  say "${free_gib} GiB free: dropping the layers of earlier builds first"
  prune
fi
free_gib=$(df -BG --output=avail "$CACHE" | tail -1 | tr -dc 0-9)
[ "${free_gib:-0}" -ge 25 ] || fail "only ${free_gib} GiB free under $CACHE; the build needs about 25"

IMAGE=localhost/portcullis:test
say "building the Dockerfile with buildah bud (its layers cached)"
start=$(date +%s)
bah bud --isolation chroot --pull-never --layers -t "$IMAGE" -f Dockerfile . >"$CACHE/build.log" 2>&1 \
  || { tail -40 "$CACHE/build.log" >&2; prune; fail "the Dockerfile does not build (log: $CACHE/build.log)"; }
took=$(($(date +%s) - start))
cached=$(grep -A1 'STEP .*cargo build --release --locked --bin portcullis' "$CACHE/build.log" | grep -c 'Using cache' || true)
say "built in ${took}s; image size $(bah images --format '{{.Size}}' "$IMAGE"); dependency layer $([ "$cached" = 1 ] && echo "taken from the cache" || echo "built afresh")"
# The last build step compiles portcullis alone: its dependencies came from the
# layer before (built there now, or taken from the cache).
last_step=$(awk '/STEP .*RUN touch src\/main.rs/{found=1} found' "$CACHE/build.log")
compiled=$(grep -c '^ *Compiling ' <<<"$last_step" || true)
[ "$compiled" -le 1 ] || fail "the final build step compiled $compiled crates: the dependency layer did not hold them"

# What the image says of itself.
user=$(bah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
entrypoint=$(bah inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' "$IMAGE")
cmd=$(bah inspect --type image --format '{{range .OCIv1.Config.Cmd}}{{.}} {{end}}' "$IMAGE")
config_path=$(bah inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed -n 's/^PORTCULLIS_CONFIG=//p')
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "the image runs as '${user:-root}', not a non-root user"
[ -n "$config_path" ] || fail "the image sets no PORTCULLIS_CONFIG"
say "image: user $user, entrypoint '$entrypoint', command '$cmd', config $config_path"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
DEMO_PORT=$(free_port)
SECRET=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
conf=$(mktemp)
cat >"$conf" <<EOF
[server]
listen = "127.0.0.1:$PORT"
shutdown_grace = "3s"

[upstream]
url = "http://127.0.0.1:9"

[session]
secret = "\${PORTCULLIS_SESSION_SECRET}"

[[providers]]
id = "portal"
kind = "oauth2"
client_id = "container-test"
authorize_url = "https://portal.example.com/oauth/authorize"
token_url = "https://portal.example.com/oauth/token"
userinfo_url = "https://portal.example.com/oauth/userinfo"
EOF
chmod 644 "$conf"

ctr=$(bah from --pull-never "$IMAGE")
cleanup() {
  [ -n "${server_pid:-}" ] && kill -9 "$server_pid" 2>/dev/null
  bah rm "$ctr" >/dev/null 2>&1 || true
  rm -f "$conf"
  prune
  return 0
}
trap cleanup EXIT
bah copy "$ctr" "$conf" "$config_path" >/dev/null
bah config --env "PORTCULLIS_SESSION_SECRET=$SECRET" "$ctr"

# 1. check, at the default path.
# shellcheck disable=SC2086
out=$(bah run --isolation chroot "$ctr" -- $entrypoint check 2>&1) || { echo "$out" >&2; fail "portcullis check in the image"; }
grep -q "$SECRET" <<<"$out" && fail "check printed the session secret"
say "check passed at $config_path"

# 2. The default command serves, as the image's user.
# shellcheck disable=SC2086
bah run --isolation chroot "$ctr" -- $entrypoint $cmd >"$CACHE/serve.log" 2>&1 &
server_pid=$!
up=""
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/auth/health" >/dev/null 2>&1; then up=1; break; fi
  sleep 0.1
done
[ -n "$up" ] || { cat "$CACHE/serve.log" >&2; fail "the default command did not serve /auth/health"; }
health=$(curl -sS "http://127.0.0.1:$PORT/auth/health")
ready=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/auth/ready")
[ "$health" = ok ] || fail "/auth/health said '$health'"
[ "$ready" = 200 ] || fail "/auth/ready answered $ready"
proc=$(pgrep -f "^$entrypoint$cmd" | head -1 || true)
[ -n "$proc" ] || proc=$(pgrep -x portcullis | head -1)
uid=$(awk '/^Uid:/{print $2}' "/proc/$proc/status")
[ "$uid" != 0 ] || fail "portcullis runs as root in the container"
say "the default command serves /auth/health and /auth/ready as uid $uid"

# 3. SIGTERM (what Docker and Fly send) stops it cleanly within shutdown_grace.
stop_start=$(date +%s%N)
kill -TERM "$proc"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
[ "$rc" = 0 ] || { tail -5 "$CACHE/serve.log" >&2; fail "portcullis exited with $rc on SIGTERM"; }
[ "$stop_ms" -le 3500 ] || fail "SIGTERM took ${stop_ms} ms, more than shutdown_grace (3 s)"
say "SIGTERM stopped it cleanly in ${stop_ms} ms"

# 4. The demo, as the README tells a Docker user: host networking, loopback only.
# shellcheck disable=SC2086
bah run --isolation chroot "$ctr" -- $entrypoint demo --port "$DEMO_PORT" >"$CACHE/demo.log" 2>&1 &
server_pid=$!
page=""
for _ in $(seq 1 100); do
  page=$(curl -fsS "http://127.0.0.1:$DEMO_PORT/login" 2>/dev/null) && break
  sleep 0.1
done
grep -qi "loopback\|127.0.0.1" <<<"$page" || { cat "$CACHE/demo.log" >&2; fail "the demo's login page did not come up"; }
kill -TERM "$(pgrep -f "demo --port $DEMO_PORT" | tail -1)" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""
say "the demo serves its login page on 127.0.0.1:$DEMO_PORT"

say "build ${took}s, image $(bah images --format '{{.Size}}' "$IMAGE")"
echo "container: 4 passed, 0 failed"
