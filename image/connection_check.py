"""Waits until a service named by a connection URL accepts TCP connections (bounded retries).

Used by the entrypoint for the metadata database and the Celery broker. It parses the URL itself
(no Airflow import: a few milliseconds per start) and never prints credentials: only
scheme://host:port appears in messages.

    python connection_check.py LABEL URL MAX_COUNT SLEEP_SECONDS
Exit 0 when reachable (or nothing to wait for, e.g. SQLite), 1 with one line on stderr otherwise.
"""

from __future__ import annotations

import socket
import sys
import time
from urllib.parse import urlsplit

DEFAULT_PORTS = {
    "postgres": 5432, "postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433,
    "redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "pyamqp": 5672, "sqla": 5432,
}


def endpoint(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port), or None when there is nothing to wait for (SQLite, sockets)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme in ("sqlite", "") or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    if port is None:
        raise ValueError(f"no port in the {scheme} URL and no default port for scheme '{scheme}'")
    return scheme, parts.hostname, port


def main(label: str, url: str, max_count: int, sleep_seconds: float) -> int:
    try:
        target = endpoint(url)
    except ValueError as exc:
        print(f"ERROR: the {label} URL is not usable: {exc}", file=sys.stderr)
        return 1
    if target is None or max_count <= 0:
        return 0
    scheme, host, port = target
    for attempt in range(1, max_count + 1):
        try:
            with socket.create_connection((host, port), timeout=5):
                return 0
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if attempt < max_count:
                print(f"waiting for the {label} at {scheme}://{host}:{port} ({attempt}/{max_count}): {reason}",
                      file=sys.stderr, flush=True)
                time.sleep(sleep_seconds)
    print(f"ERROR: cannot reach the {label} at {scheme}://{host}:{port} after {max_count} attempts "
          f"(CONNECTION_CHECK_MAX_COUNT={max_count}, CONNECTION_CHECK_SLEEP_TIME={sleep_seconds:g})",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    label, url, count, sleep = sys.argv[1:5]
    sys.exit(main(label, url, int(count), float(sleep)))
