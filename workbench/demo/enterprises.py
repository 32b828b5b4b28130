"""The enterprise population of G City: identifiers, legal names, addresses,
industry, size, life dates, legal representatives, and the hidden fraud flags."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from workbench.demo import names as nm
from workbench.demo.codes import credit_codes_array, id_numbers_array
from workbench.demo.geography import CITY_NAME, ROADS, Geography
from workbench.demo.timeline import LAST_MONTH, MONTHS

SIZE_CLASSES = ["大型", "中型", "小型", "微型"]
# (probability among non-individual firms, employment range)
_SIZE_DRAW = {"大型": (0.004, 1000, 5000), "中型": (0.03, 100, 999), "小型": (0.2, 10, 99), "微型": (0.766, 1, 9)}
_OTHER_AREAS = np.array([110105, 310104, 440305, 510107, 420106, 320102, 330106, 370102])
_DAY0 = np.datetime64("2018-01-01")
_LAST_DAY = np.datetime64(f"{LAST_MONTH[0]:04d}-{LAST_MONTH[1]:02d}-30")


def _legal_forms(rng: np.random.Generator, individual: np.ndarray, section: np.ndarray) -> np.ndarray:
    n = len(individual)
    forms = np.array(["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"])
    form = forms[rng.choice(4, size=n, p=[0.84, 0.05, 0.08, 0.03])]
    coop = (section == "A") & (rng.random(n) < 0.4)
    form = np.where(coop, "农民专业合作社", form)
    return np.where(individual, "个体工商户", form).astype(object)


def _legal_name(prefix: str, trade: str, keyword: str, form: str, suffix_long: bool, surname: str) -> str:
    if form == "个体工商户":
        shop = keyword if keyword[-1] in "店房站行馆部" else keyword + "店"
        return f"{prefix}{surname}记{trade}{shop}" if suffix_long else f"{prefix}{trade}{shop}"
    if form == "农民专业合作社":
        return f"{prefix}{trade}{keyword}专业合作社"
    if form == "个人独资企业":
        return f"{prefix}{trade}{keyword}厂"
    if form == "合伙企业":
        return f"{prefix}{trade}{keyword}中心（普通合伙）"
    if form == "股份有限公司":
        return f"{prefix}{trade}{keyword}股份有限公司"
    return f"{prefix}{trade}{keyword}{'有限责任公司' if suffix_long else '有限公司'}"


def build_enterprises(n: int, rng: np.random.Generator, geo: Geography, ind: pd.DataFrame) -> pd.DataFrame:
    """n enterprises (every one that exists at some time in 2018-01 .. 2026-09)."""
    cls = rng.choice(len(ind), size=n, p=ind["weight"].to_numpy())
    section = ind["section"].to_numpy()[cls]
    individual = rng.random(n) < ind["individual_share"].to_numpy()[cls]
    form = _legal_forms(rng, individual, section)

    # townships: urban districts are denser, retail/catering even more so
    urban_t = geo.township_urban
    retailish = ind["retail_share"].to_numpy()[cls] > 0.5
    town = np.empty(n, dtype=np.int64)
    for flag, boost in ((True, 2.5), (False, 1.6)):
        w = np.where(urban_t, boost, 1.0)
        sel = retailish == flag
        town[sel] = rng.choice(len(w), size=int(sel.sum()), p=w / w.sum())
    county = geo.township_county[town]
    county_code = np.array(geo.county_codes)[county]
    county_name = np.array(geo.county_names)[county]

    # size and base employment
    size = np.full(n, "微型", dtype=object)
    emp = np.zeros(n)
    labels = list(_SIZE_DRAW)
    probs = [v[0] for v in _SIZE_DRAW.values()]
    drawn = np.array(labels)[rng.choice(4, size=n, p=probs)]
    for lab, (_p, lo, hi) in _SIZE_DRAW.items():
        sel = (drawn == lab) & ~individual
        size[sel] = lab
        emp[sel] = np.exp(rng.uniform(np.log(lo), np.log(hi + 1), size=int(sel.sum())))
    emp[individual] = rng.choice([0, 1, 2, 3, 4, 6], size=int(individual.sum()), p=[0.3, 0.25, 0.2, 0.12, 0.08, 0.05])
    emp = np.floor(emp)
    rpe = ind["revenue_per_employee"].to_numpy()[cls]
    base_rev = np.maximum(emp, 0.7) * rpe / 12 * np.exp(rng.normal(0, 0.45, n))

    # names
    trade = nm.trade_names(rng, n).astype(object)  # object: a lengthened trade name must not be cut back to two characters
    kw_lists = ind["keywords"].to_numpy()[cls]
    keyword = np.array([k[j] for k, j in zip(kw_lists, rng.integers(0, 2, size=n))], dtype=object)
    prefix = np.where(rng.random(n) < 0.3, CITY_NAME, county_name)
    long_suffix = rng.random(n) < 0.2
    surname = np.array(nm.SURNAMES)[rng.integers(len(nm.SURNAMES), size=n)]
    name = np.array([_legal_name(*a) for a in zip(prefix, trade, keyword, form, long_suffix, surname)], dtype=object)
    dup = pd.Series(name).duplicated().to_numpy()
    while dup.any():  # the register refuses identical names: add a character to the trade name
        extra = np.array(nm.TRADE_2)[rng.integers(len(nm.TRADE_2), size=int(dup.sum()))]
        name[dup] = [_legal_name(p, t + e, k, f, s, sn) for p, t, e, k, f, s, sn in zip(
            prefix[dup], trade[dup], extra, keyword[dup], form[dup], long_suffix[dup], surname[dup])]
        trade[dup] = [t + e for t, e in zip(trade[dup], extra)]
        dup = pd.Series(name).duplicated().to_numpy()

    road = np.array(ROADS)[rng.integers(len(ROADS), size=n)]
    number = rng.integers(1, 400, size=n)
    address = np.array([f"{c}{t}{r}{k}号" for c, t, r, k in zip(
        county_name, geo.township_names[town], road, number.tolist())], dtype=object)

    # life dates
    old = rng.random(n) < 0.55
    age_years = np.minimum(rng.exponential(7.0, n), 27.0)
    birth_old = _DAY0 - (age_years * 365.25 + 1).astype("timedelta64[D]")
    span = int((_LAST_DAY - _DAY0).astype(int))
    birth_new = _DAY0 + rng.integers(0, span, size=n).astype("timedelta64[D]")
    birth = np.where(old, birth_old, birth_new)
    die_p = np.select([size == "大型", size == "中型"], [0.03, 0.08], 0.24)
    earliest = np.maximum(birth + np.timedelta64(180, "D"), _DAY0)
    room = (_LAST_DAY - earliest).astype(int)
    dies = (rng.random(n) < die_p) & (room > 0)
    death_off = (rng.random(n) * np.maximum(room, 1)).astype(int).astype("timedelta64[D]")
    death = np.where(dies, earliest + death_off, np.datetime64("NaT"))

    # codes
    org_body = rng.choice(10 ** 8, size=n, replace=False)
    kind = np.where(individual, 2, np.where(form == "农民专业合作社", 3, 1))
    credit = credit_codes_array(np.full(n, 9), kind, county_code.astype(np.int64), org_body)
    rep_area = np.where(rng.random(n) < 0.8, county_code.astype(np.int64), _OTHER_AREAS[rng.integers(len(_OTHER_AREAS), size=n)])
    rep_birth = np.datetime64("1955-01-01") + rng.integers(0, 45 * 365, size=n).astype("timedelta64[D]")
    rep_birth_int = pd.to_datetime(rep_birth).strftime("%Y%m%d").astype(np.int64).to_numpy()
    rep_id = id_numbers_array(rep_area, rep_birth_int, rng.integers(1, 999, size=n))

    birth_m = _month_idx(birth)
    death_m = np.where(dies, _month_idx(np.where(dies, death, birth)), 10 ** 6)

    # the hidden misreporting: about 3% of the firms that can be sampled inflate
    # their survey returns from some month on
    fraud = (~individual) & (rng.random(n) < 0.03)
    fraud_start = np.where(fraud, rng.integers(6, len(MONTHS) - 9, size=n), -1)
    fraud_factor = np.where(fraud, rng.uniform(1.15, 1.40, size=n), 1.0)

    return pd.DataFrame({
        "credit_code": credit, "name": name, "legal_form": form, "is_individual": individual,
        "class_code": ind["class_code"].to_numpy()[cls], "class_idx": cls, "section": section,
        "township_code": geo.township_codes[town], "township_idx": town, "county_code": county_code,
        "county_name": county_name, "urban": geo.township_urban[town], "address": address,
        "trade_name": trade, "size_class": size, "base_employment": emp, "base_revenue": base_rev,
        "birth_date": birth.astype("datetime64[D]"), "death_date": death.astype("datetime64[D]"),
        "birth_month": birth_m, "death_month": death_m,
        "legal_rep_name": nm.person_names(rng, n), "legal_rep_id": rep_id,
        "phone": nm.mobile_numbers(rng, n),
        "is_fraud": fraud, "fraud_start": np.where(fraud, np.array(MONTHS + [""])[fraud_start], None),
        "fraud_start_idx": fraud_start, "fraud_factor": fraud_factor,
    })


def _month_idx(days: np.ndarray) -> np.ndarray:
    months = days.astype("datetime64[M]").astype(np.int64)
    return months - np.datetime64("2018-01", "M").astype(np.int64)


def alive_mask(ent: pd.DataFrame, t: int) -> np.ndarray:
    """Enterprises operating during month t (index into MONTHS)."""
    return (ent["birth_month"].to_numpy() <= t) & (ent["death_month"].to_numpy() >= t)


def format_date(values: np.ndarray) -> list[str]:
    """datetime64[D] -> 'YYYY-MM-DD' or '' for NaT."""
    s = pd.Series(values).dt.strftime("%Y-%m-%d")
    return s.fillna("").tolist()


__all__ = ["SIZE_CLASSES", "build_enterprises", "alive_mask", "format_date", "dt"]
