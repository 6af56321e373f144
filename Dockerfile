# portcullis container: build with the same script CI runs, ship only the binary.
#   docker build -t portcullis .
#   docker run -p 8080:8080 -e PORTCULLIS_SESSION_SECRET=… -v $PWD/config:/etc/portcullis portcullis

FROM rust:1-bookworm AS build
# pingora's zlib-ng needs cmake.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
# Patched pingora-proxy and pingora-core (see vendor/README.md).
COPY vendor vendor
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked --bin portcullis || true
COPY src src
COPY scripts/build-release.sh scripts/
RUN touch src/main.rs src/lib.rs && scripts/build-release.sh

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/portcullis /usr/local/bin/portcullis
COPY config/ /etc/portcullis/
ENV PORTCULLIS_CONFIG=/etc/portcullis/portcullis.toml
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve"]
