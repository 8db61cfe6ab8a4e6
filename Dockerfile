# Production image of Apache Airflow.
#
# `docker build .` builds the default image: the newest stable Airflow with the official image's
# production extras on python:3.12-slim-bookworm, installed from the committed lock. Every ARG below
# is a documented customisation point (docs/customising.md); `nox -s build_prod-X.Y` passes the ones
# that select a flavour and fills in the provenance labels.
#
# Stages: `uv` fetches uv for the target platform (on the build platform); `build` has compilers and
# makes the virtualenv; `runtime`, built alongside it, has what the image needs from Debian; `main` is
# `runtime` plus the virtualenv and the shared libraries it links against. There is deliberately no
# `# syntax=` line: it would make BuildKit pull a frontend image, and the engine's built-in frontend
# already has heredocs, cache and secret mounts.

ARG PYTHON_BASE_IMAGE="python:3.12-slim-bookworm"
# The flavour defaults to the X.Y that starts the base image's tag (python:3.12-slim-bookworm → 3.12);
# a base whose tag does not start that way needs AIRFLOW_PYTHON_VERSION passed explicitly. Derived here,
# so that no stage before the labels names the base: the layers depend on the base's content, not on
# what it is called (a mirror's name for the same image, or a registry's, reuses every cached layer).
ARG PYTHON_BASE_TAG=${PYTHON_BASE_IMAGE##*:}
ARG AIRFLOW_PYTHON_VERSION=${PYTHON_BASE_TAG%%-*}

# Every customisation point is declared once here with its default; each stage names the ones it
# uses (`ARG NAME`), which brings the default (or the value passed with --build-arg) into it.
ARG AIRFLOW_VERSION="3.3.2"
ARG AIRFLOW_EXTRAS="aiobotocore,amazon,async,celery,cncf-kubernetes,common-io,common-messaging,docker,elasticsearch,fab,ftp,git,google,google-auth,graphviz,grpc,hashicorp,http,ldap,microsoft-azure,mysql,odbc,openlineage,pandas,postgres,redis,sendgrid,sftp,slack,snowflake,ssh,statsd,uv"
ARG ADDITIONAL_AIRFLOW_EXTRAS=""
ARG ADDITIONAL_PYTHON_DEPS=""
# lock: the committed constraints/<version>/constraints-<python>.txt | none | an http(s) URL |
# the name of a file in docker-context-files/
ARG AIRFLOW_CONSTRAINTS="lock"
# Pins above the lock for fixed advisories, "name==version (ADVISORY), …": `build_prod` fills it from
# security-overrides.toml; it is also the image's label (docs/security-overrides.md).
ARG AIRFLOW_SECURITY_OVERRIDES=""
ARG UV_VERSION="0.13.9"
# Build-stage only. "a|b" takes the first name the base's Debian suite knows (package names move
# between bookworm, trixie and forky).
ARG DEV_APT_DEPS="gcc libc6-dev pkg-config libldap-dev|libldap2-dev libsasl2-dev default-libmysqlclient-dev unixodbc-dev"
ARG ADDITIONAL_DEV_APT_DEPS=""
# What every image needs at run time beyond the libraries its extensions link against: an init for
# PID 1, CA certificates, curl for health checks, and git for the git DAG bundle.
ARG RUNTIME_APT_DEPS="dumb-init ca-certificates curl git"
ARG ADDITIONAL_RUNTIME_APT_DEPS=""
# Database client libraries, whatever the extras link against: PostgreSQL's libpq, Debian's MariaDB
# client library (MySQL-compatible), and MSSQL through FreeTDS + unixODBC (off by default).
ARG INSTALL_POSTGRES_CLIENT="true"
ARG INSTALL_MYSQL_CLIENT="true"
ARG INSTALL_MSSQL_CLIENT="false"
# true: Microsoft's own ODBC Driver 18 (msodbcsql18), accepting Microsoft's EULA, from Microsoft's
# Debian repository, which the user adds in docker-context-files/apt-sources/ (docs/customising.md).
ARG INSTALL_MSODBCSQL="false"
ARG AIRFLOW_VENV="/opt/airflow-venv"
# The user the image runs as (primary group 0) and the folders Airflow writes to.
ARG AIRFLOW_UID="50000"
ARG AIRFLOW_HOME="/opt/airflow"
ARG AIRFLOW_USER_HOME_DIR="/home/airflow"
# Which bytecode the image keeps: startup (Airflow's code and what its processes import at start:
# fast starts, ~600 MB less for the production extras), all, or none (as the official image).
ARG AIRFLOW_BYTECODE="startup"
# true: install only from docker-context-files/ (wheels, debs/build, debs/runtime) with no network at
# all; `invoke fill-context-files` fills the folder. See docs/air-gapped.md.
ARG INSTALL_FROM_CONTEXT_FILES="false"
# Salts every cache mount's id: the benchmark measures cold builds without touching shared caches.
ARG CACHE_SALT=""

########################################################################################################
# uv for the target platform, fetched on the build platform: it is one static binary, and pip under
# emulation took half a minute of an arm64 build to install it. Runs alongside the build stage's apt.
FROM --platform=${BUILDPLATFORM} ${PYTHON_BASE_IMAGE} AS uv
ARG CACHE_SALT
ARG UV_VERSION
ARG INSTALL_FROM_CONTEXT_FILES
ARG TARGETARCH
ARG TARGETVARIANT
SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]
RUN --mount=type=cache,target=/root/.cache/pip,id=pip-cache${CACHE_SALT} \
    --mount=type=bind,source=image/scripts,target=/usr/local/lib/airflow-image \
    --mount=type=bind,source=docker-context-files,target=/context/docker-context-files \
    --mount=type=secret,id=cacert \
    --mount=type=secret,id=pip.conf \
    --mount=type=secret,id=uv.toml \
    --mount=type=secret,id=netrc \
    <<EOF
source /usr/local/lib/airflow-image/common.sh
use_ca_bundle_if_given
use_index_secrets_if_given
wheel_platform=$(manylinux_platform "${TARGETARCH}" "${TARGETVARIANT:-}")
local_only=()
if [[ ${INSTALL_FROM_CONTEXT_FILES} == true ]]; then
    local_only=(--no-index --find-links /context/docker-context-files --find-links /context/docker-context-files/wheels)
fi
python -m venv /tmp/pip
/tmp/pip/bin/pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform "${wheel_platform}" --dest /tmp/wheel "${local_only[@]}" "uv==${UV_VERSION}" \
    || fail "cannot install uv==${UV_VERSION} for ${wheel_platform}${local_only:+ from docker-context-files/ (is its wheel there?)}"
python -m zipfile -e /tmp/wheel/uv-*.whl /tmp/uv-wheel
install -D -m 755 /tmp/uv-wheel/uv-*.data/scripts/uv /out/uv
EOF

########################################################################################################
FROM ${PYTHON_BASE_IMAGE} AS build
ARG CACHE_SALT
ARG AIRFLOW_VERSION
ARG AIRFLOW_EXTRAS
ARG ADDITIONAL_AIRFLOW_EXTRAS
ARG AIRFLOW_CONSTRAINTS
ARG DEV_APT_DEPS
ARG ADDITIONAL_DEV_APT_DEPS
ARG AIRFLOW_VENV
ARG INSTALL_FROM_CONTEXT_FILES
ARG INSTALL_MSODBCSQL
ARG AIRFLOW_BYTECODE
ARG AIRFLOW_PYTHON_VERSION
# The apt caches are one per architecture (a multi-platform build's stages share no lists), not per
# base name; apt checks every cached .deb against its index, so suites may share them safely.
ARG TARGETARCH

SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]

# The official Debian-based images delete downloaded .debs after every install; keep them so the
# cache mount below can serve the next build.
RUN rm -f /etc/apt/apt.conf.d/docker-clean \
    && echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >/etc/apt/apt.conf.d/keep-downloads

COPY image/scripts/ /usr/local/lib/airflow-image/

# A CA bundle for TLS-intercepting proxies may come in as the secret `cacert`; it is only ever
# mounted, never copied, so it is in no layer.
RUN --mount=type=cache,target=/var/cache/apt,id=apt-archives-${TARGETARCH}${CACHE_SALT},sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,id=apt-lists-${TARGETARCH}${CACHE_SALT},sharing=locked \
    --mount=type=bind,source=docker-context-files,target=/context/docker-context-files \
    --mount=type=secret,id=cacert \
    <<EOF
source /usr/local/lib/airflow-image/common.sh
if [[ ${INSTALL_FROM_CONTEXT_FILES} == true ]]; then
    install_local_debs /context/docker-context-files/debs/build
    exit 0
fi
use_ca_bundle_if_given
add_context_apt_sources
apt_get update -qq
# seconds into the build rather than after the long install
check_msodbcsql_source
# resolved into a variable first: a failure inside $(…) used as arguments would not stop the build
# shellcheck disable=SC2086
packages=$(resolve_apt_names ${DEV_APT_DEPS} ${ADDITIONAL_DEV_APT_DEPS})
# shellcheck disable=SC2086
apt_get install -y -qq --no-install-recommends ${packages} >/dev/null
EOF

COPY --from=uv /out/uv /usr/local/bin/uv

# No bytecode at install: AIRFLOW_BYTECODE decides what is compiled (image/scripts/prune_venv.py).
ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=0
# Declared here, not with the others: a changed override re-runs only the install below.
ARG AIRFLOW_SECURITY_OVERRIDES

# SHELL is bash for every RUN of this stage; hadolint checks heredocs as POSIX sh.
# hadolint ignore=SC3014,SC3054
RUN --mount=type=cache,target=/root/.cache/uv,id=uv-cache${CACHE_SALT} \
    --mount=type=bind,source=constraints,target=/context/constraints \
    --mount=type=bind,source=docker-context-files,target=/context/docker-context-files \
    --mount=type=secret,id=cacert \
    --mount=type=secret,id=pip.conf \
    --mount=type=secret,id=uv.toml \
    --mount=type=secret,id=netrc \
    <<EOF
source /usr/local/lib/airflow-image/common.sh
use_ca_bundle_if_given
use_index_secrets_if_given
python_flavour=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The python.version label is derived from the base's tag; it must not lie.
[[ ${python_flavour} == "${AIRFLOW_PYTHON_VERSION}" ]] \
    || fail "the base image runs Python ${python_flavour} but AIRFLOW_PYTHON_VERSION is '${AIRFLOW_PYTHON_VERSION}'; pass --build-arg AIRFLOW_PYTHON_VERSION=${python_flavour}"
mkdir -p /build/info
CONSTRAINTS=$(select_constraints "${AIRFLOW_CONSTRAINTS}" "${AIRFLOW_VERSION}" "${python_flavour}" /build/info/constraints.txt)
export CONSTRAINTS
# uv's overrides do not beat a constraint, and the constraints the image keeps are what users extend
# it with: both take the overridden versions, so neither undoes a security override.
python - "${AIRFLOW_SECURITY_OVERRIDES}" /build/info/security-overrides.txt /build/info/constraints.txt <<'PY' || exit 1
import re, sys
value, overrides_path, constraints_path = sys.argv[1:]
entry = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+) [(]((?:CVE|GHSA)-[A-Za-z0-9-]+)[)]")
def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()
pins = {}
for item in filter(None, (part.strip() for part in value.split(","))):
    found = entry.fullmatch(item)
    if found is None:
        sys.exit(f"ERROR: AIRFLOW_SECURITY_OVERRIDES entry {item!r} is not NAME==VERSION (CVE-… or GHSA-…)")
    pins[canonical(found[1])] = (f"{found[1]}=={found[2]}", found[3])
with open(overrides_path, "w") as out:
    out.write("# security overrides in force (label org.apache.airflow.security-overrides)\n")
    out.writelines(f"{pin}  # {advisory}\n" for pin, advisory in pins.values())
with open(constraints_path) as kept:
    lines = kept.readlines()
with open(constraints_path, "w") as out:
    for line in lines:
        name = canonical(line.partition("==")[0].strip()) if "==" in line and not line.startswith("#") else ""
        out.write(f"{pins[name][0]}  # security override ({pins[name][1]})\n" if name in pins else line)
PY
extras=${AIRFLOW_EXTRAS}${ADDITIONAL_AIRFLOW_EXTRAS:+,${ADDITIONAL_AIRFLOW_EXTRAS}}
uv venv --quiet --python "$(command -v python)" "${AIRFLOW_VENV}"
select_install_sources
# Airflow alone first (seconds): an unknown extra stops the build before the long install.
uv_install --quiet --no-deps "apache-airflow==${AIRFLOW_VERSION}" \
    || fail "cannot install apache-airflow==${AIRFLOW_VERSION}${FROM_CONTEXT}"
check_extras_exist "${AIRFLOW_VENV}/bin/python" "${extras}"
uv_install --overrides /build/info/security-overrides.txt "apache-airflow${extras:+[${extras}]}==${AIRFLOW_VERSION}" pip \
    || fail "installing apache-airflow[${extras}]==${AIRFLOW_VERSION} failed${FROM_CONTEXT}"
# An override beats every declared bound, so only pip check tells whether the result still fits.
if [ -n "${AIRFLOW_SECURITY_OVERRIDES}" ]; then
    "${AIRFLOW_VENV}/bin/pip" check \
        || fail "with AIRFLOW_SECURITY_OVERRIDES (${AIRFLOW_SECURITY_OVERRIDES}) a requirement named above is broken"
fi
printf 'apache-airflow==%s\n' "${AIRFLOW_VERSION}" >/build/info/pin-airflow.txt
# Dead weight out: test suites, debug symbols in extension modules, bytecode nothing imports at start.
"${AIRFLOW_VENV}/bin/python" /usr/local/lib/airflow-image/prune_venv.py "${AIRFLOW_BYTECODE}"
"${AIRFLOW_VENV}/bin/python" /usr/local/lib/airflow-image/strip_safely.py "${AIRFLOW_VENV}"
# The shared libraries the installed extensions link against, as Debian package names: the
# runtime stage installs exactly these, whatever the suite or architecture.
runtime_packages_for "${AIRFLOW_VENV}" >/build/info/runtime-apt-deps.txt
"${AIRFLOW_VENV}/bin/python" /usr/local/lib/airflow-image/venv_layers.py plan "${AIRFLOW_VENV}" 2 >/build/info/venv-layers.txt
EOF

########################################################################################################
# The build arguments that only the stages after the long install use, checked in seconds: this stage
# needs nothing but the base image, so BuildKit runs it alongside the build stage, and a malformed
# requirement (or bytecode mode) stops the whole build while the build stage is still at its start.
# It hands the checked requirements to the `additional` stage, which therefore cannot run without it.
FROM ${PYTHON_BASE_IMAGE} AS inputs
ARG ADDITIONAL_PYTHON_DEPS
ARG AIRFLOW_BYTECODE
RUN --mount=type=bind,source=image/check_inputs.py,target=/tmp/check_inputs.py \
    python /tmp/check_inputs.py /inputs/checked

########################################################################################################
# ADDITIONAL_PYTHON_DEPS go on top of the production set in a stage of their own, and reach the image
# as a small layer of just the files they add: adding one requirement rebuilds seconds of work, not
# the whole environment.
FROM build AS additional
ARG CACHE_SALT
ARG ADDITIONAL_PYTHON_DEPS
ARG AIRFLOW_CONSTRAINTS
ARG AIRFLOW_VENV
ARG AIRFLOW_BYTECODE
ARG INSTALL_FROM_CONTEXT_FILES
SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]
RUN --mount=type=cache,target=/root/.cache/uv,id=uv-cache${CACHE_SALT} \
    --mount=type=bind,from=inputs,source=/inputs/checked,target=/checked \
    --mount=type=bind,source=docker-context-files,target=/context/docker-context-files \
    --mount=type=secret,id=cacert \
    --mount=type=secret,id=pip.conf \
    --mount=type=secret,id=uv.toml \
    --mount=type=secret,id=netrc \
    <<EOF
source /usr/local/lib/airflow-image/common.sh
mkdir -p /build/venv-delta /build/info-extra
touch /build/info-extra/runtime-apt-deps.txt
[[ -n ${ADDITIONAL_PYTHON_DEPS} ]] || exit 0
use_ca_bundle_if_given
use_index_secrets_if_given
[[ ${AIRFLOW_CONSTRAINTS} == none ]] || export CONSTRAINTS=/build/info/constraints.txt
select_install_sources
venv_manifest >/tmp/before.txt
# the requirements as the inputs stage checked them; compile only what this step adds (uv would
# compile all of site-packages), and nothing where the image keeps no bytecode
UV_COMPILE_BYTECODE=0 uv_install --requirement /checked/requirements.txt \
    || fail "installing ADDITIONAL_PYTHON_DEPS (${ADDITIONAL_PYTHON_DEPS}) failed${FROM_CONTEXT}"
venv_manifest >/tmp/after.txt
changed=$(comm -23 /tmp/before.txt /tmp/after.txt | cut -d' ' -f1 | grep -oE '[^/]+\.dist-info' | sort -u | tr '\n' ' ' || true)
[[ -z ${changed} ]] || fail "ADDITIONAL_PYTHON_DEPS would change installed distributions (${changed% }); pin them to the versions in /usr/local/share/airflow/constraints.txt"
if [[ ${AIRFLOW_BYTECODE} != none ]]; then
    comm -13 /tmp/before.txt /tmp/after.txt | cut -d' ' -f1 | grep '\.py$' | xargs -r "${AIRFLOW_VENV}/bin/python" -m compileall -q
fi
venv_manifest >/tmp/after.txt
comm -13 /tmp/before.txt /tmp/after.txt | cut -d' ' -f1 >/tmp/added.txt
xargs -r -a /tmp/added.txt cp --parents -P -t /build/venv-delta
"${AIRFLOW_VENV}/bin/python" /usr/local/lib/airflow-image/strip_safely.py /build/venv-delta
# only what was added can link against a library the production set does not (ldd over all of
# site-packages took seconds of a rebuild that adds one pure-Python package)
grep -E '\.so(\.[0-9]+)*$' /tmp/added.txt | tr '\n' '\0' | packages_linked_by "${AIRFLOW_VENV}" >/tmp/linked.txt || true
comm -13 /build/info/runtime-apt-deps.txt /tmp/linked.txt >/build/info-extra/runtime-apt-deps.txt
"${AIRFLOW_VENV}/bin/pip" check
EOF

########################################################################################################
# `invoke fill-context-files` builds the targets below with the same build arguments as the image and
# writes its files into docker-context-files/: a wheel for every installed distribution (sdists
# such as python-ldap and mysqlclient built here, with the build stage's compilers), the uv wheel,
# and the .deb files both stages install, with their dependencies. With them, the image builds with
# INSTALL_FROM_CONTEXT_FILES=true under `--network none`.
FROM additional AS context-wheels
ARG CACHE_SALT
ARG AIRFLOW_VENV
ARG UV_VERSION
SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]
RUN --mount=type=cache,target=/root/.cache/pip,id=pip-cache${CACHE_SALT} \
    --mount=type=secret,id=cacert \
    <<EOF
source /usr/local/lib/airflow-image/common.sh
use_ca_bundle_if_given
mkdir -p /out/wheels
"${AIRFLOW_VENV}/bin/pip" freeze --all --exclude-editable >/tmp/installed.txt
"${AIRFLOW_VENV}/bin/pip" wheel --quiet --no-deps --wheel-dir /out/wheels -r /tmp/installed.txt
"${AIRFLOW_VENV}/bin/pip" download --quiet --no-deps --only-binary=:all: --dest /out/wheels "uv==${UV_VERSION}"
EOF

FROM ${PYTHON_BASE_IMAGE} AS context-debs
ARG DEV_APT_DEPS
ARG ADDITIONAL_DEV_APT_DEPS
ARG RUNTIME_APT_DEPS
ARG ADDITIONAL_RUNTIME_APT_DEPS
ARG INSTALL_POSTGRES_CLIENT
ARG INSTALL_MYSQL_CLIENT
ARG INSTALL_MSSQL_CLIENT
ARG INSTALL_MSODBCSQL
SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]
RUN --mount=type=bind,from=build,source=/build/info,target=/build-info \
    --mount=type=bind,source=docker-context-files,target=/context/docker-context-files \
    --mount=type=bind,from=build,source=/usr/local/lib/airflow-image,target=/usr/local/lib/airflow-image \
    --mount=type=secret,id=cacert \
    <<EOF
source /usr/local/lib/airflow-image/common.sh
use_ca_bundle_if_given
rm -f /etc/apt/apt.conf.d/docker-clean
add_context_apt_sources
apt_get update -qq
check_msodbcsql_source
# shellcheck disable=SC2086
build_packages=$(resolve_apt_names ${DEV_APT_DEPS} ${ADDITIONAL_DEV_APT_DEPS})
# shellcheck disable=SC2086,SC2046
runtime_packages=$(resolve_apt_names ${RUNTIME_APT_DEPS} ${ADDITIONAL_RUNTIME_APT_DEPS} $(database_client_packages) \
    $(cat /build-info/runtime-apt-deps.txt))
# Downloaded against the pristine base, so each set holds every dependency the base lacks.
# shellcheck disable=SC2086
download_debs /out/debs/build ${build_packages}
# shellcheck disable=SC2086
download_debs /out/debs/runtime ${runtime_packages}
EOF

FROM scratch AS docker-context-files
COPY --from=context-wheels /out/ /
COPY --from=context-debs /out/ /

########################################################################################################
# What the image needs from Debian that is known before the environment exists: the init, the tools,
# the database clients, the user. It needs nothing from the build stage, so BuildKit runs it while the
# environment installs. Its apt caches have ids of their own: with the build stage's, one stage would
# wait for the other's lock. ADDITIONAL_RUNTIME_APT_DEPS come after the environment, in `main`:
# changing them then does not copy the environment again.
FROM ${PYTHON_BASE_IMAGE} AS runtime
ARG CACHE_SALT
ARG TARGETARCH
ARG AIRFLOW_UID
ARG AIRFLOW_HOME
ARG AIRFLOW_USER_HOME_DIR
ARG RUNTIME_APT_DEPS
ARG INSTALL_FROM_CONTEXT_FILES
ARG INSTALL_POSTGRES_CLIENT
ARG INSTALL_MYSQL_CLIENT
ARG INSTALL_MSSQL_CLIENT
ARG INSTALL_MSODBCSQL

SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]

RUN --mount=type=cache,target=/var/cache/apt,id=apt-archives-runtime-${TARGETARCH}${CACHE_SALT},sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,id=apt-lists-runtime-${TARGETARCH}${CACHE_SALT},sharing=locked \
    --mount=type=bind,source=image/scripts,target=/usr/local/lib/airflow-image \
    --mount=type=bind,source=docker-context-files,target=/context/docker-context-files \
    --mount=type=secret,id=cacert \
    <<EOF
source /usr/local/lib/airflow-image/common.sh
rm -f /etc/apt/apt.conf.d/docker-clean
keep_package_docs_out
# msodbcsql18's own install scripts refuse to run unless its EULA is accepted.
[[ ${INSTALL_MSODBCSQL} == true ]] && export ACCEPT_EULA=Y
if [[ ${INSTALL_FROM_CONTEXT_FILES} == true ]]; then
    # the folder also holds ADDITIONAL_RUNTIME_APT_DEPS and the libraries the environment links against
    install_local_debs /context/docker-context-files/debs/runtime
else
    use_ca_bundle_if_given
    add_context_apt_sources
    apt_get update -qq
    # this stage runs alongside the build stage, which checks the same: whichever gets here first says it
    check_msodbcsql_source
    # shellcheck disable=SC2086,SC2046
    packages=$(resolve_apt_names ${RUNTIME_APT_DEPS} $(database_client_packages))
    # shellcheck disable=SC2086
    apt_get install -y -qq --no-install-recommends ${packages} >/dev/null
    # the image's apt configuration stays the base's: a derived image adds the sources it wants
    remove_context_apt_sources
fi
[[ -x /usr/bin/dumb-init ]] || fail "RUNTIME_APT_DEPS (${RUNTIME_APT_DEPS}) lacks dumb-init, the image's init (its ENTRYPOINT)"
rm -rf /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old
# uid AIRFLOW_UID, primary group 0: any uid that runs with gid 0 (OpenShift) can write what it must.
useradd --uid "${AIRFLOW_UID}" --gid 0 --no-log-init --create-home --home-dir "${AIRFLOW_USER_HOME_DIR}" \
    --shell /bin/bash airflow
mkdir -p "${AIRFLOW_HOME}"/{dags,logs,plugins,config} /usr/local/share/airflow
chown -R "${AIRFLOW_UID}:0" "${AIRFLOW_HOME}" "${AIRFLOW_USER_HOME_DIR}"
chmod -R g=u "${AIRFLOW_HOME}" "${AIRFLOW_USER_HOME_DIR}"
# The entrypoint adds a passwd entry for an arbitrary uid, so tools that look the user up work.
chmod g=u /etc/passwd
EOF

########################################################################################################
# ADDITIONAL_RUNTIME_APT_DEPS, and the libraries the environment's extensions link against where the
# runtime stage lacks them, installed on the runtime stage alone; the final stage copies just the files
# this adds, above the environment. Not a step of the final stage: BuildKit 0.13 checksums the whole
# root filesystem of a step with a secret mount before running it, which took 7-10 s once the 2 GB
# environment was in it.
FROM runtime AS runtime-additions
ARG CACHE_SALT
ARG TARGETARCH
ARG INSTALL_FROM_CONTEXT_FILES
ARG ADDITIONAL_RUNTIME_APT_DEPS
SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]
RUN --mount=type=cache,target=/var/cache/apt,id=apt-archives-runtime-${TARGETARCH}${CACHE_SALT},sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,id=apt-lists-runtime-${TARGETARCH}${CACHE_SALT},sharing=locked \
    --mount=type=bind,from=build,source=/build/info,target=/build-info \
    --mount=type=bind,from=additional,source=/build/info-extra,target=/build-info-extra \
    --mount=type=bind,source=image/scripts,target=/usr/local/lib/airflow-image \
    --mount=type=bind,source=docker-context-files,target=/context/docker-context-files \
    --mount=type=secret,id=cacert \
    <<EOF
touch /tmp/started
source /usr/local/lib/airflow-image/common.sh
# shellcheck disable=SC2046
missing=$(packages_not_installed $(cat /build-info/runtime-apt-deps.txt /build-info-extra/runtime-apt-deps.txt))
if [[ ${INSTALL_FROM_CONTEXT_FILES} == true ]]; then
    [[ -z ${missing} ]] \
        || fail "docker-context-files/debs/runtime lacks ${missing//$'\n'/ }, which the environment links against; fill it again with invoke fill-context-files"
elif [[ -n ${missing} || -n ${ADDITIONAL_RUNTIME_APT_DEPS} ]]; then
    use_ca_bundle_if_given
    add_context_apt_sources
    apt_get update -qq
    # shellcheck disable=SC2086
    packages="${missing} $(resolve_apt_names ${ADDITIONAL_RUNTIME_APT_DEPS})"
    # shellcheck disable=SC2086
    apt_get install -y -qq --no-install-recommends ${packages} >/dev/null
    remove_context_apt_sources
    rm -rf /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old
fi
cp /build-info/constraints.txt /build-info/pin-airflow.txt /build-info/security-overrides.txt /usr/local/share/airflow/
# What this step added or replaced, with the directories down to it, for the final stage to copy.
# dpkg keeps a package's own mtimes, so the change time tells which files are new. A file the step
# deletes would stay in the image; installing packages adds and replaces files.
mkdir -p /stage/added
find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /stage \) -prune \
    -o -cnewer /tmp/started \( ! -type d -o -empty \) -print0 \
    | xargs -0 -r cp -a --parents -t /stage/added
EOF

########################################################################################################
FROM runtime AS main
# Only these two before the copies: every ARG declared above a RUN is part of its cache key, and a
# changed ADDITIONAL_RUNTIME_APT_DEPS must not copy the environment again.
ARG AIRFLOW_VENV
ARG AIRFLOW_UID

SHELL ["/bin/bash", "-o", "pipefail", "-e", "-u", "-c"]

# The environment arrives as two layers of similar size (venv_layers.py says why), copied with cp:
# 7 s against COPY's 12 s for 1.9 GB. Not COPY --link either: under the containerd store it copied
# the environment twice (19 s against 8.5 s).
RUN --mount=type=bind,from=build,source=${AIRFLOW_VENV},target=/tmp/venv \
    --mount=type=bind,from=build,source=/build/info,target=/build-info \
    --mount=type=bind,source=image/scripts/venv_layers.py,target=/tmp/venv_layers.py \
    python3 /tmp/venv_layers.py copy /tmp/venv "${AIRFLOW_VENV}" 0 /build-info/venv-layers.txt "${AIRFLOW_UID}"
# hadolint ignore=DL3059
RUN --mount=type=bind,from=build,source=${AIRFLOW_VENV},target=/tmp/venv \
    --mount=type=bind,from=build,source=/build/info,target=/build-info \
    --mount=type=bind,source=image/scripts/venv_layers.py,target=/tmp/venv_layers.py \
    python3 /tmp/venv_layers.py copy /tmp/venv "${AIRFLOW_VENV}" 1 /build-info/venv-layers.txt "${AIRFLOW_UID}"

ARG AIRFLOW_VERSION
ARG AIRFLOW_EXTRAS
ARG ADDITIONAL_AIRFLOW_EXTRAS
ARG AIRFLOW_CONSTRAINTS
ARG AIRFLOW_HOME
ARG AIRFLOW_USER_HOME_DIR

COPY --from=runtime-additions /stage/added/ /
COPY --from=additional --chown=${AIRFLOW_UID}:0 /build/venv-delta/ /
COPY --chmod=755 image/entrypoint.sh /entrypoint
COPY --chmod=644 image/connection_check.py /usr/local/lib/airflow-image/connection_check.py
COPY --chmod=755 image/clean-logs.sh /clean-logs

ENV AIRFLOW_HOME=${AIRFLOW_HOME} \
    AIRFLOW_USER_HOME_DIR=${AIRFLOW_USER_HOME_DIR} \
    AIRFLOW_UID=${AIRFLOW_UID} \
    AIRFLOW_VERSION=${AIRFLOW_VERSION} \
    VIRTUAL_ENV=${AIRFLOW_VENV} \
    PATH=${AIRFLOW_VENV}/bin:${PATH} \
    LANG=C.UTF-8 \
    DUMB_INIT_SETSID=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CONSTRAINT=/usr/local/share/airflow/pin-airflow.txt \
    UV_CONSTRAINT=/usr/local/share/airflow/pin-airflow.txt

WORKDIR ${AIRFLOW_HOME}
USER ${AIRFLOW_UID}:0
EXPOSE 8080

ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]
CMD []

# Labels last: their values change with every build and must not invalidate any layer above.
ARG BUILD_DATE=""
ARG VCS_REF=""
ARG SOURCE_URL="https://github.com/apache/airflow-image"
ARG BASE_IMAGE_DIGEST=""
ARG BUILD_INPUTS_HASH=""
ARG AIRFLOW_VARIANT="regular"
ARG AIRFLOW_SECURITY_OVERRIDES
# The build stage already checked the flavour against the base's python.
ARG PYTHON_BASE_IMAGE
ARG AIRFLOW_PYTHON_VERSION
LABEL org.opencontainers.image.title="Apache Airflow" \
      org.opencontainers.image.description="Production image of Apache Airflow" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${AIRFLOW_VERSION}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.base.name="${PYTHON_BASE_IMAGE}" \
      org.opencontainers.image.base.digest="${BASE_IMAGE_DIGEST}" \
      org.apache.airflow.version="${AIRFLOW_VERSION}" \
      org.apache.airflow.python.version="${AIRFLOW_PYTHON_VERSION}" \
      org.apache.airflow.uid="${AIRFLOW_UID}" \
      org.apache.airflow.extras="${AIRFLOW_EXTRAS}${ADDITIONAL_AIRFLOW_EXTRAS:+,${ADDITIONAL_AIRFLOW_EXTRAS}}" \
      org.apache.airflow.constraints="${AIRFLOW_CONSTRAINTS}" \
      org.apache.airflow.security-overrides="${AIRFLOW_SECURITY_OVERRIDES}" \
      org.apache.airflow.variant="${AIRFLOW_VARIANT}" \
      org.apache.airflow.image.inputs-hash="${BUILD_INPUTS_HASH}"
