"""Drives one generated compose project (the real `docker compose`) and Airflow's REST API on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import requests

from airflow_image.runner import CommandRunner

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, probe: Callable[[], T | None], *, timeout: float, every: float = 1.0) -> T:
    """Calls probe until it returns something truthy; fails naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except (requests.RequestException, ValueError) as exc:
            # a refused connection is "not yet", never an answer
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")
        time.sleep(every)


@dataclass(frozen=True)
class Stack:
    runner: CommandRunner
    project: str
    compose_file: Path
    env_file: Path

    def compose(self, *args: str, capture: bool = False, check: bool = True):
        argv = ["docker", "compose", "-p", self.project, "-f", str(self.compose_file), "--env-file", str(self.env_file)]
        return self.runner.run([*argv, *args], capture=capture, check=check)

    def up(self, *, timeout: int) -> None:
        self.compose("up", "-d", "--wait", "--wait-timeout", str(timeout))

    def container(self, service: str) -> dict:
        ids = self.compose("ps", "-q", service, capture=True).stdout.split()
        assert len(ids) == 1, f"expected one {service} container, found {ids}"
        out = self.runner.run(["docker", "inspect", ids[0]], capture=True, quiet=True).stdout
        return json.loads(out)[0]

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", capture=True, check=False).stdout


class AirflowApi:
    """The REST API as the quick start's admin user (`POST /auth/token` gives the bearer token)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        self.username = username
        self.password = password

    def login(self) -> None:
        r = self.session.post(
            f"{self.base}/auth/token", json={"username": self.username, "password": self.password}, timeout=10
        )
        r.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def get(self, path: str, *, ok_missing: bool = False) -> dict | None:
        r = self.session.get(f"{self.base}/api/v2{path}", timeout=10)
        if ok_missing and r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def send(self, method: str, path: str, body: dict) -> dict:
        r = self.session.request(method, f"{self.base}/api/v2{path}", json=body, timeout=10)
        assert r.ok, f"{method} {path} → {r.status_code} {r.text[:300]}"
        return r.json()

    def trigger(self, dag_id: str, conf: dict) -> str:
        return self.send("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")["state"]

    def result(self, dag_id: str, run_id: str, task_id: str):
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.get(path)["value"]
