"""Runs, reviews and releases: every published number traceable, four-eyes before release.

* :mod:`registry`  record a run (inputs' Delta versions, parameters, code, outputs,
  metrics) and reproduce it on its pinned inputs;
* :mod:`review`    the state machine draft -> submitted -> approved | rejected ->
  released -> withdrawn, with the four-eyes rule and an append-only audit trail;
* :mod:`release`   publication tables ``release.<series>`` by vintage, embargoes,
  and protection of released runs' inputs from VACUUM.
"""
