"""Names, byte counts and plurals as people read them."""

from __future__ import annotations

from dockermem.units import name_order


def test_names_sort_with_their_numbers_as_numbers() -> None:
    names = ["api-10", "db-1", "api-2", "api", "api-1", "shop-api-2-old", "shop-api-10"]
    assert sorted(names, key=name_order) == [
        "api", "api-1", "api-2", "api-10", "db-1", "shop-api-2-old", "shop-api-10",
    ]  # fmt: skip


def test_a_name_of_digits_only_sorts_among_the_others() -> None:
    # A number part is compared with a number, text with text: no TypeError on mixed names.
    assert sorted(["2", "10", "a", "1a"], key=name_order) == ["1a", "2", "10", "a"]
