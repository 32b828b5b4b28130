"""The demo generator: identifiers, counted dirt, truth properties, reproducibility.

`small` is generated once per session (about 15 s) into a temporary folder.
Counts are recomputed here from the files themselves, never copied from code.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import tomllib

import numpy as np
import openpyxl
import pandas as pd
import pytest

from conftest import DEMO_SEED as SEED
from workbench.demo.codes import is_valid_credit_code, is_valid_id_number
from workbench.demo.generate import generate
from workbench.demo.survey import draw_sample, sampling_frame
from workbench.demo.timeline import spring_festival_month

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(REPO, "conf", "sources.toml"), "rb") as _fh:
    CONTRACTS = tomllib.load(_fh)


@pytest.fixture(scope="session")
def demo(demo_small):
    return demo_small


def _read_csv(path: str) -> tuple[list[str], list[list[str]], str]:
    raw = open(path, "rb").read()
    try:
        text, enc = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, enc = raw.decode("gbk"), "gbk"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:], enc


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _files(manifest, source):
    return [f for f in manifest["files"] if f["source"] == source]


def _path(manifest, f):
    return os.path.join(manifest["out"], f["path"])


def test_manifest_lists_every_delivery_with_hash(demo):
    on_disk = {os.path.relpath(p, demo["out"]).replace(os.sep, "/")
               for p in glob.glob(os.path.join(demo["out"], "deliveries", "*", "*"))}
    listed = {f["path"] for f in demo["files"]}
    assert on_disk == listed
    for f in demo["files"][:50]:
        assert hashlib.sha256(open(_path(demo, f), "rb").read()).hexdigest() == f["sha256"]
    assert demo["seconds"] < 30
    assert not any("truth" in f["path"].split("/")[0] for f in demo["files"])
    for name, rel in demo["truth"].items():
        assert os.path.exists(os.path.join(demo["out"], rel)), name


def test_clean_codes_are_valid_and_injected_ones_fail(demo):
    ent = pd.read_parquet(os.path.join(demo["out"], "truth", "enterprises.parquet"))
    assert all(is_valid_credit_code(c) for c in ent["credit_code"])
    assert all(is_valid_id_number(i) for i in ent["legal_rep_id"])
    assert all(len(c) == 18 for c in ent["credit_code"])
    known = set(ent["credit_code"])
    for f in _files(demo, "register") + _files(demo, "vat")[:30]:
        header, rows, _ = _read_csv(_path(demo, f))
        codes = [r[0] for r in rows if len(r) == len(header)]
        invalid = [c for c in codes if not is_valid_credit_code(c)]
        assert len(invalid) == f["errors"].get("invalid_credit_code", 0), f["path"]
        # an injected code is a real enterprise's code with only the check character changed
        assert all(c not in known and any(k.startswith(c[:17]) for k in known) for c in invalid)
    reg = _files(demo, "register")[0]
    _, rows, _ = _read_csv(_path(demo, reg))
    ids = [r[10] for r in rows if len(r) == 12]
    assert all(is_valid_id_number(i) for i in ids)


AMOUNT = {"vat": 3, "electricity": 5}
CODE = {"vat": 0, "register": 0, "survey": 0}
COUNT = {"survey": 3}


@pytest.mark.parametrize("source", ["vat", "electricity", "register", "survey"])
def test_csv_error_counts_match_files(demo, source):
    for f in _files(demo, source):
        header, rows, enc = _read_csv(_path(demo, f))
        found = {"wrong_field_count": sum(len(r) != len(header) for r in rows)}
        good = [r for r in rows if len(r) == len(header)]
        if source in AMOUNT:
            vals = [r[AMOUNT[source]] for r in good]
            found["non_numeric"] = sum(not _is_number(v) for v in vals)
            found["negative_value"] = sum(_is_number(v) and float(v) < 0 for v in vals)
        if source in CODE:
            found["invalid_credit_code"] = sum(not is_valid_credit_code(r[CODE[source]]) for r in good)
        if source in COUNT:
            found["impossible_value"] = sum(int(r[COUNT[source]]) >= 10 ** 7 for r in good)
        cols = CONTRACTS[source]["columns"]
        aliases = {a for spec in cols.values() for a in spec.get("aliases", [])}
        mains = {spec["header"] for spec in cols.values()}
        found["renamed_columns"] = sum(h in aliases for h in header)
        found["unmappable_header"] = int(any(h not in aliases | mains for h in header))
        found["wrong_encoding"] = int(enc != CONTRACTS[source].get("encoding", "utf-8"))
        for kind, n in found.items():
            assert n == f["errors"].get(kind, 0), (f["path"], kind)


def test_social_insurance_error_counts_match_files(demo):
    files = _files(demo, "social_insurance")
    chosen = [f for f in files if f["errors"].get("impossible_value") or f["errors"].get("invalid_credit_code")][:6]
    chosen += files[:2]
    for f in chosen:
        ws = openpyxl.load_workbook(_path(demo, f), read_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        header, body = rows[0], rows[1:]
        assert len(body) == f["rows"]
        assert sum(1 for r in body if r[1] and not is_valid_credit_code(r[1])) == f["errors"].get("invalid_credit_code", 0)
        assert sum(1 for r in body if r[4] >= 10 ** 7) == f["errors"].get("impossible_value", 0)
        assert header[0] == "单位编号"


def test_price_glitch_counts_match_files(demo):
    for f in _files(demo, "prices")[:12]:
        found = dict.fromkeys(["malformed_json", "price_zero", "price_null", "price_x100"], 0)
        days: dict[str, set] = {}
        for line in open(_path(demo, f), encoding="utf-8"):
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                found["malformed_json"] += 1
                continue
            days.setdefault(d["retailer"], set()).add(d["scraped_at"][:10])
            if d["price"] is None:
                found["price_null"] += 1
            elif d["price"] == 0:
                found["price_zero"] += 1
            elif d["price"] > 50 * d["list_price"]:
                found["price_x100"] += 1
        for kind, n in found.items():
            assert n == f["errors"].get(kind, 0), (f["path"], kind)
        assert len(days) >= 5


def test_gbk_deliveries_decode_as_gbk_with_chinese_headers(demo):
    gbk = [f for f in _files(demo, "vat") if f["errors"].get("wrong_encoding")]
    assert len(gbk) == 1
    raw = open(_path(demo, gbk[0]), "rb").read()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gbk").startswith("纳税人识别号,纳税人名称,所属期")
    for f in _files(demo, "register"):
        head = open(_path(demo, f), "rb").read().decode("gbk").split("\r\n")[0]
        assert "法定代表人" in head and ("统一社会信用代码" in head or "信用代码" in head)


def test_duplicate_file_has_identical_bytes(demo):
    dups = [f for f in demo["files"] if f["errors"].get("duplicate_file")]
    assert len(dups) == 1
    orig = os.path.join(demo["out"], dups[0]["duplicate_of"])
    assert open(orig, "rb").read() == open(_path(demo, dups[0]), "rb").read()


def test_second_register_extract_has_new_and_dead_enterprises(demo):
    (_, r1, _), (h2, r2, _) = (_read_csv(_path(demo, f)) for f in _files(demo, "register"))
    assert "信用代码" in h2 and "统一社会信用代码" not in h2
    c1 = {r[0] for r in r1 if len(r) == 12}
    c2 = {r[0] for r in r2 if len(r) == 12}
    assert len(c2 - c1) > 50
    newly_dead = [r for r in r2 if len(r) == 12 and r[8] >= "2026-01-01"]
    assert len(newly_dead) > 10


def test_truth_shows_spring_festival_dip_and_cycle(demo):
    em = pd.read_parquet(os.path.join(demo["out"], "truth", "enterprise_month.parquet"))
    ent = pd.read_parquet(os.path.join(demo["out"], "truth", "enterprises.parquet"), columns=["credit_code", "section"])
    em = em.merge(ent, on="credit_code")
    manuf = em[em["section"] == "C"].groupby("month")["revenue"].sum()
    months = list(manuf.index)
    dips = 0
    for year in range(2018, 2027):
        sf = spring_festival_month(year)
        i = months.index(sf)
        neighbours = manuf.iloc[[i - 1, i + 1, i + 2]] if i > 0 else manuf.iloc[[i + 1, i + 2]]
        dips += manuf.loc[sf] < 0.92 * neighbours.mean()
    assert dips >= 8  # every year but possibly one
    total = em.groupby("month")["revenue"].sum()
    cycle = pd.read_parquet(os.path.join(demo["out"], "truth", "macro_cycle.parquet")).set_index("month")["cycle"]
    yoy = np.log(total).diff(12).dropna()
    cyc = cycle.diff(12).loc[yoy.index]
    assert np.corrcoef(yoy, cyc)[0, 1] > 0.6
    assert total.loc["2020-02"] < 0.85 * total.loc[["2019-10", "2019-11"]].mean()  # the 2020 collapse


def test_sample_design_reproducible_by_seed(demo):
    ent = pd.read_parquet(os.path.join(demo["out"], "truth", "enterprises.parquet"))
    frame = sampling_frame(ent, 2024)
    a, b, c = draw_sample(frame, 2024, 1), draw_sample(frame, 2024, 1), draw_sample(frame, 2024, 2)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["credit_code"]) != set(c["credit_code"])
    # weights add up to the frame in every stratum
    assert np.isclose(a["design_weight"].sum(), len(frame))
    assert (a.loc[a["stratum"].str.endswith("大型"), "design_weight"] == 1).all()
    delivered = pd.read_csv(os.path.join(demo["out"], "deliveries", "survey", "sample_2024.csv"), dtype=str)
    assert len(delivered) == len(draw_sample(frame, 2024, SEED))


def test_survey_nonresponse_fraud_and_unit_errors(demo):
    samp = pd.read_parquet(os.path.join(demo["out"], "truth", "survey_samples.parquet"))
    ent = pd.read_parquet(os.path.join(demo["out"], "truth", "enterprises.parquet"))
    fraud = set(ent.loc[ent["is_fraud"], "credit_code"])
    share = samp["credit_code"].isin(fraud).mean()
    assert 0.01 < share < 0.06
    files = _files(demo, "survey")
    resp, expected = [], []
    for f in files:
        _, rows, _ = _read_csv(_path(demo, f))
        resp.append(len(rows))
        expected.append(samp["sample_year"].eq(int(f["period"][:4])).sum())
    miss = 1 - np.array(resp) / np.array(expected)
    assert 0.08 < np.median(miss) < 0.2
    truth = pd.read_parquet(os.path.join(demo["out"], "truth", "survey_returns_truth.parquet"))
    assert 0.005 < truth["unit_error"].mean() < 0.02


def test_published_series_have_vintages_after_reference_period(demo):
    frames = [pd.read_csv(_path(demo, f), dtype={"area_code": str}) for f in _files(demo, "official_series")]
    pub = pd.concat(frames)
    for series in ("retail_sales", "gdp"):
        s = pub[pub["series"] == series]
        assert s["vintage"].max() >= 3
        per = s.groupby("ref_period")["value"].nunique()
        assert (per > 1).mean() > 0.8  # later vintages revise the first release
        for r in s.itertuples():
            y = int(r.ref_period[:4])
            end_month = int(r.ref_period[5:7]) if series == "retail_sales" else int(r.ref_period[-1]) * 3
            assert r.release_date > f"{y}-{end_month:02d}-31"[:10] or r.release_date[:7] > f"{y}-{end_month:02d}"
    assert set(pub["series"]) >= {"retail_sales", "gdp", "cpi_yoy", "cpi_mom", "employment", "cpi_01_yoy"}


def test_online_prices_track_true_cpi(demo):
    rows = []
    for f in _files(demo, "prices"):
        for line in open(_path(demo, f), encoding="utf-8"):
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            if d["price"] and 0 < d["price"] < 50 * d["list_price"]:
                rows.append((d["scraped_at"][:7], d["product_id"], d["category_path"].split("/")[0], d["price"]))
    df = pd.DataFrame(rows, columns=["month", "product", "top", "price"])
    med = df.groupby(["product", "month"])["price"].median().unstack()
    mom = np.exp(np.log(med).diff(axis=1).mean())  # unweighted Jevons of matched products
    cpi = pd.read_parquet(os.path.join(demo["out"], "truth", "cpi.parquet"))
    total = cpi[cpi["group"] == "total"].set_index("month")["index_2018_01_100"]
    true_mom = (total / total.shift(1)).loc[mom.index[1:]]
    assert np.corrcoef(mom.iloc[1:], true_mom)[0, 1] > 0.8


def test_same_seed_gives_byte_identical_deliveries(demo, tmp_path, monkeypatch):
    """Twice, and once in one process: the second core writes the workbooks and the price
    scrapes from an economy it steps through itself, which must be the same files."""
    import sys
    import types

    from workbench.demo import generate as generation

    # the worker must not run the parent's __main__ file again (here, as when a test has run a
    # page script with runpy, a file that fails: before, the worker died and the pool broke)
    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('not in a worker')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    again = generate("small", SEED, str(tmp_path / "again"))
    assert {f["path"]: f["sha256"] for f in again["files"]} == {f["path"]: f["sha256"] for f in demo["files"]}
    monkeypatch.setattr(generation, "_start_apart", lambda *args: None)
    alone = generate("small", SEED, str(tmp_path / "alone"))
    assert {f["path"]: f["sha256"] for f in alone["files"]} == {f["path"]: f["sha256"] for f in demo["files"]}
    assert [f for f in alone["files"] if f["source"] == "social_insurance"]


def test_lengthened_trade_names_are_kept_whole(demo):
    """The register refuses identical names, so a clashing firm gets a third trade
    character; the truth and the card merchants (named from the trade name) must
    carry it whole, or a merchant points at another firm's name."""
    ent = pd.read_parquet(os.path.join(demo["out"], "truth", "enterprises.parquet"))
    lengthened = ent[ent["trade_name"].str.len() > 2]
    assert len(lengthened) > 0, "no lengthened trade name: an earlier version cut them back to two characters"
    assert all(t in n for t, n in zip(ent["trade_name"], ent["name"]))
    links = pd.read_parquet(os.path.join(demo["out"], "truth", "links.parquet"))
    merchants = pd.concat([pd.read_parquet(p) for p in sorted(
        glob.glob(os.path.join(demo["out"], "deliveries", "cards", "merchants_*.parquet")))], ignore_index=True)
    named = (merchants.merge(links[links["source"] == "card_merchants"], left_on="merchant_id", right_on="record_id")
             .merge(ent[["credit_code", "trade_name"]], on="credit_code"))
    assert len(named) > 0
    assert all(t in m for t, m in zip(named["trade_name"], named["merchant_name"]))


def test_the_merchant_list_arrives_month_by_month_before_any_payment(demo):
    """The acquirer sends each month the merchants it signed that month, so a lake that holds
    every month but the last already knows nearly every merchant; each merchant is listed once,
    and no merchant is paid in a month before the list that names it arrived."""
    cards = os.path.join(demo["out"], "deliveries", "cards")
    listed = pd.concat([pd.read_parquet(p).assign(listed=os.path.basename(p)[len("merchants_"):-len(".parquet")])
                        for p in sorted(glob.glob(os.path.join(cards, "merchants_*.parquet")))], ignore_index=True)
    assert listed["merchant_id"].is_unique
    assert listed["listed"].nunique() > 1 and (listed["listed"] == listed["listed"].min()).mean() > 0.5
    first_paid = pd.concat([pd.read_parquet(p, columns=["merchant_id"]).drop_duplicates().assign(
        paid=os.path.basename(p)[len("payments_"):-len(".parquet")])
        for p in sorted(glob.glob(os.path.join(cards, "payments_*.parquet")))]).groupby("merchant_id")["paid"].min()
    both = listed.set_index("merchant_id")["listed"].to_frame().join(first_paid, how="inner")
    assert len(both) == len(first_paid), "a merchant is paid but never listed"
    assert (both["listed"] <= both["paid"]).all()


def test_every_large_and_medium_shop_takes_cards_from_the_start(demo):
    """The acquirer serves every large and medium retail and catering firm (small ones are a biased
    sample): a city's retail total can rest on a few big shops, and a card file without them
    would say nothing about the month in progress (issue 9's month-to-date indicator)."""
    from workbench.demo.industries import industry_table

    ent = pd.read_parquet(os.path.join(demo["out"], "truth", "enterprises.parquet"))
    with_mcc = set(industry_table().query("mcc != ''")["class_code"])
    first = pd.Timestamp("2018-01-01")
    big = ent[ent["class_code"].isin(with_mcc) & ent["size_class"].isin(["大型", "中型"])
              & (ent["birth_date"] <= first + pd.offsets.MonthEnd(0))
              & (ent["death_date"].isna() | (ent["death_date"] >= first))]
    assert len(big) >= 10
    links = pd.read_parquet(os.path.join(demo["out"], "truth", "links.parquet"))
    merchants = links[links["source"] == "card_merchants"]
    assert set(big["credit_code"]) <= set(merchants["credit_code"])
    paid = pd.read_parquet(os.path.join(demo["out"], "deliveries", "cards", "payments_2018-01.parquet"))
    ids = set(merchants[merchants["credit_code"].isin(big["credit_code"])]["record_id"])
    assert ids <= set(paid["merchant_id"])
    assert len(merchants) < 0.1 * len(ent)  # still a sample of the city's firms, not all of them


# ---- a shorter period of the demo (workbench demo subset) --------------------------------------

def test_a_subset_keeps_exactly_the_deliveries_of_its_months(demo, tmp_path):
    from workbench.demo.subset import Period, subset

    cut = subset(demo["out"], tmp_path / "cut", Period("2023-07", "2026-09"))
    kept = {f["path"] for f in cut["files"]}
    for f in demo["files"]:
        inside = f["period"] >= "2023-07" if len(f["period"]) == 7 else f["period"] >= "2023"
        assert (f["path"] in kept) == inside, f["path"]
        if inside:  # the same bytes, so the same dirt and the same hashes
            with open(os.path.join(cut["out"], f["path"]), "rb") as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == f["sha256"]
    on_disk = {os.path.relpath(p, cut["out"]) for p in glob.glob(os.path.join(cut["out"], "deliveries", "**", "*"),
                                                                  recursive=True) if os.path.isfile(p)}
    assert on_disk == kept
    assert cut["time_span"] == {"from": "2023-07", "to": "2026-09"} and cut["subset_of"]["out"] == demo["out"]
    assert sum(cut["rows_by_source"].values()) == sum(f["rows"] for f in cut["files"])
    assert json.load(open(os.path.join(cut["out"], "manifest.json")))["files"] == cut["files"]
    assert all(os.path.exists(os.path.join(cut["out"], p)) for p in cut["truth"].values())


def test_a_subset_refuses_bad_months_an_empty_period_and_a_used_folder(demo, tmp_path):
    from workbench.demo.subset import Period, subset

    with pytest.raises(ValueError, match="'2026-13' is not a month"):
        Period("2026-01", "2026-13")
    with pytest.raises(ValueError, match="2026-09 is after 2026-01"):
        Period("2026-09", "2026-01")
    with pytest.raises(ValueError, match="no delivery"):
        subset(demo["out"], tmp_path / "none", Period("2030-01", "2030-12"))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        subset(demo["out"], tmp_path / "used", Period("2026-01", "2026-09"))
