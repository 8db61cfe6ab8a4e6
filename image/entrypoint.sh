#!/usr/bin/env bash
# Entrypoint of the production image (PID 1 is dumb-init, which runs this).
# Compatible with the official image: no command prints Airflow's help; `bash …` and `python …` run
# as given; `airflow X …` and a bare `X …` both run `airflow X …`.
set -euo pipefail

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

main() {
    ensure_user_entry
    if (( $# == 0 )); then
        exec airflow --help
    fi
    case $1 in
        bash) shift; exec /bin/bash "$@" ;;
        python) shift; exec python "$@" ;;
        airflow) shift ;;
    esac
    if (( $# == 0 )); then
        exec airflow --help
    fi
    exec airflow "$@"
}

main "$@"
