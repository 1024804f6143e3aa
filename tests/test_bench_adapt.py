"""The domain-adaptation bench's SST2 source: whole sentences recovered from the phrase file."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest


@pytest.fixture(scope="module")
def bench_adapt():
    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / "bench_adapt.py"
    spec = importlib.util.spec_from_file_location("bench_adapt_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_maximal_phrases_keeps_sentences_and_drops_their_spans(bench_adapt, shared_data):
    lines = (shared_data / "senteval" / "SST2" / "sentiment-train").read_text(encoding="utf-8").splitlines()
    phrases = [line.rsplit("\t", 1)[0].strip() for line in lines if line.strip()]
    kept = bench_adapt.maximal_phrases(phrases)
    kept_text = {phrases[i] for i in kept}
    assert len(phrases) == 67349 and len(kept) == 6885
    # line 188 is a whole review sentence; line 2434 is its second clause, a node of its parse tree
    assert phrases[187].startswith("the story of trouble every day") and phrases[187] in kept_text
    assert phrases[2433] in phrases[187] and phrases[2433] not in kept_text
    # no kept phrase is a token span of another kept one (checked on the longest kept sentences)
    longest = sorted(kept_text, key=len)[-300:]
    for phrase in sorted(kept_text, key=len)[:300]:
        assert not any(f" {phrase} " in f" {other} " for other in longest if other != phrase)


def test_sst2_sources(bench_adapt):
    small, y_small = bench_adapt.senteval_lines("SST2")
    full, y_full = bench_adapt.senteval_lines("SST2-all")
    assert len(small) == len(y_small) == 2693
    assert len(full) == len(y_full) == 6885 + 2693
    assert full[-len(small):] == small and set(y_full) == {0, 1}
