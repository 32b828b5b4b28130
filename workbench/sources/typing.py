"""Type raw bronze text by the source contract, separating rows that fail.

Pure Spark transforms (no I/O). Every cast is a ``try_`` cast, so a bad value
becomes a reason naming the file, row, field and value instead of an error that
stops the job or a null that hides the problem.
"""

from __future__ import annotations

import sys

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from workbench.formatting import registry
from workbench.sources.contract import ColumnSpec, SourceContract

ERRORS = "_errors"


def _clean(raw: Column) -> Column:
    text = F.trim(raw)
    return F.when(F.length(text) > 0, text)


def _date(text: Column, formats: tuple[str, ...]) -> Column:
    return F.coalesce(*[F.to_date(F.try_to_timestamp(text, F.lit(f))) for f in formats])


def typed_value(spec: ColumnSpec, raw: Column) -> Column:
    text = _clean(raw)
    number = F.regexp_replace(text, ",", "")
    if spec.type == "string":
        return text
    if spec.type == "int":
        return number.try_cast("bigint")
    if spec.type == "decimal":
        return number.try_cast("decimal(18,2)")
    if spec.type == "double":
        # '1e999', 'inf' and 'NaN' all cast to a double, but no delivered quantity is
        # infinite or not a number: they would poison every sum downstream. NaN compares
        # above every number in Spark, so this one range test refuses all three.
        value = number.try_cast("double")
        return F.when(value.between(-sys.float_info.max, sys.float_info.max), value)
    if spec.type == "date":
        return _date(text, ("yyyy-MM-dd", "yyyy/MM/dd", "yyyyMMdd"))
    if spec.type == "month":
        return _date(text, ("yyyy-MM", "yyyyMM", "yyyy/MM", "yyyy-MM-dd"))
    if spec.type == "timestamp":
        return F.coalesce(F.try_to_timestamp(text), F.try_to_timestamp(text, F.lit("yyyy-MM-dd HH:mm:ss")))
    raise ValueError(f"unknown type {spec.type}")


def _not_valid(spec: ColumnSpec, raw: Column, personal: bool) -> Column:
    """The end of a failure's reason: a double that parses but is infinite or NaN is named
    as such, so '1e999' does not read as a typing slip."""
    quote = "" if personal else "'"
    plain = F.lit(f"{quote} is not a valid {spec.type}")
    if spec.type != "double":
        return plain
    parsed = F.regexp_replace(_clean(raw), ",", "").try_cast("double")
    return F.when(parsed.isNotNull(), F.lit(f"{quote} is not a finite number")).otherwise(plain)


def _code_lists(contract: SourceContract) -> dict[str, list[str]]:
    """The codes of every code list *contract*'s columns name, from conf/catalog.toml."""
    from workbench.sources.contract import SOURCES_FILE, ContractError

    known = registry().codelists
    lists = {}
    for spec in contract.columns:
        if spec.codelist:
            if spec.codelist not in known:
                raise ContractError(f"{SOURCES_FILE}: [{contract.name}.columns.{spec.name}].codelist "
                                    f"{spec.codelist!r} is no [codelists.*] of conf/catalog.toml")
            lists[spec.codelist] = sorted(known[spec.codelist])
    return lists


# what identifies one bronze row: the file as landed and the row in it
ROW_IDENTITY = ("_file_path", "_file_sha256", "_row_number", "_loaded_at")


def raw_text(bronze: DataFrame, contract: SourceContract) -> DataFrame:
    """Each bronze row's contract columns as JSON (``_raw_json``), by :data:`ROW_IDENTITY`."""
    return bronze.select(*ROW_IDENTITY,
                         F.to_json(F.struct(*[F.col(c) for c in contract.column_names])).alias("_raw_json"))


def type_columns(bronze: DataFrame, contract: SourceContract,
                 code_lists: dict[str, list[str]] | None = None) -> DataFrame:
    """Typed contract columns, lineage kept, and ``_errors``: '' or the reasons the row fails.

    *code_lists* (name -> codes) checks the columns that name a code list; by default the
    catalogue's. No raw text is carried, so a copy of the typed rows holds no clear personal
    value once personal columns are pseudonymised: :func:`split_valid` takes a failure's raw
    text from bronze (:func:`raw_text`)."""
    code_lists = _code_lists(contract) if code_lists is None else code_lists
    typed, errors = [], []
    for spec in contract.columns:
        raw = F.col(spec.name)
        value = typed_value(spec, raw)
        typed.append(value.alias(spec.name))
        # A personal field's value is never quoted: reasons are read by people who may not see it.
        personal = spec.name in contract.personal
        shown = F.lit("the value (personal, not shown)") if personal else F.concat(F.lit("'"), F.trim(raw))
        failed = F.when(
            _clean(raw).isNotNull() & value.isNull(),
            F.concat(F.lit(f"field {spec.header} ({spec.name}): "), shown, _not_valid(spec, raw, personal)),
        )
        errors.append(failed)
        if spec.codelist:
            errors.append(F.when(
                value.isNotNull() & ~value.isin(code_lists[spec.codelist]),
                F.concat(F.lit(f"field {spec.header} ({spec.name}): "),
                         F.lit("the value (personal, not shown)") if personal else F.concat(F.lit("'"), value, F.lit("'")),
                         F.lit(f" is not a code of the {spec.codelist} code list")),
            ))
        if spec.required:
            errors.append(F.when(_clean(raw).isNull(), F.lit(f"required field {spec.header} ({spec.name}) is empty")))
    lineage = [c for c in bronze.columns if c.startswith("_")]
    reasons = F.concat_ws("; ", *errors)
    where = F.concat(F.col("_file_path"), F.lit(" row "), F.col("_row_number").cast("string"), F.lit(": "))
    return bronze.select(
        *typed, *lineage,
        F.when(reasons != "", F.concat(where, reasons)).otherwise(F.lit("")).alias(ERRORS),
    )


def failures(typed: DataFrame) -> DataFrame:
    return typed.filter(F.col(ERRORS) != "")


def split_valid(typed: DataFrame, raw: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(rows without errors, minus helper columns; rows with errors as quarantine records,
    their raw text joined from *raw*, :func:`raw_text` of the bronze rows typed)."""
    good = typed.filter(F.col(ERRORS) == "").drop(ERRORS)
    lineage = ["_source", "_file_path", "_file_sha256", "_row_number", "_delivery_period", "_loaded_at", "_job_run_id"]
    bad = failures(typed).join(raw, list(ROW_IDENTITY), "left").select(
        F.lit("silver").alias("stage"), F.col("_raw_json").alias("raw_text"), F.col(ERRORS).alias("reason"),
        *[F.col(c) for c in lineage],
    )
    return good, bad


# Up to this many keys held by more than one row are ranked alone (see latest_per_key); more,
# and every row is ranked. A list of this size is a few hundred kilobytes of query plan.
MAX_DUPLICATED_KEYS = 50_000


def key_hash(keys: list[str]) -> Column:
    return F.xxhash64(*[F.col(k) for k in keys])


def duplicated_keys(df: DataFrame, keys: list[str]) -> DataFrame:
    """The hash (:func:`key_hash`) of every key more than one row of *df* holds (nulls are a
    key like any other, as in a window's partition)."""
    return df.groupBy(*keys).agg(F.count(F.lit(1)).alias("_n")).filter("_n > 1").select(key_hash(keys).alias("_key"))


def latest_per_key(df: DataFrame, keys: list[str], duplicated: list[int] | None = None) -> DataFrame:
    """One row per key: the latest delivery wins (load time, then file, then row).

    Ranking sorts every row by key, most of a silver job's time on a month of deliveries where
    almost every key comes once. With *duplicated* (:func:`duplicated_keys`, collected), only the
    rows whose key hash is in it are ranked and the rest pass as they are: the same rows, since
    a key held once is its own latest (a hash shared by two keys only ranks a few more rows)."""
    from pyspark.sql.window import Window

    if duplicated is not None:
        if not duplicated:
            return df
        hashed = key_hash(keys)
        return df.filter(~hashed.isin(duplicated)).unionByName(
            latest_per_key(df.filter(hashed.isin(duplicated)), keys))
    order = [F.col("_loaded_at").desc(), F.col("_delivery_period").desc_nulls_last(),
             F.col("_file_path").desc(), F.col("_row_number").desc()]
    w = Window.partitionBy(*keys).orderBy(*order)
    return df.withColumn("_rank", F.row_number().over(w)).filter("_rank = 1").drop("_rank")

