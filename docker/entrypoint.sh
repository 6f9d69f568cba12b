#!/bin/bash
# Entrypoint of the queue_job image (docker/Dockerfile).
#
#   entrypoint.sh [odoo] [ODOO OPTIONS...]   wait for PostgreSQL, create or complete
#                                            the database, then run the Odoo server
#   entrypoint.sh COMMAND...                 run COMMAND (run_tests.sh, bash, odoo shell...)
#
# Environment (image defaults in brackets):
#   DB_HOST [db]  DB_PORT [5432]  DB_USER [odoo]  DB_PASSWORD [odoo] (or DB_PASSWORD_FILE)
#   DB_NAME [odoo]                 the database served, created on the first start
#   ODOO_INIT_MODULES              modules the database must have [every addon of
#                                  QUEUE_JOB_ADDONS_DIR but queue_job_demo]
#   QUEUE_JOB_DEMO [0]             1: also queue_job_demo, with demo data
#   ODOO_QUEUE_JOB_CHANNELS        channel capacities (read by queue_job itself)
#   ODOO_QUEUE_JOB_HOST            where the runner sends jobs [the node's own address]
#   ODOO_PUBLIC_URL                URL printed once Odoo answers [http://localhost:<port>]
#   ODOO_WORKERS, ODOO_HTTP_PORT, ODOO_GEVENT_PORT, ODOO_HTTP_INTERFACE,
#   ODOO_ADDONS_PATH, ODOO_DATA_DIR   override the values of $ODOO_RC
#   ODOO_RC [/etc/odoo/odoo.conf]  ODOO_BIN [odoo]  QUEUE_JOB_ADDONS_DIR [/mnt/queue_job-addons]
#   PYTHON [python3]               the interpreter of the helper scripts
set -euo pipefail

here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
PYTHON="${PYTHON:-python3}"
read -r -a odoo_bin <<< "${ODOO_BIN:-odoo}"

case "${1:-odoo}" in
    odoo) [ $# -gt 0 ] && shift ;;
    -*) ;;
    *) exec "$@" ;;
esac

# libpq reads these: Odoo, its jobrunner and prepare_db.py connect alike,
# and the password stays out of the process list.
export PGHOST="${DB_HOST:-db}" PGPORT="${DB_PORT:-5432}" PGUSER="${DB_USER:-odoo}"
if [ -n "${DB_PASSWORD_FILE:-}" ]; then
    PGPASSWORD="$(< "$DB_PASSWORD_FILE")"
else
    PGPASSWORD="${DB_PASSWORD:-odoo}"
fi
export PGPASSWORD
export DB_NAME="${DB_NAME:-odoo}"
export ODOO_RC="${ODOO_RC:-/etc/odoo/odoo.conf}"

odoo_args=(-c "$ODOO_RC")
[ -n "${ODOO_ADDONS_PATH:-}" ] && odoo_args+=("--addons-path=$ODOO_ADDONS_PATH")
[ -n "${ODOO_DATA_DIR:-}" ] && odoo_args+=("--data-dir=$ODOO_DATA_DIR")

# The modules of the database: every addon the image carries, the demo only when asked.
addons_dir="${QUEUE_JOB_ADDONS_DIR:-/mnt/queue_job-addons}"
modules="${ODOO_INIT_MODULES:-}"
if [ -z "$modules" ]; then
    for manifest in "$addons_dir"/*/__manifest__.py; do
        [ -f "$manifest" ] || continue
        name="$(basename "$(dirname "$manifest")")"
        [ "$name" = queue_job_demo ] && continue
        modules="${modules:+$modules,}$name"
    done
fi
demo=()
case "${QUEUE_JOB_DEMO:-0}" in
    1|true|True|yes)
        demo=(--demo)
        if [ -f "$addons_dir/queue_job_demo/__manifest__.py" ]; then
            modules="${modules:+$modules,}queue_job_demo"
        else
            echo "queue_job entrypoint: QUEUE_JOB_DEMO is set but this image has no queue_job_demo addon" >&2
        fi
        ;;
esac
if [ -z "$modules" ]; then
    echo "queue_job entrypoint: no module to install (no addon in $addons_dir, ODOO_INIT_MODULES empty)" >&2
    exit 2
fi

"$PYTHON" "$here/prepare_db.py" --db "$DB_NAME" --modules "$modules" "${demo[@]}" \
    --wait "${QUEUE_JOB_DB_WAIT:-60}" -- "${odoo_bin[@]}" "${odoo_args[@]}"

server_args=(-d "$DB_NAME")
[ -n "${ODOO_WORKERS:-}" ] && server_args+=("--workers=$ODOO_WORKERS")
[ -n "${ODOO_HTTP_INTERFACE:-}" ] && server_args+=("--http-interface=$ODOO_HTTP_INTERFACE")
[ -n "${ODOO_HTTP_PORT:-}" ] && server_args+=("--http-port=$ODOO_HTTP_PORT")
[ -n "${ODOO_GEVENT_PORT:-}" ] && server_args+=("--gevent-port=$ODOO_GEVENT_PORT")
http_port="${ODOO_HTTP_PORT:-8069}"

# The runner sends each job to a worker of its own node: on the address
# Odoo listens on, else the container's own address (never the service name,
# which other nodes share).
if [ -z "${ODOO_QUEUE_JOB_HOST:-}" ]; then
    case "${ODOO_HTTP_INTERFACE:-}" in
        ""|0.0.0.0|::) ODOO_QUEUE_JOB_HOST="$( (hostname -i 2>/dev/null || true) | awk '{print $1}')" ;;
        *) ODOO_QUEUE_JOB_HOST="$ODOO_HTTP_INTERFACE" ;;
    esac
    export ODOO_QUEUE_JOB_HOST="${ODOO_QUEUE_JOB_HOST:-127.0.0.1}"
fi
export ODOO_QUEUE_JOB_PORT="${ODOO_QUEUE_JOB_PORT:-$http_port}"
echo "queue_job entrypoint: database $DB_NAME (modules: $modules), runner sends jobs to" \
    "$ODOO_QUEUE_JOB_HOST:$ODOO_QUEUE_JOB_PORT, channels ${ODOO_QUEUE_JOB_CHANNELS:-from $ODOO_RC}" >&2

# Say where to go once the server answers; the server replaces this shell.
public_url="${ODOO_PUBLIC_URL:-http://localhost:$http_port}"
(
    export ODOO_HTTP_PORT="$http_port" QUEUE_JOB_HEALTH_HOST="${ODOO_HTTP_INTERFACE:-127.0.0.1}"
    [ "$QUEUE_JOB_HEALTH_HOST" = 0.0.0.0 ] && QUEUE_JOB_HEALTH_HOST=127.0.0.1
    if "$PYTHON" "$here/healthcheck.py" --web-only --wait 600 --quiet; then
        printf '\n  Odoo is up: %s/web/login?db=%s\n  Login: admin / admin (as created; change the password)\n\n' \
            "$public_url" "$DB_NAME" >&2
    fi
) &

exec "${odoo_bin[@]}" "${odoo_args[@]}" "${server_args[@]}" "$@"
