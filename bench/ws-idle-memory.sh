#!/usr/bin/env bash
# Memory per idle WebSocket held through portcullis (default 3000 connections).
# Usage: bench/ws-idle-memory.sh [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || true
cargo build --release --locked --bin portcullis --example ws_idle_memory
exec target/release/examples/ws_idle_memory "${1:-3000}"
