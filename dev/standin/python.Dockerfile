# Stand-in for an official python:X.Y-slim-SUITE image, made from Debian's own python3.
# Used only where Docker Hub cannot be reached (CI hosts); see dev/setup-host.sh.
ARG ROOTFS
FROM ${ROOTFS}
ARG PY
RUN set -eu; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends \
        "python${PY}" "python${PY}-venv" "python${PY}-dev" python3-pip ca-certificates tzdata netbase >/dev/null; \
    rm -f /usr/lib/python${PY}/EXTERNALLY-MANAGED; \
    ln -sf "/usr/bin/python${PY}" /usr/local/bin/python; \
    ln -sf "/usr/bin/python${PY}" /usr/local/bin/python3; \
    ln -sf "/usr/bin/python${PY}" "/usr/local/bin/python${PY}"; \
    printf '#!/bin/sh\nexec /usr/local/bin/python -m pip "$@"\n' >/usr/local/bin/pip; \
    chmod +x /usr/local/bin/pip; cp /usr/local/bin/pip /usr/local/bin/pip3; \
    apt-get clean; rm -rf /var/lib/apt/lists/*; \
    python --version
ENV LANG=C.UTF-8 PYTHON_VERSION=${PY}
CMD ["python3"]
