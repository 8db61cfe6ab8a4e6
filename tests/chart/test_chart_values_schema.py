"""values.schema.json: generated from values.yaml, current, documented, and strict — the Helm engine
rejects unknown keys and wrong types with a message naming the key."""

from __future__ import annotations

import json

import pytest
import yaml

from airflow_image.chart.values_schema import build_schema, parse_key_docs, stale_files, undocumented_keys


def test_generated_files_are_current(repo_root):
    stale = stale_files(repo_root)
    assert not stale, f"regenerate with `python -m airflow_image.chart.values_schema`: {stale}"


def test_every_key_is_documented(chart_path):
    schema = json.loads((chart_path / "values.schema.json").read_text())
    assert undocumented_keys(schema) == []


def test_defaults_pass_the_schema(renderer):
    renderer.validate_values(renderer.default_values)


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"bogus": 1}, ["bogus"]),
        ({"scheduler": {"replica": 2}}, ["replica"]),
        ({"secrets": {"fernetKey": {"existingsecret": "x"}}}, ["existingsecret"]),
        ({"dags": {"gitSync": {"repository": "x"}}}, ["repository"]),
        ({"scheduler": {"replicas": -1}}, ["/scheduler/replicas", "minimum"]),
        ({"workers": {"replicas": -3}}, ["/workers/replicas"]),
        ({"workers": {"replicas": "2"}}, ["/workers/replicas", "string"]),
        ({"apiServer": {"service": {"port": 70000}}}, ["/apiServer/service/port"]),
        ({"executor": ""}, ["/executor"]),
        ({"executor": ["CeleryExecutor"]}, ["/executor"]),
        ({"image": {"pullPolicy": "Sometimes"}}, ["/image/pullPolicy"]),
        ({"image": {"tag": 3}}, ["/image/tag"]),
        ({"image": {"digest": "latest"}}, ["/image/digest"]),
        ({"networkPolicies": {"enabled": "yes"}}, ["/networkPolicies/enabled"]),
        ({"config": {"core": "parallelism=4"}}, ["/config/core"]),
        ({"config": {"core": {"parallelism": [1]}}}, ["/config/core/parallelism"]),
        ({"env": {"A": {"nested": 1}}}, ["/env/A"]),
        ({"scheduler": {"resources": "big"}}, ["/scheduler/resources"]),
        ({"tolerations": {"key": "x"}}, ["/tolerations"]),
        ({"securityContexts": {"pod": "restricted"}}, ["/securityContexts/pod"]),
        ({"writablePaths": ["tmp"]}, ["/writablePaths/0"]),
        ({"writablePaths": ["/home/airflow"]}, ["/writablePaths"]),
        ({"workers": {"keda": {"sslmode": "maybe"}}}, ["/workers/keda/sslmode"]),
        ({"logs": {"cleanup": {"frequencyMinutes": 0}}}, ["/logs/cleanup/frequencyMinutes"]),
        ({"apiServer": {"hpa": {"maxReplicas": 0}}}, ["/apiServer/hpa/maxReplicas"]),
        ({"database": {"dialect": "sqlite"}}, ["/database/dialect"]),
        ({"imagePullSecrets": [1]}, ["/imagePullSecrets/0"]),
    ],
)
def test_bad_values_are_rejected_naming_the_key(renderer, values, names):
    import helm_python

    with pytest.raises(helm_python.HelmValuesError) as caught:
        renderer.validate_values(values)
    for name in names:
        assert name in str(caught.value)
    # A render (what `helm install` does) refuses them too.
    with pytest.raises(helm_python.HelmValuesError):
        renderer.render(values)


@pytest.mark.parametrize(
    "values",
    [
        {"apiServer": {"pdb": {"minAvailable": "50%"}}},
        {"apiServer": {"pdb": {"maxUnavailable": 2}}},
        {
            "securityContexts": {
                "pod": {
                    "supplementalGroups": [1000],
                    "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
                }
            }
        },
        {"scheduler": {"resources": {"limits": {"memory": "1Gi"}}}},
        {"labels": {"any-key": "v"}},
        {"config": {"any_section": {"any_option": True}}},
    ],
)
def test_kubernetes_and_airflow_maps_stay_open(renderer, values):
    renderer.validate_values(values)


def test_generator_reads_comment_blocks():
    text = (
        "# section comment, not documentation\n\n"
        '# The thing.\n# @schema {"minimum": 1}\ncount: 2\n'
        "block:\n  # Nested.\n  flag: true\n  # Passed through.\n  # @passthrough\n  obj:\n    a: 1\n"
        "list:\n  - name: x\n    value: y\n"
    )
    docs = parse_key_docs(text)
    assert docs[("count",)].description == "The thing."
    assert ("name",) not in docs and ("list", "name") not in docs
    schema = build_schema(text)
    assert schema["properties"]["count"] == {"description": "The thing.", "type": "integer", "minimum": 1}
    assert schema["properties"]["block"]["additionalProperties"] is False
    assert schema["properties"]["block"]["properties"]["obj"] == {"description": "Passed through.", "type": "object"}
    assert schema["properties"]["list"]["type"] == "array"


def test_reference_lists_every_key(repo_root):
    from airflow_image.chart import REFERENCE_DOC

    reference = (repo_root / REFERENCE_DOC).read_text()
    values = yaml.safe_load((repo_root / "chart" / "values.yaml").read_text())
    for key in (
        "image.tag",
        "secrets.fernetKey.existingSecret",
        "migrateDatabaseJob.useHelmHooks",
        "securityContexts.container",
        "workers.keda.query",
    ):
        assert f"`{key}`" in reference
    assert f'`"{values["image"]["tag"]}"`' in reference
