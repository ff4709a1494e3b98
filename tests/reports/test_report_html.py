"""The HTML page: its structure (parsed with html.parser), self-containment, escaping, and Chromium."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from asr_conformance.conformance.model import Response
from asr_conformance.conformance.reports.html import render
from asr_conformance.conformance.reports.tally import tally_events
from report_events import CHECKS, sample_events


class Page(HTMLParser):
    """Collects what the tests look at: sections, table rows, classes, links, text per element id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.text_in: dict[str, list[str]] = {}  # element id -> text inside it
        self.rows: dict[str, list[list[str]]] = {}  # table class -> rows of cell texts
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag not in ("meta", "br", "img", "link", "input"):
            self.stack.append((tag, a))
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            table = next((a.get("class", "") for t, a in reversed(self.stack) if t == "table"), "")
            self.rows.setdefault(table, []).append(self._row)
            self._row = None
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for _, a in self.stack:
            if "id" in a:
                self.text_in.setdefault(a["id"], []).append(data)

    def text(self, element_id: str) -> str:
        return " ".join("".join(self.text_in.get(element_id, [])).split())

    def with_class(self, cls: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if cls in a.get("class", "").split()]


@pytest.fixture(scope="module")
def page_text() -> str:
    return render(tally_events(sample_events()))


def test_sections_in_reading_order(page_text: str) -> None:
    assert Page(page_text).sections == ["checks", "failures", "coverage", "docs"]


def test_checks_by_outcomes_matrix(page_text: str) -> None:
    page = Page(page_text)
    header, *rows = page.rows["matrix"]
    assert header == ["check", "severity", "pass", "fail", "error", "skip", "precondition", "verdict"]
    by_id = {row[0].split()[0]: row for row in rows}
    assert set(by_id) == set(CHECKS)
    assert by_id["timestamps_numeric"][2:8] == ["0", "1", "0", "0", "0", "FAIL"]
    assert by_id["not_a_server_error"][-1] == "ERROR"
    assert by_id["loading_shape"][-1].startswith("NOT EXERCISED")
    assert by_id["status_code_conformance"][-1] == "PASS"
    # failing checks first, so a reader sees them without scrolling
    assert [r[-1] for r in rows[:4]] == ["FAIL"] * 4


def test_failing_examples_carry_their_repro(page_text: str) -> None:
    page = Page(page_text)
    failing = [a["id"] for a in page.with_class("check")]
    assert failing[:4] == [
        "check-negative_data_rejection",
        "check-response_schema_conformance",
        "check-timestamps_numeric",
        "check-chunks_only_when_asked",
    ]
    text = page.text("check-timestamps_numeric")
    assert "chunk end is null" in text and "cov-0007" in text
    assert "curl -sS -X POST" in text and "--data-binary @case-cov-0007.wav" in text
    assert "asr-conformance replay cov-0007" in text and "--target URL" not in text
    assert "--target http://127.0.0.1:8080/models/openai/whisper-large-v3" in text
    assert '"timestamp": [0.0, null]' in text  # the response body is shown
    assert "connection reset by peer" in page.text("check-not_a_server_error")
    assert len(page.with_class("curl")) == 5


def test_banner_states_the_verdict_and_stamp(page_text: str) -> None:
    page = Page(page_text)
    assert page.with_class("banner")[0]["class"] == "banner failing"
    assert "4 of 7 checks fail" in page_text
    for value in ("0.1.0", "served", "242f4a1e", "quick", "1234"):
        assert f"<dd>{value}</dd>" in page_text or f"asr-conformance {value}" in page_text
    passing = Page(render(tally_events(sample_events(failing=False))))
    assert passing.with_class("banner")[0]["class"] == "banner passing"


def test_self_contained(page_text: str) -> None:
    page = Page(page_text)
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe")]
    hrefs = [a["href"] for t, a in page.tags if t == "a"]
    assert hrefs and all(h.startswith("#") for h in hrefs)
    anchors = {a["id"] for _, a in page.tags if "id" in a}
    assert {h[1:] for h in hrefs} <= anchors  # every in-page link lands somewhere
    assert "url(" not in page_text and "@import" not in page_text


def test_run_data_is_escaped() -> None:
    events = sample_events()
    case = next(e for e in events if getattr(e, "case_id", "") == "cov-0007")
    hostile = Response(
        200, (("content-type", "application/json"),), b'{"text": "<script>alert(1)</script>"}', 0.1
    )
    evil = replace(case, exchanges=(replace(case.exchanges[0], response=hostile),), description="<b>x</b>")
    text = render(tally_events([evil if e is case else e for e in events]))
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>x</b>" not in text


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("ASR_CONFORMANCE_REQUIRE_TOOLS"):
        pytest.fail("chromium is required (ASR_CONFORMANCE_REQUIRE_TOOLS is set) but not installed")
    return found


@pytest.mark.slow
def test_renders_in_headless_chromium(tmp_path: Path, page_text: str) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed")
    html_file = tmp_path / "report.html"
    html_file.write_text(page_text, encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            html_file.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 50_000  # a page of text and colour, not a blank sheet (blank is ~8 KB)
