"""The offline verifier (tools/verify_evidence.py), without Odoo: its hashes
are the server's, its Merkle proofs verify and reject what they must."""

import importlib.util
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _load(name, filename):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TOOLS / filename)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


verifier = _load("spa_verify_evidence", "verify_evidence.py")
evidence = _load("spa_evidence", "evidence.py")

payloads = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(payloads, st.sampled_from([False, "", "$2$" + "ab" * 32, "cd" * 32]))
def test_chain_hash_is_the_servers(payload, previous):
    for version in (1, 2, 3, 4):
        assert verifier.chain_hash_of_text(
            previous, verifier.canonical(payload), version
        ) == evidence.chain_hash(previous, payload, version)


line_values = st.none() | st.booleans() | st.integers() | st.text(max_size=20)


@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6, unique=True),
    st.data(),
)
def test_lines_as_columns_give_back_the_lines(columns, data):
    """Version 4 writes a section's lines as columns: the verifier and the
    server read them back as the lines they are, one object per line."""
    rows = data.draw(
        st.lists(
            st.lists(line_values, min_size=len(columns), max_size=len(columns)),
            max_size=5,
        )
    )
    lines = [dict(zip(columns, row, strict=True)) for row in rows]
    section = {"columns": columns, "rows": rows}
    assert verifier.line_records(section) == lines
    assert evidence.line_records(section) == lines
    # One object per line (versions 1-3), a record or false: as given.
    for given_as in (lines, {"id": 1}, False):
        assert verifier.line_records(given_as) == given_as
        assert evidence.line_records(given_as) == given_as


def _hashes(count):
    return [f"$2${index:064x}" for index in range(count)]


def test_every_leaf_proof_leads_to_the_root():
    for size in range(1, 40):
        hashes = _hashes(size)
        root = verifier.merkle_root(hashes)
        for index in range(size):
            path = verifier.merkle_proof(hashes, index)
            assert (
                verifier.merkle_root_from_proof(hashes[index], index, size, path)
                == root
            )


@given(st.integers(2, 33), st.data())
def test_a_wrong_leaf_index_or_path_does_not_lead_to_the_root(size, data):
    hashes = _hashes(size)
    root = verifier.merkle_root(hashes)
    index = data.draw(st.integers(0, size - 1))
    path = verifier.merkle_proof(hashes, index)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    assert verifier.merkle_root_from_proof(hashes[index], other, size, path) != root
    assert verifier.merkle_root_from_proof(hashes[other], index, size, path) != root
    if path:
        broken = list(path)
        broken[0] = "00" * 32
        assert (
            verifier.merkle_root_from_proof(hashes[index], index, size, broken) != root
        )


def test_single_leaf_and_empty_tree():
    assert verifier.merkle_root(["$2$x"]) == verifier.merkle_leaf("$2$x").hex()
    assert verifier.merkle_proof(["$2$x"], 0) == []
    assert verifier.merkle_root_from_proof("$2$x", 0, 1, []) == verifier.merkle_root(
        ["$2$x"]
    )
    assert verifier.merkle_root_from_proof("$2$x", 1, 1, []) is None


def test_not_a_bundle_is_refused():
    import pytest

    with pytest.raises(ValueError):
        verifier.verify_bundle({"format": "other"})


def test_cli_answers_2_for_what_is_not_a_bundle(tmp_path, capsys):
    path = tmp_path / "bundle.json"
    for content in (
        "not json",
        '{"format": "other"}',
        '{"format": "spa-evidence-bundle", "sessions": [1]}',
    ):
        path.write_text(content)
        assert verifier.main([str(path)]) == 2
        assert "cannot read the bundle" in capsys.readouterr().err
    path.write_text('{"format": "spa-evidence-bundle", "sessions": []}')
    assert verifier.main([str(path)]) == 1
