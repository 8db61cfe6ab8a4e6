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
# With a read-only AIRFLOW_HOME (a read-only root filesystem) it points the files Airflow writes
# there at start-up to a private folder, $TMPDIR/airflow-home (TMPDIR defaults to /tmp).
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
        else
            # A read-only root filesystem takes no entry, and Airflow refuses to run for a user
            # without a name; getpass, which it asks, reads LOGNAME and USER first.
            export LOGNAME="${LOGNAME:-airflow-$(id -u)}" USER="${USER:-airflow-$(id -u)}"
        fi
        export HOME="${AIRFLOW_USER_HOME_DIR}"
    fi
}

# Whether Airflow reads an option from somewhere already: its variable, the _CMD or _SECRET variant,
# or an uncommented line in the option's section of the config file.
configured() {
    local var=$1 section=$2 key=$3 cmd_var="${1}_CMD" secret_var="${1}_SECRET"
    [[ -n ${!var:-} || -n ${!cmd_var:-} || -n ${!secret_var:-} ]] && return 0
    awk -v section="[${section}]" -v key="${key}" '
        /^[[:space:]]*\[/ { gsub(/[[:space:]]/, ""); here = ($0 == section); next }
        here && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" { found = 1; exit }
        END { exit !found }' "${AIRFLOW_CONFIG:-${AIRFLOW_HOME}/airflow.cfg}" 2>/dev/null
}

# A read-only AIRFLOW_HOME still gets written to at start-up: every command but `version` writes
# airflow.cfg, with a Fernet key and JWT secret generated on the spot, when it is missing; the simple
# auth manager writes the passwords it generates beside it; Airflow 2 copies webserver_config.py there.
# A file baked into the image would give every container the same secrets, so these go to a folder
# of this container's own instead; settings that are given (variable or config file) are left alone.
# Commands started with `docker exec` do not come through here: give them AIRFLOW_CONFIG (or ship a
# config file) as docs/runtime.md says.
redirect_home_writes() {
    [[ ! -w ${AIRFLOW_HOME} ]] || return 0
    local dir="${TMPDIR:-/tmp}/airflow-home" config=false passwords=false webserver=false
    [[ -n ${AIRFLOW_CONFIG:-} || -e ${AIRFLOW_HOME}/airflow.cfg ]] || config=true
    configured AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE core simple_auth_manager_passwords_file \
        || passwords=true
    if [[ ${AIRFLOW_VERSION:-} == 2.* && ! -e ${AIRFLOW_HOME}/webserver_config.py ]]; then
        configured AIRFLOW__WEBSERVER__CONFIG_FILE webserver config_file || webserver=true
    fi
    [[ $config == true || $passwords == true || $webserver == true ]] || return 0
    if ! (umask 077 && mkdir -p "$dir") 2>/dev/null || [[ ! -w $dir ]]; then
        info "AIRFLOW_HOME and ${TMPDIR:-/tmp} are read-only: Airflow cannot write its start-up files (mount a tmpfs at /tmp)"
        return 0
    fi
    if [[ $config == true ]]; then
        export AIRFLOW_CONFIG="$dir/airflow.cfg"
        info "AIRFLOW_HOME is read-only: the configuration Airflow writes goes to $AIRFLOW_CONFIG"
    fi
    if [[ $passwords == true ]]; then
        export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$dir/simple_auth_manager_passwords.json.generated"
    fi
    if [[ $webserver == true ]]; then
        export AIRFLOW__WEBSERVER__CONFIG_FILE="$dir/webserver_config.py"
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
    elif [[ -n ${!secret_var:-} ]] || grep -qs "^[[:space:]]*${key}[[:space:]]*=" "${AIRFLOW_CONFIG:-${AIRFLOW_HOME}/airflow.cfg}"; then
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
    redirect_home_writes
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
