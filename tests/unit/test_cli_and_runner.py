from __future__ import annotations

from pathlib import Path

import pytest

from airflow_image.cli_options import ca_bundle_from, parse_build_options
from airflow_image.errors import CommandFailed, InvalidBuildOption
from airflow_image.noxsupport import unsupported_session_request
from airflow_image.runner import SubprocessRunner, TranscriptRunner


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["--variant", "slim"], "variant", "slim"),
        (["--extras", "postgres,celery"], "extras", ("postgres", "celery")),
        (["--extras", ""], "extras", ()),
        (["--additional-extras", "sentry"], "additional_extras", ("sentry",)),
        (["--additional-python-deps", "a==1 b>2"], "additional_python_deps", ("a==1", "b>2")),
        (["--constraints", "none"], "constraints", "none"),
        (["--base-image", "x/y:1"], "base_image", "x/y:1"),
        (["--tag", "a:1", "--tag", "b:2"], "tags", ("a:1", "b:2")),
        (["--platform", "linux/arm64"], "platforms", ("linux/arm64",)),
        (["--airflow-uid", "1000"], "airflow_uid", 1000),
        (["--no-cache"], "no_cache", True),
        (["--offline"], "offline", True),
        (["--db-clients", "postgres,mssql"], "db_clients", ("postgres", "mssql")),
        (["--db-clients", ""], "db_clients", ()),
        ([], "extras", None),
    ],
)
def test_build_options(argv, field, value):
    options, image, rest = parse_build_options(argv, python="3.12", environ={})
    assert getattr(options, field) == value and image is None and rest == []


def test_version_comes_from_the_environment_and_rest_goes_to_pytest():
    options, image, rest = parse_build_options(
        ["--image", "x:1", "-k", "labels"], python="3.11", environ={"AIRFLOW_VERSION": "2.10.5"}
    )
    assert options.airflow_version == "2.10.5" and image == "x:1" and rest == ["-k", "labels"]


@pytest.mark.parametrize(
    ("value", "bad"),
    [("requests foo=1.0", "foo=1.0"), ("a,b", "a,b"), ("ok==1 --pre", "--pre"), ("x[y", "x[y")],
)
def test_malformed_additional_python_dep_is_refused_when_parsed(value, bad):
    with pytest.raises(InvalidBuildOption) as caught:
        parse_build_options(["--additional-python-deps", value], python="3.12", environ={})
    assert str(caught.value).startswith(f"ADDITIONAL_PYTHON_DEPS entry {bad!r} is not a valid requirement (")
    assert "\n" not in str(caught.value)


def test_bad_option_value_is_one_line():
    with pytest.raises(InvalidBuildOption, match="invalid choice: 'tiny'"):
        parse_build_options(["--variant", "tiny"], python="3.12", environ={})


def test_ca_bundle_precedence(tmp_path):
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    a.write_text("a"), b.write_text("b")
    assert ca_bundle_from(a, {"SSL_CERT_FILE": str(b)}) == a
    assert ca_bundle_from(None, {"AIRFLOW_IMAGE_CA_BUNDLE": str(a), "SSL_CERT_FILE": str(b)}) == a
    assert ca_bundle_from(None, {"SSL_CERT_FILE": str(b)}) == b
    assert ca_bundle_from(None, {}) is None
    with pytest.raises(InvalidBuildOption, match="is not a file"):
        ca_bundle_from(tmp_path / "missing.pem", {})


def _release(matrix):
    return matrix.get("3.3.2")


@pytest.mark.parametrize(
    ("argv", "bad"),
    [
        (["nox", "-s", "build_prod-3.9"], "3.9"),
        (["nox", "--session", "tests", "test_prod-2.7"], "2.7"),
        (["nox", "--session=build_prod-3.15"], "3.15"),
        (["nox", "-s", "build_prod-3.12"], None),
        (["nox", "-l"], None),
        (["nox", "-s", "tests", "--", "build_prod-3.9"], None),
    ],
)
def test_unsupported_session_request(matrix, argv, bad):
    error = unsupported_session_request(argv, _release(matrix))
    assert (error.python if error else None) == bad


def test_runner_dry_run_prints_and_does_not_run(tmp_path):
    lines: list[str] = []
    marker = tmp_path / "ran"
    runner = SubprocessRunner(dry_run=True, echo=lines.append)
    result = runner.run(["touch", str(marker)])
    assert not marker.exists() and result.returncode == 0
    assert lines == [f"(dry run) $ touch {marker}"]


def test_runner_read_only_commands_run_in_a_dry_run():
    result = SubprocessRunner(dry_run=True, echo=lambda _: None).run(["echo", "hi"], capture=True, read_only=True)
    assert result.stdout == "hi\n"


def test_runner_failure_is_typed():
    with pytest.raises(CommandFailed, match=r"`sh -c echo nope >&2; exit 3` failed with exit code 3: nope"):
        SubprocessRunner(echo=lambda _: None).run(["sh", "-c", "echo nope >&2; exit 3"], capture=True)


def test_runner_missing_program_is_typed():
    with pytest.raises(CommandFailed, match="is not installed or not on PATH"):
        SubprocessRunner(echo=lambda _: None).run(["definitely-not-a-program-xyz"])


def test_transcript_keeps_commands_and_their_output_in_order():
    runner = TranscriptRunner()
    runner.run(["sh", "-c", "echo built"])
    runner.echo("note")
    runner.run(["sh", "-c", "echo tested >&2"])
    assert runner.transcript() == "$ sh -c 'echo built'\nbuilt\nnote\n$ sh -c 'echo tested >&2'\ntested"


def test_transcript_leaves_captured_output_to_the_caller():
    runner = TranscriptRunner()
    result = runner.run(["echo", "digest"], capture=True)
    assert result.stdout == "digest\n"
    assert runner.transcript() == "$ echo digest"


def test_transcript_keeps_a_failed_commands_output_and_the_failure_is_typed():
    runner = TranscriptRunner()
    with pytest.raises(CommandFailed, match="failed with exit code 4"):
        runner.run(["sh", "-c", "echo why; exit 4"])
    assert runner.transcript().endswith("\nwhy")
    assert runner.run(["sh", "-c", "exit 4"], check=False).returncode == 4


def test_transcript_dry_run_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    runner = TranscriptRunner(dry_run=True)
    runner.run(["touch", str(marker)])
    assert not marker.exists()
    assert runner.transcript() == f"(dry run) $ touch {marker}"


def test_lock_paths(settings):
    from airflow_image.locks import lock_path, pinned_version

    assert lock_path(Path("c"), "3.3.2", "3.12") == Path("c/3.3.2/constraints-3.12.txt")
    assert pinned_version("# x\nApache_Airflow==3.3.2\nfoo==1 ; python_version<'4'\n", "apache-airflow") == "3.3.2"
    assert pinned_version("foo==1 ; python_version<'4'\n", "foo") == "1"
    assert pinned_version("foo==1\n", "bar") is None


def test_secret_option(tmp_path):
    conf = tmp_path / "uv.toml"
    conf.write_text("")
    options, _, _ = parse_build_options(["--secret", f"uv.toml={conf}"], python="3.12", environ={})
    assert options.secret_files == (("uv.toml", conf),)
    with pytest.raises(InvalidBuildOption, match="is not ID=PATH with an existing file"):
        parse_build_options(["--secret", "uv.toml"], python="3.12", environ={})
