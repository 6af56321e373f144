#!/usr/bin/env bash
# Builds the release binary. The Dockerfile's build stage runs this same script, so
# the container is built exactly as CI and developers build it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin portcullis
ls -l target/release/portcullis
