"""Charts for the report, drawn with matplotlib's object API (no pyplot: no global state, any backend)."""

from __future__ import annotations

from io import BytesIO

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .formatting import as_bool, vn_pct

_COLOURS = {True: "#2e7d32", False: "#c62828", None: "#9e9e9e"}
_LEGEND = [Patch(color=_COLOURS[True], label="Đạt"), Patch(color=_COLOURS[False], label="Chưa đạt"),
           Line2D([], [], color="black", marker="|", linestyle="none", markersize=12, label="Chỉ tiêu kế hoạch")]


def indicator_chart(rows: list[dict]) -> bytes:
    """The area's rate per indicator as horizontal bars (green met, red not met, grey not judged),
    with the target as a black tick and 0/0 written out in words. Returns a PNG."""
    labels = [f"{r['indicator_code']} {r['short_name']}" for r in rows]
    fig = Figure(figsize=(6.5, 0.3 * len(rows) + 1.1), dpi=150)
    ax = fig.subplots()
    positions = range(len(rows))
    values = [r["value_pct"] or 0 for r in rows]  # 0/0 draws no bar and is labelled in words
    ax.barh(positions, values, color=[_COLOURS[as_bool(r["meets_target"])] for r in rows], height=0.6)
    targets = [(i, r["target_pct"]) for i, r in enumerate(rows) if r["target_pct"] is not None]
    ax.scatter([t for _, t in targets], [i for i, _ in targets], marker="|", s=220, color="black", zorder=3)
    for i, r in enumerate(rows):
        if r["value_pct"] is None:
            ax.text(1.5, i, vn_pct(None, r["reported"]), va="center", fontsize=7, style="italic")
        else:  # right of both the bar and the target tick, so neither hides the figure
            ax.text(max(values[i], r["target_pct"] or 0) + 1.5, i, vn_pct(r["value_pct"]), va="center", fontsize=7)
    ax.set_yticks(list(positions), labels, fontsize=7)
    ax.invert_yaxis()  # catalogue order from the top
    ax.set_xlim(0, 118)
    ax.set_xticks(range(0, 101, 20))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0f}%"))
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    ax.legend(handles=_LEGEND, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=7, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
