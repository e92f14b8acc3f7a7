"""deploy/k8s: every overlay renders with `kubectl kustomize`, every object validates against
its schema (built-in kinds with kubernetes-validate, strict; custom resources with the CRD
schemas vendored in crds/), every container meets the policy (tests/deploy/k8s.py), and the
manifests agree with the code: settings, CLI commands, queue keys, ports and routes."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
import typer
import yaml
from dramatiq.common import dq_name

from app.api.guards import host_allowed
from app.api.urls import BLOB_ROUTE
from app.core.settings import Settings
from app.entrypoints.cli import cli
from app.jobs.service import QUEUES
from tests.deploy.k8s import (
    CRDS,
    K8S,
    OVERLAYS,
    ROOT,
    Obj,
    containers,
    crd_schemas,
    kubectl,
    pod_spec,
    policy_violations,
    render,
    validation_errors,
    without,
)
from tests.fixtures.required import skip_unless_required

DOCS = ROOT / "docs" / "deploy.md"


@pytest.fixture(params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[Obj]:
    if kubectl() is None:
        skip_unless_required("kubectl not installed (it renders the overlays with its built-in kustomize)")
    return render(request.param)


def _one(objects: list[Obj], kind: str, name: str) -> Obj:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _named(objects: list[Obj], kind: str, prefix: str) -> Obj:
    """The object of ``kind`` whose generated name is ``prefix-<hash>``."""
    (found,) = [
        o
        for o in objects
        if o["kind"] == kind and re.fullmatch(rf"{prefix}-[a-z0-9]{{10}}", o["metadata"]["name"])
    ]
    return found


def _config(objects: list[Obj]) -> dict[str, str]:
    data: dict[str, str] = _named(objects, "ConfigMap", "mediakg-config")["data"]
    return data


def _mediakg_containers(objects: list[Obj]) -> list[tuple[Obj, Obj]]:
    return [
        (obj, container)
        for obj in objects
        if (spec := pod_spec(obj)) is not None
        for _, container in containers(spec)
        if container["image"].startswith("ghcr.io/mediakg/mediakg:")
    ]


def test_layout_is_a_base_a_dependencies_component_and_two_overlays() -> None:
    found = sorted(p.parent.relative_to(K8S).as_posix() for p in K8S.rglob("kustomization.yaml"))
    assert found == ["base", "dependencies", "overlays/dev", "overlays/prod"]
    assert OVERLAYS == ["dev", "prod"]


# --- schemas -----------------------------------------------------------------------------


def test_every_object_validates(objects: list[Obj]) -> None:
    errors = [error for obj in objects for error in validation_errors(obj)]
    assert errors == []


def test_validation_refuses_unknown_fields(objects: list[Obj]) -> None:
    api = _one(objects, "Deployment", "mediakg-api")
    api["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert any("readinesProbe" in error for error in validation_errors(api))
    # The strict CRD schemas catch what the API server would silently prune.
    scaled = _one(objects, "ScaledObject", "mediakg-worker-batch")
    scaled["spec"]["minReplicas"] = 0  # the field is minReplicaCount
    assert any("minReplicas" in error for error in validation_errors(scaled))
    pod_monitor = _one(objects, "PodMonitor", "mediakg-workers")
    pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] = 9464  # a port *name*
    assert validation_errors(pod_monitor)


def test_vendored_crd_schemas_are_documented() -> None:
    readme = (CRDS / "README.md").read_text()
    for path in CRDS.glob("*.json"):
        doc = json.loads(path.read_text())
        assert path.name in readme
        assert doc["source"] in readme
        assert doc["commit"] in readme
    assert {kind for _, kind in crd_schemas()} == {
        "ScaledObject",
        "TriggerAuthentication",
        "Elasticsearch",
        "Cluster",
        "ServiceMonitor",
        "PodMonitor",
    }


# --- policy ------------------------------------------------------------------------------


def test_every_container_meets_the_policy(objects: list[Obj]) -> None:
    assert policy_violations(objects) == []


@pytest.mark.parametrize(
    ("field", "finding"),
    [
        ("securityContext", "no securityContext"),
        ("readinessProbe", "no readinessProbe"),
        ("livenessProbe", "no livenessProbe"),
        ("startupProbe", "no startupProbe"),
        ("resources", "no resources.requests.cpu"),
    ],
)
def test_policy_catches_a_container_without(objects: list[Obj], field: str, finding: str) -> None:
    broken = without(objects, "Deployment", "mediakg-api", field)
    assert f"Deployment/mediakg-api containers/api: {finding}" in policy_violations(broken)


def test_policy_catches_a_weakened_security_context(objects: list[Obj]) -> None:
    (api,) = [c for o, c in _mediakg_containers(objects) if c["name"] == "api"]
    api["securityContext"]["readOnlyRootFilesystem"] = False
    api["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}
    assert {
        "Deployment/mediakg-api containers/api: securityContext.readOnlyRootFilesystem is not True",
        "Deployment/mediakg-api containers/api: capabilities do not drop ALL",
    } <= set(policy_violations(objects))


def _bytes(quantity: str) -> int:
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
    return int(quantity[:-2]) * units[quantity[-2:]] if quantity[-2:] in units else int(quantity)


def test_the_app_writes_only_to_declared_volumes(objects: list[Obj]) -> None:
    # Read-only root: the data directory and /tmp (HOME and TMPDIR in the Dockerfile) are
    # emptyDir volumes in every pod of the image, init containers included; the S3 blob
    # cache on the data volume fits in it (a full emptyDir gets the pod evicted).
    config = _config(objects)
    data_dir = config["MEDIAKG_DATA_DIR"]
    cache = int(config["MEDIAKG_BLOB_CACHE_MAX_BYTES"])
    found = _mediakg_containers(objects)
    assert found
    for obj, container in found:
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert {"/tmp", data_dir} <= mounts, f"{obj['metadata']['name']}/{container['name']}"
        spec = pod_spec(obj)
        assert spec is not None
        assert spec["securityContext"]["runAsUser"] == 10001
        volumes = {v["name"]: v for v in spec["volumes"]}
        for mount in container["volumeMounts"]:
            assert "emptyDir" in volumes[mount["name"]]
            if mount["mountPath"] == data_dir:
                assert _bytes(volumes[mount["name"]]["emptyDir"]["sizeLimit"]) > cache


# --- agreement with the code --------------------------------------------------------------


def test_configured_settings_exist(objects: list[Obj]) -> None:
    known = {f"MEDIAKG_{name.upper()}" for name in Settings.model_fields}
    config = _config(objects)
    assert set(config) - known == set()
    Settings.model_validate({key.removeprefix("MEDIAKG_").lower(): value for key, value in config.items()})


def test_config_changes_roll_the_pods(objects: list[Obj]) -> None:
    # Generated name with a content hash, referenced by that name from every pod of the image.
    name = _named(objects, "ConfigMap", "mediakg-config")["metadata"]["name"]
    for _, container in _mediakg_containers(objects):
        assert {"configMapRef": {"name": name}} in container["envFrom"]


def test_containers_run_real_commands_one_worker_per_queue(objects: list[Obj]) -> None:
    group = typer.main.get_command(cli)
    assert isinstance(group, typer.core.TyperGroup)
    queues = []
    for obj, container in _mediakg_containers(objects):
        args = container["args"]
        assert args[0] in group.commands, args
        if args[0] == "worker":
            queues.append(args[args.index("--queue") + 1])
            assert obj["metadata"]["name"] == f"mediakg-worker-{queues[-1]}"
        if args[0] == "db":
            assert args[1:] == ["upgrade", "head"]
            assert container in (pod_spec(obj) or {}).get("initContainers", [])
    assert sorted(queues) == sorted(QUEUES)


def test_images_are_pinned_to_the_release(objects: list[Obj]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for obj in objects:
        spec = pod_spec(obj)
        for _, container in containers(spec) if spec else []:
            image = container["image"]
            assert "@sha256:" in image or re.search(r":[\w.-]+$", image), image
            assert not image.endswith(":latest"), image
            if image.startswith("ghcr.io/mediakg/"):
                assert image.rsplit(":", 1)[1] == version, image


def test_keda_scales_each_worker_on_its_queue_keys(objects: list[Obj]) -> None:
    from jobs.broker import build_broker

    config = _config(objects)
    settings = Settings(
        broker_url="redis://127.0.0.1:1/0", redis_key_prefix=config["MEDIAKG_REDIS_KEY_PREFIX"]
    )
    broker = build_broker(settings, time_limit_s=60)  # no connection until a command runs
    namespace = next(o for o in objects if o["kind"] == "Namespace")["metadata"]["name"]
    for queue in QUEUES:
        scaled = _one(objects, "ScaledObject", f"mediakg-worker-{queue}")
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"mediakg-worker-{queue}"
        triggers = scaled["spec"]["triggers"]
        assert {t["metadata"]["listName"] for t in triggers} == {
            f"{broker.namespace}:{queue}",  # type: ignore[attr-defined]
            f"{broker.namespace}:{dq_name(queue)}",  # type: ignore[attr-defined]
        }
        for trigger in triggers:
            assert trigger["type"] == "redis"
            assert trigger["metadata"]["address"] == f"redis.{namespace}.svc.cluster.local:6379"
            assert _one(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert _one(objects, "ScaledObject", "mediakg-worker-batch")["spec"]["minReplicaCount"] == 0
    hpa = _one(objects, "HorizontalPodAutoscaler", "mediakg-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "mediakg-api"


def test_postgres_admits_every_pod_the_autoscalers_may_run(objects: list[Obj]) -> None:
    # Each pod opens up to pool + overflow (app/core/db.py: max_overflow = pool size).
    per_pod = 2 * int(_config(objects)["MEDIAKG_DATABASE_POOL_SIZE"])
    pods = _one(objects, "HorizontalPodAutoscaler", "mediakg-api")["spec"]["maxReplicas"] + sum(
        o["spec"]["maxReplicaCount"] for o in objects if o["kind"] == "ScaledObject"
    )
    cluster = _one(objects, "Cluster", "mediakg-pg")
    # CNPG keeps superuser_reserved_connections (3) and its own few; 20 spare for operators.
    assert pods * per_pod + 20 <= int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])


def test_every_namespaced_object_is_in_the_overlay_namespace(objects: list[Obj]) -> None:
    (namespace,) = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace, obj["metadata"]["name"]


def test_worker_and_triton_metrics_are_scraped(objects: list[Obj]) -> None:
    config = _config(objects)
    assert config["MEDIAKG_METRICS_HOST"] == "0.0.0.0"
    port = int(config["MEDIAKG_METRICS_PORT"])
    monitor = _one(objects, "PodMonitor", "mediakg-workers")
    selector = monitor["spec"]["selector"]["matchLabels"]
    endpoint_ports = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    workers = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"].startswith("mediakg-worker-")
    ]
    assert len(workers) == len(QUEUES)
    for worker in workers:
        labels = worker["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        (container,) = worker["spec"]["template"]["spec"]["containers"]
        assert {"name": "metrics", "containerPort": port} in container["ports"]
        assert "metrics" in endpoint_ports
    policy = _one(objects, "NetworkPolicy", "mediakg-workers")
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == [port]
    triton = _one(objects, "ServiceMonitor", "triton")
    assert triton["spec"]["endpoints"][0]["port"] == "metrics"
    assert _one(objects, "ServiceMonitor", "mediakg-api")["spec"]["endpoints"][0]["path"] == "/metrics"


def test_probes_outlast_the_start_up(objects: list[Obj]) -> None:
    # The API waits up to triton_startup_timeout_seconds for Triton before /healthz answers:
    # the startup probe must allow more than that before liveness can restart the pod.
    wait = Settings.model_fields["triton_startup_timeout_seconds"].default
    api = _one(objects, "Deployment", "mediakg-api")["spec"]["template"]["spec"]["containers"][0]
    startup = api["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 2 * wait
    assert startup["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    triton = _one(objects, "Deployment", "triton")["spec"]["template"]["spec"]["containers"][0]
    assert triton["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert triton["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_triton_holds_a_gpu_in_prod() -> None:
    if kubectl() is None:
        skip_unless_required("kubectl not installed")
    for overlay, gpus in (("prod", 1), ("dev", None)):
        triton = _one(render(overlay), "Deployment", "triton")["spec"]["template"]["spec"]["containers"][0]
        assert triton["resources"]["limits"].get("nvidia.com/gpu") == gpus


def test_ingress_exposes_the_public_routes_with_long_lived_websockets(objects: list[Obj]) -> None:
    ingress = _one(objects, "Ingress", "mediakg-api")
    paths = {p["path"]: p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert set(paths) == {"/graphql", BLOB_ROUTE}
    notes = ingress["metadata"]["annotations"]
    for key in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(notes[f"nginx.ingress.kubernetes.io/{key}"]) >= 3600
    policy = _one(objects, "NetworkPolicy", "mediakg-api")
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in sources} == {
        "ingress-nginx",
        "monitoring",
    }


def test_egress_outside_the_cluster_reaches_public_addresses_only(objects: list[Obj]) -> None:
    # The object store and URL ingestion (API only) are outside; nothing else is, and never
    # the private, link-local (cloud metadata) or shared ranges.
    wanted = {"mediakg-api": {80, 443}, "mediakg-workers": {443}}
    for name, ports in wanted.items():
        rules = _one(objects, "NetworkPolicy", name)["spec"]["egress"]
        blocks = [(peer["ipBlock"], rule) for rule in rules for peer in rule["to"] if "ipBlock" in peer]
        assert len(blocks) == 1, name
        ((block, rule),) = blocks
        assert block["cidr"] == "0.0.0.0/0"
        for private in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"):
            assert private in block["except"], (name, private)
        assert {p["port"] for p in rule["ports"]} == ports, name


def test_every_app_pod_has_ingress_and_egress_policies(objects: list[Obj]) -> None:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        labels = obj["spec"]["template"]["metadata"]["labels"]
        types = {
            t
            for p in policies
            if p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
            for t in p["spec"]["policyTypes"]
        }
        name = obj["metadata"]["name"]
        # The collector only receives (its egress goes wherever your tracing backend is).
        assert {"Ingress", "Egress"} <= types or name == "otel-collector", name


def test_pod_disruption_budgets_cover_the_app(objects: list[Obj]) -> None:
    budgets = [o["spec"]["selector"]["matchLabels"] for o in objects if o["kind"] == "PodDisruptionBudget"]
    for name in ("mediakg-api", "mediakg-worker-realtime", "mediakg-worker-batch", "triton"):
        labels = _one(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert any(b.items() <= labels.items() for b in budgets), name


def test_grafana_dashboard_ships_as_a_config_map(objects: list[Obj]) -> None:
    dashboard = _one(objects, "ConfigMap", "mediakg-grafana-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["mediakg.json"] == (ROOT / "deploy" / "grafana" / "mediakg.json").read_text()


# --- secrets -------------------------------------------------------------------------------


def _documented_secrets() -> dict[str, set[str]]:
    """Secret name -> keys, from the table of docs/deploy.md (rows "| `name` | `KEY` | ...")."""
    table: dict[str, set[str]] = {}
    for name, key in re.findall(r"^\| `([a-z0-9-]+)` \| `([A-Za-z0-9_.-]+)` \|", DOCS.read_text(), re.M):
        table.setdefault(name, set()).add(key)
    return table


def _referenced_secrets(obj: Any) -> set[tuple[str, str | None]]:
    """(secret, key or None) named anywhere in ``obj``."""
    found: set[tuple[str, str | None]] = set()
    if isinstance(obj, dict):
        if "secretRef" in obj:
            found.add((obj["secretRef"]["name"], None))
        if "secretKeyRef" in obj:
            found.add((obj["secretKeyRef"]["name"], obj["secretKeyRef"]["key"]))
        if "secretTargetRef" in obj:
            found |= {(ref["name"], ref["key"]) for ref in obj["secretTargetRef"]}
        for key, value in obj.items():
            if key in {"secretName"} and isinstance(value, str):
                found.add((value, None))
            if key == "secret" and isinstance(value, dict) and "name" in value:
                found.add((value["name"], None))
            found |= _referenced_secrets(value)
    elif isinstance(obj, list):
        for item in obj:
            found |= _referenced_secrets(item)
    return found


def test_secrets_are_documented_and_never_committed(objects: list[Obj]) -> None:
    generated = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
    # The only Secret in the manifests holds role definitions, no credential.
    assert generated == {"mediakg-es-roles"}
    documented = _documented_secrets()
    for name, key in _referenced_secrets(objects):
        if name in generated:
            continue
        assert name in documented, f"Secret {name} is used but not documented in docs/deploy.md"
        assert key is None or key in documented[name], f"{name}.{key} undocumented"
    known = {f"MEDIAKG_{name.upper()}" for name in Settings.model_fields}
    for key in documented["mediakg-secrets"]:
        assert key in known or key.startswith("AWS_"), key


def test_no_secret_manifest_is_committed() -> None:
    for path in (ROOT / "deploy").rglob("*.y*ml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not (isinstance(doc, dict) and doc.get("kind") == "Secret"), path


def test_the_api_answers_under_the_ingress_hosts(objects: list[Obj]) -> None:
    # The API's Host check (MEDIAKG_ALLOWED_HOSTS) refuses any other name with 400: every host
    # the Ingress routes must be one it answers under, or nothing gets through.
    allowed = _config(objects)["MEDIAKG_ALLOWED_HOSTS"].split(",")
    ingress = _one(objects, "Ingress", "mediakg-api")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts
    assert all(host_allowed(host, allowed) for host in hosts), (hosts, allowed)
