"""Unit and property tests of the evidence chain (tools/evidence.py), without Odoo."""

import importlib.util
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

PATH = Path(__file__).resolve().parent.parent / "tools" / "evidence.py"


def _load():
    name = "spa_evidence"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


E = _load()

payloads = st.dictionaries(
    st.text(max_size=5),
    st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none()),
    max_size=4,
)


def build_chain(items):
    chain, previous = [], False
    for index, payload in enumerate(items):
        digest = E.chain_hash(previous, payload)
        chain.append((index, digest, previous, payload))
        previous = digest
    return chain


def test_hash_is_versioned_and_stable():
    digest = E.chain_hash(False, {"b": 1, "a": [1, "x"]})
    assert digest.startswith("$1$") and len(digest) == 3 + 64
    assert digest == E.chain_hash("", {"a": [1, "x"], "b": 1})


def test_hash_depends_on_the_previous_link():
    assert E.chain_hash("$1$aa", {"a": 1}) != E.chain_hash("$1$bb", {"a": 1})
    # the version prefix of the previous hash is not part of the chain
    assert E.chain_hash("$1$aa", {"a": 1}) == E.chain_hash("aa", {"a": 1})


def test_text_digest_changes_with_the_text():
    assert E.text_digest([["note", "ok"]]) != E.text_digest([["note", "ok."]])


@given(st.lists(payloads, max_size=6))
def test_an_untouched_chain_verifies(items):
    assert E.broken_links(build_chain(items)) == []


@given(st.lists(payloads, min_size=2, max_size=6), st.data())
def test_a_changed_payload_is_found_and_only_it(items, data):
    chain = build_chain(items)
    index = data.draw(st.integers(0, len(chain) - 1))
    record_id, stored, previous, payload = chain[index]
    changed = dict(payload, __tampered__=True)
    chain[index] = (record_id, stored, previous, changed)
    assert E.broken_links(chain) == [record_id]


@given(st.lists(payloads, min_size=3, max_size=6), st.data())
def test_a_removed_link_breaks_the_next_one(items, data):
    chain = build_chain(items)
    index = data.draw(st.integers(0, len(chain) - 2))
    removed = chain[:index] + chain[index + 1 :]
    assert E.broken_links(removed) == [chain[index + 1][0]]


def test_the_version_is_in_the_hash_and_read_back():
    digest = E.chain_hash(False, {"a": 1}, E.MAX_HASH_VERSION)
    assert E.hash_version(digest) == E.MAX_HASH_VERSION
    assert digest != E.chain_hash(False, {"a": 1}, 1)
    assert E.hash_version("forged") is None


def build_versioned_chain(items, versions):
    chain, previous = [], False
    for index, (payload, version) in enumerate(zip(items, versions, strict=True)):
        digest = E.chain_hash(previous, payload, version)
        chain.append((index, digest, previous, payload, version))
        previous = digest
    return chain


def test_a_version_never_goes_down_along_the_chain():
    items = [{"n": n} for n in range(4)]
    assert E.broken_links(build_versioned_chain(items, [1, 1, 2, 2])) == []
    # a link re-hashed with an older version covering less is found
    assert E.broken_links(build_versioned_chain(items, [1, 2, 1, 2])) == [2]


@given(st.lists(payloads, min_size=2, max_size=8), st.data())
def test_a_chain_checked_in_batches_is_checked_as_a_whole(items, data):
    chain = build_chain(items)
    cut = data.draw(st.integers(1, len(chain) - 1))
    head, tail = chain[:cut], chain[cut:]
    assert E.broken_links(head) == []
    assert E.broken_links(tail, head[-1][1], 1) == []
    # the batch after a changed link still sees the link before it
    assert E.broken_links(tail, "$1$" + "0" * 64, 1) == [tail[0][0]]


def test_a_withdrawal_after_the_end_is_left_out():
    end = "2026-03-02 10:00:00"
    assert E.consent_as_of("withdrawn", "2026-03-03 09:00:00", end) == ("given", False)
    assert E.consent_as_of("withdrawn", end, end) == ("given", False)
    before = "2026-03-02 09:30:00"
    assert E.consent_as_of("withdrawn", before, end) == ("withdrawn", before)
    assert E.consent_as_of("given", False, end) == ("given", False)
    assert E.consent_as_of("draft", None, end) == ("draft", False)
