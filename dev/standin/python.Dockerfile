# Stand-in for an official python:X.Y-slim-SUITE image, made from Debian's own python3.
# Used only where Docker Hub cannot be reached (CI hosts); see dev/setup-host.sh.
# Like the official slim image it has Python's headers (C extensions build against them) but no
# compiler and no -dev packages: those come with the build stage, never with the base.
ARG ROOTFS
FROM ${ROOTFS}
ARG PY
RUN set -eu; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends \
        "python${PY}" "python${PY}-venv" python3-pip ca-certificates tzdata netbase >/dev/null; \
    cd /tmp; apt-get download -qq "libpython${PY}-dev" "python${PY}-dev"; \
    for deb in ./*.deb; do dpkg-deb -x "$deb" /tmp/dev; done; \
    cp -a /tmp/dev/usr/include/. /usr/include/; \
    rm -rf /tmp/dev /tmp/*.deb; \
    rm -f /usr/lib/python${PY}/EXTERNALLY-MANAGED; \
    ln -sf "/usr/bin/python${PY}" /usr/local/bin/python; \
    ln -sf "/usr/bin/python${PY}" /usr/local/bin/python3; \
    ln -sf "/usr/bin/python${PY}" "/usr/local/bin/python${PY}"; \
    printf '#!/bin/sh\nexec /usr/local/bin/python -m pip "$@"\n' >/usr/local/bin/pip; \
    chmod +x /usr/local/bin/pip; cp /usr/local/bin/pip /usr/local/bin/pip3; \
    apt-get clean; rm -rf /var/lib/apt/lists/*; \
    test -f "/usr/include/python${PY}/Python.h"; \
    python --version
ENV LANG=C.UTF-8 PYTHON_VERSION=${PY}
CMD ["python3"]
