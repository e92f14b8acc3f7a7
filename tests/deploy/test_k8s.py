"""The kustomize manifests are valid YAML, reference files that exist, and configure only
settings and commands the service really has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from app.core.settings import Settings
from app.entrypoints.cli import cli

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUSTOMIZATIONS = sorted(K8S.rglob("kustomization.yaml"))


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_there_is_a_base_and_two_overlays() -> None:
    assert [p.parent.relative_to(K8S).as_posix() for p in KUSTOMIZATIONS] == [
        "base",
        "overlays/dev",
        "overlays/prod",
    ]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda p: p.parent.name)
def test_kustomization_resources_exist(kustomization: Path) -> None:
    (doc,) = _docs(kustomization)
    for resource in doc["resources"]:
        assert (kustomization.parent / resource).exists(), resource


def test_configured_settings_exist() -> None:
    known = {f"MEDIAKG_{name.upper()}" for name in Settings.model_fields}
    seen: set[str] = set()
    for path in K8S.rglob("*.yaml"):
        for doc in _docs(path):
            if doc.get("kind") == "ConfigMap":
                seen |= set(doc["data"])
            for generator in doc.get("configMapGenerator", []):
                seen |= {literal.split("=", 1)[0] for literal in generator.get("literals", [])}
    assert seen
    assert seen - known == set()


def test_containers_run_real_commands() -> None:
    group = typer.main.get_command(cli)
    assert isinstance(group, typer.core.TyperGroup)
    commands = set(group.commands)
    containers = [
        container
        for path in (K8S / "base").glob("*.yaml")
        for doc in _docs(path)
        if doc.get("kind") in {"Deployment", "Job"}
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]
    assert len(containers) == 3
    for container in containers:
        assert container["args"][0] in commands, container["args"]
