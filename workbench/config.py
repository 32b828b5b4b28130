"""Typed settings from ``conf/workbench.toml``, each overridable from the environment.

Precedence, lowest first: the committed ``conf/workbench.toml``, the git-ignored
``conf/local/workbench.toml`` (secrets, a developer's own lake), then environment
variables ``WORKBENCH_<SECTION>_<KEY>``. ``WORKBENCH_CONF`` points at another
settings file (the tests use it for a throw-away lake).

A wrong value is refused with the key, the file it came from and the allowed values,
because a typo in a bureau's production settings must not silently fall back to a
default.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONF = REPO_ROOT / "conf" / "workbench.toml"

LANGUAGES = ("zh", "en")
DEMO_SCALES = ("small", "medium", "large")


class SettingsError(ValueError):
    """A setting is missing, mistyped or outside its allowed values."""


@dataclass(frozen=True)
class LakeSettings:
    root: str
    # The city's zone: a timestamp's calendar day and month are taken here, not in UTC
    local_timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class EngineSettings:
    remote: str = ""
    idle_check_seconds: int = 300
    # The embedded engine's memory: "auto" (a quarter of the machine's memory) or a size
    # such as "6GiB" or "512MiB". The engine spills to disk rather than grow past it.
    memory_limit: str = "auto"
    # Where the embedded engine spills what outgrows memory_limit: "auto" (the system's
    # temporary folder) or a folder, such as one on the lake's disk when /tmp is small.
    spill_directory: str = "auto"
    # The most disk those spills may take: "auto" (half the free space of that folder's disk
    # when the engine starts) or a size. Past it a job stops and says so, rather than fill
    # the disk the lake and its commits are on.
    spill_limit: str = "auto"

    @property
    def embedded(self) -> bool:
        return not self.remote


@dataclass(frozen=True)
class LinkageSettings:
    # Memory of the linkage's DuckDB, where Splink blocks and scores pairs inside the
    # workbench's own process: "auto" (a quarter of the machine's memory) or a size. DuckDB
    # spills to a temporary folder rather than grow past it (by default it takes 80 % of
    # the machine, beside the engine's own pool).
    memory_limit: str = "auto"


@dataclass(frozen=True)
class SilverSettings:
    # Months written to a silver table in one commit are grouped up to about this many rows.
    # The engine sorts what one commit writes by month, spilling what exceeds its memory: a
    # first build of a city's ten years of social insurance at once would spill tens of GB.
    rows_per_write: int = 5_000_000


@dataclass(frozen=True)
class UiSettings:
    language: str = "zh"


@dataclass(frozen=True)
class DemoSettings:
    scale: str = "small"
    seed: int = 20261124
    out: str = "var/demo"


@dataclass(frozen=True)
class PrivacySettings:
    # File holding the pseudonymisation key; created with a random key on first use
    # when missing. WORKBENCH_PSEUDONYM_KEY (the key itself) takes precedence.
    key_file: str = "var/secrets/pseudonym.key"
    # File holding the key of the audit trail's hash chain (an HMAC key the workbench
    # holds and the lake does not); created on first use. WORKBENCH_AUDIT_KEY takes precedence.
    audit_key_file: str = "var/secrets/audit.key"


@dataclass(frozen=True)
class AuthSettings:
    # Failed sign-ins within the window that lock an account, and a client (an IP
    # address; behind a reverse proxy every user shares one, hence the higher number).
    max_account_failures: int = 5
    max_client_failures: int = 20
    failure_window_minutes: int = 15
    lockout_minutes: int = 15
    # How long a sign-in lasts before the user signs in again.
    session_hours: int = 8
    # Append-only record of sign-ins, failures, lockouts and sign-outs (JSON lines).
    audit_file: str = "var/log/signin-audit.jsonl"


@dataclass(frozen=True)
class Settings:
    lake: LakeSettings
    engine: EngineSettings = field(default_factory=EngineSettings)
    linkage: LinkageSettings = field(default_factory=LinkageSettings)
    silver: SilverSettings = field(default_factory=SilverSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    source_file: str = str(DEFAULT_CONF)

    @property
    def lake_root(self) -> str:
        """The lake root as a URI or absolute local path."""
        return resolve_path(self.lake.root)

    @property
    def demo_out(self) -> str:
        return resolve_path(self.demo.out)

    @property
    def deliveries(self) -> str:
        """Where raw deliveries land (the demo writes them under [demo].out)."""
        return os.path.join(self.demo_out, "deliveries")

    def with_lake_root(self, root: str | Path) -> "Settings":
        return replace(self, lake=replace(self.lake, root=str(root)))


_SECTIONS: dict[str, type] = {
    "lake": LakeSettings,
    "engine": EngineSettings,
    "linkage": LinkageSettings,
    "silver": SilverSettings,
    "ui": UiSettings,
    "demo": DemoSettings,
    "privacy": PrivacySettings,
    "auth": AuthSettings,
}

# Keys whose values are restricted to a closed set.
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("ui", "language"): LANGUAGES,
    ("demo", "scale"): DEMO_SCALES,
}


def resolve_path(value: str) -> str:
    """Return a URI unchanged and a relative local path anchored at the repository."""
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (REPO_ROOT / path).resolve())


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"settings file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in extra.items():
        if isinstance(values, dict):
            out.setdefault(section, {}).update(values)
        else:
            out[section] = values
    return out


def _coerce(section: str, key: str, raw: Any, expected: type, origin: str) -> Any:
    where = f"[{section}].{key} in {origin}"
    if expected is int:
        if isinstance(raw, bool):
            raise SettingsError(f"{where}: expected a whole number, got {raw!r}")
        try:
            value: Any = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: expected a whole number, got {raw!r}") from None
    elif expected is str:
        if not isinstance(raw, str):
            raise SettingsError(f"{where}: expected text, got {raw!r}")
        value = raw
    else:  # pragma: no cover - only int and str settings exist
        value = raw
    allowed = _CHOICES.get((section, key))
    if allowed is not None and value not in allowed:
        raise SettingsError(f"{where}: {value!r} is not allowed; allowed values: {', '.join(allowed)}")
    return value


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load settings from *path* (default ``conf/workbench.toml``) plus overrides."""
    env = os.environ if environ is None else environ
    conf_path = Path(path or env.get("WORKBENCH_CONF") or DEFAULT_CONF).resolve()
    data = _read_toml(conf_path)
    origins: dict[tuple[str, str], str] = {
        (s, k): str(conf_path) for s, vals in data.items() if isinstance(vals, dict) for k in vals
    }
    local = conf_path.parent / "local" / conf_path.name
    if local.exists():
        local_data = _read_toml(local)
        data = _merge(data, local_data)
        origins.update({(s, k): str(local) for s, vals in local_data.items() if isinstance(vals, dict) for k in vals})

    unknown_sections = set(data) - set(_SECTIONS)
    if unknown_sections:
        raise SettingsError(
            f"{conf_path}: unknown section(s) {sorted(unknown_sections)}; allowed sections: {', '.join(_SECTIONS)}"
        )

    built: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        values = dict(data.get(section, {}))
        fields = cls.__dataclass_fields__
        unknown = set(values) - set(fields)
        if unknown:
            raise SettingsError(
                f"{conf_path}: unknown key(s) {sorted(unknown)} in [{section}]; allowed keys: {', '.join(fields)}"
            )
        for key in fields:
            env_name = f"WORKBENCH_{section.upper()}_{key.upper()}"
            if env_name in env:
                values[key] = env[env_name]
                origins[(section, key)] = f"environment variable {env_name}"
        kwargs = {}
        for key, f in fields.items():
            if key in values:
                expected = f.type if isinstance(f.type, type) else {"int": int, "str": str}[str(f.type)]
                kwargs[key] = _coerce(section, key, values[key], expected, origins.get((section, key), str(conf_path)))
        try:
            built[section] = cls(**kwargs)
        except TypeError:
            missing = [k for k, f in fields.items() if k not in kwargs and f.default is f.default_factory]
            raise SettingsError(f"{conf_path}: [{section}] is missing key(s) {missing}") from None

    remote = built["engine"].remote
    if remote and not remote.startswith("sc://"):
        raise SettingsError(
            f"[engine].remote in {origins.get(('engine', 'remote'), conf_path)}: {remote!r} is not a Spark Connect "
            "address; allowed values: empty (embedded Sail) or sc://host:port"
        )
    for section, key in (("engine", "memory_limit"), ("engine", "spill_limit"), ("linkage", "memory_limit")):
        try:
            parse_memory_size(getattr(built[section], key))
        except ValueError as exc:
            raise SettingsError(f"[{section}].{key} in "
                                f"{origins.get((section, key), conf_path)}: {exc}") from None
    if built["silver"].rows_per_write < 1:
        raise SettingsError(f"[silver].rows_per_write in {origins.get(('silver', 'rows_per_write'), conf_path)}: "
                            f"{built['silver'].rows_per_write} is not allowed; allowed values: a whole number >= 1")
    return Settings(**built, source_file=str(conf_path))


_SIZE_UNITS = {"": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
               "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def parse_memory_size(text: str) -> int | None:
    """Bytes of a size such as ``6GiB``, ``512MiB`` or ``2000000000``; None for ``auto``."""
    if text.strip().lower() == "auto":
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size; allowed values: auto, or a number with KiB, MiB, GiB "
                         "(or KB, MB, GB), e.g. 6GiB")
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < 64 * 2**20:
        raise ValueError(f"{text!r} is below the smallest size the workbench allows (64MiB)")
    return size

