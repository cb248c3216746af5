"""Charts for the report, drawn with matplotlib's object API (no pyplot: no global state, any backend)."""

from __future__ import annotations

from io import BytesIO
from textwrap import shorten

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .formatting import as_bool, vn_pct

_COLOURS = {True: "#2e7d32", False: "#c62828", None: "#9e9e9e"}
_LEGEND = [Patch(color=_COLOURS[True], label="Đạt"), Patch(color=_COLOURS[False], label="Chưa đạt"),
           Line2D([], [], color="black", marker="|", linestyle="none", markersize=12, label="Chỉ tiêu kế hoạch")]


def _figure(**kwargs) -> Figure:
    """A figure drawn by Agg from the start: the layout pass and the PNG share one renderer, so each
    text's size is measured once (a bare Figure lays out on one renderer and saves on another)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def indicator_chart(rows: list[dict]) -> bytes:
    """The area's rate per indicator as horizontal bars (green met, red not met, grey not judged),
    with the target as a black tick and 0/0 written out in words. Returns a PNG."""
    labels = [f"{r['indicator_code']} {r['short_name']}" for r in rows]
    fig = _figure(figsize=(6.5, 0.3 * len(rows) + 1.1), dpi=150)
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


def trend_chart(rows: list[dict], trend: dict[str, list[tuple[str, float | None]]],
                changes: list[str] = (), columns: int = 3, panel_height: float = 1.45) -> bytes:
    """The area's monthly rate per indicator since January, one small panel per indicator (the
    catalogue's order), with its target as a dashed line and a dotted line before each month whose
    expected units changed (the reorganisation of 01/07/2025). 0/0 months leave a gap. `columns` panels
    a line, each line `panel_height` inches high (the monthly report packs them tighter). Returns a PNG."""
    # Indicators with no figure in any month (e.g. the on-time rate without the portal) are left out.
    rows = [r for r in rows if any(v is not None for _, v in trend.get(r["indicator_code"], []))]
    lines = max(1, -(-len(rows) // columns))
    width, height = 6.5, panel_height * lines + 0.5
    fig = _figure(figsize=(width, height), dpi=150)
    # Margins and gaps in inches, as tight_layout finds them for these fixed-size labels (the y ticks'
    # "100%", the months, the 6 pt titles shortened to fit), without its layout pass (≈ 30 % of the cost).
    fig.subplots_adjust(left=0.42 / width, right=1 - 0.2 / width, bottom=0.3 / height, top=1 - 0.67 / height)
    panel_width = (width - 0.62 - 0.41 * (columns - 1)) / columns
    panel = (height - 0.97 - 0.46 * (lines - 1)) / lines
    grid = fig.add_gridspec(lines, columns, wspace=0.41 / panel_width, hspace=0.46 / panel)
    months = sorted({label for points in trend.values() for label, _ in points})
    position = {label: i for i, label in enumerate(months)}
    for n, r in enumerate(rows):
        ax = fig.add_subplot(grid[divmod(n, columns)])
        points = trend[r["indicator_code"]]
        xs = [position[label] for label, _ in points]
        ys = [float("nan") if v is None else v for _, v in points]
        ax.plot(xs, ys, marker="o", markersize=2.5, linewidth=1.2, color="#1565c0")
        if r["target_pct"] is not None:
            ax.axhline(r["target_pct"], color="black", linestyle="--", linewidth=0.7)
        for label in changes:
            if label in position:
                ax.axvline(position[label] - 0.5, color="#8d6e63", linestyle=":", linewidth=1)
        ax.set_title(f"{r['indicator_code']} {shorten(r['short_name'], 90 // columns, placeholder='…')}", fontsize=6, loc="left")
        ax.set_ylim(0, 105)
        ax.set_yticks([0, 50, 100])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:.0f}%"))
        ax.set_xticks(range(len(months)), [m[5:] for m in months])
        ax.tick_params(labelsize=5, length=2)
        ax.grid(axis="y", linewidth=0.3, alpha=0.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    handles = [Line2D([], [], color="#1565c0", marker="o", markersize=3, label="Tỷ lệ theo tháng"),
               Line2D([], [], color="black", linestyle="--", label="Chỉ tiêu kế hoạch")]
    if changes:
        handles.append(Line2D([], [], color="#8d6e63", linestyle=":", label="Thay đổi đơn vị (sắp xếp ĐVHC)"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=6, frameon=False)
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def ranking_chart(ranking: dict[str, list[dict]], rows: list[dict]) -> bytes:
    """The units ranked by their rate for each headline indicator (`ranking`, {code: unit rows best
    first}), one panel per indicator side by side: bars green where the unit meets its target, red where
    not, the target as a dashed line. `rows` are the area's rows (the indicator's name). Returns a PNG."""
    names = {r["indicator_code"]: r["short_name"] for r in rows}
    codes = list(ranking)
    most = max((len(ranking[c]) for c in codes), default=0)
    height = 0.16 * max(most, 3) + 0.9
    fig = _figure(figsize=(6.5, height), dpi=150)
    axes = fig.subplots(1, max(1, len(codes)), squeeze=False)[0]
    for ax, code in zip(axes, codes):
        units = ranking[code]
        positions = range(len(units))
        values = [u["value_pct"] for u in units]
        ax.barh(positions, values, color=[_COLOURS[as_bool(u["meets_target"])] for u in units], height=0.6)
        targets = {u["target_pct"] for u in units if u["target_pct"] is not None}
        for target in targets:
            ax.axvline(target, color="black", linestyle="--", linewidth=0.8)
        for i, value in enumerate(values):
            ax.text(value + 1.5, i, vn_pct(value), va="center", fontsize=5)
        ax.set_yticks(list(positions), [shorten(u["unit_name"], 24, placeholder="…") for u in units], fontsize=5)
        ax.set_ylim(max(len(units), 3) - 0.5, -0.5)  # the best at the top; a few units keep thin bars
        ax.set_xlim(0, 118)
        ax.set_xticks(range(0, 101, 25))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0f}%"))
        ax.tick_params(axis="x", labelsize=5, length=2)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", linewidth=0.3, alpha=0.5)
        ax.set_axisbelow(True)
        ax.set_title(f"{code} {shorten(names.get(code, code), 34, placeholder='…')}", fontsize=6, loc="left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    handles = [Patch(color=_COLOURS[True], label="Đạt"), Patch(color=_COLOURS[False], label="Chưa đạt"),
               Line2D([], [], color="black", linestyle="--", label="Chỉ tiêu kế hoạch")]
    fig.legend(handles=handles, loc="upper center", ncol=3, fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height))
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
