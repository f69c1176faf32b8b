# syntax=docker/dockerfile:1
# The sso-bridge image:  docker build -t sso-bridge .
# docker-compose.yml builds it for its two bridge instances. Mount a config file at
# /etc/sso-bridge/config.toml (with `listen = "0.0.0.0:8008"`) or pass other arguments.

# Build stage: Rust 2024 edition (Cargo.toml's rust-version), and what samael (SAML2)
# needs to run bindgen over the xmlsec headers and link (as in scripts/setup.sh).
FROM rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        pkg-config libclang-dev libssl-dev libxml2-dev libxmlsec1-dev libxslt1-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# What the build reads: the manifest and lock file, the code and the crates it depends on
# (crates/sys: the xmlsec bindings' build script; crates/testing is a workspace member
# the release build does not compile, a dev-dependency only), the migrations (embedded by
# sqlx::migrate!), the templates (askama) and the declared bench target.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked \
    && install -m 0755 target/release/sso-bridge /usr/local/bin/sso-bridge

# Runtime stage: the shared libraries the binary links (xmlsec with its OpenSSL
# backend, libxml2, libxslt, OpenSSL) and CA certificates for the IdPs' HTTPS.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates libssl3 libxml2 libxmlsec1 libxmlsec1-openssl libxslt1.1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 sso-bridge \
    && useradd --system --uid 10001 --gid sso-bridge --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin sso-bridge
COPY --from=build /usr/local/bin/sso-bridge /usr/local/bin/sso-bridge
USER sso-bridge:sso-bridge
EXPOSE 8008
# GET /health (liveness; GET /ready also checks the database). No curl in the image:
# bash's /dev/tcp speaks the one HTTP request.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8008 && printf 'GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["sso-bridge"]
CMD ["serve", "--config", "/etc/sso-bridge/config.toml"]
