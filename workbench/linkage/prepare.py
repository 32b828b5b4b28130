"""Source records -> the standard columns the linkage models compare (pure pandas).

Each function takes the distinct records of one silver table (as pandas) and
returns ``unique_id`` plus the standardised attributes of ``splink_models``.
"""

from __future__ import annotations

import pandas as pd

from workbench.linkage.standardise import address_core, char_ngrams, name_core, pinyin_key

_COUNTY_RE = r"^(?:G市)?([^省市区县]{1,4}(?:区|县))"
_TOWN_RE = r"([^省市区县镇乡道]{1,4}(?:街道|镇|乡))"


def _name_columns(out: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    core = name_core(names)
    out["name_core"] = core.to_numpy()
    out["name_grams"] = char_ngrams(core).to_numpy()
    out["name_pinyin"] = pinyin_key(core).to_numpy()
    out["name_head"] = core.str[:2].to_numpy()
    out["name_tail"] = core.str[-2:].to_numpy()
    return out


def _address_columns(out: pd.DataFrame, addresses: pd.Series) -> pd.DataFrame:
    text = addresses.fillna("").astype(str)
    out["county"] = text.str.extract(_COUNTY_RE, expand=False).to_numpy()
    out["township"] = text.str.extract(_TOWN_RE, expand=False).to_numpy()
    out["address_core"] = address_core(addresses).to_numpy()
    return out


def register(enterprises: pd.DataFrame) -> pd.DataFrame:
    """silver.enterprises (credit_code, name, address, industry_division) -> model frame."""
    out = pd.DataFrame({"unique_id": enterprises["credit_code"].to_numpy()})
    out = _name_columns(out, enterprises["name"])
    out = _address_columns(out, enterprises["address"])
    out["division"] = enterprises["industry_division"].to_numpy()
    return out


def electricity(accounts: pd.DataFrame) -> pd.DataFrame:
    """Distinct (account_id, account_name, address) -> model frame."""
    out = pd.DataFrame({"unique_id": accounts["account_id"].to_numpy()})
    out = _name_columns(out, accounts["account_name"])
    return _address_columns(out, accounts["address"])


def card_merchants(merchants: pd.DataFrame, activity: dict[str, list[str]]) -> pd.DataFrame:
    """silver.card_merchants -> model frame; *activity* maps an MCC to compatible divisions."""
    out = pd.DataFrame({"unique_id": merchants["merchant_id"].to_numpy()})
    out = _name_columns(out, merchants["merchant_name"])
    out = _address_columns(out, merchants["address"])
    district = merchants["district"].replace("", None)
    out["county"] = district.where(district.notna(), out["county"]).to_numpy()
    out["division"] = merchants["mcc"].map(lambda m: activity.get(m, [])).to_numpy()
    return out


def job_ad_employers(ads: pd.DataFrame, activity: dict[str, list[str]]) -> pd.DataFrame:
    """silver.job_ads (employer_key, employer_name, district, title) -> one record per employer key
    (silver.links keys job ads by employer key): the most common name and district, and the
    divisions compatible with any of its job titles."""
    ads = ads[ads["employer_key"].notna()]
    keys = pd.Index(sorted(ads["employer_key"].unique()), name="employer_key")

    def mode(column: str) -> pd.Series:  # the most common non-empty value per key, vectorised
        v = ads[["employer_key", column]].dropna()
        v = v[v[column] != ""]
        counts = v.value_counts().rename("n").reset_index().sort_values(
            ["employer_key", "n", column], ascending=[True, False, True])
        return counts.drop_duplicates("employer_key").set_index("employer_key")[column].reindex(keys)

    names = mode("employer_name")
    out = pd.DataFrame({"unique_id": keys.to_numpy()})
    out = _name_columns(out, names.reset_index(drop=True))
    out["county"] = mode("district").to_numpy()
    pairs = ads[["employer_key", "title"]].dropna().drop_duplicates()
    pairs = pairs.assign(division=pairs["title"].map(lambda t: activity.get(t, []))).explode("division").dropna()
    divisions = pairs.groupby("employer_key")["division"].agg(lambda d: sorted(set(d)))
    out["division"] = divisions.reindex(keys).map(lambda d: d if isinstance(d, list) else []).to_numpy()
    return out


def learn_activity(pairs: pd.DataFrame, min_share: float = 0.05, min_count: int = 2) -> dict[str, list[str]]:
    """Which register divisions an activity code (MCC, job title) goes with, learned from
    certain links (*pairs*: ``activity, division``): divisions holding at least
    *min_share* of the code's links and *min_count* links."""
    if pairs.empty:
        return {}
    counts = pairs.groupby(["activity", "division"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby("activity")["n"].transform("sum")
    keep = counts[(counts["share"] >= min_share) & (counts["n"] >= min_count)]
    return {a: sorted(g["division"]) for a, g in keep.groupby("activity")}
