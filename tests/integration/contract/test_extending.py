"""The documented ways to extend the image work (derived images built for real)."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from ..wheels import make_wheel

pytestmark = pytest.mark.throwaway_images("airflow-extended")

DAG = """
from airflow.sdk import dag, task

@dag(schedule=None)
def extended_dag():
    @task
    def hello():
        return "hi"
    hello()

extended_dag()
"""
PLUGIN = """
from airflow.plugins_manager import AirflowPlugin

class ExtendedPlugin(AirflowPlugin):
    name = "extended_plugin"
"""


def build(context, dockerfile: str, tag: str, *, network: str = "none") -> subprocess.CompletedProcess:
    (context / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    return subprocess.run(
        ["docker", "buildx", "build", "--progress=plain", "--network", network, "--load", "--tag", tag, str(context)],
        capture_output=True,
        text=True,
        timeout=900,
    )


def run(tag: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", tag, *command], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def context(tmp_path):
    make_wheel(tmp_path, "tiny-ext", "1.0")
    make_wheel(tmp_path, "needs-old-airflow", "1.0", requires=("apache-airflow<3",))
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "extended.py").write_text(DAG)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "extended_plugin.py").write_text(PLUGIN)
    return tmp_path


def test_pip_install_as_the_default_user_keeps_airflow_pinned(context, small_image):
    result = build(
        context,
        f"""
        FROM {small_image}
        COPY tiny_ext-1.0-py3-none-any.whl /tmp/
        RUN test "$(id -u)" = 50000 && pip install --no-index /tmp/tiny_ext-1.0-py3-none-any.whl && pip check
        """,
        "airflow-extended:pip",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checked = run(
        "airflow-extended:pip", "bash", "-c", "python -c 'import tiny_ext; print(tiny_ext.VALUE)' && pip check"
    )
    assert checked.returncode == 0 and "42" in checked.stdout, checked.stdout + checked.stderr


def test_a_requirement_that_would_change_airflow_is_refused(context, small_image, matrix):
    result = build(
        context,
        f"""
        FROM {small_image}
        COPY needs_old_airflow-1.0-py3-none-any.whl /tmp/
        RUN pip install --no-index /tmp/needs_old_airflow-1.0-py3-none-any.whl
        """,
        "airflow-extended:refused",
    )
    assert result.returncode != 0
    assert "needs-old-airflow 1.0 depends on apache-airflow<3" in result.stderr
    assert f"The user requested (constraint) apache-airflow=={matrix.default_release().version}" in result.stderr


def test_root_apt_install_then_back_to_airflow(context, small_image):
    # apt needs the Debian mirror: the build uses the host's network, like any user's build
    result = build(
        context,
        f"""
        FROM {small_image}
        USER root
        RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends jq >/dev/null \\
            && rm -rf /var/lib/apt/lists/*
        USER airflow
        """,
        "airflow-extended:apt",
        network="host",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checked = run("airflow-extended:apt", "bash", "-c", "jq --version && id -un && id -g")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.split()[1:] == ["airflow", "0"]


def test_dags_and_plugins_added_with_copy(context, small_image):
    result = build(
        context,
        f"""
        FROM {small_image}
        COPY --chown=airflow:0 dags/ /opt/airflow/dags/
        COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
        """,
        "airflow-extended:dags",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checked = run(
        "airflow-extended:dags",
        "bash",
        "-c",
        (
            "export AIRFLOW__CORE__LOAD_EXAMPLES=false; airflow plugins -o json 2>/dev/null; echo; "
            "python -c 'from airflow.dag_processing.dagbag import DagBag; b = DagBag(); "
            'print("dags", sorted(b.dag_ids), "errors", len(b.import_errors))\''
        ),
    )
    assert checked.returncode == 0, checked.stderr
    assert '"name": "extended_plugin"' in checked.stdout
    assert "dags ['extended_dag'] errors 0" in checked.stdout
