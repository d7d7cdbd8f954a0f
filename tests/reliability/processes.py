"""The ``headway`` command line in another process, as a user runs it.

``run`` runs a command to its end; ``paused`` starts one through the
test-only launcher (``launcher.py``) and returns once it waits inside the
store transaction it was told to stop in, for a test to act while it is
there and then kill it (or, started with ``resumable=True``, let it go on
with :func:`resume`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("launcher.py")


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment, the repository importable, plus ``extra``.

    Plugins load through their entry points; ``HEADWAY_LOAD_PLUGINS`` (by
    default empty: the built-in demo connector only) says which.
    """
    return {
        **os.environ,
        "HEADWAY_LOAD_PLUGINS": "",
        "PYTHONPATH": str(ROOT),
        **(extra or {}),
    }


def command(*args: str, launcher: bool = False) -> list[str]:
    """``headway ARGS`` (through the launcher when asked)."""
    start = [str(LAUNCHER)] if launcher else ["-m", "headway"]
    return [sys.executable, *start, *args]


def run(
    folder: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    launcher: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``headway ARGS`` in ``folder`` to its end."""
    return subprocess.run(
        command(*args, launcher=launcher),
        cwd=folder,
        env=environment(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


#: The descriptor that lets a process started with ``resumable=True`` go on.
_RESUME: dict[int, int] = {}


def paused(
    folder: Path,
    where: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    resumable: bool = False,
) -> subprocess.Popen[str]:
    """``headway ARGS`` (default ``sync``), waiting inside the transaction
    ``where`` names (``STREAM:N:STAGE``, see ``launcher.py``).

    :param resumable: wait for :func:`resume` rather than for ever.
    """
    read, write = os.pipe()
    extra = {"HEADWAY_TEST_PAUSE": where, "HEADWAY_TEST_SIGNAL_FD": str(write)}
    passed = [write]
    go = None
    if resumable:
        wait, go = os.pipe()
        extra["HEADWAY_TEST_RESUME_FD"] = str(wait)
        passed.append(wait)
    process = subprocess.Popen(
        command(*(args or ("sync",)), launcher=True),
        cwd=folder,
        env=environment({**(env or {}), **extra}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=tuple(passed),
    )
    for fd in passed:
        os.close(fd)
    if go is not None:
        _RESUME[process.pid] = go
    with os.fdopen(read) as signal:
        if signal.readline() != "paused\n":
            if go is not None:
                os.close(_RESUME.pop(process.pid))
            process.wait(timeout=30)
            raise AssertionError(
                f"headway {' '.join(args)} never reached {where}: "
                f"{process.stderr.read() if process.stderr else ''}"
            )
    return process


def resume(process: subprocess.Popen[str], timeout: float = 120) -> str:
    """Let a command paused with ``resumable=True`` go on; wait for its end
    and return its stderr."""
    go = _RESUME.pop(process.pid)
    os.write(go, b"go\n")
    os.close(go)
    _, err = process.communicate(timeout=timeout)
    return err


def kill(process: subprocess.Popen[str]) -> None:
    """Kill a paused command and reap it."""
    if (go := _RESUME.pop(process.pid, None)) is not None:
        os.close(go)
    process.kill()
    process.wait(timeout=30)
    if process.stderr is not None:
        process.stderr.close()
