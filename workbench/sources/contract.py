"""Source contracts from ``conf/sources.toml``: what each department delivers.

A contract names each column's delivered header, the other headers it has
arrived under (aliases), its silver type and whether it is required. Mapping a
delivery's headers through the contract either succeeds or rejects the file whole
with a reason that names the file and the headers.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from workbench.config import REPO_ROOT

SOURCES_FILE = REPO_ROOT / "conf" / "sources.toml"
FORMATS = ("csv", "xlsx", "jsonl", "parquet")
TYPES = ("string", "int", "decimal", "double", "date", "month", "timestamp")


class ContractError(ValueError):
    """conf/sources.toml is inconsistent."""


class RejectedFile(ValueError):
    """A delivered file cannot be loaded at all; the reason names the file.

    *first_line_is_data*: no header of the file's first line is known, so that line is most
    likely its first row (the header line is missing): it is kept with the other rows."""

    def __init__(self, message: str, *, first_line_is_data: bool = False):
        super().__init__(message)
        self.first_line_is_data = first_line_is_data


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    header: str
    type: str
    required: bool
    aliases: tuple[str, ...]
    # A code list of conf/catalog.toml ([codelists.<name>]) every value must be in: a code
    # outside it is refused in silver like a value of the wrong type, so nothing but a
    # known code (never, say, a spreadsheet formula) travels on to gold and releases.
    codelist: str = ""


@dataclass(frozen=True)
class SourceContract:
    name: str
    title_en: str
    title_zh: str
    owner: str
    folder: str
    pattern: str
    format: str
    encoding: str
    period_from: str
    personal: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    def matches(self, filename: str) -> bool:
        return fnmatch.fnmatch(filename, self.pattern)

    def period_of(self, filename: str) -> str | None:
        match = re.search(self.period_from, filename)
        return match.group(1) if match else None

    def map_headers(self, headers: list[str], file: str) -> dict[str, str]:
        """Delivered header -> column name; rejects unknown, duplicate or missing required headers.

        A reason quotes only headers the contract knows. Any other header is named by its
        column position: a file delivered without a header has its first data row here (a
        name, an ID number, a phone), and reasons are read by people who must not see those.
        """
        lookup: dict[str, str] = {}
        for col in self.columns:
            for h in (col.header, *col.aliases):
                lookup[h] = col.name

        def known(raw: str) -> str | None:
            return lookup.get((raw or "").strip().lstrip("\ufeff"))

        def named(raw: str, position: int) -> str:
            return repr(raw) if known(raw) else f"column {position}"

        counts = Counter(headers)
        twice = [named(h, i) for i, h in enumerate(headers, start=1) if counts[h] > 1]
        if twice:
            raise RejectedFile(f"{file}: the headers of {', '.join(twice)} are the same; each header may appear once")
        mapping: dict[str, str] = {}
        unknown = []
        for position, raw in enumerate(headers, start=1):
            if known(raw) is None:
                unknown.append(position)
                continue
            mapping[raw] = known(raw)
        if unknown:
            hint = ("; no header is known, so the first line is probably data: the file may lack its header line"
                    if not mapping else "")
            raise RejectedFile(
                f"{file}: the header(s) of column(s) {', '.join(map(str, unknown))} match no column of the "
                f"{self.name} contract (conf/sources.toml){hint}; known headers: {sorted(lookup)}",
                first_line_is_data=not mapping,
            )
        seen: dict[str, str] = {}
        for raw, col in mapping.items():
            if col in seen:
                raise RejectedFile(f"{file}: headers {seen[col]!r} and {raw!r} both map to column {col}")
            seen[col] = raw
        missing = [c.header for c in self.columns if c.required and c.name not in seen]
        if missing:
            raise RejectedFile(f"{file}: required column(s) {missing} missing from the {self.name} delivery")
        return mapping


def _build(name: str, raw: dict) -> SourceContract:
    try:
        columns = tuple(
            ColumnSpec(
                name=col,
                header=spec["header"],
                type=spec.get("type", "string"),
                required=bool(spec.get("required", False)),
                aliases=tuple(spec.get("aliases", ())),
                codelist=str(spec.get("codelist", "")),
            )
            for col, spec in raw["columns"].items()
        )
        contract = SourceContract(
            name=name,
            title_en=raw.get("title_en", name),
            title_zh=raw.get("title_zh", name),
            owner=raw.get("owner", ""),
            folder=raw["folder"],
            pattern=raw["pattern"],
            format=raw["format"],
            encoding=raw.get("encoding", "utf-8"),
            period_from=raw["period_from"],
            personal=tuple(raw.get("personal", ())),
            columns=columns,
        )
    except KeyError as exc:
        raise ContractError(f"{SOURCES_FILE}: [{name}] lacks {exc.args[0]!r}") from None
    folder = Path(contract.folder)
    if folder.is_absolute() or ".." in folder.parts:
        raise ContractError(f"{SOURCES_FILE}: [{name}].folder {contract.folder!r} must be a folder inside the "
                            "delivery root (relative, without '..')")
    if contract.format not in FORMATS:
        raise ContractError(f"{SOURCES_FILE}: [{name}].format {contract.format!r}; allowed: {', '.join(FORMATS)}")
    for col in columns:
        if col.type not in TYPES:
            raise ContractError(f"{SOURCES_FILE}: [{name}.columns.{col.name}].type {col.type!r}; allowed: {', '.join(TYPES)}")
    for p in contract.personal:
        if p not in contract.column_names:
            raise ContractError(f"{SOURCES_FILE}: [{name}].personal names unknown column {p!r}")
    return contract


@lru_cache(maxsize=4)
def load_contracts(path: str | None = None) -> dict[str, SourceContract]:
    file = Path(path) if path else SOURCES_FILE
    with file.open("rb") as fh:
        data = tomllib.load(fh)
    return {name: _build(name, raw) for name, raw in data.items()}


def contract(name: str) -> SourceContract:
    contracts = load_contracts()
    if name not in contracts:
        raise ContractError(f"no source {name!r} in {SOURCES_FILE}; sources: {', '.join(contracts)}")
    return contracts[name]
