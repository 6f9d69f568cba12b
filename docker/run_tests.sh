#!/bin/bash
# The addons' Odoo tests, run inside the queue_job image against the compose PostgreSQL.
#
# On a machine with Docker, from the repository root:
#     docker/run_tests.sh                      # every addon of the image
#     docker/run_tests.sh queue_job            # some of them
# It builds the image, starts the db service of docker/compose.yaml and runs
# itself in a throwaway odoo container. Inside the image (QUEUE_JOB_IMAGE=1)
# it installs the addons into a fresh database, runs their tests
# (--test-tags /addon,...), drops the database and exits non-zero when a test
# failed. The same environment variables as docker/entrypoint.sh apply, and
# TEST_TAGS (Odoo's --test-tags, default /addon,... of the addons tested).
set -euo pipefail

here="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"

if [ -z "${QUEUE_JOB_IMAGE:-}" ]; then
    # On the host: go into the image, with the compose file's database.
    exec docker compose -f "$here/compose.yaml" run --rm --build --no-TTY ${TEST_TAGS:+-e TEST_TAGS} \
        odoo run_tests.sh "$@"
fi

PYTHON="${PYTHON:-python3}"
read -r -a odoo_bin <<< "${ODOO_BIN:-odoo}"
export PGHOST="${DB_HOST:-db}" PGPORT="${DB_PORT:-5432}" PGUSER="${DB_USER:-odoo}"
export PGPASSWORD="${DB_PASSWORD:-odoo}"
[ -n "${DB_PASSWORD_FILE:-}" ] && PGPASSWORD="$(< "$DB_PASSWORD_FILE")"
export ODOO_RC="${ODOO_RC:-/etc/odoo/odoo.conf}"
addons_dir="${QUEUE_JOB_ADDONS_DIR:-/mnt/queue_job-addons}"

if [ $# -gt 0 ]; then
    modules=("$@")
else
    modules=()
    for manifest in "$addons_dir"/*/__manifest__.py; do
        [ -f "$manifest" ] && modules+=("$(basename "$(dirname "$manifest")")")
    done
fi
if [ ${#modules[@]} -eq 0 ]; then
    echo "run_tests.sh: no addon found in $addons_dir" >&2
    exit 2
fi
list="$(IFS=,; echo "${modules[*]}")"
tags="$(printf '/%s,' "${modules[@]}")"
tags="${TEST_TAGS:-${tags%,}}"
db="${TEST_DB_NAME:-queue_job_test_$$}"

odoo_args=(-c "$ODOO_RC")
[ -n "${ODOO_ADDONS_PATH:-}" ] && odoo_args+=("--addons-path=$ODOO_ADDONS_PATH")
[ -n "${ODOO_DATA_DIR:-}" ] && odoo_args+=("--data-dir=$ODOO_DATA_DIR")

drop_db() {
    "$PYTHON" - "$db" <<'EOF'
import sys
import psycopg2
conn = psycopg2.connect(dbname="postgres")
conn.autocommit = True
with conn.cursor() as cr:
    cr.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % sys.argv[1].replace('"', '""'))
EOF
}

"$PYTHON" "$here/prepare_db.py" --wait-only --wait "${QUEUE_JOB_DB_WAIT:-60}"
trap drop_db EXIT
echo "run_tests.sh: testing $list in a fresh database $db" >&2
# Tests run in the threaded server (workers 0): Odoo's test runner needs it.
"${odoo_bin[@]}" "${odoo_args[@]}" -d "$db" -i "$list" --test-enable --test-tags "$tags" \
    --stop-after-init --workers=0 --max-cron-threads=0 --without-demo=all --http-port="${ODOO_HTTP_PORT:-8069}" \
    --log-level="${TEST_LOG_LEVEL:-test}"
