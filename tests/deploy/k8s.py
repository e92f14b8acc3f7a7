"""Rendering the kustomize overlays, validating their objects offline and the container
policy every workload must meet (used by test_k8s.py)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
CRDS = Path(__file__).parent / "crds"
# The Kubernetes release the built-in kinds are validated against (the kubectl on CI is 1.32).
KUBERNETES_VERSION = "1.32.0"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# Kinds whose containers run until stopped: they need probes (a Job's containers do not).
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}

Obj = dict[str, Any]


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def _render(overlay: str) -> str:
    exe = kubectl()
    assert exe is not None
    done = subprocess.run(
        [exe, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def render(overlay: str) -> list[Obj]:
    """The overlay's objects as `kubectl kustomize` renders them (a fresh copy each call)."""
    return [doc for doc in yaml.safe_load_all(_render(overlay)) if doc]


# --- schema validation --------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """``schema`` with unknown fields refused wherever it lists its properties, as
    kubernetes-validate's strict schemas do for built-in kinds: a misspelt field in a custom
    resource is otherwise silently pruned by the API server."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the vendored openAPIV3Schema, made strict (crds/README.md)."""
    schemas = {}
    for path in sorted(CRDS.glob("*.json")):
        doc = json.loads(path.read_text())
        schemas[(doc["apiVersion"], doc["kind"])] = _strict(doc["openAPIV3Schema"])
    return schemas


def validation_errors(obj: Obj) -> list[str]:
    """Why ``obj`` is not a valid object of its kind ([] when it is)."""
    key = (obj["apiVersion"], obj["kind"])
    name = f"{obj['kind']}/{obj['metadata']['name']}"
    schema = crd_schemas().get(key)
    if schema is None:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return [f"{name}: no schema for {key} (built in, or vendored in tests/deploy/crds)"]
        except kubernetes_validate.ValidationError as exc:
            return [f"{name}: {'/'.join(map(str, exc.path))}: {exc.message}"]
        return []
    validator = jsonschema.Draft7Validator(schema)
    return [f"{name}: {'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]


# --- container policy ---------------------------------------------------------------------

REQUIRED_SECURITY = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
}


def pod_spec(obj: Obj) -> Obj | None:
    """The pod template's spec of a workload (None for other kinds)."""
    if obj["kind"] not in WORKLOAD_KINDS:
        return None
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: Obj = spec["template"]["spec"]
    return result


def containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    """("containers" | "initContainers", container) of a pod spec."""
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or []:
            yield field, container


def policy_violations(objects: list[Obj]) -> list[str]:
    """What breaks the policy, one line per finding: every container runs as non-root with a
    read-only root, no privilege escalation, ALL capabilities dropped and the RuntimeDefault
    seccomp profile; declares cpu and memory requests and a memory limit; and, in long-running
    workloads, has startup, readiness and liveness probes (init containers cannot)."""
    found = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        pod_security = spec.get("securityContext") or {}
        for field, container in containers(spec):
            where = f"{obj['kind']}/{obj['metadata']['name']} {field}/{container['name']}"
            security = container.get("securityContext")
            if not security:
                found.append(f"{where}: no securityContext")
                security = {}
            for key, wanted in REQUIRED_SECURITY.items():
                if security.get(key, pod_security.get(key) if key == "runAsNonRoot" else None) != wanted:
                    found.append(f"{where}: securityContext.{key} is not {wanted}")
            if security.get("privileged"):
                found.append(f"{where}: privileged")
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                found.append(f"{where}: capabilities do not drop ALL")
            seccomp = security.get("seccompProfile") or pod_security.get("seccompProfile") or {}
            if seccomp.get("type") != "RuntimeDefault":
                found.append(f"{where}: seccompProfile is not RuntimeDefault")
            resources = container.get("resources") or {}
            for part, names in (("requests", ("cpu", "memory")), ("limits", ("memory",))):
                for res in names:
                    if res not in (resources.get(part) or {}):
                        found.append(f"{where}: no resources.{part}.{res}")
            if obj["kind"] in LONG_RUNNING and field == "containers":
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if probe not in container:
                        found.append(f"{where}: no {probe}")
    return found


def without(objects: list[Obj], kind: str, name: str, field: str) -> list[Obj]:
    """A copy of ``objects`` where the first container of ``kind/name`` lacks ``field``."""
    changed = copy.deepcopy(objects)
    for obj in changed:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            spec = pod_spec(obj)
            assert spec is not None
            del spec["containers"][0][field]
            return changed
    raise LookupError(f"{kind}/{name}")
