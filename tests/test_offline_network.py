"""`ZOO_OFFLINE=1` alone means no network at all: no connection and no DNS query.

Each command runs in a fresh interpreter, with huggingface_hub's telemetry settings at their
defaults, under a guard installed before anything is imported: every socket call that could
leave the machine (``connect``, ``sendto``, ``getaddrinfo`` and friends) is recorded and refused.
Where ``strace`` is installed (``make setup-test`` installs it), each command also runs without
the guard under a system-call trace that sees what C and Rust extensions do; strace makes every
``connect``/``sendto``/``sendmsg`` fail, so not even a DNS query leaves the machine if one is tried.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Runs before any other import: refuse and log every call that could reach another machine.
GUARD = r"""
import os, socket, sys
_log = open(os.environ["ZOO_TEST_NETWORK_LOG"], "a")

def _deny(call, target):
    _log.write(f"{call} {target!r}\n")
    _log.flush()
    raise OSError(f"network access refused by the test guard: {call} {target!r}")

def _loopback(host):
    return host in (None, "localhost", "127.0.0.1", "::1") or str(host).startswith("127.")

def _wrap_method(name):
    real = getattr(socket.socket, name)
    def method(self, *args):
        address = args[-1] if args else None
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0] if address else None):
            _deny(name, address)
        return real(self, *args)
    setattr(socket.socket, name, method)

def _wrap_function(name):
    real = getattr(socket, name)
    def function(host, *args, **kwargs):
        if not _loopback(host):
            _deny(name, host)
        return real(host, *args, **kwargs)
    setattr(socket, name, function)

for _name in ("connect", "connect_ex", "sendto"):
    _wrap_method(_name)
for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"):
    _wrap_function(_name)

import runpy
sys.argv = ["zoo", *sys.argv[1:]]
runpy.run_module("zoo", run_name="__main__", alter_sys=True)
"""

COMMANDS = {
    "list": ["list"],
    "info": ["info", "all-minilm-l6-v2"],
    "verify": ["verify", "all-minilm-l6-v2"],
    "embed": ["embed", "all-minilm-l6-v2", "offline means offline"],
}


def _offline_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY",
                "DO_NOT_TRACK", "HF_ENDPOINT"):
        env.pop(var, None)  # huggingface_hub's own settings at their defaults: only zoo's switch is on
    env.update(ZOO_OFFLINE="1", PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1",
               ZOO_TEST_NETWORK_LOG=str(tmp_path / "network.log"))
    return env


def _run(argv: list[str], env: dict[str, str], prefix: list[str] = (), guard: bool = True) -> None:
    python = [sys.executable, "-c", GUARD] if guard else [sys.executable, "-m", "zoo"]
    proc = subprocess.run([*prefix, *python, *argv], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_offline_commands_make_no_network_call(command, warm_cache, tmp_path):
    env = _offline_env(tmp_path)
    _run(COMMANDS[command], env)
    log = tmp_path / "network.log"
    assert not log.exists() or log.read_text() == "", f"`zoo {command}` tried the network:\n{log.read_text()}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_offline_commands_open_no_inet_socket_in_a_syscall_trace(command, warm_cache, tmp_path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (`make setup-test` installs it; apt-get install strace)")
    trace = tmp_path / "strace.txt"
    env = _offline_env(tmp_path)
    calls = "socket,connect,sendto,sendmsg"
    _run(COMMANDS[command], env, guard=False, prefix=[
        strace, "-f", "-qq", "-o", str(trace), "-e", f"trace={calls}", "-e", "inject=connect,sendto,sendmsg:error=ENETUNREACH"])
    calls = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
    assert calls == [], f"`zoo {command}` made network system calls:\n" + "\n".join(calls[:20])
