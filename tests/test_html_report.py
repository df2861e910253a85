"""The HTML report of `elfdeps graph -o report.html` (issue 7 part 3) in a real headless Chromium
(Debian's, driven by playwright; scripts/test installs both): opened from a file:// URL it requests
nothing but itself and logs no error; a click on a node shows how it was found, who needs it and its
findings, and highlights exactly the edges of every chain from the analysed file to it; the search
box finds nodes; wheel and drag move the view; hostile names stay text. Screenshots go to the test's
tmp directory and to .shots/ in the repository (git-ignored) to be looked at.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graph_support import SHOTS, chromium, elfdeps, parse_dot

from elfdeps.render.printable import shown as printable
from fixtures import build
from fixtures.graph_scenarios import HOSTILE, HOSTILE_NAMES, build_rust_picture, why_by_name


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        yield context


class Report:
    """One report opened in a fresh page, with what the page logged and requested."""

    def __init__(self, browser: Any, program: Path, directory: Path, *options: str) -> None:
        self.path = directory / "report.html"
        code, _out, err = elfdeps("graph", "--no-env", str(program), *options, "-o", str(self.path))
        assert err == "" and code in (0, 1)  # the exit code is tested with the DOT output
        _code, dot, _err = elfdeps("graph", "--no-env", str(program), *options)
        self.dot = parse_dot(dot)
        self.messages: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page()
        self.page.on("console", lambda message: self.messages.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", self._dismiss)
        self.url = self.path.resolve().as_uri()
        self.page.goto(self.url)

    def _dismiss(self, dialog: Any) -> None:
        """A dialog is recorded (assert_clean fails on it) and dismissed, so the page goes on."""
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def node_id(self, label: str) -> str:
        return next(node_id for node_id, text in self.dot.labels.items() if text == label)

    def click(self, label: str) -> None:
        self.page.click(f"#{self.node_id(label)}")

    def highlighted_edges(self) -> set[tuple[str, str]]:
        ids = self.page.eval_on_selector_all("g.edge.hl", "els => els.map(e => e.id)")
        by_id = {edge_id: (source, target) for edge_id, source, target in self.dot.edges}
        return {(self.dot.labels[by_id[i][0]], self.dot.labels[by_id[i][1]]) for i in ids}

    def details(self) -> str:
        return str(self.page.inner_text("#details"))

    def section(self, key: str) -> list[str]:
        """The items of one section of the details panel."""
        return list(
            self.page.eval_on_selector_all(f'#details [data-section="{key}"] li', "els => els.map(e => e.innerText)")
        )

    def shot(self, tmp_path: Path, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        self.page.screenshot(path=str(path))
        SHOTS.mkdir(exist_ok=True)
        shutil.copyfile(path, SHOTS / f"{name}.png")
        return path

    def assert_clean(self) -> None:
        assert self.messages == []
        assert self.requests == [self.url]  # nothing fetched: no network, no other file
        assert self.dialogs == []


def _rules(items: list[str]) -> list[tuple[str, ...]]:
    """(severity, rule) of each finding item ("error" badge, then the rule, then the message)."""
    return [re.match(r"(error|warning|info)\s*([a-z-]+):", item).groups() for item in items]  # type: ignore[union-attr]


def _diamond() -> Path:
    scenario = why_by_name("why_diamond_all_chains")
    return build(scenario.shape, scenario.recipe) / "main"


def test_click_shows_details_and_highlights_every_chain(browser: Any, tmp_path: Path) -> None:
    report = Report(browser, _diamond(), tmp_path)
    assert report.page.title() == f"elfdeps graph: {_diamond()}"
    report.click("libZ.so")
    details = report.details()
    assert details.splitlines()[0] == "libZ.so"
    assert "found by\nrunpath" in details
    needed_by = report.section("needed-by")
    assert needed_by == ["libE.so", "libF.so"]
    assert report.highlighted_edges() == {
        ("main", "libA.so"), ("main", "libB.so"), ("libA.so", "libD.so"), ("libB.so", "libD.so"),
        ("libD.so", "libE.so"), ("libD.so", "libF.so"), ("libE.so", "libZ.so"), ("libF.so", "libZ.so"),
    }  # fmt: skip
    highlighted_nodes = report.page.eval_on_selector_all("g.node.hl", "els => els.map(e => e.id)")
    assert {report.dot.labels[i] for i in highlighted_nodes} == {
        "main", "libA.so", "libB.so", "libD.so", "libE.so", "libF.so", "libZ.so"
    }  # fmt: skip
    report.shot(tmp_path, "diamond-libZ")
    report.click("libE.so")  # another node: the marks move
    assert report.highlighted_edges() == {
        ("main", "libA.so"), ("main", "libB.so"), ("libA.so", "libD.so"), ("libB.so", "libD.so"), ("libD.so", "libE.so")
    }  # fmt: skip
    report.page.mouse.click(5, 120)  # the background: back to the overview
    assert report.page.eval_on_selector_all("g.hl", "els => els.length") == 0
    assert "OBJECTS WITH PROBLEMS" in report.details()
    report.assert_clean()


def test_search_box_finds_nodes(browser: Any, tmp_path: Path) -> None:
    report = Report(browser, _diamond(), tmp_path)
    report.page.fill("#search", "libF")
    assert report.page.inner_text("#search-count") == "1 match"
    assert report.page.eval_on_selector_all("g.node.match", "els => els.map(e => e.id)") == [report.node_id("libF.so")]
    report.page.press("#search", "Enter")
    assert report.details().splitlines()[0] == "libF.so"
    report.page.fill("#search", ".so")
    assert report.page.inner_text("#search-count") == "8 matches"  # libA B D E F Z, libc, ld-linux
    report.page.press("#search", "Escape")
    assert report.page.inner_text("#search-count") == ""
    report.assert_clean()


def test_wheel_and_drag_move_the_view(browser: Any, tmp_path: Path) -> None:
    report = Report(browser, _diamond(), tmp_path)

    def view_box() -> list[float]:
        return [float(v) for v in report.page.get_attribute("#viewport svg", "viewBox").split()]

    before = view_box()
    box = report.page.locator("#viewport").bounding_box()
    report.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    report.page.mouse.wheel(0, -400)
    zoomed = view_box()
    assert zoomed[2] < before[2] * 0.7 and zoomed[3] < before[3] * 0.7
    report.page.mouse.down()
    report.page.mouse.move(box["x"] + box["width"] / 2 + 200, box["y"] + box["height"] / 2 + 50, steps=5)
    report.page.mouse.up()
    panned = view_box()
    assert panned[0] < zoomed[0] and panned[1] < zoomed[1] and panned[2:] == zoomed[2:]
    report.page.click("#zoom-fit")
    assert view_box() == pytest.approx(before)
    report.assert_clean()


def test_rust_picture_report(browser: Any, tmp_path: Path) -> None:
    """The README's picture as a report: the duplicated std, the missing library, the unused one."""
    program = build_rust_picture(tmp_path / "picture")
    report = Report(browser, program, tmp_path)
    overview = report.details()
    assert "app: 7 objects, 1 not found, 1 unused dependency, std in 2 objects" in overview
    # libra.so and librb.so both export their own std: audit's duplicate-crate error names libra.so
    assert report.section("problems") == ["app", "libra.so", "libgone.so"]
    report.click("libra.so")
    assert "SAME CRATE ELSEWHERE: STD" in report.details()  # h3 text is upper-cased by the stylesheet
    assert report.section("group") == ["librb.so"]
    assert "kind\nRust dylib" in report.details()
    report.shot(tmp_path, "rust-picture-libra")
    report.click("libgone.so")
    assert _rules(report.section("findings")) == [("error", "missing-library")]
    assert report.section("searched")[0] == f"{program.parent}/libgone.so [runpath of app]: absent"
    report.click("app")
    assert _rules(report.section("findings")) == [("error", "missing-library"), ("info", "unused-dependency")]
    report.shot(tmp_path, "rust-picture-missing")
    report.assert_clean()


def test_hostile_names_stay_text(browser: Any, tmp_path: Path) -> None:
    directory = build("graph_hostile_names", HOSTILE)
    report = Report(browser, directory / "main", tmp_path)
    for name in HOSTILE_NAMES:
        shown = printable(name)
        report.click(shown)
        assert report.details().splitlines()[0] == shown
    assert report.page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert report.page.evaluate("document.scripts.length") == 2  # the data block and ours
    report.shot(tmp_path, "hostile-names")
    report.assert_clean()


def test_two_hundred_library_report_is_usable(browser: Any, tmp_path: Path) -> None:
    import sys

    from graph_support import REPO

    sys.path.insert(0, str(REPO / "bench"))
    try:
        import make_tree
    finally:
        sys.path.remove(str(REPO / "bench"))
    report = Report(browser, Path(make_tree.build(200)), tmp_path)
    assert report.page.eval_on_selector_all("g.node", "els => els.length") == 205  # 204 objects, the legend
    report.click("libl4n000.so.1")
    assert len(report.highlighted_edges()) > 10
    report.shot(tmp_path, "tree-200")
    report.assert_clean()
