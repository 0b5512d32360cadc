"""How the benchmark judges dualdb against SQLAlchemy Core: by the time each adds to the
raw driver's, dualdb's at most half of SQLAlchemy's (``benchmarks/targets.py``).

These judge figures as the benchmark writes them; no database is involved.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load_benchmarks() -> None:
    """Register the ``benchmarks`` package, which lives beside ``src/``: it is neither
    installed nor on ``sys.path`` under pytest (``python -m benchmarks`` runs from the
    repository root)."""
    if "benchmarks" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "benchmarks", BENCHMARKS / "__init__.py", submodule_search_locations=[str(BENCHMARKS)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks"] = package
    spec.loader.exec_module(package)


_load_benchmarks()

from benchmarks.report import format_spread  # noqa: E402
from benchmarks.targets import Check, evaluate  # noqa: E402

TARGET = "dualdb / raw, half of SQLAlchemy's overhead"
BACKENDS = ["sqlite", "postgresql"]


def _summary(vs_raw: float, vs_decoded: float | None = None) -> dict[str, Any]:
    return {
        "throughput": 1.0,
        "p50_us": 1.0,
        "p95_us": 1.0,
        "rounds": 1,
        "vs_raw": vs_raw,
        "vs_sqlalchemy": None,
        "vs_decoded": vs_decoded,
        "vs_floors": None,
        "peak_rss_kib": None,
    }


def _figures(workload: str, **summaries: dict[str, Any] | None) -> dict[str, Any]:
    results = [{"workload": workload, "contender": k, "summary": v} for k, v in summaries.items()]
    return {"results": results}


def _sqlalchemy_check(backend: str, figures: dict[str, Any]) -> Check | None:
    return next((c for c in evaluate(backend, figures) if c.target == TARGET), None)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_batch_at_the_drivers_speed_meets_the_target_though_not_2x_faster_in_total(
    backend_name: str,
) -> None:
    figures = _figures("mixed_bulk", dualdb=_summary(1.02), sqlalchemy=_summary(1.60))

    check = _sqlalchemy_check(backend_name, figures)

    assert check is not None
    assert check.met
    assert check.value == 1.02
    assert check.limit == pytest.approx(1.30)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_adding_more_than_half_of_sqlalchemys_overhead_misses_the_target(
    backend_name: str,
) -> None:
    figures = _figures("insert_one", dualdb=_summary(1.40), sqlalchemy=_summary(1.60))

    check = _sqlalchemy_check(backend_name, figures)

    assert check is not None and not check.met


def test_a_workload_with_hand_decoding_is_judged_over_the_decoded_floor() -> None:
    figures = _figures(
        "mixed_page",
        dualdb=_summary(2.00, vs_decoded=1.05),
        sqlalchemy=_summary(4.00, vs_decoded=2.00),
    )

    check = _sqlalchemy_check("sqlite", figures)

    assert check is not None
    assert check.value == 1.05
    assert check.limit == pytest.approx(1.50)


def test_no_sqlalchemy_figures_means_no_judgement() -> None:
    figures = _figures("pk_select", dualdb=_summary(1.0), sqlalchemy=None)

    assert _sqlalchemy_check("postgresql", figures) is None


@given(
    dualdb=st.floats(min_value=0.5, max_value=20.0),
    sqlalchemy=st.floats(min_value=0.5, max_value=20.0),
)
def test_the_target_is_met_exactly_when_dualdbs_overhead_is_at_most_half_of_sqlalchemys(
    dualdb: float, sqlalchemy: float
) -> None:
    assume(abs((dualdb - 1.0) - 0.5 * (sqlalchemy - 1.0)) > 1e-9)  # clear of rounding
    figures = _figures("pk_select", dualdb=_summary(dualdb), sqlalchemy=_summary(sqlalchemy))

    check = _sqlalchemy_check("sqlite", figures)

    assert check is not None
    assert check.met == (dualdb - 1.0 <= 0.5 * (sqlalchemy - 1.0))


def test_runs_are_judged_on_their_median_value_against_their_median_limit() -> None:
    runs = [
        [Check(TARGET, "transaction", value, limit, value <= limit)]
        for value, limit in ((1.0, 1.2), (1.1, 1.3), (1.5, 1.4))
    ]

    line = format_spread("postgresql", runs).splitlines()[1]

    assert line.split()[0] == "met"
    assert "1.10 (1.00 to 1.50; limit 1.30)" in line
