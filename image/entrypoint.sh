#!/usr/bin/env bash
# Entrypoint of the production image (PID 1 is dumb-init, which runs this).
#
# Compatible with the official image: no command prints Airflow's help; `bash …` and `python …` run
# as given; `airflow X …` and a bare `X …` both run `airflow X …`. Before the command it can
#   - wait (bounded) for the metadata database, and for the Celery broker for `scheduler`/`celery`:
#     CONNECTION_CHECK_MAX_COUNT (default 20, 0 disables), CONNECTION_CHECK_SLEEP_TIME (default 3 s);
#   - _AIRFLOW_DB_MIGRATE=true: run `airflow db migrate`;
#   - _AIRFLOW_WWW_USER_CREATE=true: create the admin user (_AIRFLOW_WWW_USER_USERNAME/_PASSWORD/…);
#   - _PIP_ADDITIONAL_REQUIREMENTS: pip install extra packages (quick tests only).
set -euo pipefail

CHECK=/usr/local/lib/airflow-image/connection_check.py
: "${CONNECTION_CHECK_MAX_COUNT:=20}"
: "${CONNECTION_CHECK_SLEEP_TIME:=3}"

fail() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
info() { printf '[entrypoint] %s\n' "$*" >&2; }

# An arbitrary uid (OpenShift runs containers as a random uid with gid 0) has no passwd entry;
# add one so that tools which look the user up (getpass, ssh, git) work, and give it the home.
ensure_user_entry() {
    if ! whoami >/dev/null 2>&1; then
        if [[ -w /etc/passwd ]]; then
            printf 'airflow-%s:x:%s:0:Airflow user (uid %s):%s:/bin/bash\n' \
                "$(id -u)" "$(id -u)" "$(id -u)" "${AIRFLOW_USER_HOME_DIR}" >>/etc/passwd
        fi
        export HOME="${AIRFLOW_USER_HOME_DIR}"
    fi
}

# Airflow's three ways to give a setting: the value, a command printing it (_CMD), or a secrets
# backend key (_SECRET). The first two are resolved here; _SECRET (and airflow.cfg) need Airflow.
resolve_setting() {
    local var=$1 section=$2 key=$3 cmd_var="${1}_CMD" secret_var="${1}_SECRET"
    if [[ -n ${!var:-} ]]; then
        printf '%s' "${!var}"
    elif [[ -n ${!cmd_var:-} ]]; then
        bash -c "${!cmd_var}"
    elif [[ -n ${!secret_var:-} ]] || grep -qs "^[[:space:]]*${key}[[:space:]]*=" "${AIRFLOW_HOME}/airflow.cfg"; then
        airflow config get-value "$section" "$key" 2>/dev/null || true
    fi
}

wait_for() {
    local label=$1 url=$2
    [[ -n $url ]] || return 0
    python "$CHECK" "$label" "$url" "$CONNECTION_CHECK_MAX_COUNT" "$CONNECTION_CHECK_SLEEP_TIME" || exit 1
}

wait_for_services() {
    local command=${1:-} setup_asked=${2:-false}
    [[ $CONNECTION_CHECK_MAX_COUNT -gt 0 ]] || return 0
    if [[ $setup_asked != true ]]; then
        case $command in bash | python | version | info | cheat-sheet | config | "") return 0 ;; esac
    fi
    wait_for "metadata database" "$(resolve_setting AIRFLOW__DATABASE__SQL_ALCHEMY_CONN database sql_alchemy_conn)"
    if [[ $command == celery || ($command == scheduler && ${AIRFLOW__CORE__EXECUTOR:-} == *Celery*) ]]; then
        wait_for "Celery broker" "$(resolve_setting AIRFLOW__CELERY__BROKER_URL celery broker_url)"
    fi
}

install_additional_requirements() {
    [[ -n ${_PIP_ADDITIONAL_REQUIREMENTS:-} ]] || return 0
    cat >&2 <<WARNING
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
WARNING: _PIP_ADDITIONAL_REQUIREMENTS installs packages at every container start. It is for quick
tests only: it slows every start, needs the package index at run time, and can break the image's
pinned dependencies. Build a derived image instead (docs: "Extending the image").
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
WARNING
    # shellcheck disable=SC2086
    pip install --quiet --no-cache-dir ${_PIP_ADDITIONAL_REQUIREMENTS} \
        || fail "_PIP_ADDITIONAL_REQUIREMENTS could not be installed: ${_PIP_ADDITIONAL_REQUIREMENTS}"
}

migrate_if_asked() {
    if [[ ${_AIRFLOW_DB_MIGRATE:-${_AIRFLOW_DB_UPGRADE:-false}} == true ]]; then
        info "migrating the metadata database"
        airflow db migrate || fail "airflow db migrate failed"
    fi
}

create_user_if_asked() {
    [[ ${_AIRFLOW_WWW_USER_CREATE:-false} == true ]] || return 0
    local user=${_AIRFLOW_WWW_USER_USERNAME:-admin} password=${_AIRFLOW_WWW_USER_PASSWORD:-}
    [[ -n $password ]] || fail "_AIRFLOW_WWW_USER_CREATE=true needs _AIRFLOW_WWW_USER_PASSWORD"
    if [[ ${AIRFLOW__CORE__AUTH_MANAGER:-} == *fab* || ${AIRFLOW_VERSION:-3} == 2.* ]]; then
        airflow users create --username "$user" --password "$password" \
            --firstname "${_AIRFLOW_WWW_USER_FIRSTNAME:-Airflow}" --lastname "${_AIRFLOW_WWW_USER_LASTNAME:-Admin}" \
            --email "${_AIRFLOW_WWW_USER_EMAIL:-admin@example.com}" --role "${_AIRFLOW_WWW_USER_ROLE:-Admin}" \
            >/dev/null 2>&1 || airflow users list 2>/dev/null | grep -qw -- "$user" \
            || fail "could not create the user '$user'"
        info "user '$user' ready (FAB)"
    else
        # Simple auth manager: users come from AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS and their
        # passwords from a JSON file; write the given password there so it is known, not random.
        local file=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-${AIRFLOW_HOME}/simple_auth_manager_passwords.json.generated}
        python - "$file" "$user" "$password" <<'PY' || fail "could not write the simple auth manager's passwords file"
import json, os, sys
path, user, password = sys.argv[1:4]
data = {}
if os.path.exists(path) and os.path.getsize(path):
    with open(path) as f:
        data = json.load(f)
data[user] = password
os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
with open(path, "w") as f:
    json.dump(data, f)
PY
        info "user '$user' ready (simple auth manager; passwords file $file)"
    fi
}

main() {
    ensure_user_entry
    local first=${1:-} setup_asked=false
    if [[ $first == airflow ]]; then shift; first=${1:-}; fi
    if [[ ${_AIRFLOW_DB_MIGRATE:-${_AIRFLOW_DB_UPGRADE:-false}} == true || ${_AIRFLOW_WWW_USER_CREATE:-false} == true ]]; then
        setup_asked=true
    fi
    install_additional_requirements
    wait_for_services "$first" "$setup_asked"
    migrate_if_asked
    create_user_if_asked
    case $first in
        bash) shift; exec /bin/bash "$@" ;;
        python) shift; exec python "$@" ;;
        "") exec airflow --help ;;
    esac
    exec airflow "$@"
}

main "$@"
