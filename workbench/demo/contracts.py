"""Headers and aliases from conf/sources.toml: the generator writes to the same
contracts the bronze jobs read."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

SOURCES_TOML = Path(__file__).resolve().parents[2] / "conf" / "sources.toml"


@lru_cache(maxsize=1)
def sources() -> dict:
    with open(SOURCES_TOML, "rb") as fh:
        return tomllib.load(fh)


def headers(source: str, renamed: dict[str, str] | None = None) -> list[str]:
    """Delivered headers in contract order; ``renamed`` maps column -> header to use
    instead (an alias, or on purpose something unmappable)."""
    cols = sources()[source]["columns"]
    renamed = renamed or {}
    return [renamed.get(c, spec["header"]) for c, spec in cols.items()]


def alias(source: str, column: str, k: int = 0) -> str:
    return sources()[source]["columns"][column]["aliases"][k]


def folder(source: str) -> str:
    return sources()[source]["folder"]
