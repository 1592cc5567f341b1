#!/bin/sh
# Writes the demo's secrets into ./secrets/ (next to this script; not in git): random passwords
# and cookie secret, and Streamlit's secrets.toml (sign-in through the demo provider, the
# registry connection as the read-only role). Run once before `docker compose up`.
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
umask 077
random() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
[ -s secrets/postgres_password ] || random > secrets/postgres_password
[ -s secrets/reader_password ] || random > secrets/reader_password
cat > secrets/streamlit_secrets.toml <<TOML
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "$(random)"
client_id = "oligomet"
client_secret = "$(random)"
server_metadata_url = "http://localhost:9400/.well-known/openid-configuration"

[connections.registry]
dialect = "postgresql"
host = "db"
port = 5432
database = "registry"
username = "oligomet_reader"
password = "$(cat secrets/reader_password)"
TOML
echo "secrets written to $(pwd)/secrets"
