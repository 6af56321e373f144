# portcullis container: built with the same script CI runs; the image holds only
# the binary and config/.
#   docker build -t portcullis .
#   docker run -p 8080:8080 -e PORTCULLIS_SESSION_SECRET=… -v $PWD/config:/etc/portcullis portcullis
#   docker run --rm --network host portcullis demo      # the demo: http://127.0.0.1:8080
# scripts/container-test.sh builds this file with buildah and runs the image.

FROM rust:1-bookworm AS build
# pingora's zlib-ng needs cmake.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, in a layer of their own, so a source edit does not rebuild
# them. The manifest names a library, a binary and a bench: stand-ins for all
# three let it parse and build the dependencies alone. No `|| true`: a failure
# here is a broken build, not a cache miss.
COPY Cargo.toml Cargo.lock ./
# Patched pingora-proxy and pingora-core (see vendor/README.md).
COPY vendor vendor
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/gate.rs \
 && cargo build --release --locked --bin portcullis \
 && rm -rf src benches
# Then the crate's own files, and only those: a second copy of vendor/ would
# carry the checkout's newer mtimes, and cargo would rebuild the vendored
# pingora crates that the cached layer above already holds. The copied files
# keep their mtimes, which may be older than that layer's build, so touch makes
# cargo rebuild portcullis itself.
COPY src src
COPY benches benches
COPY scripts/build-release.sh scripts/
RUN touch src/main.rs src/lib.rs && scripts/build-release.sh

# glibc, libgcc and CA certificates; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/portcullis /usr/local/bin/portcullis
COPY config/ /etc/portcullis/
ENV PORTCULLIS_CONFIG=/etc/portcullis/portcullis.toml
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve"]
