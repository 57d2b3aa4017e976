#!/bin/sh
# Run once by the postgres image when it first creates its volume (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml): the login role our
# processes connect as. It owns nothing and cannot bypass row-level security,
# so every query is confined to the tenant it acts for; the migration, run as
# the owner "shop", grants it what it may touch.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$SHOP_APP_PASSWORD" <<'SQL'
CREATE ROLE shop_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'password';
SQL
