import pandas as pd
from test_app import signed_in
def test_probe(spark, tmp_path, monkeypatch):
    from workbench.lake import Lake
    lake = Lake(str(tmp_path / "lake"), spark=spark)
    months = pd.date_range("2025-01-01", "2026-09-01", freq="MS")
    ind = pd.concat([pd.DataFrame({"indicator": n, "month": [m.date() for m in months], "value": [100.0 + i for i in range(len(months))], "unit": "yuan",
        "available_date": [m.date() for m in months]}) for n in ("vat_sales_total", "electricity_kwh_total")])
    lake.write("gold.indicators_monthly", spark.createDataFrame(ind))
    monkeypatch.setenv("WORKBENCH_LAKE_ROOT", lake.root)
    monkeypatch.setenv("WORKBENCH_UI_LANGUAGE", "zh")
    at = signed_in("stat")
    ms = at.multiselect(key="home_indicators")
    print("ZH", list(ms.proto.options), ms.value, list(ms.proto.raw_values))
    at.radio(key="lang").set_value("en").run()
    ms = at.multiselect(key="home_indicators")
    print("EN", list(ms.proto.options), ms.value, list(ms.proto.raw_values))
    ch = at.get_by_key("home_indicator_chart")
    import json
    print([type(c) for c in at.get_by_key("home_indicator_chart")] if False else "")
    for e in at.main:
        pass
    print(at.session_state["home_indicators"])
