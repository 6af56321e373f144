# The targets CI and the README use. `make test` is what .ci/run runs.
.PHONY: setup demo test container release

setup:
	scripts/setup.sh

demo:
	scripts/setup.sh --build
	cargo run --release -- demo

test:
	scripts/test.sh

container:
	scripts/container-test.sh

release:
	scripts/build-release.sh
