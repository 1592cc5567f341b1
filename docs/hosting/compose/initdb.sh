#!/bin/sh
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d): the demo
# registry table from the example export, and a read-only role for the app.
set -eu
SEED="${SEED_DIR:-/seed}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v reader_password="$(cat "${READER_PASSWORD_FILE:-/run/secrets/reader_password}")" \
    -f "$SEED/registry.sql"
# Client-side copy (psql reads the file): the export as it is, then typed by registry.sql's view.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "\\copy oligomet.export FROM '$SEED/clinic_registry.csv' WITH (FORMAT csv, HEADER true)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "INSERT INTO oligomet.patients SELECT * FROM oligomet.typed_export"
