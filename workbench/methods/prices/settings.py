"""Settings of the online price indices, from ``conf/prices.toml``.

Kept beside the methods (not in ``workbench.toml``) because they are statistical
choices (thresholds, windows, the COICOP rule table and basket weights) that a
price statistician edits, not deployment settings.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workbench.config import REPO_ROOT

DEFAULT_PRICES_CONF = REPO_ROOT / "conf" / "prices.toml"


@dataclass(frozen=True)
class Group:
    code: str
    name_zh: str
    name_en: str
    weight: float
    path: tuple[str, ...]


@dataclass(frozen=True)
class PriceSettings:
    timezone: str = "Asia/Shanghai"
    max_ratio: float = 5.0
    carry_days: int = 3
    review_below: float = 0.6
    seed: int = 0
    method: str = "geks_jevons"
    window_months: int = 13
    window_days: int = 31
    splice: str = "mean"
    groups: tuple[Group, ...] = field(default_factory=tuple)

    @property
    def weights(self) -> dict[str, float]:
        return {g.code: g.weight for g in self.groups}

    def group_name(self, code: str, language: str = "zh") -> str:
        for g in self.groups:
            if g.code == code:
                return g.name_zh if language == "zh" else g.name_en
        return code


def load_price_settings(path: str | Path | None = None) -> PriceSettings:
    """Read *path* (default ``conf/prices.toml`` or ``WORKBENCH_PRICES_CONF``)."""
    path = Path(path or os.environ.get("WORKBENCH_PRICES_CONF") or DEFAULT_PRICES_CONF)
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    groups = tuple(
        Group(code, g["name_zh"], g["name_en"], float(g["weight"]), tuple(g.get("path", ())))
        for code, g in sorted(data.get("groups", {}).items()))
    if not groups:
        raise ValueError(f"{path}: no [groups.<code>] table")
    q, c, k, i = (data.get(s, {}) for s in ("quotes", "cleaning", "classification", "index"))
    return PriceSettings(
        timezone=q.get("timezone", "Asia/Shanghai"), max_ratio=float(c.get("max_ratio", 5.0)),
        carry_days=int(c.get("carry_days", 3)), review_below=float(k.get("review_below", 0.6)),
        seed=int(k.get("seed", 0)), method=i.get("method", "geks_jevons"),
        window_months=int(i.get("window_months", 13)), window_days=int(i.get("window_days", 31)),
        splice=i.get("splice", "mean"), groups=groups)
