from __future__ import annotations

from pathlib import Path

# settings, matrix and root come from tests/conftest.py
DATA = Path(__file__).parent / "data"
