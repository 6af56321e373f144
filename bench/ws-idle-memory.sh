#!/usr/bin/env bash
# Memory per idle WebSocket held through portcullis (default 3000 connections,
# cookie + Origin; `ticket` opens each with a fresh ticket), and what is left
# once all are closed.
# Usage: bench/ws-idle-memory.sh [CONNECTIONS] [cookie|ticket]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || true
cargo build --release --locked --bin portcullis --example ws_idle_memory
exec target/release/examples/ws_idle_memory "${1:-3000}" "${2:-cookie}"
