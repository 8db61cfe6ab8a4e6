"""Fixtures of the chart tests: one loaded chart, renders cached per values set (so a values set is
rendered once however many tests look at it), and the repository root."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_image.chart import chart_dir
from airflow_image.chart.render import ChartRenderer, Rendered

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def chart_path() -> Path:
    return chart_dir(REPO_ROOT)


@pytest.fixture(scope="session")
def renderer(chart_path: Path):
    with ChartRenderer(chart_path) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(renderer: ChartRenderer) -> Callable[..., Rendered]:
    """Offline render (no lookup data), cached by values."""
    cache: dict[str, Rendered] = {}

    def _render(values: dict | None = None, *, upgrade: bool = False) -> Rendered:
        key = json.dumps([values or {}, upgrade], sort_keys=True)
        if key not in cache:
            cache[key] = renderer.render(values or {}, upgrade=upgrade)
        return cache[key]

    return _render
