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


def test_numbers_of_any_length_and_leading_zeros_keep_an_order() -> None:
    # Runs of digits compare without int() (a run of 5,000 digits would raise), and zero-padded
    # numbers sit beside their values in a fixed order; digits other than ASCII are text.
    long = "9" * 5000
    assert sorted([f"a-{long}", "a-10", "a-01", "a-1", "a-²"], key=name_order) == [
        "a-01", "a-1", "a-10", f"a-{long}", "a-²",
    ]  # fmt: skip
