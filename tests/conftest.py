"""Fixtures every test suite shares: the project's settings and version matrix, read once."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_image.matrix import load_matrix
from airflow_image.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def settings():
    return load_settings(ROOT)


@pytest.fixture(scope="session")
def matrix(settings):
    return load_matrix(settings.matrix_path)
