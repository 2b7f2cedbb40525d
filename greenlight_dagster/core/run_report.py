"""The sync report an operator reads after a run: the run's measures against the history, a chart
of the history, and the drift summary, as Markdown.

Pure: the measures and the drift come in (`warehouse.run_measures`, `core.drift`), the Markdown
and the PNG go out, so the report's wording is tested without a warehouse or Dagster.

The chart is embedded in the Markdown as a ``data:`` URI: the Dagster UI renders Markdown images
inline, whereas a path only shows the path, which an operator's browser cannot open on the server.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Self

from greenlight_dagster.core.drift import drift_counts, unexpected
from greenlight_dagster.core.markdown import escape_markdown

#: The run measures, in chart order, with the label an operator reads.
MEASURES = {
    "records_synced": "records synced (new versions landed)",
    "jobs_created": "SF jobs created",
    "errors": "errors logged",
    "dead_letters": "dead letters open",
    "mapping_coverage": "customer mapping coverage (%)",
    "duration_seconds": "run duration (s)",
}
#: Drift records the check lists as examples; the report's table holds them all.
CHECK_EXAMPLES = 20


@dataclass(frozen=True)
class RunMeasures:
    """What one run did, measured by its report at the end of the run."""

    run_id: str
    measured_at: datetime
    records_synced: int
    jobs_created: int
    errors: int
    dead_letters: int
    mapping_coverage: float | None
    duration_seconds: float

    def as_stats(self) -> dict[str, Any]:
        """The measures as JSON, to keep on the run's ``ops.sync_runs`` row."""
        return {**asdict(self), "measured_at": self.measured_at.isoformat()}

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> Self:
        """The measures back from a run row, for the history."""
        return cls(**{**stats, "measured_at": datetime.fromisoformat(stats["measured_at"])})


def render_chart(history: Sequence[RunMeasures]) -> bytes:
    """One small panel per measure over the runs (PNG); the newest run is on the right."""
    # Imported here: matplotlib costs every run worker ~0.3 s and ~30 MB, and only the report draws.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(12, 6), dpi=72, layout="constrained")
    axes = figure.subplots(2, 3)
    labels = [m.measured_at.strftime("%m-%d %H:%M") for m in history]
    positions = list(range(len(history)))
    for ax, (name, title) in zip(axes.flat, MEASURES.items(), strict=True):
        values = [getattr(m, name) if getattr(m, name) is not None else float("nan") for m in history]
        if name == "mapping_coverage":
            ax.plot(positions, [v * 100 for v in values], marker="o", color="tab:green")
            ax.axhline(95, color="tab:red", linestyle="--", linewidth=1, label="target 95 %")
            ax.set_ylim(0, 105)
            ax.legend(loc="lower left", fontsize=8)
        else:
            color = "tab:red" if name in ("errors", "dead_letters") else "tab:blue"
            ax.bar(positions, values, color=color)
            ax.set_ylim(0, max([v for v in values if v == v] + [1]) * 1.1)  # v == v drops NaN; no negative axis
            ax.yaxis.set_major_locator(MaxNLocator(integer=name != "duration_seconds"))
        ax.set_title(title, fontsize=10)
        step = max(1, len(labels) // 6)
        ax.set_xticks(positions[::step], labels[::step], rotation=30, fontsize=7, ha="right")
        ax.tick_params(axis="y", labelsize=8)
    figure.suptitle(f"last {len(history)} sync run(s)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _cell(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f} %" if percent else f"{value:g}"


def report_markdown(current: RunMeasures, history: Sequence[RunMeasures], drift: Sequence[Mapping[str, Any]],
                    chart_png: bytes) -> str:
    """The report: this run against the history, the chart, and the drift summary."""
    lines = [f"## Sync report, run `{current.run_id[:8]}` ({current.measured_at:%Y-%m-%d %H:%M} UTC)", "",
             f"| measure | this run | average of the last {len(history)} |", "|---|---:|---:|"]
    for name, label in MEASURES.items():
        known = [getattr(m, name) for m in history if getattr(m, name) is not None]
        average = sum(known) / len(known) if known else None
        percent = name == "mapping_coverage"
        lines.append(f"| {label} | {_cell(getattr(current, name), percent)} | {_cell(average, percent)} |")
    lines += ["", f"![last {len(history)} runs](data:image/png;base64,{base64.b64encode(chart_png).decode()})", ""]
    to_act_on = unexpected(drift)
    if not to_act_on:
        lines.append("### No drift: every linked PW work order and SF job agree"
                     + (f" (or the push handles it: {len(drift)} record(s) pushed or still to send, in the "
                        "**drift** table below)." if drift else "."))
    else:
        lines += [f"### Drift: {len(to_act_on)} record(s) where PW and SF disagree", "",
                  "| why | records |", "|---|---:|"]
        lines += [f"| {escape_markdown(kind)} | {count} |" for kind, count in drift_counts(to_act_on).items()]
        lines += ["", "Each record is in the **drift** table below, with what to do"
                  + (f"; {len(drift) - len(to_act_on)} more the push handles (column expected)." if
                     len(drift) > len(to_act_on) else ".")]
    return "\n".join(lines)


def drift_examples(drift: Sequence[Mapping[str, Any]], limit: int = CHECK_EXAMPLES) -> str:
    """The first records to act on, as a Markdown list with why and what to do ("none" without any)."""
    examples = "\n".join(f"- work order {row['work_order_id']} / SF job {row['sf_job_id']}: "
                         f"{escape_markdown(row['why'])} - {escape_markdown(row['action'])}"
                         for row in unexpected(drift)[:limit])
    return examples or "none"
