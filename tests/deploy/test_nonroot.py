"""The image's entry points run as uid 10001 on a read-only root, writing only to the
paths the pods declare writable (/tmp and MEDIAKG_DATA_DIR, emptyDir volumes).

As root, each command runs in a private mount namespace (`unshare --mount`) where `/` is
re-mounted read-only and the declared paths are fresh tmpfs mounts, then drops to uid 10001
with `setpriv`: any write elsewhere fails with EROFS. The interpreter is this checkout's
virtual environment rather than the built image (no Docker engine here); the environment
is the Dockerfile's (HOME and TMPDIR /tmp, the data directory as working directory).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis

from inference.triton.launcher import free_port
from tests.deploy.k8s import ROOT

UID = 10001
DATA = "/srv/data"  # the image's /var/lib/mediakg, on a mount point that exists on this host
TOOLS = ("unshare", "setpriv", "mount")
REDIS_URL = os.environ.get("MEDIAKG_TEST_REDIS_URL", "")

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="mount namespaces are Linux-only"),
    pytest.mark.skipif(
        hasattr(os, "geteuid") and os.geteuid() != 0,
        reason="needs root to create mount namespaces and drop to uid 10001 (CI runs as root)",
    ),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in TOOLS), reason=f"needs {', '.join(TOOLS)} (util-linux)"
    ),
]

# Root read-only; fresh tmpfs at /tmp and the data directory. The interpreter of the venv
# lives under /root (mode 0700 here; in the image it is /opt/mediakg): it is re-exposed
# read-only behind a 0755 tmpfs so uid 10001 can execute it.
_CONFINE = """
set -eu
mount --make-rprivate /
mount -t tmpfs -o mode=0755 stage /srv
mkdir /srv/data
if [ -d /root ]; then
  for d in /root/*/ /root/.[!.]*/; do
    [ -d "$d" ] || continue
    n=$(basename "$d"); mkdir -p "/srv/root/$n"; mount --bind "$d" "/srv/root/$n"
  done
  mount -t tmpfs -o mode=0755 home /root
  for d in /srv/root/*/ /srv/root/.[!.]*/; do
    [ -d "$d" ] || continue
    n=$(basename "$d"); mkdir "/root/$n"; mount --bind "$d" "/root/$n"
    mount -o remount,bind,ro "/root/$n"; umount "$d"
  done
  mount -o remount,ro /root
fi
mount -t tmpfs -o uid={uid},gid={uid},mode=0750 data {data}
mount -o remount,ro /srv
mount -t tmpfs -o mode=1777 tmp /tmp
mount -o remount,bind,ro /
cd {data}
# The confinement itself: uid 10001 cannot write to the source tree, can write the declared paths.
if {as_app} touch {repo}/.confinement-probe 2>/dev/null; then echo "NOT CONFINED" >&2; exit 90; fi
{as_app} touch /tmp/.probe {data}/.probe && rm /tmp/.probe {data}/.probe
{commands}
echo "--- written:"
find /tmp {data} -mindepth 1 -not -path '*/__pycache__*' | sort
"""


def _env(**extra: str) -> str:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PYTHONPATH": str(ROOT),
        "MEDIAKG_DATA_DIR": DATA,
        "MEDIAKG_LOG_JSON": "false",
        **extra,
    }
    return "env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())


_AS_APP = f"setpriv --reuid {UID} --regid {UID} --clear-groups --inh-caps=-all"


def _mediakg(args: str, **env: str) -> str:
    return f"{_AS_APP} {_env(**env)} {shlex.quote(str(Path(sys.executable).parent / 'mediakg'))} {args}"


def _in_background(command: str) -> list[str]:
    """Shell lines running ``command`` as the script's child, SIGTERM forwarded to it
    (exec: the pid is the process itself, not a subshell around it)."""
    # A wait the trap interrupts returns early; the loop waits until the process is reaped.
    return [
        f"( exec {command} ) & pid=$!",
        "trap 'kill -TERM $pid' TERM",
        "while :; do wait $pid && status=0 || status=$?; kill -0 $pid 2>/dev/null || break; done",
        'echo "--- exit status: $status"',
    ]


def _script(commands: str) -> str:
    return _CONFINE.format(uid=UID, data=DATA, repo=shlex.quote(str(ROOT)), as_app=_AS_APP, commands=commands)


def _start(commands: str) -> subprocess.Popen[str]:
    # A session of its own: a failed test kills the whole group, nothing outlives it.
    return subprocess.Popen(
        ["unshare", "--mount", "sh", "-c", _script(commands)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(
    url: str, proc: subprocess.Popen[str], *, holding: bytes = b"", deadline_s: float = 240.0
) -> bytes:
    """The first answer of ``url`` whose body holds ``holding``."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"exited with {proc.returncode} before {url} answered:\n{out}\n{err}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body: bytes = response.read()
            if holding in body:
                return body
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {deadline_s} s")


def _finish(proc: subprocess.Popen[str], *, statuses: tuple[int, ...] = (0,)) -> tuple[str, str]:
    """SIGTERM, then the output; the process's exit status must be one of ``statuses``."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    status = int(out.split("--- exit status: ", 1)[1].split()[0])
    assert status in statuses, f"exit status {status}\n{err[-3000:]}"
    return out, err


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _assert_no_write_refused(err: str) -> None:
    for sign in ("Read-only file system", "Permission denied", "PermissionError"):
        assert sign not in err, err


def _written(out: str) -> list[str]:
    return out.split("--- written:\n", 1)[1].split()


def test_serve_starts_as_uid_10001_on_a_read_only_root() -> None:
    port = free_port()
    # The serve process runs in the background; SIGTERM to the script is forwarded to it.
    commands = "\n".join(
        [_mediakg("db upgrade head"), *_in_background(_mediakg(f"serve --host 127.0.0.1 --port {port}"))]
    )
    proc = _start(commands)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz", proc) == b'{"status":"ok"}'
        assert b'"ready"' in _wait_for(f"http://127.0.0.1:{port}/readyz", proc)
        # uvicorn re-raises the SIGTERM it handled once shut down: 128 + 15 after a clean stop.
        out, err = _finish(proc, statuses=(0, 143))
    finally:
        _kill(proc)
    _assert_no_write_refused(err)
    assert "Application shutdown complete" in err
    written = _written(out)
    # It really ran as the app user with the data directory it was given.
    assert f"{DATA}/mediakg.db" in written


def test_worker_starts_as_uid_10001_on_a_read_only_root() -> None:
    help_only = subprocess.run(
        ["unshare", "--mount", "sh", "-c", _script(_mediakg("worker --help"))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert help_only.returncode == 0, help_only.stderr
    assert "--queue" in help_only.stdout
    _assert_no_write_refused(help_only.stderr)
    if not REDIS_URL:
        pytest.skip("a running worker needs a broker: MEDIAKG_TEST_REDIS_URL is unset (--help was checked)")
    port = free_port()
    prefix = f"mkg_nonroot_{uuid.uuid4().hex[:8]}"
    env = {
        "MEDIAKG_BROKER_URL": REDIS_URL,
        "MEDIAKG_REDIS_KEY_PREFIX": prefix,
        "MEDIAKG_METRICS_HOST": "127.0.0.1",
        "MEDIAKG_METRICS_PORT": str(port),
    }
    commands = "\n".join(
        [
            _mediakg("db upgrade head", **env),
            *_in_background(_mediakg("worker --queue batch --grace 5", **env)),
        ]
    )
    proc = _start(commands)
    try:
        # The metrics server opens first; the service's families appear once the runtime runs.
        _wait_for(f"http://127.0.0.1:{port}/metrics", proc, holding=b"mediakg_")
        out, err = _finish(proc)
    finally:
        _kill(proc)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()
    _assert_no_write_refused(err)
    assert "worker ready" in err or "worker ready" in out, err[-3000:]
    assert f"{DATA}/mediakg.db" in _written(out)


def test_a_write_outside_the_declared_paths_fails() -> None:
    # The harness's own check: what the tests above look for in stderr is what a write off
    # the declared paths by the app's interpreter, as the app user, produces.
    python = shlex.quote(sys.executable)
    write = f"{_AS_APP} {_env()} {python} -c 'import pathlib; pathlib.Path(\"/srv/undeclared\").mkdir()'"
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", _script(write)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    assert "Read-only file system" in done.stderr
