"""Secondary suppression by mixed-integer programming, and the interval audit (HiGHS).

Suppressing only the confidential cells is not enough: a margin minus the published
cells gives a suppressed cell back. An attacker knows the published cells, the
table's equations (every margin is the sum of its parts) and that values are not
negative, and can solve linear programmes for the smallest and largest value each
suppressed cell can take. A cell is protected when that interval reaches at least
``protection`` x its value on both sides.

:func:`protect` chooses complementary suppressions so that every suppressed cell is
protected. For each cell in turn it first audits the current pattern (two LPs); if
the cell is not protected upwards (or downwards) it solves the MILP of Fischetti and
Salazar's single-cell subproblem: find a deviation ``y`` of the table with
``A y = 0``, ``y_i = +d`` (or ``-d``), ``x + y >= 0``, nonzero only on suppressed
cells, minimising the cost of the cells newly suppressed. Such a ``y`` is an
alternative table the attacker cannot rule out, so after adding its cells the audit
interval of cell i reaches ``x_i +- d``: the guarantee is exact, not a greedy guess.
New suppressions only widen intervals, so cells protected earlier stay protected;
complementary cells are audited (and, if needed, protected) in turn.

Reference: M. Fischetti and J.J. Salazar-Gonzalez (2000), "Models and algorithms for
optimizing cell suppression in tabular data with linear constraints", JASA 95,
916-928; Hundepool et al. (2012), *Statistical Disclosure Control*, section 4.4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix, diags, hstack, vstack

# A deviation may pass several times the protected amount through one cell; capping it
# keeps the MILP well scaled. The cap only restricts the search, never the guarantee.
DEVIATION_CAP = 8.0
REL_TOL = 1e-6


class SuppressionError(RuntimeError):
    """No suppression pattern protects a cell (should not happen with non-negative tables)."""


@dataclass
class Protection:
    """A suppression pattern and the intervals an attacker derives for its cells."""

    suppressed: np.ndarray  # bool per cell
    secondary: np.ndarray  # bool per cell: suppressed only to protect others
    lower: np.ndarray  # the attacker's smallest value per cell (the value itself when published)
    upper: np.ndarray  # the attacker's largest value per cell (inf when unbounded)
    milps: int = 0
    lps: int = 0

    def protected(self, values: np.ndarray, protection: float) -> np.ndarray:
        """Per cell: published, or suppressed with an interval reaching +-protection x value."""
        return ~self.suppressed | _wide_enough(values, self.lower, self.upper, protection)


def _wide_enough(values, lower, upper, protection):
    d = protection * np.abs(values)
    slack = REL_TOL * (np.abs(values) + 1.0)
    return (upper >= values + d - slack) & (lower <= values - d + slack)


def audit(values: np.ndarray, A: csr_matrix, suppressed: np.ndarray, cells: np.ndarray | None = None,
          nonnegative: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
    """(lower, upper, number of LPs): the attacker's interval for each suppressed cell.

    Published cells get their own value. *cells* limits the LPs to some suppressed cells.
    *nonnegative*: the attacker knows no cell is negative (false for a table with refunds).
    One HiGHS model per pattern; each cell's min and max re-solve it warm with a new objective.
    """
    import highspy

    values = np.asarray(values, dtype=float)
    lower, upper = values.copy(), values.copy()
    hidden = np.flatnonzero(suppressed)
    if hidden.size == 0:
        return lower, upper, 0
    scale = max(float(np.abs(values).max()), 1.0)
    v = values / scale
    rows = np.flatnonzero(np.asarray(abs(A[:, hidden]).sum(axis=1)).ravel() > 0)
    a_s = A[rows][:, hidden].tocsc()
    known = np.setdiff1d(np.arange(len(values)), hidden)
    b = -(A[rows][:, known] @ v[known])
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = int(hidden.size), int(rows.size)
    lp.col_cost_ = np.zeros(hidden.size)
    lp.col_lower_ = np.zeros(hidden.size) if nonnegative else np.full(hidden.size, -inf)
    lp.col_upper_ = np.full(hidden.size, inf)
    lp.row_lower_ = lp.row_upper_ = np.asarray(b, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = a_s.indptr, a_s.indices
    lp.a_matrix_.value_ = a_s.data.astype(float)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    position = {c: k for k, c in enumerate(hidden)}
    targets = hidden if cells is None else [c for c in cells if suppressed[c]]
    lps, previous = 0, None
    for c in targets:
        k = position[c]
        if previous is not None:
            h.changeColCost(previous, 0.0)
        h.changeColCost(k, 1.0)
        previous = k
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            h.changeObjectiveSense(sense)
            h.run()
            lps += 1
            status = h.getModelStatus()
            minimum = sense == highspy.ObjSense.kMinimize
            if status == highspy.HighsModelStatus.kOptimal:
                value = h.getInfo().objective_function_value * scale
            elif status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
                value = -np.inf if minimum else np.inf
            else:
                raise SuppressionError(f"audit LP failed for cell {c}: {h.modelStatusToString(status)}")
            if minimum:
                lower[c] = value
            else:
                upper[c] = value
    return lower, upper, lps


def _costs(values: np.ndarray, cost: str) -> np.ndarray:
    if cost == "count":
        return np.ones(len(values))
    scale = max(float(np.abs(values).max()), 1.0)
    # the information lost, plus a little per cell so that empty cells are not free
    return np.abs(values) / scale + 1e-3


def _complement(values: np.ndarray, A: csr_matrix, suppressed: np.ndarray, cell: int, direction: float,
                d: float, costs: np.ndarray, nonnegative: bool = True) -> np.ndarray:
    """Cells to add so that cell can move by direction*d in a table the attacker cannot rule out."""
    m = len(values)
    up_cap = np.full(m, DEVIATION_CAP)
    down_cap = (np.minimum(np.maximum(values, 0.0) / d, DEVIATION_CAP) if nonnegative
                else np.full(m, DEVIATION_CAP))
    eye = diags(np.ones(m), format="csr")
    # variables: [y_plus (m), y_minus (m), z (m)]
    flow = hstack([A, -A, csr_matrix((A.shape[0], m))], format="csr")
    link_up = hstack([eye, csr_matrix((m, m)), -diags(up_cap)], format="csr")
    link_down = hstack([csr_matrix((m, m)), eye, -diags(down_cap)], format="csr")
    constraints = [LinearConstraint(flow, 0.0, 0.0),
                   LinearConstraint(vstack([link_up, link_down], format="csr"), -np.inf, 0.0)]
    lb = np.zeros(3 * m)
    ub = np.concatenate([up_cap, down_cap, np.ones(m)])
    lb[2 * m:][suppressed] = 1.0
    if direction > 0:
        lb[cell] = ub[cell] = 1.0
        ub[m + cell] = 0.0
    else:
        lb[m + cell] = ub[m + cell] = 1.0
        ub[cell] = 0.0
    objective = np.concatenate([np.full(2 * m, 1e-6), np.where(suppressed, 0.0, costs)])
    integrality = np.concatenate([np.zeros(2 * m), np.ones(m)])
    res = milp(objective, constraints=constraints, integrality=integrality, bounds=Bounds(lb, ub),
               options={"mip_rel_gap": 1e-4})
    if res.status != 0 or res.x is None:
        raise SuppressionError(f"no complementary suppression protects cell {cell}: {res.message}")
    z = res.x[2 * m:] > 0.5
    return np.flatnonzero(z & ~suppressed)


def protect(values: np.ndarray, A: csr_matrix, primary: np.ndarray, protection: float = 0.10,
            cost: str = "value", nonnegative: bool = True, final_audit: bool = True) -> Protection:
    """Suppress *primary* cells and the fewest (cheapest) others so that none can be narrowed.

    *values* are the true cell values, *A* the table's equations
    (:func:`workbench.disclosure.cells.equation_matrix`). *nonnegative*: the attacker
    may assume no cell is negative (then the values must not be). *final_audit*: audit the
    finished pattern and fill ``lower``/``upper`` (the release gate audits separately).
    """
    values = np.asarray(values, dtype=float)
    if nonnegative and (values < 0).any():
        raise SuppressionError("negative values in a table declared non-negative")
    suppressed = np.asarray(primary, dtype=bool).copy()
    costs = _costs(values, cost)
    verified = suppressed & (values == 0)  # a zero cell has nothing to protect
    milps = lps = 0
    while True:
        # Audit every suppressed cell not yet known to be protected (one warm-started model);
        # protect the largest failing one by a MILP; repeat. Protected cells stay protected.
        todo = np.flatnonzero(suppressed & ~verified)
        if todo.size == 0:
            break
        lower, upper, used = audit(values, A, suppressed, todo, nonnegative)
        lps += used
        ok = _wide_enough(values[todo], lower[todo], upper[todo], protection)
        verified[todo[ok]] = True
        failing = todo[~ok]
        if failing.size == 0:
            break
        c = int(max(failing, key=lambda k: abs(values[k])))
        d = protection * abs(values[c])
        for direction in (1.0, -1.0):
            if direction < 0:  # the upward fix may have opened the downward side too
                lower, upper, used = audit(values, A, suppressed, [c], nonnegative)
                lps += used
            slack = REL_TOL * (abs(values[c]) + 1.0)
            short = upper[c] < values[c] + d - slack if direction > 0 else lower[c] > values[c] - d + slack
            if short:
                new = _complement(values, A, suppressed, c, direction, d, costs, nonnegative)
                milps += 1
                suppressed[new] = True
    secondary = suppressed & ~np.asarray(primary, dtype=bool)
    if not final_audit:
        nan = np.full(len(values), np.nan)
        return Protection(suppressed, secondary, nan, nan.copy(), milps, lps)
    lower, upper, used = audit(values, A, suppressed, nonnegative=nonnegative)
    result = Protection(suppressed=suppressed, secondary=secondary, lower=lower, upper=upper, milps=milps,
                        lps=lps + used)
    if not result.protected(values, protection).all():
        bad = np.flatnonzero(~result.protected(values, protection))
        raise SuppressionError(f"cells {bad[:10].tolist()} remain narrower than +-{protection:.0%} after suppression")
    return result
