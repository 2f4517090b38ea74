"""Each property test goes into docs/reliability.md with the number of examples it tried."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ReliabilityRecorder


@pytest.fixture(autouse=True)
def record_property(request: pytest.FixtureRequest, reliability: ReliabilityRecorder) -> Iterator[None]:
    yield
    function = request.node.function
    settings = getattr(function, "_hypothesis_internal_use_settings", None)
    examples = getattr(settings, "max_examples", None)
    what = request.node.originalname.removeprefix("test_").replace("_", " ")
    tried = f"{examples:,} generated examples" if examples else "the listed cases"
    reliability(
        "bad input (property)", what, "only the parser's own ParseError, typed results", f"{tried} tried"
    )
