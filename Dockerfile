# Images for `docker compose up`: PostgreSQL with cdf_fdw built in, and the CDF emulator.
#   docker build --build-arg PG_MAJOR=16 --target postgres .     (14, 15, 16, 17 or 18; default 18)
# The extension is built in an image of the same PostgreSQL (postgres:NN-bookworm, whose apt
# sources carry postgresql-server-dev-NN), with the Rust toolchain copied from the rust image.
ARG PG_MAJOR=18
ARG RUST_IMAGE=rust:1.95-bookworm

FROM ${RUST_IMAGE} AS rust

FROM postgres:${PG_MAJOR}-bookworm AS build
ARG PG_MAJOR
RUN apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-server-dev-${PG_MAJOR}" \
      build-essential pkg-config libclang-dev clang ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=rust /usr/local/cargo /usr/local/cargo
COPY --from=rust /usr/local/rustup /usr/local/rustup
ENV CARGO_HOME=/usr/local/cargo RUSTUP_HOME=/usr/local/rustup PATH=/usr/local/cargo/bin:$PATH
RUN cargo install cargo-pgrx --version 0.18.1 --locked
WORKDIR /src
COPY . .
RUN mkdir -p /pgrx-home \
 && printf '[configs]\npg%s = "/usr/lib/postgresql/%s/bin/pg_config"\n' "$PG_MAJOR" "$PG_MAJOR" >/pgrx-home/config.toml
ENV PGRX_HOME=/pgrx-home
RUN PGRX_PG_CONFIG_PATH="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config" \
    cargo pgrx package --pg-config "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config" --out-dir /pkg \
 && cargo build --release -p cdf-emulator --bin cdf-emulator

FROM postgres:${PG_MAJOR}-bookworm AS postgres
COPY --from=build /pkg/usr/ /usr/
COPY docker/initdb.sh /docker-entrypoint-initdb.d/10-cdf-fdw.sh
# Preloaded, cdf_fdw keeps its request statistics (cdf.stats) in shared memory for all sessions.
CMD ["postgres", "-c", "shared_preload_libraries=cdf_fdw"]

FROM debian:bookworm-slim AS emulator
COPY --from=build /src/target/release/cdf-emulator /usr/local/bin/cdf-emulator
EXPOSE 4080
# Inside its container the emulator must listen on all interfaces for the postgres service.
ENTRYPOINT ["/usr/local/bin/cdf-emulator", "--listen", "0.0.0.0:4080"]
