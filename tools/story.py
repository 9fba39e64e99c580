"""Render "the story of the days": how each profile's tables grow and what each day changes, days 0-30.

    python tools/story.py [--output docs/story.svg]

The committed ``docs/story.svg`` is this command's output; a test renders afresh and compares the bytes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from airflow_source_simulator.data.delta import day_delta, late_keys
from airflow_source_simulator.data.generate import Generator
from airflow_source_simulator.data.scenario import PROFILES
from airflow_source_simulator.schema import TABLES

SCALE = 1
LAST_DAY = 30
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "story.svg"

# The kinds of change. Each row a day writes counts once: soft deletes are updates that set deleted_at,
# and late rows are inserts, so both are taken out of their parent kind.
INSERTS, LATE, UPDATES, SOFT_DELETES, HARD_DELETES = (
    "inserts",
    "late inserts",
    "updates",
    "soft deletes",
    "hard deletes",
)
KINDS = (INSERTS, LATE, UPDATES, SOFT_DELETES, HARD_DELETES)
# Inserts and updates are hundreds a day, the others a handful: on one scale the handful would not show,
# so each group has its own panel, stacked in this order.
BULK = (INSERTS, UPDATES)
RARE = (LATE, SOFT_DELETES, HARD_DELETES)
KIND_COLORS = {
    INSERTS: "#4c78a8",
    LATE: "#f58518",
    UPDATES: "#72b7b2",
    SOFT_DELETES: "#b279a2",
    HARD_DELETES: "#e45756",
}
# Applied over matplotlib's defaults, never the user's matplotlibrc, so that every machine writes the same bytes.
RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "story-of-the-days",  # clip-path ids are otherwise random
    "svg.fonttype": "none",  # text stays text: smaller, searchable, and a test can read the titles
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # shipped with matplotlib, so the layout is measured alike everywhere
}


@dataclass(frozen=True)
class Story:
    """One profile's days: ``rows[table][day]`` for days 0..LAST_DAY (soft-deleted rows included, they are
    still rows), and ``changes[kind][table][day - 1]`` for days 1..LAST_DAY."""

    profile: str
    rows: dict[str, list[int]]
    changes: dict[str, dict[str, list[int]]]

    def day_totals(self, kind: str) -> list[int]:
        """A kind of change per day, summed over the tables."""
        return [sum(day) for day in zip(*self.changes[kind].values(), strict=True)]


def tell(profile: str, last_day: int = LAST_DAY) -> Story:
    """Count the rows and the changes of ``profile``'s days 0..``last_day`` at scale 1."""
    states = [Generator(day, SCALE, profile) for day in range(last_day + 1)]
    rows = {t.name: [len(state.table(t.name)[t.key]) for state in states] for t in TABLES}
    changes: dict[str, dict[str, list[int]]] = {kind: {t.name: [] for t in TABLES} for kind in KINDS}
    for day in range(1, last_day + 1):
        before = states[day - 1]
        # The states are already built: passing them spares day_delta generating them again.
        delta = day_delta(day, SCALE, before=before, after=states[day], profile=profile)
        for table in TABLES:
            change = delta[table.name]
            late = len(late_keys(table, before.table(table.name), change.inserted))
            counts = {
                INSERTS: change.inserted_rows - late,
                LATE: late,
                UPDATES: change.updated_rows - change.soft_deleted,
                SOFT_DELETES: change.soft_deleted,
                HARD_DELETES: len(change.hard_deleted),
            }
            for kind, count in counts.items():
                changes[kind][table.name].append(count)
    return Story(str(profile), rows, changes)


def plot_rows(ax: Axes, story: Story) -> None:
    for name, counts in story.rows.items():
        ax.plot(range(len(counts)), counts, label=name, linewidth=1.6)
    # Campaigns stay at 5 rows while order items pass 4,000: only a log scale shows both. Symmetric-log,
    # linear below 10, because payments start from 0 on day 0, which a log scale cannot place.
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(0, 100_000)  # the top decade stays free for the legend
    ax.set_title(f"{story.profile}: rows per table at the end of each day")
    ax.set_xlabel("day")
    ax.set_ylabel("rows (log scale above 10)")
    ax.set_xlim(0, len(counts) - 1)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", ncols=4, fontsize="x-small", frameon=False, columnspacing=1.0, handlelength=1.5)


def plot_changes(ax: Axes, story: Story, kinds: tuple[str, ...], title: str, top: float) -> None:
    bottom = [0] * len(story.day_totals(kinds[0]))
    days = range(1, len(bottom) + 1)
    for kind in kinds:
        heights = story.day_totals(kind)
        ax.bar(days, heights, bottom=bottom, label=kind, color=KIND_COLORS[kind], width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_title(f"{story.profile}: {title}")
    ax.set_xlabel("day")
    ax.set_ylabel("rows, all tables")
    ax.set_xlim(0.4, days[-1] + 0.6)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", ncols=len(kinds), fontsize="small", frameon=False)


def highest_day(stories: list[Story], kinds: tuple[str, ...]) -> int:
    return max(sum(day) for s in stories for day in zip(*(s.day_totals(k) for k in kinds), strict=True))


def draw(stories: list[Story]) -> Figure:
    """One column per profile, side by side on shared scales; top to bottom: the tables' growth, the
    inserts and updates of each day, and its late inserts, soft deletes and hard deletes."""
    # A bare Figure, not pyplot: no GUI backend is ever chosen and no global figure is left open.
    figure = Figure(figsize=(11, 11.5), layout="constrained")
    grid = figure.subplots(3, len(stories), squeeze=False)
    # The same scale for every profile, so that their panels compare at a glance; the headroom above
    # the highest bar keeps the legend clear of the bars.
    bulk_top, rare_top = (highest_day(stories, kinds) * 1.3 for kinds in (BULK, RARE))
    for column, story in enumerate(stories):
        plot_rows(grid[0, column], story)
        plot_changes(grid[1, column], story, BULK, "inserts and updates each day", bulk_top)
        plot_changes(grid[2, column], story, RARE, "late inserts and deletes each day", rare_top)
    figure.suptitle(
        f"The story of the days: days 0-{LAST_DAY} of each profile at scale {SCALE}\n"
        "Each changed row counts once: late inserts are not among the inserts, soft deletes not among the updates",
        fontsize="large",
    )
    return figure


def render(output: Path = DEFAULT_OUTPUT, stories: list[Story] | None = None) -> Path:
    """Write the chart to ``output`` as SVG; the same inputs give the same bytes."""
    stories = stories if stories is not None else [tell(profile) for profile in PROFILES]
    with matplotlib.style.context("default"), matplotlib.rc_context(RC):
        figure = draw(stories)
        output.parent.mkdir(parents=True, exist_ok=True)
        # No Date: the file would change on every run.
        figure.savefig(output, format="svg", metadata={"Date": None})
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="SVG to write (default: docs/story.svg)")
    print(render(parser.parse_args().output))


if __name__ == "__main__":
    main()
