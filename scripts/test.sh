#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: installs what the tests need, checks
# formatting and lints, then runs every unit and integration test, the slow tier
# (minute-long load and WebSocket tests, `#[ignore]`d in plain `cargo test`)
# included, and last the container test (the real Dockerfile built by buildah,
# the image run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
cargo test --locked --test it -- --ignored
scripts/container-test.sh
