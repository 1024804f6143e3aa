"""The one place where transferzoo reads environment variables.

Every other module calls :func:`settings` and reads attributes of the frozen
:class:`Settings` it returns, so tests can change the environment with
``monkeypatch.setenv`` and see the effect at the next call.

==========================  ================================================================
Variable                    Meaning
==========================  ================================================================
``ZOO_OFFLINE``             ``1`` never touches the network (also ``HF_HUB_OFFLINE=1``)
``ZOO_HOME``                zoo's own state: lock file, feature cache, runs (``~/.cache/zoo``)
``ZOO_REGISTRY``            extra registry files layered over the built-in one, ``os.pathsep``-separated
``ZOO_LOCKFILE``            the trust-on-first-use lock file (default ``$ZOO_HOME/zoo.lock.toml``)
``ZOO_CONFIG``              a TOML config file (default ``$ZOO_HOME/config.toml``) with ``registry = [...]``
``ZOO_PLUGINS_STRICT``      ``1`` turns a plugin that fails to load into an error
``ZOO_LOAD_PLUGINS``        comma-separated allow-list of third-party plugin names (empty: none)
``ZOO_DISABLE_PLUGINS``     comma-separated deny-list of plugin names
``ZOO_PLUGIN_TIMEOUT``      seconds a third-party plugin may take to import (default 10) before zoo goes on without it
``HF_ENDPOINT``             the Hub to download from (default https://huggingface.co)
``HF_HOME``/``HF_HUB_CACHE`` where the standard Hub cache lives
``HF_HUB_OFFLINE``          the Hub's own offline switch, honoured too
``RANK``/``WORLD_SIZE``     set by ``torchrun``: this process's rank and the number of processes
``LOCAL_RANK``              set by ``torchrun``: the rank on this machine (picks the GPU)
==========================  ================================================================
"""

from __future__ import annotations

import os
from ._toml import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

__all__ = ["Settings", "settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _flag(env: dict[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"environment variable {name}={env[name]!r} is not a boolean; use 1 or 0.")


def _names(env: dict[str, str], name: str) -> frozenset[str] | None:
    if name not in env:
        return None
    return frozenset(p.strip() for p in env[name].split(",") if p.strip())


@dataclass(frozen=True)
class Settings:
    """A snapshot of every setting zoo reads from the environment."""

    offline: bool
    hf_endpoint: str
    hf_cache: Path
    zoo_home: Path
    registry_paths: tuple[Path, ...]
    lockfile: Path
    config_file: Path
    plugins_strict: bool = False
    load_plugins: frozenset[str] | None = None
    disable_plugins: frozenset[str] = field(default_factory=frozenset)
    plugin_timeout: float = 10.0
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def feature_cache(self) -> Path:
        return self.zoo_home / "features"


def _config_registry_paths(config_file: Path) -> tuple[Path, ...]:
    if not config_file.is_file():
        return ()
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file}: not valid TOML ({exc}). Fix the file or remove it.") from exc
    paths = data.get("registry", [])
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{config_file}, key 'registry': expected a list of file paths, got {paths!r}.")
    unknown = set(data) - {"registry"}
    if unknown:
        raise ConfigError(f"{config_file}: unknown key(s) {sorted(unknown)}; the config file accepts 'registry'.")
    return tuple((config_file.parent / Path(p).expanduser()) for p in paths)


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise ConfigError(f"environment variable {name}={env[name]!r} is not a positive number of seconds.")
    return value


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not an integer (torchrun sets it).") from None
    if value < 0:
        raise ConfigError(f"environment variable {name}={raw!r} must not be negative.")
    return value


def settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the environment (``os.environ`` unless given) into a :class:`Settings`."""
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("HOME", "~")).expanduser()
    hf_home = Path(env.get("HF_HOME") or (Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "huggingface"))
    hf_cache = Path(env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or hf_home / "hub").expanduser()
    zoo_home = Path(env.get("ZOO_HOME") or (Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "zoo")).expanduser()
    config_file = Path(env.get("ZOO_CONFIG") or zoo_home / "config.toml").expanduser()
    reg = tuple(Path(p).expanduser() for p in env.get("ZOO_REGISTRY", "").split(os.pathsep) if p.strip())
    return Settings(
        offline=_flag(env, "ZOO_OFFLINE") or _flag(env, "HF_HUB_OFFLINE"),
        hf_endpoint=(env.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/"),
        hf_cache=hf_cache,
        zoo_home=zoo_home,
        registry_paths=_config_registry_paths(config_file) + reg,
        lockfile=Path(env.get("ZOO_LOCKFILE") or zoo_home / "zoo.lock.toml").expanduser(),
        config_file=config_file,
        plugins_strict=_flag(env, "ZOO_PLUGINS_STRICT"),
        load_plugins=_names(env, "ZOO_LOAD_PLUGINS"),
        disable_plugins=_names(env, "ZOO_DISABLE_PLUGINS") or frozenset(),
        plugin_timeout=_seconds(env, "ZOO_PLUGIN_TIMEOUT", 10.0),
        rank=_int(env, "RANK", 0),
        world_size=max(1, _int(env, "WORLD_SIZE", 1)),
        local_rank=_int(env, "LOCAL_RANK", 0),
    )
