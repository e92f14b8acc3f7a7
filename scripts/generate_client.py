"""Generate the typed Python client (app/client/) from the schema and the operation documents.

Runs ariadne-codegen (pinned in scripts/client-env.sh's environment, whose pins clash with the
service's) twice from one configuration, ``[tool.ariadne-codegen]`` in pyproject.toml:

1. the async client (``MediaKGClient``: queries, mutations, uploads and subscriptions over
   graphql-transport-ws), with the pydantic models of every result, input and enum;
2. the sync client (``MediaKGSyncClient``) from the same documents less the subscriptions,
   which ariadne-codegen only generates for async clients; only its two client modules are
   kept, as the models are the same.

Usage: ``python scripts/generate_client.py [OUT_DIR]`` (default: app/client). The drift test
(tests/client/test_client_drift.py) generates into a temporary directory and compares.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODEGEN = Path(sys.executable).with_name("ariadne-codegen")
# Modules of app/client/ written by hand, not by the generator (the drift test skips them).
HAND_WRITTEN = frozenset({"connect.py", "streams.py"})
SYNC_MODULES = ("sync_client.py", "base_client.py")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"unsupported setting {value!r}")


def _write_config(path: Path, settings: dict[str, object], scalars: dict[str, dict[str, str]]) -> None:
    lines = ["[tool.ariadne-codegen]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
    for name, spec in scalars.items():
        lines.append(f"[tool.ariadne-codegen.scalars.{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in spec.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run(config: Path) -> None:
    result = subprocess.run(
        [str(CODEGEN), "--config", str(config)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(result.returncode)


def generate(out_dir: Path) -> None:
    """Write the generated modules of the client package into ``out_dir``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ariadne-codegen"]
    scalars = config.pop("scalars", {})
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async_settings = {
            **config,
            "target_package_path": str(tmp / "async"),
            "target_package_name": "client",
        }
        (tmp / "async").mkdir()
        _write_config(tmp / "async.toml", async_settings, scalars)
        _run(tmp / "async.toml")

        # The sync client: the same documents without subscriptions.
        documents = tmp / "sync-operations"
        documents.mkdir()
        for source in sorted((ROOT / str(config["queries_path"])).glob("*.graphql")):
            text = source.read_text(encoding="utf-8")
            if not any(line.lstrip().startswith("subscription") for line in text.splitlines()):
                shutil.copy(source, documents / source.name)
        sync_settings = {
            **async_settings,
            "target_package_path": str(tmp / "sync"),
            "queries_path": str(documents),
            "client_name": "MediaKGSyncClient",
            "client_file_name": "sync_client",
            "async_client": False,
        }
        (tmp / "sync").mkdir()
        _write_config(tmp / "sync.toml", sync_settings, scalars)
        _run(tmp / "sync.toml")

        generated = tmp / "async" / "client"
        for name in SYNC_MODULES:
            shutil.copy(tmp / "sync" / "client" / name, generated / name)
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob("*.py"):
            if stale.name not in HAND_WRITTEN:
                stale.unlink()
        for module in generated.glob("*.py"):
            shutil.copy(module, out_dir / module.name)


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "app" / "client")
