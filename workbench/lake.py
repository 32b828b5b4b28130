"""The lake: logical table names, Delta paths, and every read and write.

Tables are addressed by logical names such as ``bronze.vat_invoices`` or
``workbench.runs``; each dot is a folder under the lake root. All writes go through
:class:`Lake`, which guards the engine hazards listed in docs/data/lake.md and docs/architecture.md before the
engine sees the data:

* schema drift: an appended column is silently dropped by Sail, so every write
  compares schemas first; new columns are added through delta-rs (always
  nullable) only when the caller passes ``evolve=True``; type changes are refused;
* partition overwrite: dynamic partition overwrite replaces the whole table on
  Sail, so it is refused; ``replace_where`` is used instead, and every new row is
  checked against the predicate first (Sail does not check);
* commit conflicts on ``MERGE``: retried with backoff.

Metadata (versions, history, row counts, vacuum) is read with delta-rs, not Spark,
because Sail does not support ``DESCRIBE HISTORY`` and friends.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import pyarrow as pa
from deltalake import DeltaTable
from deltalake import Field as DeltaField

from workbench.config import Settings, load_settings

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow.compute as pc
    from pyspark.sql import DataFrame, SparkSession

# Tables whose history is the record itself: only appends, never rewrites (the audit
# trail, the run registry, people's decisions on fraud suspects and on candidate links,
# every published vintage under release.* and every run's outputs under runs.*, which
# reviewers approve as written). Their writers append and readers take the latest row
# per key, so a rewrite could only ever destroy evidence.
APPEND_ONLY_TABLES = ("workbench.audit", "workbench.runs", "workbench.run_outputs", "workbench.releases",
                      "quality.fraud_decisions", "silver.link_reviews")
APPEND_ONLY_LAYERS = ("release", "runs")
# Delta's own append-only flag, set on every append-only table at its first write: any
# writer that honours the Delta protocol (Sail, delta-rs, Spark) then refuses a rewrite
# of the file, whichever root and name it was reached by.
DELTA_APPEND_ONLY = "delta.appendOnly"
# The record of released runs: each row pins the Delta versions of the run's inputs
# (``inputs_json``), and :meth:`Lake.vacuum` keeps every file those versions need.
PINS_TABLE = "workbench.releases"
# Recorded runs pin the versions they read too (``inputs_json``), until the review trail
# sets them aside: an approved run waits for its release, a draft for its review.
RUNS_TABLE = "workbench.runs"
AUDIT_TABLE = "workbench.audit"
SET_ASIDE_STATES = ("withdrawn", "rejected")
LOCK_FOLDER = "_locks"
# Intermediate results a job reads several times (see Lake.scratch): plain Parquet, no Delta log,
# so no table listing, vacuum or catalog ever sees them.
SCRATCH_FOLDER = "_scratch"

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_][a-z0-9_\-]*)+$")
WRITE_MODES = ("append", "overwrite")
MERGE_RETRIES = 6
# Table features delta-rs (deltalake 1.6) cannot read, measured on tables delta-spark 4.4
# wrote: its reader refuses deletion vectors, and row counts from file statistics would
# silently include the deleted rows. delta-spark's other defaults (protocol 1/2) are fine.
UNSUPPORTED_FEATURES = frozenset({"deletionVectors"})


_HELD = threading.local()  # the lock files this thread holds (Lake.exclusive is re-entrant)



def _quoted(identifier: str) -> str:
    """*identifier* as one SQL identifier: backticked, any backtick inside doubled, so a column
    name or a lake path can never end the identifier and become SQL."""
    return "`" + identifier.replace("`", "``") + "`"

class LakeError(RuntimeError):
    """A lake operation was refused or failed."""


class SchemaMismatchError(LakeError):
    """The DataFrame's schema does not fit the table's."""


class AppendOnlyError(LakeError):
    """An overwrite, partition overwrite or merge of an append-only table."""


def is_append_only(name: str) -> bool:
    return name in APPEND_ONLY_TABLES or name.split(".")[0] in APPEND_ONLY_LAYERS


def _path_parts(path: str) -> list[str]:
    if "://" in path:
        return [p for p in path.split("://", 1)[1].split("/") if p]
    return [p for p in os.path.realpath(path).split(os.sep) if p]


def append_only_record_at(path: str) -> str | None:
    """The append-only record that lives at *path*, judged by the resolved folder and not
    by the name a caller used: ``Lake('/data').path('lake.workbench.audit')`` is the
    audit of the lake at ``/data/lake``, and a symlink is followed to its target."""
    parts = _path_parts(path)
    for name in APPEND_ONLY_TABLES:
        tail = name.split(".")
        if parts[-len(tail):] == tail:
            return name
    if len(parts) >= 2 and parts[-2] in APPEND_ONLY_LAYERS:
        return f"{parts[-2]}.{parts[-1]}"
    if DeltaTable.is_deltatable(path):
        config = DeltaTable(path).metadata().configuration
        if str(config.get(DELTA_APPEND_ONLY, "")).lower() == "true":
            return ".".join(parts[-2:])
    return None


class TableNotFoundError(LakeError):
    """No Delta table exists under the name."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    layer: str
    path: str
    version: int
    rows: int
    columns: tuple[tuple[str, str], ...]
    last_modified: float | None  # epoch seconds of the latest commit


# What a value spliced into a Delta replaceWhere predicate may contain (the option takes SQL
# text, so it cannot be parameterised): no quote, backslash or control character can end the
# literal early, whatever the engine's escaping rules.
_SAFE_LITERAL = re.compile(r"^[\w .:/@+\-]*$")


def _all_nullable(field: pa.Field) -> pa.Field:
    """*field* nullable, and every field nested in it (map keys stay required, as Arrow and
    Delta both demand), as delta-spark makes a new table's schema."""
    kind = field.type
    if pa.types.is_struct(kind):
        kind = pa.struct([_all_nullable(kind.field(i)) for i in range(kind.num_fields)])
    elif pa.types.is_map(kind):
        kind = pa.map_(kind.key_field, _all_nullable(kind.item_field))
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        maker = pa.list_ if pa.types.is_list(kind) else pa.large_list
        kind = maker(_all_nullable(kind.value_field))
    return field.with_type(kind).with_nullable(True)


def sql_literal(value: str) -> str:
    """*value* as a quoted SQL string literal for ``replace_where``; refuses what could end it.

    Filters on DataFrames take Column expressions (``F.col(c) == value``) instead; this
    is only for the predicate text Delta's ``replaceWhere`` option needs.
    """
    text = str(value)
    if not _SAFE_LITERAL.match(text):
        raise LakeError(f"value {text!r} cannot go into a replace_where predicate: only letters, digits, "
                        "space and _ . : / @ + - are allowed")
    return f"'{text}'"


def _join(root: str, *parts: str) -> str:
    if "://" in root:
        return "/".join([root.rstrip("/"), *parts])
    return os.path.join(root, *parts)


def _is_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("conflict", "concurrent", "version already exists", "transaction"))


def _type_string(data_type: Any) -> str:
    return data_type.simpleString()


class Scratch:
    """Intermediate results of one job (see :meth:`Lake.scratch`)."""

    def __init__(self, lake: "Lake", folder: str) -> None:
        self._lake = lake
        self._folder = folder
        self._kept: set[str] = set()

    def keep(self, df: "DataFrame", label: str) -> "DataFrame":
        """Compute *df* once, write it under *label* and return a DataFrame reading that copy."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*", label) or label in self._kept:
            raise LakeError(f"scratch label {label!r}: lower case, and once per job")
        self._kept.add(label)
        path = _join(self._folder, label)
        df.write.mode("overwrite").parquet(path)
        # with the schema given, a result of no rows (perhaps no file at all) reads as empty
        return self._lake.spark.read.schema(df.schema).parquet(path)


class Lake:
    """Delta tables under one root, read and written through one Spark session."""

    def __init__(self, root: str, spark: "SparkSession | None" = None, settings: Settings | None = None):
        self.root = root
        self._spark = spark
        self._settings = settings

    @classmethod
    def from_settings(cls, settings: Settings | None = None, spark: "SparkSession | None" = None) -> "Lake":
        settings = settings or load_settings()
        return cls(settings.lake_root, spark=spark, settings=settings)

    @property
    def settings(self) -> Settings:
        """The settings this lake was built from (the committed ones plus overrides if none)."""
        return self._settings or load_settings()

    @property
    def spark(self) -> "SparkSession":
        from workbench.engine import get_spark

        # Ask the factory each time: it notices a dropped session and reconnects.
        if self._spark is None:
            return get_spark(self._settings)
        return self._spark

    # ---- names and metadata (delta-rs, no engine needed) -------------------------

    def path(self, name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise LakeError(
                f"bad table name {name!r}: use '<layer>.<table>' in lower case, e.g. 'bronze.vat_invoices'"
            )
        return _join(self.root, *name.split("."))

    def exists(self, name: str) -> bool:
        return DeltaTable.is_deltatable(self.path(name))

    def _delta(self, name: str, version: int | None = None) -> DeltaTable:
        if not self.exists(name):
            raise TableNotFoundError(f"no Delta table {name} at {self.path(name)}")
        table = DeltaTable(self.path(name), version=version)
        protocol = table.protocol()
        features = set(protocol.reader_features or []) | set(protocol.writer_features or [])
        if features & UNSUPPORTED_FEATURES:
            path = self.path(name)
            raise LakeError(
                f"{name} at {path} uses Delta table feature(s) {sorted(features & UNSUPPORTED_FEATURES)} that "
                f"delta-rs (the lake's history, row counts, vacuum) cannot read; on the Spark cluster run "
                f"ALTER TABLE delta.`{path}` DROP FEATURE deletionVectors, and keep spark-defaults.conf's "
                f"spark.databricks.delta.properties.defaults.enableDeletionVectors=false")
        return table

    def version(self, name: str) -> int:
        return self._delta(name).version()

    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits newest first: version, timestamp (ms), operation, parameters, user metadata."""
        return self._delta(name).history(limit)

    def arrow_schema(self, name: str) -> pa.Schema:
        return pa.schema(self._delta(name).schema().to_arrow())

    def row_count(self, name: str, version: int | None = None) -> int:
        """Rows from the Delta log's file statistics, without scanning data."""
        actions = pa.table(self._delta(name, version).get_add_actions(flatten=True))
        if actions.num_rows == 0:
            return 0
        counts = actions.column("num_records").to_pylist()
        if any(c is None for c in counts):  # a writer without statistics: count for real
            return self.read(name, version).count()
        return int(sum(counts))

    def rows_added(self, name: str, since_version: int | None) -> int:
        """Rows in the files that versions after *since_version* added (None: the whole
        table), from the Delta log's statistics: what a write just wrote, without
        computing the written DataFrame a second time."""
        now = pa.table(self._delta(name).get_add_actions(flatten=True))
        if now.num_rows == 0:
            return 0
        before = set()
        if since_version is not None:
            before = set(pa.table(self._delta(name, since_version).get_add_actions(flatten=True))
                         .column("path").to_pylist())
        added = [(p, n) for p, n in zip(now.column("path").to_pylist(), now.column("num_records").to_pylist())
                 if p not in before]
        if any(n is None for _, n in added):
            raise LakeError(f"{name}: the writer left no row statistics; count the rows instead")
        return int(sum(n for _, n in added))

    def table_names(self) -> list[str]:
        """Every Delta table under the root (local lakes), sorted by name."""
        if "://" in self.root:
            raise LakeError("listing tables needs a local lake root; on an object store list the catalog instead")
        names = []
        if not os.path.isdir(self.root):
            return names
        for dirpath, dirnames, _ in os.walk(self.root):
            if "_delta_log" in dirnames:
                rel = os.path.relpath(dirpath, self.root)
                names.append(".".join(rel.split(os.sep)))
                dirnames[:] = []  # a table's partitions are not tables
        return sorted(names)

    def describe(self, name: str) -> TableInfo:
        dt = self._delta(name)
        schema = pa.schema(dt.schema().to_arrow())
        last = dt.history(1)
        return TableInfo(
            name=name,
            layer=name.split(".")[0],
            path=self.path(name),
            version=dt.version(),
            rows=self.row_count(name),
            columns=tuple((f.name, str(f.type)) for f in schema),
            last_modified=(last[0]["timestamp"] / 1000.0) if last else None,
        )

    def tables(self) -> list[TableInfo]:
        return [self.describe(n) for n in self.table_names()]

    # ---- reads -----------------------------------------------------------------

    def read(self, name: str, version: int | None = None) -> "DataFrame":
        """The table as a DataFrame, at its latest version or pinned at *version*."""
        path = self.path(name)
        if not self.exists(name):
            raise TableNotFoundError(f"no Delta table {name} at {path}")
        reader = self.spark.read.format("delta")
        if version is not None:
            latest = self.version(name)
            if not 0 <= version <= latest:
                raise LakeError(f"{name} has versions 0..{latest}; version {version} does not exist")
            reader = reader.option("versionAsOf", int(version))
        return reader.load(path)

    # ---- the schema guard ------------------------------------------------------

    def _check_schema(self, name: str, df: "DataFrame", evolve: bool) -> list[Any]:
        """Return the DataFrame fields the table lacks, after refusing what cannot be written."""
        table_fields = {f.name.lower(): f for f in self.read(name).schema.fields}
        new_fields = []
        changed = []
        for f in df.schema.fields:
            existing = table_fields.pop(f.name.lower(), None)
            if existing is None:
                new_fields.append(f)
            elif _type_string(existing.dataType) != _type_string(f.dataType):
                changed.append(f"{f.name}: table has {_type_string(existing.dataType)}, data has {_type_string(f.dataType)}")
        if changed:
            raise SchemaMismatchError(f"type change refused for {name}: " + "; ".join(changed))
        if table_fields:
            missing = sorted(f.name for f in table_fields.values())
            raise SchemaMismatchError(
                f"write to {name} lacks column(s) {missing}; add them (as typed nulls if unknown) before writing"
            )
        if new_fields and not evolve:
            raise SchemaMismatchError(
                f"write to {name} has new column(s) {[f.name for f in new_fields]} that the table lacks; "
                "pass evolve=True to add them (the engine would otherwise drop them silently)"
            )
        return new_fields

    def _add_columns(self, name: str, fields: Sequence[Any]) -> None:
        """Add columns through delta-rs; always nullable, since a non-nullable added
        column leaves the table unreadable on Sail."""
        delta_fields = []
        for f in fields:
            spec = f.jsonValue()
            spec["nullable"] = True
            delta_fields.append(DeltaField.from_json(json.dumps(spec)))
        DeltaTable(self.path(name)).alter.add_columns(delta_fields)

    # ---- writes ----------------------------------------------------------------

    def write(
        self,
        name: str,
        df: "DataFrame",
        mode: str = "append",
        *,
        partition_by: Sequence[str] | None = None,
        replace_where: str | None = None,
        evolve: bool = False,
    ) -> int:
        """Write *df* to table *name* and return the table's new Delta version.

        ``mode="overwrite"`` with ``replace_where`` replaces only the rows matching the
        predicate (one partition, one month); every row of *df* must match it.
        """
        if mode not in WRITE_MODES:
            raise LakeError(f"write mode {mode!r} not allowed; allowed: {', '.join(WRITE_MODES)}")
        if replace_where is not None and mode != "overwrite":
            raise LakeError("replace_where needs mode='overwrite'")
        if mode != "append":
            self._refuse_rewrite(name)
        self._refuse_dynamic_overwrite()
        path = self.path(name)
        if not self.exists(name):
            # Created empty through delta-rs, every column nullable, then written like any
            # other write: the engines disagree on a new table's nullability (Sail keeps
            # NOT NULL for columns it can prove never null, delta-spark makes all nullable),
            # and a lake written by either must look the same to the other and to delta-rs.
            self._create_for_first_write(name, df, partition_by)
        new_fields = self._check_schema(name, df, evolve)
        if new_fields:
            self._add_columns(name, new_fields)
        # Align to the table's column order: Delta appends by name, but a
        # consistent order keeps files and previews tidy.
        df = df.select(*[_quoted(c) for c in self.read(name).columns])
        if replace_where is not None:
            self._check_rows_match(name, df, replace_where)
        writer = df.write.format("delta").mode(mode)
        if replace_where is not None:
            writer = writer.option("replaceWhere", replace_where)
        writer.save(path)
        self._mark_append_only(name)
        return self.version(name)

    def _create_for_first_write(self, name: str, df: "DataFrame", partition_by: Sequence[str] | None) -> None:
        """The empty table *df*'s first write goes into (the engine's types, all nullable)."""
        from pyspark.sql.pandas.types import to_arrow_schema

        try:
            self.create_empty(name, to_arrow_schema(df.schema, timezone="UTC"), partition_by)
        except Exception:  # a concurrent first writer created it a moment earlier
            if not self.exists(name):
                raise

    def _refuse_rewrite(self, name: str) -> None:
        """Refuse to rewrite an append-only record, by its logical name or by where it lives."""
        record = name if is_append_only(name) else append_only_record_at(self.path(name))
        if record is not None:
            shown = name if record == name else f"{name} (the append-only record {record} at {self.path(name)})"
            raise AppendOnlyError(f"{shown} is append-only: its rows are a record that is never rewritten")

    def _mark_append_only(self, name: str) -> None:
        if not is_append_only(name):
            return
        def flagged() -> bool:
            config = DeltaTable(self.path(name)).metadata().configuration
            return str(config.get(DELTA_APPEND_ONLY, "")).lower() == "true"

        if flagged():
            return
        try:
            DeltaTable(self.path(name)).alter.set_table_properties({DELTA_APPEND_ONLY: "true"})
        except Exception:  # a concurrent first writer may have set it a moment earlier
            if not flagged():
                raise

    def _refuse_dynamic_overwrite(self) -> None:
        try:
            mode = self.spark.conf.get("spark.sql.sources.partitionOverwriteMode", "static")
        except Exception:  # engines without the key behave statically
            mode = "static"
        if str(mode).lower() == "dynamic":
            raise LakeError(
                "spark.sql.sources.partitionOverwriteMode=dynamic replaces the whole table on Sail; "
                "unset it and overwrite one partition with replace_where"
            )

    def _check_rows_match(self, name: str, df: "DataFrame", predicate: str) -> None:
        outside = df.filter(f"NOT coalesce(({predicate}), false)").limit(1).collect()
        if outside:
            raise LakeError(
                f"replace_where on {name}: row {outside[0].asDict()} does not match {predicate!r}; "
                "nothing was written (the engine would append it and still delete the partition)"
            )

    def merge(
        self,
        name: str,
        df: "DataFrame",
        keys: Sequence[str],
        *,
        evolve: bool = False,
        delete_unmatched: bool = False,
    ) -> int:
        """Upsert *df* into *name* by *keys* (update matches, insert the rest).

        Creates the table when it does not exist. Commit conflicts with concurrent
        writers are retried with exponential backoff, which Sail does not do itself.
        """
        if not keys:
            raise LakeError("merge needs at least one key column")
        self._refuse_rewrite(name)
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise LakeError(f"merge into {name}: key column(s) {missing} not in the data")
        if not self.exists(name):
            return self.write(name, df)
        new_fields = self._check_schema(name, df, evolve)
        if new_fields:
            self._add_columns(name, new_fields)
        from pyspark.sql import functions as F

        # keys as quoted column references: a bare string is parsed, and a backtick in it would fail
        duplicates = df.groupBy(*[F.col(_quoted(k)) for k in keys]).count().filter("count > 1").limit(1).collect()
        if duplicates:
            raise LakeError(f"merge into {name}: key {duplicates[0].asDict()} occurs more than once in the data")
        view = f"_merge_src_{os.getpid()}_{random.randrange(1 << 30)}"
        df.createOrReplaceTempView(view)
        on = " AND ".join(f"t.{_quoted(k)} <=> s.{_quoted(k)}" for k in keys)
        sql = f"MERGE INTO delta.{_quoted(self.path(name))} AS t USING {view} AS s ON {on} " \
              "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        if delete_unmatched:
            sql += " WHEN NOT MATCHED BY SOURCE THEN DELETE"
        for attempt in range(MERGE_RETRIES):
            try:
                self.spark.sql(sql).collect()
                break
            except Exception as exc:
                if attempt == MERGE_RETRIES - 1 or not _is_conflict(exc):
                    raise
                time.sleep(0.05 * (2**attempt) * (1 + random.random()))
        try:
            self.spark.catalog.dropTempView(view)
        except Exception:  # temp views die with the session anyway
            pass
        return self.version(name)

    def append_arrow(self, name: str, table: pa.Table, *, evolve: bool = False) -> int:
        """Append an Arrow table through delta-rs, without a round trip through the engine.

        For rows that are already in this process (files parsed in Python by the bronze
        jobs): sending them to the engine only for it to write them back costs a gRPC
        upload of every byte. The same schema guard applies as for :meth:`write`; the
        engine reads the result like any other Delta table.
        """
        from deltalake import Schema, write_deltalake

        incoming = {f.name.lower(): (f.name, json.loads(f.to_json())["type"])
                    for f in Schema.from_arrow(table.schema).fields}
        if self.exists(name):
            current = {f.name.lower(): (f.name, json.loads(f.to_json())["type"])
                       for f in DeltaTable(self.path(name)).schema().fields}
            changed = [f"{n}: table has {current[k][1]}, data has {t}" for k, (n, t) in incoming.items()
                       if k in current and current[k][1] != t]
            if changed:
                raise SchemaMismatchError(f"type change refused for {name}: " + "; ".join(changed))
            missing = sorted(current[k][0] for k in current if k not in incoming)
            if missing:
                raise SchemaMismatchError(
                    f"write to {name} lacks column(s) {missing}; add them (as typed nulls if unknown) before writing")
            new = [n for k, (n, _) in incoming.items() if k not in current]
            if new and not evolve:
                raise SchemaMismatchError(
                    f"write to {name} has new column(s) {new} that the table lacks; pass evolve=True to add them")
            if new:
                DeltaTable(self.path(name)).alter.add_columns(
                    [f for f in Schema.from_arrow(table.schema).fields if f.name in new])
            order = [current[k][0] for k in current] + new
            table = table.select([next(c for c in table.column_names if c.lower() == o.lower()) for o in order])
        nullable = pa.schema([f.with_nullable(True) for f in table.schema])
        write_deltalake(self.path(name), table.cast(nullable), mode="append")
        self._mark_append_only(name)
        return self.version(name)

    # ---- maintenance (delta-rs) ------------------------------------------------

    def pinned_versions(self, name: str) -> list[int]:
        """Versions of *name* that a recorded release pinned (withdrawn ones too: a withdrawn
        vintage stays in the history, and reproducing it is how an error is explained), and
        that any recorded run reads unless its review set it aside (withdrawn or rejected):
        a run approved today is released, and reproduced, a week later."""
        versions = set()
        for text in self._pinning_inputs():
            inputs = json.loads(text or "{}")
            if name in inputs:
                versions.add(int(inputs[name]))
        return sorted(versions)

    def _pinning_inputs(self) -> list[str]:
        """The ``inputs_json`` of every release record and of every run not set aside.

        Read without the audit key (vacuum runs in jobs, which do not hold it), so the
        trail is not verified here; a run with no entry yet keeps its inputs."""
        texts: list[str] = []
        if DeltaTable.is_deltatable(self.path(PINS_TABLE)):
            texts += DeltaTable(self.path(PINS_TABLE)).to_pyarrow_table(columns=["inputs_json"]) \
                .column("inputs_json").to_pylist()
        if DeltaTable.is_deltatable(self.path(RUNS_TABLE)):
            latest: dict[str, tuple[int, str]] = {}
            if DeltaTable.is_deltatable(self.path(AUDIT_TABLE)):
                trail = DeltaTable(self.path(AUDIT_TABLE)).to_pyarrow_table(columns=["run_id", "seq", "after"])
                for run_id, seq, after in zip(*(trail.column(c).to_pylist() for c in ("run_id", "seq", "after"))):
                    if run_id not in latest or (seq or 0) > latest[run_id][0]:
                        latest[run_id] = (seq or 0, after)
            runs = DeltaTable(self.path(RUNS_TABLE)).to_pyarrow_table(columns=["run_id", "inputs_json"])
            texts += [text for run_id, text in zip(runs.column("run_id").to_pylist(),
                                                   runs.column("inputs_json").to_pylist())
                      if latest.get(run_id, (0, None))[1] not in SET_ASIDE_STATES]
        return texts

    def vacuum(self, name: str, retention_hours: int = 168, dry_run: bool = True) -> list[str]:
        """Delete files no version within *retention_hours* needs, never those of a pinned version.

        A file that version v reads was removed by a commit after v, so keeping every file
        removed since v's commit keeps v readable: the retention is stretched back to the
        commit of the oldest pinned version (:meth:`pinned_versions`), whoever calls.
        """
        hours = retention_hours
        pinned = self.pinned_versions(name)
        if pinned:
            history = {h["version"]: h["timestamp"] for h in self.history(name)}
            if min(pinned) not in history:
                raise LakeError(f"{name}: version {min(pinned)} pinned by a run or release is gone from the Delta log; "
                                "vacuum refused")
            oldest = datetime.fromtimestamp(history[min(pinned)] / 1000, tz=timezone.utc)
            needed = (datetime.now(timezone.utc) - oldest).total_seconds() / 3600
            hours = max(hours, int(needed) + 2)
        return self._delta(name).vacuum(retention_hours=hours, dry_run=dry_run,
                                        enforce_retention_duration=hours >= 168)

    # ---- one writer at a time ----------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lake-wide lock *name* (a ``flock`` on ``<root>/_locks/<name>.lock``).

        Delta lets two appends commit side by side, so a read-then-append (the next
        vintage number, the next link of the audit chain) needs this around it. Other
        processes and other threads wait; the same thread may take it again.
        """
        import fcntl

        if "://" in self.root:
            raise LakeError(f"lock {name}: needs a local lake root (or a shared file system); "
                            f"{self.root} is an object store")
        folder = os.path.join(self.root, LOCK_FOLDER)
        os.makedirs(folder, exist_ok=True)
        path = os.path.realpath(os.path.join(folder, f"{name}.lock"))
        held = _HELD.__dict__.setdefault("paths", set())
        if path in held:
            yield
            return
        with open(path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            held.add(path)
            try:
                yield
            finally:
                held.discard(path)
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def scratch(self, owner: str) -> Iterator["Scratch"]:
        """A folder of intermediate results for *owner* (a job), removed when the block ends.

        The embedded engine caches nothing: a DataFrame used by three actions is computed
        three times from its sources. A job that counts, splits and writes the same typed rows
        keeps them once here (:meth:`Scratch.keep`) and reads the copy. The caller must hold
        *owner*'s tables (the runner's leases do): what a killed run left is removed on entry.
        """
        import shutil

        if not re.fullmatch(r"[a-z][a-z0-9_]*", owner):
            raise LakeError(f"bad scratch owner {owner!r}: a job name in lower case")
        folder = _join(self.root, SCRATCH_FOLDER, owner)
        local = "://" not in self.root
        if local:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            yield Scratch(self, folder)
        finally:
            if local:
                shutil.rmtree(folder, ignore_errors=True)

    def create_empty(self, name: str, schema: pa.Schema, partition_by: Iterable[str] | None = None) -> int:
        """Create table *name*, empty, with *schema* (every column nullable) through delta-rs.

        Refuses a table that exists already (so of two concurrent creators one fails)."""
        nullable = pa.schema([_all_nullable(f) for f in schema])
        DeltaTable.create(self.path(name), nullable, mode="error",
                          partition_by=list(partition_by) if partition_by else None)
        self._mark_append_only(name)
        return self.version(name)

    # ---- landing primitives (delta-rs; used by the bronze jobs) -------------------

    def read_arrow(self, name: str, columns: Sequence[str], where: "pc.Expression | None" = None) -> pa.Table:
        """Columns of the latest version as Arrow, through delta-rs: for small lineage
        lookups by jobs that otherwise never need the engine. *where* (a pyarrow expression)
        is applied while the files are scanned, so only the matching rows are held."""
        if where is None:
            return self._delta(name).to_pyarrow_table(columns=list(columns))
        return self._delta(name).to_pyarrow_dataset().to_table(columns=list(columns), filter=where)

    def distinct_values(self, name: str, columns: Sequence[str]) -> set[tuple]:
        """Distinct tuples of *columns* in the latest version, scanned batch by batch through
        delta-rs, so memory holds the distinct values rather than every row."""
        seen: set[tuple] = set()
        for batch in self._delta(name).to_pyarrow_dataset().to_batches(columns=list(columns)):
            keys = pa.Table.from_batches([batch]).group_by(list(columns)).aggregate([])
            seen.update(zip(*(keys.column(c).to_pylist() for c in columns)))
        return seen

    def delete_where(self, name: str, predicate: str) -> int:
        """Delete the rows matching *predicate* (delta-rs SQL) in one commit; returns the
        rows deleted. Refused on append-only tables, whose rows are a record."""
        if is_append_only(name):
            raise AppendOnlyError(f"{name} is append-only: its rows are a record that is never deleted")
        metrics = self._delta(name).delete(predicate)
        return int(metrics.get("num_deleted_rows", 0) or 0)
