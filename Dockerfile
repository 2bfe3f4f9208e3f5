# syntax=docker/dockerfile:1
#
# roster: a two-stage image.
#   docker build -t roster .
#   docker run -p 8080:8080 -v roster-data:/data roster
# SQLite lives in the /data volume by default; set ROSTER_DATABASE_URL=postgres://…
# to use PostgreSQL instead. Every ROSTER_* variable is listed in the README.

############################ builder ############################
FROM rust:1-bookworm AS builder

# libpq for diesel's PostgreSQL backend (pq-sys links the system library).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# 1. Dependencies only: build them against a dummy crate so this layer stays
#    cached until Cargo.toml, Cargo.lock or build.rs change.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir -p src migrations/sqlite migrations/postgres \
 && echo 'fn main() {}' > src/main.rs \
 && : > src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src migrations

# 2. The real crate. The context is filtered by .dockerignore, so this brings
#    src/, migrations/, templates/ and openapi/ (migrations and templates are
#    embedded at compile time) without target/, .git/ or local databases.
#    Copying the whole filtered context, rather than each directory by name,
#    keeps the build working while a directory such as templates/ is added or
#    removed.
COPY . .
# Forget the dummy crate's fingerprints: copied files keep their old mtimes,
# which could otherwise look older than the dummy build and be skipped.
RUN rm -rf target/release/.fingerprint/roster-* \
 && cargo build --release --locked \
 && install -m 0755 target/release/roster /usr/local/bin/roster \
 && strip /usr/local/bin/roster \
 && /usr/local/bin/roster --version

############################ runtime ############################
FROM debian:bookworm-slim AS runtime

# ca-certificates for the mail provider's HTTPS API, libpq5 for PostgreSQL,
# curl only for the HEALTHCHECK below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libpq5 curl \
 && rm -rf /var/lib/apt/lists/*

# An unprivileged user that owns the data directory.
RUN groupadd --system --gid 10001 roster \
 && useradd --system --uid 10001 --gid roster --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin roster \
 && mkdir -p /data \
 && chown roster:roster /data

COPY --from=builder /usr/local/bin/roster /usr/local/bin/roster

USER roster:roster
WORKDIR /data
VOLUME /data

ENV ROSTER_BIND=0.0.0.0:8080 \
    ROSTER_DATABASE_URL=/data/roster.db

EXPOSE 8080

# Liveness: GET /healthz on the port taken from ROSTER_BIND (8080 by default).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${ROSTER_BIND##*:}/healthz" >/dev/null || exit 1

ENTRYPOINT ["/usr/local/bin/roster"]
CMD ["serve"]
