"""Every error transferzoo raises, in one typed hierarchy.

Each class also inherits the built-in exception a generic handler would expect
(``KeyError`` for an unknown name, ``FileNotFoundError`` for a missing file, ...),
carries the offending data as attributes, and says what to do next in its message.
"""

from __future__ import annotations

from typing import Sequence

__all__ = [
    "ZooError",
    "ConfigError",
    "RegistryError",
    "RegistryValidationError",
    "RegistryCollisionError",
    "UnknownBackboneError",
    "RegistryFilterError",
    "HubError",
    "IntegrityError",
    "OfflineCacheMissError",
    "RevisionNotPinnedError",
    "StorageError",
    "HubImportError",
    "WeightsFormatError",
    "ArchitectureError",
    "PluginError",
    "PluginLoadError",
    "ComponentCollisionError",
    "UnknownComponentError",
    "OptionsError",
    "FreezingPolicyError",
    "RecipeError",
    "DatasetError",
    "DatasetFileNotFoundError",
    "ReproducibilityError",
    "ModalityMismatchError",
    "CapabilityError",
    "RunRecordError",
    "HookError",
    "DeviceError",
    "CompressionOrderError",
    "CompressionPassError",
    "ExportError",
    "AdaptationError",
    "SearchSpaceError",
    "StudyMismatchError",
    "MissingExtraError",
    "DistributedError",
    "did_you_mean",
]


def did_you_mean(value: str, choices: Sequence[str], *, n: int = 3) -> str:
    """Return ' Did you mean: a, b?' for the closest choices, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(value, list(choices), n=n, cutoff=0.5)
    return f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""


class ZooError(Exception):
    """Base class of every transferzoo error."""


class ConfigError(ZooError, ValueError):
    """A setting (environment variable or config file) has a value zoo cannot use."""


# --- registry -----------------------------------------------------------------------------


class RegistryError(ZooError):
    """Base class of registry problems."""


class RegistryValidationError(RegistryError, ValueError):
    """A registry file has an entry that does not validate.

    Attributes: ``source`` (file), ``entry`` (entry name or None), ``key`` (or None).
    """

    def __init__(self, message: str, *, source: str, entry: str | None = None, key: str | None = None):
        where = source + (f", entry {entry!r}" if entry else "") + (f", key {key!r}" if key else "")
        super().__init__(f"{where}: {message}")
        self.source, self.entry, self.key = source, entry, key


class RegistryCollisionError(RegistryError, ValueError):
    """Two registry layers define the same entry name without an explicit override."""

    def __init__(self, name: str, first: str, second: str):
        super().__init__(
            f"backbone {name!r} is defined both in {first} and in {second}. Rename one of them, "
            f"or set `override = true` in the entry of {second} to replace the earlier one on purpose."
        )
        self.name, self.first, self.second = name, first, second


class UnknownBackboneError(RegistryError, KeyError):
    """A backbone name that no registry layer defines."""

    def __init__(self, name: str, known: Sequence[str]):
        msg = f"no backbone named {name!r} in the registry.{did_you_mean(name, known)} Run `zoo list` to see them all."
        super().__init__(msg)
        self.name = name

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class RegistryFilterError(RegistryError, ValueError):
    """A :func:`zoo.list_backbones` filter with a value no entry can have (``modality="txt"``)."""


# --- hub ----------------------------------------------------------------------------------


class HubError(ZooError):
    """Base class of problems while resolving files through the Hugging Face Hub."""


class IntegrityError(HubError, ValueError):
    """A file's sha256 differs from the pinned one. The file is not used."""

    def __init__(self, *, path: str, filename: str, expected: str, actual: str, repo_id: str = "",
                 revision: str = "", action: str = ""):
        action = action or ("The file was not loaded and was removed from the cache; run `zoo pull` again, "
                            "or `zoo hub import` a trusted copy.")
        super().__init__(
            f"sha256 mismatch for {filename!r} of {repo_id}@{revision[:12]} at {path}: expected {expected}, "
            f"got {actual}. {action}"
        )
        self.path, self.filename, self.expected, self.actual = path, filename, expected, actual
        self.repo_id, self.revision = repo_id, revision


class OfflineCacheMissError(HubError, FileNotFoundError):
    """Offline mode is on and a needed file is not in the local Hub cache."""

    def __init__(self, *, name: str, repo_id: str, revision: str, missing: Sequence[str], cache_dir: str):
        super().__init__(
            f"offline mode is on and backbone {name!r} ({repo_id}@{revision[:12]}) is not in the Hub cache "
            f"{cache_dir} (missing: {', '.join(missing)}). On a connected machine run `zoo pull {name}` "
            f"(and copy the cache over), or place local files with "
            f"`zoo hub import DIR --repo {repo_id} --revision {revision}`."
        )
        self.name, self.repo_id, self.revision, self.missing = name, repo_id, revision, list(missing)


class RevisionNotPinnedError(HubError, ValueError):
    """A revision is a branch or tag name, not a full 40-hex commit."""


class StorageError(HubError, OSError):
    """zoo cannot write (or read) one of its own files: the Hub cache or the lock file.

    Attributes: ``path`` (the file or folder concerned).
    """

    def __init__(self, message: str, *, path: str):
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return str(self.args[0])


class HubImportError(HubError, ValueError):
    """`zoo hub import` got a folder, repo id or file name it cannot use. Nothing was imported."""


class WeightsFormatError(ZooError, ValueError):
    """A weight file is not in a format zoo loads (only safetensors is accepted)."""


class ArchitectureError(ZooError, ValueError):
    """An architecture id is unknown, or its weights/config do not fit it."""


# --- plugins ------------------------------------------------------------------------------


class PluginError(ZooError):
    """Base class of plugin problems."""


class PluginLoadError(PluginError, ImportError):
    """A plugin failed to import or to validate."""


class ComponentCollisionError(PluginError, ValueError):
    """Two plugins registered the same component name."""


class UnknownComponentError(PluginError, KeyError):
    """A component name that no installed plugin provides."""

    def __str__(self) -> str:
        return str(self.args[0])


class OptionsError(PluginError, ValueError):
    """Options given to a component do not match its schema."""


# --- runner -------------------------------------------------------------------------------


class RecipeError(ZooError, ValueError):
    """A recipe does not validate. Attributes: ``source``, ``key``, ``line``."""

    def __init__(self, message: str, *, source: str = "<recipe>", key: str | None = None, line: int | None = None):
        where = source + (f":{line}" if line else "") + (f", key {key!r}" if key else "")
        super().__init__(f"{where}: {message}")
        self.source, self.key, self.line = source, key, line


class DatasetError(ZooError, ValueError):
    """A dataset file is missing or malformed."""


class DeviceError(ZooError, ValueError):
    """A device name that is not valid, or names hardware this machine does not have.

    Attributes: ``device`` (the name given).
    """

    def __init__(self, message: str, *, device: str):
        super().__init__(message)
        self.device = device


class ReproducibilityError(ZooError, RuntimeError):
    """`zoo reproduce` found an input whose hash differs from the record."""


class ModalityMismatchError(RecipeError):
    """A recipe's dataset and backbone take different input modalities (text, image, vector).

    Attributes: ``data_modality``, ``backbone_modality`` (and ``source``, ``key``, ``line``).
    """

    def __init__(self, message: str, *, data_modality: str, backbone_modality: str, **where):
        super().__init__(message, **where)
        self.data_modality, self.backbone_modality = data_modality, backbone_modality


class CapabilityError(RecipeError):
    """A component needs an architecture capability (e.g. attention heads) the backbone lacks.

    Attributes: ``missing`` (the capabilities), and ``source``, ``key``, ``line``.
    """

    def __init__(self, message: str, *, missing: Sequence[str], **where):
        super().__init__(message, **where)
        self.missing = tuple(missing)


class RunRecordError(ZooError, ValueError):
    """A run directory or its ``record.json`` is missing, interrupted, unreadable, incomplete or of an
    unknown format. Attributes: ``path``."""

    def __init__(self, message: str, *, path: str):
        super().__init__(f"{path}: {message}")
        self.path = path


class HookError(ZooError, RuntimeError):
    """A plugin's observing hook raised after the run was finished and saved.

    Attributes: ``hook``, ``run_dir`` (the complete run), ``cause`` (the exception).
    """

    def __init__(self, message: str, *, hook: str, run_dir: str, cause: BaseException):
        super().__init__(message)
        self.hook, self.run_dir, self.cause = hook, run_dir, cause


class CompressionOrderError(ZooError, ValueError):
    """Compression passes were composed in an order that cannot work."""


class DatasetFileNotFoundError(DatasetError, FileNotFoundError):
    """A file named by a dataset option does not exist.

    Attributes: ``key`` (the option that named it), ``path`` (the path tried).
    """

    def __init__(self, message: str, *, key: str, path: str):
        super().__init__(message)
        self.key, self.path = key, path

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return str(self.args[0])


# --- components (appended by the plugin system) ---------------------------------------------


class FreezingPolicyError(PluginError, ValueError):
    """A freezing policy cannot be applied to a model: no head, no layers, or a pattern matches nothing."""


class CompressionPassError(ZooError, ValueError):
    """A compression pass cannot be applied to this model, or a compressed model cannot be saved/loaded.

    Attributes: ``pass_name`` (the pass, or None when the problem is with the saved files).
    """

    def __init__(self, message: str, *, pass_name: str | None = None):
        super().__init__(f"compression pass {pass_name!r}: {message}" if pass_name else message)
        self.pass_name = pass_name


# --- models that leave the zoo ----------------------------------------------------------------


class ExportError(ZooError, ValueError):
    """A run directory or model cannot be exported, pushed or loaded back.

    Attributes: ``path`` (the run directory, export directory or file concerned, or None).
    """

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class AdaptationError(ZooError, ValueError):
    """A domain-adaptation method cannot run on this recipe, backbone or data.

    Attributes: ``method`` (the method's name, when known) and ``missing`` (what the method needs
    and the recipe lacks: ``"target_inputs"``, ``"source_labels"``, ``"batchnorm"``, ...).
    """

    def __init__(self, message: str, *, method: str | None = None, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.method = method
        self.missing = missing


# --- search and distributed training -------------------------------------------------------


class SearchSpaceError(RecipeError):
    """A ``[sweep.params]`` entry does not declare a usable search dimension.

    Attributes: ``source``, ``key`` (``sweep.params.<recipe key>``), ``line``, ``value``.
    """

    def __init__(self, message: str, *, source: str = "<recipe>", key: str | None = None, line: int | None = None,
                 value: object = None):
        super().__init__(message, source=source, key=key, line=line)
        self.value = value


class StudyMismatchError(ZooError, ValueError):
    """An existing sweep journal was started with a different search space or sampler settings.

    Attributes: ``journal`` (path), ``field`` (what differs), ``stored``, ``requested``.
    """

    def __init__(self, *, journal: str, field: str, stored: object, requested: object):
        super().__init__(
            f"{journal}: the study in this journal was started with {field} = {stored!r}, but the recipe now asks for "
            f"{requested!r}. Resume with the recipe it was started with, or start a new sweep directory."
        )
        self.journal, self.field, self.stored, self.requested = journal, field, stored, requested


class MissingExtraError(ZooError, ImportError):
    """An optional dependency is not installed. Attributes: ``package``, ``extra``."""

    def __init__(self, *, package: str, extra: str, feature: str):
        super().__init__(f"{feature} needs the {package!r} package, which is not installed. "
                         f"Install it with: pip install 'transferzoo[{extra}]'")
        self.package, self.extra = package, extra


class DistributedError(ZooError, RuntimeError):
    """Distributed (torchrun / DDP) training cannot start or its ranks disagree."""
