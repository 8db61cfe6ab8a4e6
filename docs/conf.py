"""Sphinx configuration of the docs site: `invoke docs` or `nox -s docs` (warnings are errors).

Pages are Markdown (MyST). A line `<!-- generated: NAME -->` in a page is replaced, at every build,
by a reference table generated from the sources (airflow_image.docs_reference): the build
arguments, the nox sessions, the invoke tasks and the image tags.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from airflow_image import docs_reference  # noqa: E402
from airflow_image.cli_options import build_parser  # noqa: E402
from airflow_image.errors import AirflowImageError  # noqa: E402
from airflow_image.matrix import load_matrix  # noqa: E402
from airflow_image.runner import SubprocessRunner  # noqa: E402
from airflow_image.settings import load_settings  # noqa: E402

SETTINGS = load_settings(ROOT)
MATRIX = load_matrix(SETTINGS.matrix_path)

project = "Apache Airflow production image"
author = "The Apache Software Foundation"
copyright = "The Apache Software Foundation, Apache-2.0"
release = MATRIX.default_release().version

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["README.md", "**/README.md"]
nitpicky = True

# `[text](source:Dockerfile)` links a file of the repository (pages may only link other pages).
myst_url_schemes = {
    "http": None,
    "https": None,
    "mailto": None,
    "source": SETTINGS.source_url + "/blob/main/{{path}}",
}
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]

# furo uses the system's fonts and ships its scripts: a build fetches nothing, a page loads nothing
# from another host.
html_theme = "furo"
html_title = f"Airflow image {release}"
html_show_sourcelink = False
html_copy_source = False


def setup(app):
    sections = docs_reference.generators(
        ROOT, SETTINGS, MATRIX, SubprocessRunner(), build_parser=build_parser("build_prod")
    )

    def fill_generated_sections(app, docname: str, source: list[str]) -> None:
        try:
            source[0] = docs_reference.fill_markers(source[0], sections)
        except AirflowImageError as exc:
            # a warning, not an exception: one line naming the page, and -W still fails the build
            logging.getLogger("airflow_image.docs").warning(str(exc), location=docname)

    app.connect("source-read", fill_generated_sections)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
