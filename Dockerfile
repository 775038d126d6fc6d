# Kaifang in a container: `docker build -t kaifang .` then
#   docker run -d --name kaifang -p 127.0.0.1:8080:8080 -v kaifang-data:/var/lib/kaifang kaifang
# Put a TLS reverse proxy in front (docs/operating.md, "Reverse proxies").
# Settings: KAIFANG_* variables (-e), or a file mounted at
# /etc/kaifang/kaifang.toml. `docker stop` sends SIGTERM, which drains
# (http.shutdown_timeout_ms, 10 s by default; docker waits 10 s before
# SIGKILL, so give it more: `docker stop -t 20`, or `stop_grace_period: 20s`).

# --- build: the toolchain CI uses (rustc 1.95); the release binary (web client, registry and default policy
# are compiled into it; SQLite is bundled; TLS is rustls: no system libraries
# beyond libc are needed at run time).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY data data
COPY policies policies
COPY web web
COPY README.md README.md
RUN cargo build --release --locked -p kaifang \
    && install -m 0755 target/release/kaifang /usr/local/bin/kaifang

# --- run: the binary on a small base, as a user without privileges.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 kaifang \
    && useradd --system --uid 10001 --gid kaifang --home-dir /var/lib/kaifang \
       --shell /usr/sbin/nologin kaifang \
    && install -d -o kaifang -g kaifang -m 0700 /var/lib/kaifang \
    && install -d -m 0755 /etc/kaifang \
    && touch /etc/kaifang/kaifang.toml
COPY --from=build /usr/local/bin/kaifang /usr/local/bin/kaifang

# Inside the container the server listens on every interface: the
# container's network is the boundary (publish the port on loopback only,
# for the proxy). The database lives in the volume.
ENV KAIFANG_LISTEN=0.0.0.0:8080 \
    KAIFANG_DATA_DIR=/var/lib/kaifang \
    KAIFANG_LOG=info
VOLUME ["/var/lib/kaifang"]
EXPOSE 8080
USER kaifang:kaifang
WORKDIR /var/lib/kaifang
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kaifang"]
CMD ["serve", "--config", "/etc/kaifang/kaifang.toml"]
