"""Every deliberate bug of tests/mutations.py still applies: its text is in its file exactly once. A refactor
that rewrites the mutated line leaves the mutation unable to run (two did, unnoticed, when binding and the
relocation reader began building facts with ``_make``); this says so at once, not at the next full
mutation run. Running the mutations themselves is `python3 tests/mutations.py` (minutes)."""

from __future__ import annotations

import mutations
import pytest


@pytest.mark.parametrize("mutation", mutations.MUTATIONS, ids=lambda mutation: mutation.name)
def test_each_mutation_still_applies(mutation: mutations.Mutation) -> None:
    text = (mutations.REPO / mutation.path).read_text()
    assert text.count(mutation.old) == 1, f"{mutation.name}: retarget it to the code that now holds the rule"
    assert mutation.new != mutation.old and mutation.tests


def test_names_are_unique_and_listed_in_mutations_md() -> None:
    names = [mutation.name for mutation in mutations.MUTATIONS]
    assert len(names) == len(set(names)) == 25
    table = (mutations.REPO / "tests" / "MUTATIONS.md").read_text()
    listed = [line for line in table.splitlines() if line.startswith("| ")]
    rows = [line for line in listed if not line.startswith(("| mutation", "| ---"))]
    assert len(rows) == len(names)
