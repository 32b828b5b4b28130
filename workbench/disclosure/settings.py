"""Settings of disclosure control and dissemination, from ``conf/disclosure.toml``.

Kept beside the methods (not in ``workbench.toml``) because the thresholds are
statistical choices a methodologist edits; the API's host and port can still be
overridden from the environment (``WORKBENCH_API_HOST``, ``WORKBENCH_API_PORT``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from workbench.config import REPO_ROOT

DEFAULT_DISCLOSURE_CONF = REPO_ROOT / "conf" / "disclosure.toml"
COSTS = ("value", "count")


class DisclosureSettingsError(ValueError):
    """conf/disclosure.toml is malformed."""


@dataclass(frozen=True)
class Rules:
    min_frequency: int = 3
    dominance_n: int = 2
    dominance_k: float = 85.0
    p_percent: float = 10.0
    protection: float = 0.10
    cost: str = "value"


@dataclass(frozen=True)
class TableSpec:
    """A release table kind: the microdata behind it and its hierarchical structure."""

    kind: str
    microdata: str
    contributor: str
    period: str
    geography: tuple[str, ...]
    category: str
    measures: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.geography, self.category)


@dataclass(frozen=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8610
    page_size: int = 100
    max_page_size: int = 1000
    refresh_seconds: float = 5.0
    page_cache_mb: float = 64.0  # the most memory (MiB) cached pages of rows may hold


@dataclass(frozen=True)
class SdmxSettings:
    agency: str = "CN_GCITY_STATS"
    version: str = "1.0"


@dataclass(frozen=True)
class ReleasePolicy:
    """What happens to run kinds that are not tables under ``[tables.*]``.

    ``estimates``: kind -> the columns hidden on rows resting on fewer sampled units
    (column ``n``) than ``[rules].min_frequency``; ``exempt_kinds``: kinds whose outputs
    hold no single enterprise's value, released as they are. Any other kind is refused.
    """

    estimates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exempt_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class DisclosureSettings:
    rules: Rules = field(default_factory=Rules)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    release: ReleasePolicy = field(default_factory=ReleasePolicy)
    api: ApiSettings = field(default_factory=ApiSettings)
    sdmx: SdmxSettings = field(default_factory=SdmxSettings)


def load_disclosure_settings(path: str | Path | None = None,
                             environ: Mapping[str, str] | None = None) -> DisclosureSettings:
    """Read *path* (default ``conf/disclosure.toml`` or ``WORKBENCH_DISCLOSURE_CONF``)."""
    env = os.environ if environ is None else environ
    path = Path(path or env.get("WORKBENCH_DISCLOSURE_CONF") or DEFAULT_DISCLOSURE_CONF)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise DisclosureSettingsError(f"disclosure settings not found: {path}") from None
    r = data.get("rules", {})
    rules = Rules(min_frequency=int(r.get("min_frequency", 3)), dominance_n=int(r.get("dominance_n", 2)),
                  dominance_k=float(r.get("dominance_k", 85.0)), p_percent=float(r.get("p_percent", 10.0)),
                  protection=float(r.get("protection", 0.10)), cost=str(r.get("cost", "value")))
    if rules.cost not in COSTS:
        raise DisclosureSettingsError(f"[rules].cost in {path}: {rules.cost!r} is not allowed; allowed: "
                                      + ", ".join(COSTS))
    if not 0 < rules.protection < 1 or rules.dominance_n < 1 or not 0 < rules.dominance_k <= 100:
        raise DisclosureSettingsError(f"{path}: protection must be in (0, 1), dominance_n >= 1, "
                                      "dominance_k in (0, 100]")
    tables = {}
    for kind, t in (data.get("tables") or {}).items():
        try:
            tables[kind] = TableSpec(kind=kind, microdata=t["microdata"], contributor=t["contributor"],
                                     period=t["period"], geography=tuple(t["geography"]), category=t["category"],
                                     measures=tuple(t["measures"]))
        except KeyError as exc:
            raise DisclosureSettingsError(f"[tables.{kind}] in {path} lacks key {exc}") from None
    r = data.get("release", {})
    # a deployment's own exempt kinds (comma-separated) add to the file's
    extra = tuple(k.strip() for k in env.get("WORKBENCH_RELEASE_EXEMPT_KINDS", "").split(",") if k.strip())
    release = ReleasePolicy(
        estimates={str(k): tuple(v) for k, v in (r.get("estimates") or {}).items()},
        exempt_kinds=tuple(r.get("exempt_kinds", ())) + extra)
    a = dict(data.get("api", {}))
    for key in ("host", "port"):
        if f"WORKBENCH_API_{key.upper()}" in env:
            a[key] = env[f"WORKBENCH_API_{key.upper()}"]
    api = ApiSettings(host=str(a.get("host", "127.0.0.1")), port=int(a.get("port", 8610)),
                      page_size=int(a.get("page_size", 100)), max_page_size=int(a.get("max_page_size", 1000)),
                      refresh_seconds=float(a.get("refresh_seconds", 5)),
                      page_cache_mb=float(a.get("page_cache_mb", 64)))
    s = data.get("sdmx", {})
    return DisclosureSettings(rules=rules, tables=tables, release=release, api=api,
                              sdmx=SdmxSettings(agency=str(s.get("agency", "CN_GCITY_STATS")),
                                                version=str(s.get("version", "1.0"))))
