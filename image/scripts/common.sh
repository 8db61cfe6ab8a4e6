# Shell helpers for the Dockerfile's RUN steps (sourced, build time only; never in the final image).
# Each failure prints one line that names the bad value and what would be accepted.

fail() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# A CA bundle handed in as the BuildKit secret `cacert` (TLS-intercepting proxies): every client
# the build uses is pointed at the mounted file, which is never copied into a layer.
APT_OPTS=()
use_ca_bundle_if_given() {
    if [[ -s /run/secrets/cacert ]]; then
        export SSL_CERT_FILE=/run/secrets/cacert PIP_CERT=/run/secrets/cacert REQUESTS_CA_BUNDLE=/run/secrets/cacert
        APT_OPTS=(-o Acquire::https::CAInfo=/run/secrets/cacert)
    fi
}

apt_get() { apt-get "${APT_OPTS[@]}" "$@"; }

debian_suite() { . /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-unknown}"; }

apt_knows() { [[ -n $(apt-cache show --no-all-versions "$1" 2>/dev/null | head -n 1) ]]; }

# Package names → the names this suite has. "a|b" picks the first one the suite knows; a plain name
# the suite does not know stops the build here, before anything is installed.
resolve_apt_names() {
    local token alternative chosen
    for token in "$@"; do
        chosen=""
        IFS='|' read -r -a alternatives <<<"$token"
        for alternative in "${alternatives[@]}"; do
            if apt_knows "$alternative"; then chosen=$alternative; break; fi
        done
        [[ -n $chosen ]] || fail "apt package '${token}' does not exist in Debian $(debian_suite) ($(. /etc/os-release; echo "$ID"))"
        printf '%s\n' "$chosen"
    done
}

# Copies the constraints chosen by AIRFLOW_CONSTRAINTS to $4 and prints that path (nothing for none).
select_constraints() {
    local mode=$1 version=$2 python=$3 out=$4 source=""
    case $mode in
        lock)
            # A platform whose resolution differs from the main lock's has a lock of its own.
            source=/context/constraints/${version}/constraints-${python}-$(dpkg --print-architecture).txt
            [[ -f $source ]] || source=/context/constraints/${version}/constraints-${python}.txt
            [[ -f $source ]] || fail "no committed lock for apache-airflow ${version} on Python ${python} (constraints/${version}/constraints-${python}.txt); use AIRFLOW_CONSTRAINTS=none, an https URL or a file in docker-context-files/"
            cp "$source" "$out" ;;
        none)
            printf '# built without constraints (AIRFLOW_CONSTRAINTS=none)\n' >"$out"
            return 0 ;;
        http://* | https://*)
            python - "$mode" "$out" <<'PY' || fail "cannot download constraints from AIRFLOW_CONSTRAINTS=${mode}"
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as resp, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(resp, out)
PY
            ;;
        *)
            source=/context/docker-context-files/${mode}
            [[ $mode != */* && -f $source ]] || fail "AIRFLOW_CONSTRAINTS='${mode}' is neither lock, none, an http(s) URL nor a file name in docker-context-files/"
            cp "$source" "$out" ;;
    esac
    printf '%s\n' "$out"
}

# Fails when an extra is not one that the installed apache-airflow declares.
check_extras_exist() {
    "$1" - "$2" <<'PY' || exit 1
import sys
from importlib.metadata import metadata
meta = metadata("apache-airflow")
known = set(meta.get_all("Provides-Extra") or [])
wanted = [e.strip() for e in sys.argv[1].split(",") if e.strip()]
unknown = [e for e in wanted if e not in known]
if unknown:
    sys.exit(f"ERROR: apache-airflow {meta['Version']} has no extra {', '.join(map(repr, unknown))} "
             f"(it has {len(known)}: {', '.join(sorted(known)[:12])}, …)")
PY
}

# Debian packages that own the shared libraries the environment's extensions link against.
runtime_packages_for() {
    find "$1" -type f \( -name '*.so' -o -name '*.so.*' \) -print0 | packages_linked_by "$1"
}

# Debian packages that own the shared libraries that the shared objects named on stdin (NUL-separated)
# link against, leaving out the libraries that the environment $1 itself ships.
packages_linked_by() {
    local venv=$1
    # ldd exits non-zero when one of its files is not a dynamic object: not an error here
    { xargs -0 -r ldd 2>/dev/null || true; } \
        | awk '$2 == "=>" && $3 ~ /^\// {print $3}' \
        | sort -u \
        | while read -r lib; do
            case $lib in "$venv"/*) continue ;; esac
            real=$(readlink -f "$lib")
            # merged-/usr: dpkg may have registered the file under /lib or /usr/lib.
            for candidate in "$real" "$lib" "/usr${real}" "${real#/usr}"; do
                owner=$(dpkg -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1) && [[ -n $owner ]] && break
            done
            [[ -n ${owner:-} ]] && printf '%s\n' "$owner"
            owner=""
        done \
        | sort -u
}

# What the official Debian "slim" bases already tell dpkg: documentation, manuals and translations of
# the packages installed from now on stay out (copyright files stay). On such a base this repeats
# their rule; on a full Debian base it keeps ~20 MB of git's, perl's and curl's out of the image.
keep_package_docs_out() {
    cat >/etc/dpkg/dpkg.cfg.d/airflow-image-slim <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
}

# Installs every .deb in a folder, with no package index (air-gapped builds). An empty folder is
# an error: the folder was not filled for this image.
install_local_debs() {
    local dir=$1
    compgen -G "${dir}/*.deb" >/dev/null \
        || fail "no .deb files in ${dir#/context/}; fill docker-context-files/ with invoke fill-context-files"
    apt-get install -y -qq --no-install-recommends --no-download "${dir}"/*.deb >/dev/null \
        || fail "installing the .deb files from ${dir#/context/} failed (a dependency missing from the folder is named above)"
}

# Downloads packages, and the dependencies the running system lacks, into a folder.
download_debs() {
    local dir=$1
    shift
    mkdir -p "${dir}/partial"
    apt_get install -y -qq --no-install-recommends --download-only -o "Dir::Cache::archives=${dir}" "$@" >/dev/null
    rm -rf "${dir}/partial" "${dir}/lock"
}

# Private package indexes: configuration and credentials come in as BuildKit secrets (a pip.conf,
# a uv.toml, a netrc), are read where they are mounted, and never reach a layer or the history.
use_index_secrets_if_given() {
    [[ -s /run/secrets/pip.conf ]] && export PIP_CONFIG_FILE=/run/secrets/pip.conf
    [[ -s /run/secrets/uv.toml ]] && export UV_CONFIG_FILE=/run/secrets/uv.toml
    [[ -s /run/secrets/netrc ]] && export NETRC=/run/secrets/netrc
    if [[ -s /run/secrets/pip.conf && ! -s /run/secrets/uv.toml ]]; then
        # uv does not read pip.conf: hand it pip's index settings
        eval "$(python - <<'PY'
import configparser, shlex
config = configparser.ConfigParser()
config.read("/run/secrets/pip.conf")
index = config.get("global", "index-url", fallback="")
extra = " ".join(config.get("global", "extra-index-url", fallback="").split())
if index:
    print(f"export UV_DEFAULT_INDEX={shlex.quote(index)}")
if extra:
    print(f"export UV_INDEX={shlex.quote(extra)}")
PY
)"
    fi
    return 0
}

# The manylinux platform tag of wheels for a Docker platform (TARGETARCH and TARGETVARIANT).
manylinux_platform() {
    case $1${2:+/$2} in
        amd64) echo manylinux_2_17_x86_64 ;;
        arm64 | arm64/v8) echo manylinux_2_17_aarch64 ;;
        ppc64le) echo manylinux_2_17_ppc64le ;;
        s390x) echo manylinux_2_17_s390x ;;
        386) echo manylinux_2_17_i686 ;;
        arm/v7) echo manylinux_2_17_armv7l ;;
        *) fail "no uv wheel for platform ${1}${2:+/$2}; the image builds for amd64, arm64, ppc64le, s390x, 386 and arm/v7" ;;
    esac
}

# The packages named as arguments that dpkg does not have installed, one per line.
packages_not_installed() {
    local package
    for package in "$@"; do
        [[ $(dpkg-query -W -f='${Status}' "$package" 2>/dev/null) == "install ok installed" ]] || printf '%s\n' "$package"
    done
    return 0
}

# Runtime packages chosen by the INSTALL_*_CLIENT switches.
database_client_packages() {
    [[ ${INSTALL_POSTGRES_CLIENT:-true} == true ]] && echo libpq5
    [[ ${INSTALL_MYSQL_CLIENT:-true} == true ]] && echo "libmariadb3|libmariadb3t64"
    [[ ${INSTALL_MSSQL_CLIENT:-false} == true ]] && echo "freetds-bin tdsodbc unixodbc"
    [[ ${INSTALL_MSODBCSQL:-false} == true ]] && echo "msodbcsql18 unixodbc"
    return 0
}

# Extra apt repositories from docker-context-files/apt-sources/: its *.sources and *.list files go to
# sources.list.d, its keys (*.gpg, *.asc) to /etc/apt/keyrings, where the sources' Signed-By names them.
CONTEXT_APT_SOURCES=/context/docker-context-files/apt-sources
ADDED_APT_FILES=()
add_context_apt_sources() {
    local file target
    [[ -d ${CONTEXT_APT_SOURCES} ]] || return 0
    mkdir -p /etc/apt/keyrings
    for file in "${CONTEXT_APT_SOURCES}"/*; do
        case $file in
            *.sources | *.list) target=/etc/apt/sources.list.d/context-${file##*/} ;;
            *.gpg | *.asc) target=/etc/apt/keyrings/${file##*/} ;;
            *) continue ;;
        esac
        cp "$file" "$target" && chmod 644 "$target"
        ADDED_APT_FILES+=("$target")
    done
    return 0
}

remove_context_apt_sources() {
    (( ${#ADDED_APT_FILES[@]} == 0 )) || rm -f "${ADDED_APT_FILES[@]}"
    return 0
}

# INSTALL_MSODBCSQL=true needs an apt source that has Microsoft's package (after apt-get update).
check_msodbcsql_source() {
    [[ ${INSTALL_MSODBCSQL:-false} == true ]] || return 0
    apt_knows msodbcsql18 \
        || fail "INSTALL_MSODBCSQL=true but no apt source offers msodbcsql18: add Microsoft's Debian $(debian_suite) repository (a .sources or .list file and its key) to docker-context-files/apt-sources/; see docs/customising.md"
}

# Where uv may install from: the index (default), plus local wheels in docker-context-files/, or,
# for air-gapped builds, only that folder (and no cache, which must not stand in for it).
select_install_sources() {
    INSTALL_SOURCES=()
    FROM_CONTEXT=""
    if [[ ${INSTALL_FROM_CONTEXT_FILES:-false} == true ]]; then
        INSTALL_SOURCES=(--offline --no-index --no-cache --find-links /context/docker-context-files
                         --find-links /context/docker-context-files/wheels)
        FROM_CONTEXT=" from docker-context-files/ (it lacks the distribution named above; see invoke fill-context-files)"
    elif compgen -G '/context/docker-context-files/*.whl' >/dev/null; then
        INSTALL_SOURCES=(--find-links /context/docker-context-files)
    fi
}

# uv pip install into the image's environment, from INSTALL_SOURCES, within CONSTRAINTS (if any).
uv_install() {
    uv pip install --python "${AIRFLOW_VENV}/bin/python" "${INSTALL_SOURCES[@]}" \
        ${CONSTRAINTS:+--constraint "${CONSTRAINTS}"} "$@"
}

# One line per file of the environment (path, size, modification time), sorted: two of these
# tell which files an install added or changed.
venv_manifest() {
    find "${AIRFLOW_VENV}" \( -type f -o -type l \) -printf '%p %s %T@\n' | LC_ALL=C sort
}
