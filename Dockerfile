# Images for `docker compose up`: PostgreSQL 15 with cdf_fdw built in, and the CDF emulator.
# Both build stages use Debian bookworm, whose postgresql-server-dev-15 matches postgres:15-bookworm.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-server-dev-15 libclang-dev clang \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-pgrx --version 0.18.1 --locked
WORKDIR /src
COPY . .
ENV PGRX_HOME=/src/pgrx-config
RUN cargo pgrx package --pg-config /usr/lib/postgresql/15/bin/pg_config \
 && cargo build --release -p cdf-emulator --bin cdf-emulator

FROM postgres:15-bookworm AS postgres
COPY --from=build /src/target/release/cdf_fdw-pg15/usr/ /usr/
COPY docker/initdb.sh /docker-entrypoint-initdb.d/10-cdf-fdw.sh

FROM debian:bookworm-slim AS emulator
COPY --from=build /src/target/release/cdf-emulator /usr/local/bin/cdf-emulator
EXPOSE 4080
# Inside its container the emulator must listen on all interfaces for the postgres service.
ENTRYPOINT ["/usr/local/bin/cdf-emulator", "--listen", "0.0.0.0:4080"]
