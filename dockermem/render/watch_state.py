"""What the user chose in `watch`'s live view (sort, filter, scroll, selection, detail) and how
a key press changes it: `press(state, key, screen) -> state`, pure, in the manner of ctop and htop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from dockermem.core.events import WatchedContainer
from dockermem.units import NameOrder, name_order


class SortOrder(Enum):
    """The order of the rows; `s` goes to the next one. The first is the most urgent first: level,
    then leaking, then memory %."""

    MEMORY = "memory %"
    GROWTH = "growth"
    NAME = "name"

    def next(self) -> SortOrder:
        orders = list(SortOrder)
        return orders[(orders.index(self) + 1) % len(orders)]


class Key(Enum):
    """The keys that are not typed text."""

    UP = "up"
    DOWN = "down"
    PAGE_UP = "page-up"
    PAGE_DOWN = "page-down"
    HOME = "home"
    END = "end"
    ENTER = "enter"
    ESCAPE = "escape"
    BACKSPACE = "backspace"


# One key press: a `Key`, or one typed character.
Keypress = Key | str


@dataclass(frozen=True)
class ViewState:
    """The live view's state between frames. Rows are known by `row_key` (engine and ID), so the
    selection stays on its container when the rows change order."""

    sort: SortOrder = SortOrder.MEMORY
    filter_text: str = ""  # the applied filter ("" shows every row)
    filter_draft: str | None = None  # the filter being typed after `/` (None: not typing)
    offset: int = 0  # the first row shown
    selected: str | None = None  # None: the first row shown
    detail: str | None = None  # the container whose detail is open
    quit: bool = False


@dataclass(frozen=True)
class Screen:
    """What the last render laid out: the rows in their order (filtered) and how many fit."""

    rows: tuple[str, ...]
    page_rows: int


def row_key(row: WatchedContainer) -> str:
    return f"{row.engine}/{row.id}"


def the_project(containers: Sequence[WatchedContainer]) -> str | None:
    """The one compose project of every container (said once in the header), if they share one."""
    projects = {row.project for row in containers}
    return projects.pop() if len(projects) == 1 else None


def short_name(row: WatchedContainer, project: str | None) -> str:
    """A container as its row names it: the service and replica number in the header's project
    (`api-2`), else its container name."""
    if project is None or row.project != project or not row.service:
        return row.name
    for separator in "-_":  # compose v2 names `shop-api-1`, v1 `shop_api_1`
        prefix = f"{project}{separator}{row.service}{separator}"
        if row.name.startswith(prefix) and row.name[len(prefix) :].isdigit():
            return f"{row.service}-{row.name[len(prefix) :]}"
    return row.name  # a `container_name` of its own


def matches(row: WatchedContainer, filter_text: str, project: str | None) -> bool:
    """Whether the filter (case aside) is part of the row's service or of the name the row shows:
    in one project's view the project, said once in the header, is not matched by every row."""
    needle = filter_text.casefold()
    return needle in short_name(row, project).casefold() or needle in (row.service or "").casefold()


def ordered_rows(containers: Sequence[WatchedContainer], state: ViewState) -> list[WatchedContainer]:
    """The rows the filter lets through, in the state's order."""
    project = the_project(containers)
    rows = [row for row in containers if matches(row, state.filter_text, project)]
    if state.sort is SortOrder.NAME:
        return sorted(rows, key=by_name)
    if state.sort is SortOrder.GROWTH:
        return sorted(rows, key=lambda row: (-(row.trend_mib_per_minute or 0.0), by_name(row)))
    return sorted(rows, key=lambda row: (urgency(row), by_name(row)))


def urgency(row: WatchedContainer) -> tuple[int, int, float, int]:
    """The most urgent first: level, then leaking, then memory % (of the limit), then usage."""
    percent = -1.0 if row.memory_percent is None else row.memory_percent
    return (-row.level.rank, -int(row.leaking), -percent, -row.memory_usage_bytes)


def by_name(row: WatchedContainer) -> tuple[NameOrder, str]:
    """The name as people sort it (`api-2` before `api-10`), then the engine."""
    return name_order(row.name), row.engine


def window(state: ViewState, screen: Screen) -> tuple[int, int]:
    """The first row shown and the selected row's index, each within the rows: the offset moves
    as little as needed to keep the selection in sight."""
    count, page = len(screen.rows), max(1, screen.page_rows)
    offset = max(0, min(state.offset, count - page))
    if state.selected in screen.rows:
        selected = screen.rows.index(state.selected)
    else:
        selected = min(offset, max(0, count - 1))
    if selected < offset:
        offset = selected
    elif selected >= offset + page:
        offset = selected - page + 1
    return offset, selected


def press(state: ViewState, key: Keypress, screen: Screen) -> ViewState:
    """The state after one key press on the screen last shown."""
    if state.filter_draft is not None:
        return _typing_filter(state, key)
    if state.detail is not None:
        return replace(state, detail=None) if key in (Key.ESCAPE, Key.ENTER, "q") else state
    if key == "q":
        return replace(state, quit=True)
    if key == "s":
        return replace(state, sort=state.sort.next())
    if key == "/":
        return replace(state, filter_draft=state.filter_text)
    if key is Key.ESCAPE:
        return replace(state, filter_text="", offset=0, selected=None)
    if key is Key.ENTER:
        if not screen.rows:
            return state
        _, selected = window(state, screen)
        return replace(state, detail=screen.rows[selected])
    step = _steps(key, screen.page_rows, len(screen.rows))
    if step is None or not screen.rows:
        return state
    offset, selected = window(state, screen)
    target = max(0, min(len(screen.rows) - 1, selected + step))
    return replace(state, offset=offset, selected=screen.rows[target])


def _steps(key: Keypress, page_rows: int, count: int) -> int | None:
    """How far a movement key moves the selection (None: it is no movement key)."""
    page = max(1, page_rows)
    steps: dict[Keypress, int] = {
        Key.UP: -1, "k": -1, Key.DOWN: 1, "j": 1, Key.PAGE_UP: -page, Key.PAGE_DOWN: page,
        Key.HOME: -count, Key.END: count,
    }  # fmt: skip
    return steps.get(key)


def _typing_filter(state: ViewState, key: Keypress) -> ViewState:
    draft = state.filter_draft or ""
    if key is Key.ENTER:
        return replace(state, filter_text=draft, filter_draft=None, offset=0, selected=None)
    if key is Key.ESCAPE:
        return replace(state, filter_text="", filter_draft=None, offset=0, selected=None)
    if key is Key.BACKSPACE:
        return replace(state, filter_draft=draft[:-1])
    if isinstance(key, str) and key.isprintable():
        return replace(state, filter_draft=draft + key)
    return state
