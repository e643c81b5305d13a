"""Tamper-evident evidence of finished sessions, as plain functions.

No ``odoo`` import: the models gather what a session proves as plain values
and these functions turn it into a chained hash, the way posted journal
entries are secured (a SHA-256 over declared fields, chained to the previous
record's hash, with the version of the scheme in the hash:
``$<version>$<sha256>``).

One scheme, versioned: what each version covers is declared once, in the
model (``_get_evidence_hash_fields``); a record keeps verifying under the
version it was hashed with, and a version never goes down along a chain.
"""

import hashlib
import json

# The version new links are hashed with. 1: the structured record, its
# consent's giving, the steps' and check-ins' outcome. 2: also the consent as
# agreed (text, protocols, state and withdrawal as of the session's end), the
# steps as copied (instructions), the planned times, the company of every line.
# 3: also the body regions (steps' planned and touched regions, the consent's
# sensitive regions, the check-ins' regions) and the health intake the start
# relied on with its clearance. 4: the same facts as 3, with the lines of a
# one2many section written as columns (``{"columns": [field, ...], "rows":
# [[value, ...], ...]}``) rather than one object per line: the field names
# are not repeated for every line, which made the serialisation most of the
# integrity check's time (a link holds about 13 lines, 170 values).
MAX_HASH_VERSION = 4
HASH_VERSION = MAX_HASH_VERSION
# From this version on, one2many sections are hashed as columns.
COLUMNAR_LINES_VERSION = 4


# json.dumps with these arguments, without building an encoder per call (the
# integrity check serialises two texts per link).
_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, ensure_ascii=True, indent=None, separators=(",", ":")
)


def canonical(payload):
    """A stable text for ``payload`` (dicts, lists, str, int, bool, None):
    ``json.dumps`` with sorted keys, ASCII only, no spaces."""
    return _CANONICAL_ENCODER.encode(payload)


def text_digest(texts):
    """Digest of the clinical free text of a session (in a fixed order).

    Kept apart from the chained hash so that anonymising the text after the
    retention period does not break the chain; the digest itself is covered
    by the chained hash.
    """
    return hashlib.sha256(canonical(list(texts)).encode()).hexdigest()


def line_records(section):
    """The lines of a one2many section as ``[{field: value}, ...]``, whether
    it was hashed as one object per line (versions 1-3) or as columns
    (version 4 on); anything else (a record's section, false) as given."""
    if isinstance(section, dict) and set(section) == {"columns", "rows"}:
        columns = section["columns"]
        return [dict(zip(columns, row, strict=True)) for row in section["rows"]]
    return section


def hash_version(stored_hash):
    """The version a stored ``$<version>$<sha256>`` hash was made with
    (``None`` when it is not of that form)."""
    parts = (stored_hash or "").split("$")
    if len(parts) == 3 and not parts[0] and parts[1].isdigit():
        return int(parts[1])
    return None


def chain_hash(previous_hash, payload, version=1):
    """``$<version>$<sha256>`` of ``payload`` chained to ``previous_hash``."""
    previous = previous_hash or ""
    if previous.startswith("$"):
        previous = previous.split("$")[2]
    digest = hashlib.sha256((previous + canonical(payload)).encode()).hexdigest()
    return f"${version}${digest}"


def consent_as_of(state, withdrawn_at, end):
    """The consent's ``(state, withdrawn_at)`` as they were when the session
    ended at ``end``: a withdrawal stamped at or after the end happened
    later (the session is not changed by it) and is left out.

    Dates are compared as given (ISO strings or datetimes, not mixed).
    """
    if state == "withdrawn" and withdrawn_at and end and withdrawn_at >= end:
        return "given", False
    return state, withdrawn_at or False


def broken_links(chain, previous_hash=False, previous_version=0):
    """The ids of the broken links of one company's chain.

    :param chain: ``(id, stored_hash, stored_previous_hash, payload)`` or
        ``(id, stored_hash, stored_previous_hash, payload, version)`` tuples
        in chain order (evidence sequence); without a version, the one the
        stored hash names (else 1)
    :return: ids whose stored hash no longer matches their payload chained to
        the stored hash of the link before, whose stored previous hash is
        not the hash of the link before (a link removed or reordered), or
        whose version is lower than the link before's (a downgrade to a
        version covering less)
    :param previous_hash: stored hash of the link before ``chain`` (when
        ``chain`` is a part of the company's chain, checked in batches)
    :param previous_version: its version
    """
    broken = []
    previous = previous_hash or None
    for record_id, stored, stored_previous, payload, *rest in chain:
        version = rest[0] if rest else (hash_version(stored) or 1)
        expected_previous = previous or False
        if (
            (stored_previous or False) != expected_previous
            or version < previous_version
            or stored != chain_hash(expected_previous, payload, version)
        ):
            broken.append(record_id)
        previous = stored
        previous_version = max(previous_version, version)
    return broken
