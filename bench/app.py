"""App benchmark: how long Home takes to render, on an empty lake and on the small demo.

Home is rendered through ``streamlit.testing.v1.AppTest`` (the same script a browser
session runs, without the browser) on a warm engine. For each lake it prints

* cold cache: the first render after ``st.cache_data.clear()``, every read hitting
  the engine and delta-rs (what the first visitor after a job sees);
* warm cache: the median of the following renders (cached by table and version);

and the ratio demo / empty measured in the same run. The target is under 2 s on the
small demo with a warm engine. The demo lake is ``WORKBENCH_LAKE_ROOT`` when that
already holds tables (``make lake``); otherwise the small demo is generated and all
jobs run into a temporary folder first (a few minutes). A benchmark, not a test:
``python bench/app.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RUST_LOG", "error")
os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # "no runtime" notices from bare-mode caches
REPEATS = int(os.environ.get("BENCH_REPEATS", 5))
HOME = Path(__file__).resolve().parent.parent / "workbench" / "app" / "app_pages" / "home.py"


def render_home(root: str) -> float:
    from streamlit.testing.v1 import AppTest

    from workbench.auth import load_users

    os.environ["WORKBENCH_LAKE_ROOT"] = root
    at = AppTest.from_file(HOME, default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["user"] = load_users()["stat"]
    t = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - t
    if at.exception:
        sys.exit(f"Home failed on {root}: {at.exception[0].message}")
    return seconds


def measure(root: str) -> tuple[float, float]:
    import streamlit as st

    st.cache_data.clear()
    cold = render_home(root)
    warm = statistics.median(render_home(root) for _ in range(REPEATS))
    return cold, warm


def demo_lake(tmp: str) -> str:
    from workbench.config import load_settings
    from workbench.lake import Lake

    settings = load_settings()
    if Lake.from_settings(settings).table_names():
        return settings.lake_root
    from workbench.demo.generate import generate
    from workbench.pipeline import run_jobs

    out, root = os.path.join(tmp, "demo"), os.path.join(tmp, "lake")
    t = time.perf_counter()
    generate(scale="small", seed=settings.demo.seed, out=out)
    os.environ["WORKBENCH_DEMO_OUT"] = out
    settings = load_settings().with_lake_root(root)
    failed = [r.name for r in run_jobs("all", lake=Lake.from_settings(settings), settings=settings) if r.status == "failed"]
    print(f"built the small demo lake in {time.perf_counter() - t:.0f} s" + (f" (failed jobs: {failed})" if failed else ""))
    return root


def main() -> None:
    from workbench.config import load_settings
    from workbench.engine import get_spark
    from workbench.lake import Lake

    t = time.perf_counter()
    get_spark(load_settings()).sql("SELECT 1").collect()
    print(f"engine start: {time.perf_counter() - t:.2f} s (not part of the renders below)")
    with tempfile.TemporaryDirectory() as tmp:
        demo = demo_lake(tmp)
        infos = Lake(demo).tables()
        print(f"demo lake: {demo}: {len(infos)} tables, {sum(i.rows for i in infos):,} rows")
        render_home(os.path.join(tmp, "empty"))  # imports and Streamlit start-up, not counted
        empty_cold, empty_warm = measure(os.path.join(tmp, "empty"))
        demo_cold, demo_warm = measure(demo)
    print(f"{'lake':<8}{'cold cache (s)':>16}{'warm cache (s)':>16}")
    print(f"{'empty':<8}{empty_cold:>16.3f}{empty_warm:>16.3f}")
    print(f"{'demo':<8}{demo_cold:>16.3f}{demo_warm:>16.3f}")
    print(f"ratio demo/empty: cold {demo_cold / empty_cold:.1f}x, warm {demo_warm / empty_warm:.1f}x")
    print(f"target: Home under 2 s on the small demo (warm engine): cold {'met' if demo_cold < 2 else 'MISSED'}, "
          f"warm {'met' if demo_warm < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
