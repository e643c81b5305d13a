"""Tamper-evident evidence of finished sessions, as plain functions.

No ``odoo`` import: the models gather what a session proves as plain values
and these functions turn it into a chained hash, the way posted journal
entries are secured (a SHA-256 over declared fields, chained to the previous
record's hash).
"""

import hashlib
import json

HASH_VERSION = 1


def canonical(payload):
    """A stable text for ``payload`` (dicts, lists, str, int, bool, None)."""
    return json.dumps(
        payload, sort_keys=True, ensure_ascii=True, indent=None, separators=(",", ":")
    )


def text_digest(texts):
    """Digest of the clinical free text of a session (in a fixed order).

    Kept apart from the chained hash so that anonymising the text after the
    retention period does not break the chain; the digest itself is covered
    by the chained hash.
    """
    return hashlib.sha256(canonical(list(texts)).encode()).hexdigest()


def chain_hash(previous_hash, payload):
    """``$<version>$<sha256>`` of ``payload`` chained to ``previous_hash``."""
    previous = previous_hash or ""
    if previous.startswith("$"):
        previous = previous.split("$")[2]
    digest = hashlib.sha256((previous + canonical(payload)).encode()).hexdigest()
    return f"${HASH_VERSION}${digest}"


def broken_links(chain):
    """The ids of the broken links of one company's chain.

    :param chain: ``(id, stored_hash, stored_previous_hash, payload)`` tuples
        in chain order (evidence sequence)
    :return: ids whose stored hash no longer matches their payload chained to
        the stored hash of the link before, or whose stored previous hash is
        not the hash of the link before (a link removed or reordered)
    """
    broken = []
    previous = None
    for record_id, stored, stored_previous, payload in chain:
        expected_previous = previous or False
        if (stored_previous or False) != expected_previous or stored != chain_hash(
            expected_previous, payload
        ):
            broken.append(record_id)
        previous = stored
    return broken
