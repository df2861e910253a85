"""Break elfdeps on purpose and watch the suite go red (STYLE.md §17; issue 9's done-when).

Each mutation replaces one exact piece of a package module, runs the tests named for it, expects at
least one failure, and restores the file whatever happens. Run from the repository root:

    python3 tests/mutations.py            # every mutation
    python3 tests/mutations.py NAME...    # some of them

It prints, per mutation, the tests that went red (or SURVIVED when none did) and exits 1 if any
mutation survived. tests/MUTATIONS.md records the last run.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments: the tests that must catch it


MUTATIONS = (
    Mutation(
        "search-takes-the-second-candidate",
        "elfdeps/loader/search.py",
        """                for directory in directories:
                    hit = self._probe_directory(directory, text, via, owner_name, attempts, preload)
                    if hit is not None:
                        return finish(hit[0], via, owner_name, hit[1])""",
        """                skipped = False
                for directory in directories:
                    hit = self._probe_directory(directory, text, via, owner_name, attempts, preload)
                    if hit is not None and not skipped:
                        skipped = True
                        continue
                    if hit is not None:
                        return finish(hit[0], via, owner_name, hit[1])""",
        ("tests/test_loader_scenarios.py",),
    ),
    Mutation(
        "rpath-chain-dropped",
        "elfdeps/loader/search.py",
        "                chain = chain.loader\n",
        "                chain = None  # only the requester's own RPATH\n",
        ("tests/test_loader_scenarios.py",),
    ),
    Mutation(
        "strong-definition-beats-earlier-weak",
        "elfdeps/binding.py",
        """            if defined:
                if winner is None:
                    winner = index
                    if not collect_others:
                        break
                elif index != winner:
                    others.append(index)""",
        """            if defined:
                weak = all(table.symbol(i).bind == C.STB_WEAK for i in table.find(reference.name))
                if winner is None:
                    winner, winner_weak = index, weak
                elif winner_weak and not weak:  # angr/cle's rule: a later strong definition wins
                    others.append(winner)
                    winner, winner_weak = index, False
                elif index != winner:
                    others.append(index)""",
        ("tests/test_audit_rules.py", "tests/test_binding_differential.py", "-k", "weak"),
    ),
    Mutation(
        "binding-memo-forgets-the-version",
        "elfdeps/binding.py",
        "            key = (elf.path, name, required, plt)",
        "            key = (elf.path, name, None, plt)",
        ("tests/test_binding_cache.py",),
    ),
    Mutation(
        "binding-memo-forgets-the-relocation-class",
        "elfdeps/binding.py",
        "            key = (elf.path, name, required, plt)",
        "            key = (elf.path, name, required, True)",
        ("tests/test_loader_scenarios.py", "tests/test_audit_rules.py", "tests/test_binding_differential.py"),
    ),
    Mutation(
        "versym-hidden-bit-ignored",
        "elfdeps/elf/symbols.py",
        "            versym >= 0 and bool(versym & C.VERSYM_HIDDEN),\n",
        "            False,  # the hidden bit ignored\n",
        ("tests/test_binding_differential.py", "tests/test_reader_differential.py", "-k", "scenario or fixture"),
    ),
    Mutation(
        "ld-so-placed-last-in-load-order",
        "elfdeps/loader/graph.py",
        "            order.insert(order.index(predecessor) + 1, self.rtld)",
        "            order.append(self.rtld)",
        ("tests/test_loader_scenarios.py", "-k", "list_matches"),
    ),
    Mutation(
        "i386-tls-descriptor-as-got32x",
        "elfdeps/elf/relocations.py",
        "frozenset({7, 14, 35, 36, 37, 41})",
        "frozenset({7, 14, 35, 36, 37, 43})",
        ("tests/test_reader_lookup.py",),
    ),
    Mutation(
        "aarch64-tls-not-plt-class",
        "elfdeps/elf/relocations.py",
        "frozenset({1026, 1028, 1029, 1030, 1031})",
        "frozenset({1026})",
        ("tests/test_reader_lookup.py",),
    ),
    Mutation(
        "lazy-for-every-plt-table-entry",
        "elfdeps/elf/relocations.py",
        "SymbolReference._make((symbol, kind, in_plt and rtype == jump_slot))",
        "SymbolReference._make((symbol, kind, in_plt))",
        ("tests/test_reader_lookup.py",),
    ),
    Mutation(
        "unknown-machine-treated-as-data",
        "elfdeps/elf/relocations.py",
        "                kind = RelocClass.UNKNOWN\n",
        "                kind = RelocClass.DATA\n",
        ("tests/test_reader_lookup.py", "-k", "unknown"),
    ),
    Mutation(
        "l-versions-keep-the-base-version",
        "elfdeps/elf/lookup.py",
        "                if not definition.is_base:  # dl-version.c: the base version never matches a symbol\n",
        "                if True:\n",
        ("tests/test_reader_differential.py", "-k", "fixture"),
    ),
    Mutation(
        "definition-names-beyond-the-hash-table",
        "elfdeps/elf/lookup.py",
        "                first = self._gnu[1] if self._gnu is not None else 0",
        "                first = 0",
        ("tests/test_reader_differential.py", "-k", "fixture"),
    ),
    Mutation(
        "bloom-filter-second-bit-misplaced",
        "elfdeps/elf/lookup.py",
        "        mask = (1 << (gnu % bits)) | (1 << ((gnu >> shift) % bits))\n",
        "        mask = (1 << (gnu % bits)) | (1 << ((gnu >> (shift + 1)) % bits))\n",
        ("tests/test_binding_differential.py", "tests/test_rust_audit.py"),
    ),
    Mutation(
        "scope-prepare-drops-the-last-object",
        "elfdeps/binding.py",
        "        for member in self.members:\n            table = member[2]\n",
        "        for member in self.members[:-1]:\n            table = member[2]\n",
        ("tests/test_binding_modes.py",),
    ),
    Mutation(
        "helper-bindings-appended-last",
        "elfdeps/binding.py",
        "                    bindings = [*own_bindings[:split], *front, *tail, *own_bindings[split:]]\n",
        "                    bindings = [*own_bindings, *front, *tail]\n",
        ("tests/test_binding_helper.py",),
    ),
    Mutation(
        "helper-answer-never-used",
        "elfdeps/binding.py",
        "    make, classes = Binding._make, _RELOC_CLASSES\n",
        "    return None  # every answer refused: everything bound again here\n",
        ("tests/test_binding_helper.py",),
    ),
    Mutation(
        "take-over-keeps-what-the-helper-also-bound",
        "elfdeps/binding.py",
        "                    tail = tail[sum(made[: stop - start]) :]\n",
        "                    tail = tail[sum(made[: stop - start]) - 1 :] if stop > start else tail\n",
        ("tests/test_binding_helper.py",),
    ),
    Mutation(
        "helper-kept-despite-an-unreadable-library",
        "elfdeps/binding.py",
        "                readable = not unreadable and not self._scope.unreadable\n",
        "                readable = True\n",
        ("tests/test_binding_helper.py",),
    ),
    Mutation(
        "hwcaps-levels-worst-first",
        "elfdeps/loader/hwcaps.py",
        "    return tuple(reversed(supported))",
        "    return tuple(supported)",
        ("tests/test_loader_units.py",),
    ),
    Mutation(
        "cache-extension-taken-section-by-section",
        "elfdeps/loader/ldcache.py",
        "        if offset + size > len(data):\n            return (), None\n",
        "        if offset + size > len(data):\n            continue\n",
        ("tests/test_ld_cache.py", "-k", "truncated"),
    ),
    Mutation(
        "compat-cache-read-as-old-format",
        "elfdeps/loader/ldcache.py",
        "    if data[new_base : new_base + len(NEW_MAGIC)] == NEW_MAGIC:",
        "    if False:",
        ("tests/test_ld_cache.py",),
    ),
    Mutation(
        "phentsize-judged-after-parsing",
        "elfdeps/loader/verify.py",
        "    if e_phentsize != (56 if elf_class == 64 else 32):\n",
        "    if False:\n",
        ("tests/test_loader_scenarios.py", "-k", "phentsize"),
    ),
    Mutation(
        "inhibit-cache-ignored",
        "elfdeps/loader/environment.py",
        "    if not env.inhibit_cache:\n",
        "    if True:\n",
        ("tests/test_resolution_options.py", "tests/test_ld_cache.py", "-k", "inhibit"),
    ),
    Mutation(
        "severity-of-a-rule-drifts",
        "elfdeps/audit/rules.py",
        'Rule("rpath-deprecated", Severity.INFO,',
        'Rule("rpath-deprecated", Severity.WARNING,',
        ("tests/test_audit_rules.py", "-k", "registry"),
    ),
)


def run(mutation: Mutation) -> list[str]:
    """The tests that failed with ``mutation`` applied (the file is restored in any case)."""
    path = REPO / mutation.path
    original = path.read_text()
    if original.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: the text to replace is not in {mutation.path} exactly once")
    try:
        path.write_text(original.replace(mutation.old, mutation.new))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-n", "2", *mutation.tests],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original)
    return [line.split(" ")[1] for line in proc.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]


def main(names: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    survived = 0
    for mutation in chosen:
        failed = run(mutation)
        survived += not failed
        print(f"{mutation.name}: {'SURVIVED' if not failed else ', '.join(failed[:3])}", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
