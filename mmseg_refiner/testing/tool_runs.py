"""Running the repository's tools in a child process, as a user does."""
import os
import socket
import subprocess
import sys

from mmseg_refiner.apis.inference import REPO_ROOT


def run_in_repo(args, timeout: int = 600, **env) -> str:
    """Run ``args`` in the repository, one thread per process, ``PYTHON`` naming this
    interpreter and ``env`` added to the environment; return the log (stdout + stderr).
    A non-zero status fails the test with the log's end."""
    proc = subprocess.run(
        args,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, **env))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    return log


def free_port() -> int:
    """A TCP port free on this machine now (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
