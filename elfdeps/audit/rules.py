"""The registry of audit rules: ids (a contract, DESIGN.md §3.4), default severities, one-line help.

Findings are facts produced by the rule modules; severities may be raised or lowered per finding
where the rule table says so (e.g. a weak version only warns).
"""

from __future__ import annotations

from elfdeps.facts import Fact, Symbolic

__all__ = ["RULES", "Finding", "Rule", "Severity"]


class Severity(Symbolic):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


class Rule(Fact):
    id: str
    severity: Severity
    summary: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("missing-library", Severity.ERROR, "a DT_NEEDED the loader cannot find"),
        Rule("missing-symbol", Severity.ERROR, "a non-weak undefined symbol that no object in scope defines"),
        Rule("missing-version", Severity.ERROR, "a needed symbol version the providing library does not define"),
        Rule("version-floor", Severity.ERROR, "a symbol version newer than the --max-version floor"),
        Rule(
            "incompatible-library",
            Severity.WARNING,
            "a file of the right name but wrong class/machine was skipped",
        ),
        Rule(
            "shadowed-library",
            Severity.WARNING,
            "an already-loaded library is used, not the one this search finds",
        ),
        Rule(
            "interposed-symbol",
            Severity.INFO,
            "a symbol defined by several loaded objects; the first one wins",
        ),
        Rule("unused-dependency", Severity.INFO, "a DT_NEEDED from which nothing is bound"),
        Rule(
            "underlinked-symbol",
            Severity.WARNING,
            "a symbol bound to an object outside the referrer's own needs",
        ),
        Rule("rpath-relative", Severity.ERROR, "an RPATH/RUNPATH entry relative to the current directory"),
        Rule(
            "rpath-absolute",
            Severity.WARNING,
            "a non-relocatable RPATH/RUNPATH entry (build tree, home, toolchain)",
        ),
        Rule("rpath-nonexistent", Severity.WARNING, "an RPATH/RUNPATH entry that does not exist"),
        Rule("rpath-deprecated", Severity.INFO, "DT_RPATH used where DT_RUNPATH is meant"),
        Rule("needs-environment", Severity.WARNING, "resolves only thanks to LD_LIBRARY_PATH or a preload"),
        Rule("malformed-elf", Severity.ERROR, "a file that looks like ELF but cannot be read"),
        Rule("loader-error", Severity.ERROR, "the loader would stop with a fatal error"),
    )
}


class Finding(Fact):
    """One problem, attributed to the object that has it (DESIGN.md §3.3)."""

    rule: str
    severity: Severity
    object: str  # path of the object with the problem
    message: str
    symbol: str | None = None
    version: str | None = None
    library: str | None = None
    related: tuple[str, ...] = ()
    hint: str | None = None
    entry: str | None = None  # the audited file whose emulated start showed it
    subject: str | None = None  # what else tells two findings of one rule apart (an RPATH entry)
    folded: int = 0  # findings of another rule this one explains and stands for (elfdeps.audit.folding)

    @property
    def key(self) -> tuple[str, str, str | None, str | None, str | None, str | None]:
        """What identifies a finding across runs (for --baseline): not the wording, not the entry."""
        return (self.rule, self.object, self.symbol, self.version, self.library, self.subject)
