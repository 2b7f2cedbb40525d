"""One warehouse build's decision: which selected dbt nodes to build and which to reuse, and why.

Gathers what core/build_plan.py compares - the current source markers (read *before* dbt
starts, so rows landing during the build make the next sync build again), the node marks,
the project fingerprint, the relations that exist - and turns the answer into dbt arguments
and the marks to record for the nodes that were built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from greenlight_dagster.core.build_plan import NodeMark, build_reasons
from greenlight_dagster.warehouse.build_marks import existing_relations, node_marks, source_markers
from greenlight_dagster.warehouse.dbt_graph import WarehouseNodes, project_fingerprint


@dataclass(frozen=True)
class BuildDecision:
    nodes: WarehouseNodes
    reasons: Mapping[str, str | None]  # selected node -> why it is built, None = reused
    markers: Mapping[str, str]
    marks: Mapping[str, NodeMark]
    fingerprint: str

    @property
    def to_build(self) -> list[str]:
        return sorted(uid for uid, reason in self.reasons.items() if reason)

    @property
    def reused(self) -> list[str]:
        """Reused nodes parents first: Dagster takes a multi-asset's outputs in topological order, and
        a reused node never reads a built one (a rebuilt parent makes its children rebuild)."""
        return self.nodes.graph.in_build_order({uid for uid, reason in self.reasons.items() if not reason})

    def dbt_exclude_args(self) -> list[str]:
        """``--exclude`` of the reused nodes, added to the selection dagster-dbt derives from the run."""
        return ["--exclude", " ".join(self.nodes.names[uid] for uid in self.reused)] if self.reused else []

    def markers_of(self, uid: str) -> dict[str, str]:
        """What to record for ``uid`` once built: the markers of its upstream sources at the start."""
        return {source: self.markers[source] for source in self.nodes.graph.upstream_sources(uid)
                if source in self.markers}

    def summary(self) -> str:
        counts = Counter(reason for reason in self.reasons.values() if reason)
        why = "; ".join(f"{n} x {reason}" for reason, n in counts.most_common(5))
        return (f"{len(self.to_build)} of {len(self.reasons)} warehouse nodes to build, {len(self.reused)} reused"
                + (f" ({why})" if why else ""))


def decide_build(engine: Engine, nodes: WarehouseNodes, selected: set[str], project_dir: Path, *,
                 forced: str | None = None) -> BuildDecision:
    """The decision for ``selected`` nodes; ``forced`` (a reason) builds all of them."""
    markers = source_markers(engine, {s for uid in selected for s in nodes.graph.upstream_sources(uid)})
    fingerprint = project_fingerprint(project_dir)
    marks = node_marks(engine)
    if forced:
        reasons: dict[str, str | None] = dict.fromkeys(selected, forced)
    else:
        existing = existing_relations(engine, {schema for schema, _ in nodes.relations.values()})
        reasons = build_reasons(nodes.graph, selected, fingerprint=fingerprint, markers=markers, marks=marks,
                                missing={uid for uid in selected if nodes.relations[uid] not in existing})
    return BuildDecision(nodes=nodes, reasons=reasons, markers=markers, marks=marks, fingerprint=fingerprint)
