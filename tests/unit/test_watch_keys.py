"""The keys of `watch`'s live view: what the terminal sends, read as key presses, and the pure
reducer `press(state, key, screen) -> state`."""

from __future__ import annotations

from functools import reduce

from dockermem.cli.watch_keys import decode_keys
from dockermem.render.watch_state import Key, Keypress, Screen, SortOrder, ViewState, press, window

ROWS = Screen(tuple(f"default/c{n}" for n in range(10)), page_rows=4)


def pressed(*keys: Keypress, state: ViewState | None = None, screen: Screen = ROWS) -> ViewState:
    return reduce(lambda current, key: press(current, key, screen), keys, state or ViewState())


def test_q_quits() -> None:
    assert pressed("q").quit is True
    assert pressed("x", Key.DOWN).quit is False


def test_s_cycles_the_sort_and_comes_back() -> None:
    assert [pressed(*"s" * n).sort for n in range(4)] == [
        SortOrder.MEMORY, SortOrder.GROWTH, SortOrder.NAME, SortOrder.MEMORY,
    ]  # fmt: skip


def test_slash_types_a_filter_that_enter_applies() -> None:
    typing = pressed("/", "a", "p", "x", Key.BACKSPACE, "i")
    assert typing.filter_draft == "api" and typing.filter_text == ""
    applied = press(typing, Key.ENTER, ROWS)
    assert applied.filter_text == "api" and applied.filter_draft is None


def test_keys_typed_into_the_filter_are_text() -> None:
    state = pressed("/", "q", "s", "/", "j")
    assert state.filter_draft == "qs/j" and not state.quit and state.sort is SortOrder.MEMORY


def test_escape_clears_the_filter_while_typing_and_after() -> None:
    assert pressed("/", "d", "b", Key.ESCAPE) == ViewState()
    applied = pressed("/", "d", "b", Key.ENTER)
    assert press(applied, Key.ESCAPE, ROWS).filter_text == ""
    edited = pressed("/", Key.BACKSPACE, "x", state=applied)
    assert edited.filter_draft == "dx"  # `/` again starts from the filter in force


def test_applying_a_filter_goes_back_to_the_top() -> None:
    scrolled = pressed(Key.PAGE_DOWN, Key.PAGE_DOWN)
    assert pressed("/", "c", Key.ENTER, state=scrolled).offset == 0
    assert pressed("/", "c", Key.ENTER, state=scrolled).selected is None


def test_arrows_move_the_selection_and_the_rows_follow_it() -> None:
    assert window(ViewState(), ROWS) == (0, 0)
    down = pressed(*[Key.DOWN] * 5)
    assert down.selected == "default/c5"
    assert window(down, ROWS) == (2, 5)
    assert window(pressed(Key.UP, state=down), ROWS) == (2, 4)
    assert pressed(*[Key.DOWN] * 20).selected == "default/c9"  # no further than the last row
    assert pressed(Key.UP).selected == "default/c0"
    assert pressed("j", "j", "k").selected == "default/c1"


def test_pages_and_ends() -> None:
    assert pressed(Key.PAGE_DOWN).selected == "default/c4"
    assert window(pressed(Key.PAGE_DOWN, Key.PAGE_DOWN), ROWS) == (5, 8)
    assert pressed(Key.PAGE_DOWN, Key.PAGE_UP).selected == "default/c0"
    assert pressed(Key.END).selected == "default/c9"
    assert pressed(Key.END, Key.HOME).selected == "default/c0"


def test_the_selection_stays_on_its_container_when_the_rows_change_order() -> None:
    state = pressed(Key.DOWN, Key.DOWN)  # c2
    reordered = Screen(tuple(reversed(ROWS.rows)), 4)
    assert window(state, reordered) == (4, 7)
    assert press(state, Key.DOWN, reordered).selected == "default/c1"


def test_a_selection_that_is_gone_falls_back_to_the_top_row_shown() -> None:
    state = ViewState(selected="default/gone", offset=3)
    assert window(state, ROWS) == (3, 3)


def test_enter_opens_the_selected_container_and_esc_enter_or_q_go_back() -> None:
    opened = pressed(Key.DOWN, Key.ENTER)
    assert opened.detail == "default/c1"
    for key in (Key.ESCAPE, Key.ENTER, "q"):
        back = press(opened, key, ROWS)
        assert back.detail is None and not back.quit
    assert press(opened, "s", ROWS) == opened  # other keys do nothing in the detail
    assert pressed(Key.ENTER, screen=Screen((), 4)).detail is None  # no rows, nothing to open


def test_the_terminal_s_bytes_as_keys() -> None:
    assert decode_keys("q") == ["q"]
    assert decode_keys("\x1b[A\x1b[B\x1bOA\x1b[5~\x1b[6~") == [
        Key.UP, Key.DOWN, Key.UP, Key.PAGE_UP, Key.PAGE_DOWN,
    ]  # fmt: skip
    assert decode_keys("/db\r") == ["/", "d", "b", Key.ENTER]
    assert decode_keys("\x1b") == [Key.ESCAPE]
    assert decode_keys("a\x7fb\n") == ["a", Key.BACKSPACE, "b", Key.ENTER]
    assert decode_keys("\x1b[1;5Cx") == ["x"]  # a sequence it does not know is dropped whole
    assert decode_keys("\x03\x01") == []  # other control characters are no keys
