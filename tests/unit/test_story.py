"""tools/story.py: the figures of the chart of the days, the SVG it writes, and the committed docs/story.svg."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "story.py"
COMMITTED = ROOT / "docs" / "story.svg"
SVG_TEXT = "{http://www.w3.org/2000/svg}text"
DAYS = range(1, 31)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tools_story", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# Loaded at import: without matplotlib this module fails, it is not skipped (the dev requirements pin it).
story = _load_script()


@pytest.fixture(scope="module")
def stories() -> list[Any]:
    return [story.tell(profile) for profile in ("classic", "cdc")]


@pytest.fixture(scope="module")
def figure(stories: list[Any]) -> Any:
    return story.draw(stories)


@pytest.fixture(scope="module")
def rendered(stories: list[Any], tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = story.render(tmp_path_factory.mktemp("story") / "story.svg", stories)
    return Path(path).read_bytes()


def _axes(figure: Any, title: str) -> Any:
    (ax,) = [ax for ax in figure.axes if ax.get_title() == title]
    return ax


def _line(figure: Any, title: str, label: str) -> list[float]:
    (line,) = [line for line in _axes(figure, title).get_lines() if line.get_label() == label]
    return [float(y) for y in line.get_ydata()]


def _bars(figure: Any, title: str, label: str) -> list[float]:
    (bars,) = [c for c in _axes(figure, title).containers if c.get_label() == label]
    return [float(patch.get_height()) for patch in bars]


def test_customers_grow_as_the_operations_guide_says(figure: Any) -> None:
    # 100 customers in the baseline, then 25, 22 and 28 new ones on days 1-3.
    for profile in ("classic", "cdc"):
        customers = _line(figure, f"{profile}: rows per table at the end of each day", "customers")
        assert customers[:4] == [100, 125, 147, 175]
        assert len(customers) == 31


def test_only_cdc_has_late_rows_five_web_sessions_a_day(stories: list[Any], figure: Any) -> None:
    classic, cdc = stories
    assert _bars(figure, "classic: late inserts and deletes each day", "late inserts") == [0] * 30
    assert _bars(figure, "cdc: late inserts and deletes each day", "late inserts") == [5] * 30
    late = {table: days for table, days in cdc.changes["late inserts"].items() if any(days)}
    assert late == {"web_sessions": [5] * 30}
    assert not any(any(days) for days in classic.changes["late inserts"].values())


def test_hard_deletes_only_in_cdc(figure: Any) -> None:
    assert _bars(figure, "classic: late inserts and deletes each day", "hard deletes") == [0] * 30
    assert sum(_bars(figure, "cdc: late inserts and deletes each day", "hard deletes")) > 0


def test_rows_change_by_the_inserts_less_the_hard_deletes(stories: list[Any]) -> None:
    # Two computations that must agree: the states' row counts, and the days' deltas (soft-deleted rows stay rows).
    for told in stories:
        for table, rows in told.rows.items():
            for day in DAYS:
                inserted = told.changes["inserts"][table][day - 1] + told.changes["late inserts"][table][day - 1]
                removed = told.changes["hard deletes"][table][day - 1]
                assert rows[day] - rows[day - 1] == inserted - removed, (told.profile, table, day)


def test_svg_is_well_formed_with_titles_and_legends(rendered: bytes) -> None:
    texts = {element.text for element in ET.fromstring(rendered).iter(SVG_TEXT)}
    for profile in ("classic", "cdc"):
        assert f"{profile}: rows per table at the end of each day" in texts
        assert f"{profile}: inserts and updates each day" in texts
        assert f"{profile}: late inserts and deletes each day" in texts
    assert "The story of the days: days 0-30 of each profile at scale 1" in texts
    legends = {"customers", "order_items", "web_sessions", "inserts", "updates", "late inserts", "soft deletes"}
    assert legends | {"hard deletes"} <= texts


def test_rendering_is_deterministic(stories: list[Any], rendered: bytes, tmp_path: Path) -> None:
    assert Path(story.render(tmp_path / "again.svg", stories)).read_bytes() == rendered


def test_committed_svg_is_a_fresh_rendering(rendered: bytes) -> None:
    assert COMMITTED.exists(), "docs/story.svg is missing: run `python tools/story.py`"
    assert COMMITTED.read_bytes() == rendered, "docs/story.svg is stale: run `python tools/story.py`"
