"""quality.survey_panel: the edited, imputed survey panel, built by the pipeline after silver.

Survey estimates should not fall back to raw returns (unit errors of 10^4, impossible head
counts, non-respondents) just because nobody ran the quality rules and the imputation by hand;
``workbench jobs run all`` (and so ``make demo``) ends with this job. It runs the survey's rules
when their results are missing or older than the survey returns, then imputes
(:func:`workbench.quality.store.build_panel`). A re-run with unchanged inputs skips.
"""

from __future__ import annotations

from workbench.pipeline import Job, JobContext, JobMessage, JobResult, JobSpec
from workbench.quality import store
from workbench.quality.rules import rule_set_for

NAME = "quality_survey_panel"


def panel_inputs() -> tuple[str, ...]:
    """Every table the panel is computed from (the survey, its rule lookups, sample and register)."""
    rules = rule_set_for(store.SURVEY)
    return tuple(dict.fromkeys([rules.table, *[lk.table for lk in rules.lookups], "silver.survey_sample",
                                "silver.enterprises"]))


def up_to_date(ctx: JobContext, inputs: tuple[str, ...]) -> bool:
    """True when the latest imputation read exactly the current versions of *inputs*."""
    if not ctx.lake.exists(store.PANEL):
        return False
    last = store.latest_run(ctx.lake, "imputation", store.PANEL)
    return last is not None and all(last.inputs.get(t) == ctx.lake.version(t) for t in inputs)


def build_survey_panel(ctx: JobContext) -> JobResult:
    inputs = panel_inputs()
    missing = [t for t in inputs if not ctx.lake.exists(t)]
    if missing:
        return JobResult(NAME, "skipped", messages=(JobMessage.of("jobmsg.missing_tables", tables=", ".join(missing)),))
    if up_to_date(ctx, inputs):
        return JobResult(NAME, "skipped", messages=(JobMessage.of("jobmsg.panel_current"),))
    run = store.build_panel(ctx.lake, "pipeline", progress=lambda message, fraction: ctx.progress(fraction, message))
    written = sum(v for k, v in run.counts.items() if k.startswith("revenue_"))
    return JobResult(NAME, "ok", rows_written=written,
                     messages=(JobMessage.of("jobmsg.panel_built", table=store.PANEL, version=run.outputs[store.PANEL],
                                                reported=run.counts.get("revenue_reported", 0),
                                                imputed=run.counts.get("revenue_imputed", 0),
                                                failed=run.counts.get("revenue_failed", 0),
                                                nonrespondent=run.counts.get("nonrespondent_rows", 0)),))


JOBS = [
    # The rule results and the fraud screening the rules run are this job's among jobs (the
    # Editing page also writes them); the change log, the run log and the pass-rate history are
    # ledgers the pages append to as well.
    Job(JobSpec(NAME, "quality", "Survey rules (when stale), then the edited and imputed survey panel",
                panel_inputs(), (store.PANEL, store.RESULTS, store.SCREENING_INPUT, store.SCREENING,
                                 store.FRAUD_QUEUE),
                appends=(store.EDITS, store.RUNS, store.SUMMARY)),
        build_survey_panel),
]
