"""[tool.airflow-image] ci-images entries: what CI builds, and the one-line errors for bad entries."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from airflow_image.errors import ConfigError
from airflow_image.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def settings_with_ci_images(tmp_path: Path, entries: str):
    """The project's own pyproject.toml with its ci-images replaced by `entries`."""
    text = (ROOT / "pyproject.toml").read_text()
    text = re.sub(r"\n(?:#[^\n]*\n)*\[\[tool\.airflow-image\.ci-images\]\].*?(?=\n\[tool\.pytest)", "\n", text,
                  flags=re.S)  # fmt: skip
    assert "ci-images" not in text
    text = text.replace("\n[tool.pytest", f"\n{entries}\n[tool.pytest", 1)
    (tmp_path / "pyproject.toml").write_text(text)
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return load_settings(tmp_path)


@pytest.mark.parametrize(
    ("entry", "platforms", "label"),
    [
        ('python = "3.11"\nextras = ["postgres"]', (), "postgres"),
        ('python = "3.11"\nextras = ["postgres"]\nplatforms = ["linux/arm64"]', ("linux/arm64",), "postgres-arm64"),
        (
            'python = "3.11"\nextras = ["postgres", "celery"]\nplatforms = ["linux/amd64", "linux/arm64"]',
            ("linux/amd64", "linux/arm64"),
            "postgres-celery-amd64-arm64",
        ),
        ('python = "3.11"\nvariant = "slim"', (), "slim"),
        ('python = "3.11"\nextras = []', (), "core"),
    ],
)
def test_ci_image_platforms_and_label(tmp_path, entry, platforms, label):
    [image] = settings_with_ci_images(tmp_path, f"[[tool.airflow-image.ci-images]]\n{entry}\n").ci_images
    assert image.platforms == platforms
    assert image.label == label


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('platforms = ["linux/s390x"]', "ci-images platform 'linux/s390x' is not one of: linux/amd64, linux/arm64"),
        ('platforms = "linux/arm64"', "platforms must be a list of distinct platforms, got 'linux/arm64'"),
        ('platforms = ["linux/arm64", "linux/arm64"]', "platforms must be a list of distinct platforms"),
        ('variant = "tiny"', "ci-images variant must be regular or slim, got 'tiny'"),
    ],
)
def test_bad_ci_image_entries_are_one_line_errors(tmp_path, entry, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        settings_with_ci_images(tmp_path, f'[[tool.airflow-image.ci-images]]\npython = "3.11"\n{entry}\n')
    assert "\n" not in str(raised.value)
