"""The one place where transferzoo reads environment variables.

Every other module calls :func:`settings` and reads attributes of the frozen
:class:`Settings` it returns, so tests can change the environment with
``monkeypatch.setenv`` and see the effect at the next call.

==========================  ================================================================
Variable                    Meaning
==========================  ================================================================
``ZOO_OFFLINE``             ``1`` never touches the network (also ``HF_HUB_OFFLINE=1``); it puts
                            huggingface_hub offline too (:func:`configure_huggingface_hub`)
``ZOO_HOME``                zoo's own state: lock file, feature cache, runs (``~/.cache/zoo``)
``ZOO_REGISTRY``            extra registry files layered over the built-in one, ``os.pathsep``-separated
``ZOO_LOCKFILE``            the trust-on-first-use lock file (default ``$ZOO_HOME/zoo.lock.toml``)
``ZOO_CONFIG``              a TOML config file (default ``$ZOO_HOME/config.toml``) with ``registry = [...]``,
                            ``builtin_registry = false`` (only your registry files) and
                            ``allow_plugin_override = [...]``
``ZOO_PLUGINS_STRICT``      ``1`` turns a plugin that fails to load into an error
``ZOO_LOAD_PLUGINS``        comma-separated allow-list of third-party plugin names (empty: none)
``ZOO_DISABLE_PLUGINS``     comma-separated deny-list of plugin names
``ZOO_PLUGIN_TIMEOUT``      seconds a third-party plugin may take to import (default 10) before zoo goes on without it
``HF_ENDPOINT``             the Hub to download from (default https://huggingface.co)
``HF_HOME``/``HF_HUB_CACHE`` where the standard Hub cache lives
``HF_HUB_OFFLINE``          the Hub's own offline switch, honoured too (and ``TRANSFORMERS_OFFLINE``)
``RANK``/``WORLD_SIZE``     set by ``torchrun``: this process's rank and the number of processes
``LOCAL_RANK``              set by ``torchrun``: the rank on this machine (picks the GPU)
==========================  ================================================================
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ._toml import load_toml_file
from .errors import ConfigError

__all__ = ["Settings", "settings", "configure_huggingface_hub"]

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
    #: verified registry entries that a plugin's ``override = true`` may replace (config file only)
    allow_plugin_override: frozenset[str] = field(default_factory=frozenset)
    #: read the built-in registry.toml under the other layers (config file: ``builtin_registry = false``)
    builtin_registry: bool = True
    plugin_timeout: float = 10.0
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def feature_cache(self) -> Path:
        return self.zoo_home / "features"


_CONFIG_KEYS = ("registry", "builtin_registry", "allow_plugin_override")


def _string_list(config_file: Path, data: dict, key: str, what: str) -> list[str]:
    values = data.get(key, [])
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{config_file}, key {key!r}: expected a list of {what}, got {values!r}.")
    return values


def _read_config(config_file: Path) -> tuple[tuple[Path, ...], frozenset[str], bool]:
    """The config file's registry paths, the entries plugins may override, and whether the built-in
    registry is read."""
    if not config_file.exists():
        return (), frozenset(), True
    data = load_toml_file(config_file, lambda problem: ConfigError(
        f"{config_file}: the config file {problem}. Fix the file or remove it (ZOO_CONFIG names it)."))
    unknown = set(data) - set(_CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"{config_file}: unknown key(s) {sorted(unknown)}; the config file accepts "
                          f"{', '.join(repr(k) for k in _CONFIG_KEYS)}.")
    paths = _string_list(config_file, data, "registry", "file paths")
    allow = _string_list(config_file, data, "allow_plugin_override", "backbone names")
    builtin = data.get("builtin_registry", True)
    if not isinstance(builtin, bool):
        raise ConfigError(f"{config_file}, key 'builtin_registry': expected true or false, got {builtin!r}.")
    return tuple((config_file.parent / Path(p).expanduser()) for p in paths), frozenset(allow), builtin


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
    config_paths, allow_override, builtin_registry = _read_config(config_file)
    return Settings(
        offline=_flag(env, "ZOO_OFFLINE") or _flag(env, "HF_HUB_OFFLINE") or _flag(env, "TRANSFORMERS_OFFLINE"),
        hf_endpoint=(env.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/"),
        hf_cache=hf_cache,
        zoo_home=zoo_home,
        registry_paths=config_paths + reg,
        lockfile=Path(env.get("ZOO_LOCKFILE") or zoo_home / "zoo.lock.toml").expanduser(),
        config_file=config_file,
        plugins_strict=_flag(env, "ZOO_PLUGINS_STRICT"),
        load_plugins=_names(env, "ZOO_LOAD_PLUGINS"),
        disable_plugins=_names(env, "ZOO_DISABLE_PLUGINS") or frozenset(),
        allow_plugin_override=allow_override,
        builtin_registry=builtin_registry,
        plugin_timeout=_seconds(env, "ZOO_PLUGIN_TIMEOUT", 10.0),
        rank=_int(env, "RANK", 0),
        world_size=max(1, _int(env, "WORLD_SIZE", 1)),
        local_rank=_int(env, "LOCAL_RANK", 0),
    )


def configure_huggingface_hub(s: Settings | None = None) -> None:
    """Make huggingface_hub follow zoo's offline switch; zoo calls it before every use of the Hub client.

    When huggingface_hub is not imported yet, it is imported here with ``HF_HUB_OFFLINE=1`` in the
    environment if zoo is offline (the variable is removed again afterwards, so turning
    ``ZOO_OFFLINE`` off later in the same process works); its ``constants.HF_HUB_OFFLINE`` is then
    set to zoo's setting. Offline, huggingface_hub makes no request at all: otherwise it resolves
    the Hub's hostname even for ``local_files_only`` look-ups.
    """
    s = s or settings()
    if "huggingface_hub.constants" not in sys.modules:
        added = s.offline and os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in _TRUE
        if added:
            os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            import huggingface_hub.constants  # noqa: F401  (reads the environment once, now)
        finally:
            if added:
                os.environ.pop("HF_HUB_OFFLINE", None)
    sys.modules["huggingface_hub.constants"].HF_HUB_OFFLINE = s.offline
