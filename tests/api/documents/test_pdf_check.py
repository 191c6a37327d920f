"""The bounded PDF check itself: limits, killing, and recovering from a dead checker."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from api.documents import pdf_check
from api.documents.pdf_check import Outcome
from tests.api.documents.pdfs import exponential_page_tree, page_tree, pdf


@pytest.fixture(scope="module")
def slow_pdf(tmp_path_factory):
    """A real PDF of 20,000 pages: more than a second of pypdf work."""
    path = tmp_path_factory.mktemp("slow") / "slow.pdf"
    path.write_bytes(page_tree(20_000))
    return path


@pytest.fixture(scope="module")
def heavy_pdf(tmp_path_factory):
    """A real PDF of 90,000 pages: well over 150 MB of memory to read."""
    path = tmp_path_factory.mktemp("heavy") / "heavy.pdf"
    path.write_bytes(page_tree(90_000))
    return path


def test_a_good_pdf_is_ok_with_its_page_count(tmp_path):
    path = tmp_path / "good.pdf"
    path.write_bytes(pdf(pages=7))

    assert pdf_check.check_pdf(path) == pdf_check.PdfCheck(Outcome.ok, 7)


def test_the_checker_kills_a_check_at_the_time_limit_and_leaves_no_process(slow_pdf):
    pdf_check.check_pdf(slow_pdf, seconds=0.5)  # make sure the checker is running
    checker = psutil.Process(pdf_check.checker_pid())

    started = time.monotonic()
    result = pdf_check.check_pdf(slow_pdf, seconds=0.5)
    elapsed = time.monotonic() - started

    assert result.outcome is Outcome.too_complex
    assert elapsed < 2.5
    time.sleep(0.2)
    assert [c for c in checker.children() if c.status() != psutil.STATUS_ZOMBIE] == []


def test_the_same_file_passes_when_the_limits_allow_it(slow_pdf):
    assert pdf_check.check_pdf(slow_pdf, seconds=60) == pdf_check.PdfCheck(Outcome.ok, 20_000)


def test_the_memory_limit_stops_a_check_that_needs_too_much(heavy_pdf):
    result = pdf_check.check_pdf(heavy_pdf, memory_bytes=150 * 1024 * 1024)

    assert result.outcome is Outcome.too_complex


def test_pypdf_limits_count_as_too_complex(tmp_path):
    path = tmp_path / "bomb.pdf"
    path.write_bytes(exponential_page_tree())

    assert pdf_check.check_pdf(path).outcome is Outcome.too_complex


def test_the_api_process_never_parses(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("parsed in the API process")

    monkeypatch.setattr(pdf_check, "inspect", forbidden)
    monkeypatch.setattr(pdf_check, "inspect_stream", forbidden)
    path = tmp_path / "good.pdf"
    path.write_bytes(pdf())

    assert pdf_check.check_pdf(path).outcome is Outcome.ok


def test_a_dead_checker_is_replaced(tmp_path):
    path = tmp_path / "good.pdf"
    path.write_bytes(pdf())
    pdf_check.check_pdf(path)
    old = pdf_check.checker_pid()

    os.killpg(old, signal.SIGKILL)
    time.sleep(0.2)
    results = [pdf_check.check_pdf(path).outcome for _ in range(2)]

    assert results[-1] is Outcome.ok
    assert set(results) <= {Outcome.ok, Outcome.unavailable}
    assert pdf_check.checker_pid() not in (None, old)
