#!/usr/bin/env python3
"""Check a spa session evidence bundle without Odoo.

Usage::

    python3 verify_evidence.py BUNDLE.json [--tsa-ca CA.pem] [--quiet]

Needs only Python 3 (standard library) and, to check RFC 3161 timestamp
tokens, the ``openssl`` command. It imports nothing from Odoo or from the
software that made the bundle: an inspector can run this one file.

For each session it recomputes the evidence hash from the hash input the
bundle carries (the exact text the server hashed), checks the session's place
in its company's chain (the links before and after), that the HL7 FHIR
resources say what the hashed record says (outcome, check-ins and pain
levels, consent text), the Merkle inclusion proof against its anchor's root,
and the anchor: its chain head, its root over the links it covers and its
timestamp token (signed by a time-stamping authority whose certificate
chains to ``--tsa-ca``). It prints a verdict per session and exits with 0
when every session verifies, 1 when one does not, 2 when the bundle cannot
be read.

The Merkle tree is RFC 6962's (RFC 9162, section 2.1): a leaf is
``SHA-256(0x00 || evidence hash as ASCII)``, a node
``SHA-256(0x01 || left || right)``. A timestamp token covers the anchor's
root: its message imprint is ``SHA-256(root as 32 bytes)``.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUNDLE_FORMAT = "spa-evidence-bundle"
LOINC = "http://loinc.org"
PAIN_CODE = "72514-3"

# ----------------------------------------------------------------------
# Hashes: the same definitions as the server's, written out again so that
# this file stands alone.
# ----------------------------------------------------------------------


def canonical(payload):
    """The text a payload is hashed as: sorted keys, no spaces, ASCII."""
    return json.dumps(
        payload, sort_keys=True, ensure_ascii=True, indent=None, separators=(",", ":")
    )


def line_records(section):
    """The lines of a section as ``[{field: value}, ...]``: version 4 of the
    hash writes a section's lines as ``{"columns": [...], "rows": [[...]]}``,
    versions 1-3 as one object per line."""
    if isinstance(section, dict) and set(section) == {"columns", "rows"}:
        columns = section["columns"]
        return [dict(zip(columns, row, strict=True)) for row in section["rows"]]
    return section


def hash_version(stored_hash):
    parts = (stored_hash or "").split("$")
    if len(parts) == 3 and not parts[0] and parts[1].isdigit():
        return int(parts[1])
    return None


def chain_hash_of_text(previous_hash, text, version):
    """``$<version>$<sha256>`` of the canonical ``text`` chained to
    ``previous_hash``."""
    previous = previous_hash or ""
    if previous.startswith("$"):
        previous = previous.split("$")[2]
    digest = hashlib.sha256((previous + text).encode()).hexdigest()
    return f"${version}${digest}"


def _sha256(data):
    return hashlib.sha256(data).digest()


def merkle_leaf(link_hash):
    return _sha256(b"\x00" + link_hash.encode("ascii"))


def _merkle_node(left, right):
    return _sha256(b"\x01" + left + right)


def _split(size):
    """The largest power of two smaller than ``size`` (``size`` > 1)."""
    k = 1
    while k * 2 < size:
        k *= 2
    return k


def _tree_hash(leaves):
    if not leaves:
        return _sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _merkle_node(_tree_hash(leaves[:k]), _tree_hash(leaves[k:]))


def merkle_root(link_hashes):
    """Hex root of the Merkle tree over ``link_hashes`` (in chain order)."""
    return _tree_hash([merkle_leaf(h) for h in link_hashes]).hex()


def _path(index, leaves):
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return _path(index, leaves[:k]) + [_tree_hash(leaves[k:])]
    return _path(index - k, leaves[k:]) + [_tree_hash(leaves[:k])]


def merkle_proof(link_hashes, index):
    """Hex audit path of the leaf at ``index`` (RFC 6962)."""
    return [node.hex() for node in _path(index, [merkle_leaf(h) for h in link_hashes])]


def merkle_root_from_proof(link_hash, index, size, path):
    """The root ``path`` leads to from the leaf ``link_hash`` at ``index`` of a
    tree of ``size`` leaves (RFC 9162, 2.1.3.2); ``None`` when the path
    cannot belong to such a tree."""
    if not 0 <= index < size:
        return None
    fn, sn = index, size - 1
    node = merkle_leaf(link_hash)
    for sibling_hex in path:
        try:
            sibling = bytes.fromhex(sibling_hex)
        except (TypeError, ValueError):
            return None
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = _merkle_node(sibling, node)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            node = _merkle_node(node, sibling)
        fn >>= 1
        sn >>= 1
    return node.hex() if sn == 0 else None


def token_digest(root_hex):
    """The message imprint (hex SHA-256) a timestamp token over ``root_hex``
    carries."""
    return hashlib.sha256(bytes.fromhex(root_hex)).hexdigest()


# ----------------------------------------------------------------------
# Timestamp tokens, through the openssl command
# ----------------------------------------------------------------------


def check_token(token_b64, root_hex, ca_file):
    """``(ok, message)``: whether the RFC 3161 token is a valid timestamp of
    ``root_hex`` signed by an authority chaining to ``ca_file``."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None, "the openssl command is not available: token not checked"
    try:
        token = base64.b64decode(token_b64, validate=True)
    except (TypeError, ValueError):
        return False, "the timestamp token is not valid base64"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "token.der")
        with open(path, "wb") as handle:
            handle.write(token)
        info = subprocess.run(
            [openssl, "ts", "-reply", "-in", path, "-token_in", "-token_out", "-text"],
            capture_output=True,
            text=True,
            check=False,
        )
        if info.returncode:
            return False, "the timestamp token cannot be read"
        stamped_at = ""
        for line in info.stdout.splitlines():
            if line.startswith("Time stamp:"):
                stamped_at = line.split(":", 1)[1].strip()
        if not ca_file:
            return None, "timestamp token not checked (give --tsa-ca)"
        result = subprocess.run(
            [
                openssl,
                "ts",
                "-verify",
                "-digest",
                token_digest(root_hex),
                "-in",
                path,
                "-token_in",
                "-CAfile",
                ca_file,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    output = result.stdout + result.stderr
    if result.returncode == 0 and "Verification: OK" in output:
        return True, f"timestamp token valid, stamped {stamped_at}"
    if "imprint mismatch" in output:
        return False, "the timestamp token does not cover the anchor's Merkle root"
    return (
        False,
        "the timestamp token is not signed by a trusted time-stamping authority "
        "(signature or certificate check failed)",
    )


# ----------------------------------------------------------------------
# The bundle
# ----------------------------------------------------------------------


def _entries(fhir_bundle, resource_type):
    return [
        entry.get("resource") or {}
        for entry in (fhir_bundle or {}).get("entry") or []
        if (entry.get("resource") or {}).get("resourceType") == resource_type
    ]


def _check_fhir(session, facts, errors):
    """The FHIR resources say what the hashed record says."""
    fhir = session.get("fhir") or {}
    if fhir.get("resourceType") != "Bundle":
        errors.append("the FHIR Bundle is missing")
        return
    record = facts.get("session") or {}
    procedures = _entries(fhir, "Procedure")
    expected_status = {"done": "completed", "stopped": "stopped"}.get(
        record.get("state")
    )
    if len(procedures) != 1:
        errors.append("the FHIR Bundle must hold exactly one Procedure")
    elif procedures[0].get("status") != expected_status:
        errors.append(
            f"the Procedure status is {procedures[0].get('status')!r}, the hashed "
            f"record says {expected_status!r}"
        )
    checkins = line_records(facts.get("checkins")) or []
    observations = {}
    for observation in _entries(fhir, "Observation"):
        codes = [
            coding.get("code")
            for coding in (observation.get("code") or {}).get("coding") or []
            if coding.get("system") == LOINC
        ]
        if PAIN_CODE not in codes:
            continue
        for identifier in observation.get("identifier") or []:
            if identifier.get("system", "").endswith(":checkin"):
                observations[str(identifier.get("value"))] = observation
    if len(observations) != len(checkins):
        errors.append(
            f"check-ins: the hashed record has {len(checkins)}, the FHIR Bundle "
            f"has {len(observations)} pain Observations"
        )
    for checkin in checkins:
        observation = observations.get(str(checkin.get("id")))
        if observation is None:
            errors.append(f"check-in {checkin.get('id')} has no pain Observation")
            continue
        if observation.get("valueInteger") != checkin.get("pain_level"):
            errors.append(
                f"check-in {checkin.get('id')}: the Observation says pain "
                f"{observation.get('valueInteger')}, the hashed record says "
                f"{checkin.get('pain_level')}"
            )
    consent = facts.get("consent") or {}
    consents = _entries(fhir, "Consent")
    if consent and consent.get("consent_text"):
        expected = base64.b64encode(
            hashlib.sha1(consent["consent_text"].encode()).digest()
        ).decode()
        found = [
            (resource.get("sourceAttachment") or {}).get("hash")
            for resource in consents
        ]
        if expected not in found:
            errors.append(
                "the Consent's text hash does not match the consent text agreed to"
            )


def _check_chain(chain, anchors_by_id, errors_by_place, anchor_errors):
    """Continuity of one company's links and the anchors over them."""
    links = chain.get("links") or []
    company = chain.get("company") or chain.get("company_id")
    by_place = {}
    previous = None
    for link in links:
        place = link.get("sequence")
        if previous is not None:
            if place != previous.get("sequence", 0) + 1:
                errors_by_place.setdefault(place, []).append(
                    f"chain of {company} out of order: place {place} follows place "
                    f"{previous.get('sequence')}"
                )
            if (link.get("previous_hash") or False) != previous.get("hash"):
                errors_by_place.setdefault(place, []).append(
                    f"chain of {company} broken at place {place}: its previous hash "
                    f"is not the hash of place {previous.get('sequence')}"
                )
        by_place[place] = link
        previous = link
    for anchor_id in chain.get("anchor_ids") or []:
        anchor = anchors_by_id.get(anchor_id) or {}
        problems = anchor_errors.setdefault(anchor_id, [])
        first, last = anchor.get("first_sequence"), anchor.get("chain_sequence")
        if not isinstance(first, int) or not isinstance(last, int) or first > last:
            problems.append(f"anchor {anchor_id} has no valid range")
            continue
        covered = [by_place.get(place) for place in range(first, last + 1)]
        if any(link is None for link in covered):
            problems.append(
                f"the bundle lacks links {first}-{last} anchored by anchor {anchor_id}"
            )
            continue
        if covered[-1].get("hash") != anchor.get("chain_hash"):
            problems.append(
                f"anchor {anchor_id}: the chain head it recorded (place {last}) is "
                "not the link of the chain"
            )
        if merkle_root([link.get("hash") for link in covered]) != anchor.get(
            "merkle_root"
        ):
            problems.append(
                f"anchor {anchor_id}: its Merkle root is not the root of links "
                f"{first}-{last}"
            )
    return by_place


def _check_session(session, chain_links, anchor, anchor_problems, errors):
    evidence = session.get("evidence") or {}
    text = evidence.get("hash_input")
    stored = evidence.get("hash")
    try:
        payload = json.loads(text)
    except (TypeError, ValueError):
        errors.append("the hash input is not JSON")
        return
    if canonical(payload) != text:
        errors.append("the hash input is not in canonical form")
    version = hash_version(stored)
    if version is None:
        errors.append("the evidence hash is not of the form $<version>$<sha256>")
    elif chain_hash_of_text(evidence.get("previous_hash"), text, version) != stored:
        errors.append(
            "the evidence hash does not match the hash input: the record was changed"
        )
    link = chain_links.get(evidence.get("sequence"))
    if payload.get("sequence") != evidence.get("sequence"):
        errors.append("the place in the chain is not the one the record was hashed at")
    if link is None:
        errors.append(f"place {evidence.get('sequence')} is not in the bundle's chain")
    elif link.get("hash") != stored or (link.get("previous_hash") or False) != (
        evidence.get("previous_hash") or False
    ):
        errors.append(
            f"the chain's link at place {evidence.get('sequence')} is not this session"
        )
    texts = evidence.get("clinical_text")
    if texts is not None:
        digest = hashlib.sha256(canonical(texts).encode()).hexdigest()
        if digest != payload.get("text_digest"):
            errors.append("the clinical text does not match the digest the hash covers")
    _check_fhir(session, payload.get("facts") or {}, errors)
    _check_proof(session.get("merkle_proof"), evidence, anchor, chain_links, errors)
    errors.extend(anchor_problems)


def _check_proof(proof, evidence, anchor, chain_links, errors):
    """The Merkle inclusion proof leads from the session's hash to its root,
    and that root is its anchor's (or, not anchored yet, the root of the
    bundle's links it covers)."""
    if not proof:
        errors.append("the Merkle inclusion proof is missing")
        return
    first = proof.get("first_sequence")
    size = proof.get("tree_size")
    root = merkle_root_from_proof(
        evidence.get("hash") or "",
        proof.get("leaf_index", -1),
        size or 0,
        proof.get("path") or [],
    )
    if (
        root is None
        or root != proof.get("root")
        or not isinstance(first, int)
        or proof.get("leaf_index") != (evidence.get("sequence") or 0) - first
    ):
        errors.append("the Merkle inclusion proof does not lead to its root")
        return
    if anchor is not None:
        if (
            root != anchor.get("merkle_root")
            or first != anchor.get("first_sequence")
            or size != (anchor.get("chain_sequence") or 0) - first + 1
        ):
            errors.append(
                "the Merkle inclusion proof does not lead to the anchor's root"
            )
        return
    covered = [chain_links.get(place) for place in range(first, first + (size or 0))]
    if any(link is None for link in covered) or root != merkle_root(
        [link.get("hash") for link in covered]
    ):
        errors.append(
            "the Merkle inclusion proof does not lead to the root of the chain's links"
        )


def verify_bundle(bundle, ca_file=None):
    """``[(session reference, ok, [messages])]`` for every session of
    ``bundle`` (messages: the problems, else notes)."""
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise ValueError("not a spa evidence bundle")
    anchors_by_id = {anchor.get("id"): anchor for anchor in bundle.get("anchors") or []}
    errors_by_place = {}
    anchor_errors = {}
    links = {}
    for chain in bundle.get("chains") or []:
        company_errors = {}
        by_place = _check_chain(chain, anchors_by_id, company_errors, anchor_errors)
        links[chain.get("company_id")] = by_place
        errors_by_place[chain.get("company_id")] = company_errors
    token_results = {}
    for anchor_id, anchor in anchors_by_id.items():
        if anchor.get("tsa_token"):
            token_results[anchor_id] = check_token(
                anchor["tsa_token"], anchor.get("merkle_root") or "", ca_file
            )
        else:
            token_results[anchor_id] = (None, "the anchor has no timestamp token")
    verdicts = []
    for session in bundle.get("sessions") or []:
        evidence = session.get("evidence") or {}
        company = session.get("company_id")
        place = evidence.get("sequence")
        errors = list((errors_by_place.get(company) or {}).get(place) or [])
        # A break just after this session's place names it too (the next link
        # no longer follows it).
        for message in (errors_by_place.get(company) or {}).get((place or 0) + 1) or []:
            if "out of order" in message:
                errors.append(message)
        notes = []
        anchor_id = (session.get("merkle_proof") or {}).get("anchor_id")
        anchor = anchors_by_id.get(anchor_id) if anchor_id else None
        if anchor_id and anchor is None:
            errors.append(f"anchor {anchor_id} is not in the bundle")
        problems = list(anchor_errors.get(anchor_id) or [])
        if anchor is not None:
            ok, message = token_results[anchor_id]
            if ok is False:
                problems.append(f"anchor {anchor_id}: {message}")
            else:
                notes.append(f"anchor {anchor_id}: {message}")
        else:
            notes.append(
                "not anchored yet: hash, chain and Merkle proof only (no timestamp)"
            )
        _check_session(
            session,
            links.get(company) or {},
            anchor,
            problems,
            errors,
        )
        reference = session.get("reference") or f"place {place}"
        verdicts.append((reference, not errors, errors or notes))
    return verdicts


def _say(text, stream=None):
    """One line of the verifier's report."""
    (stream or sys.stdout).write(f"{text}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Check a spa session evidence bundle offline."
    )
    parser.add_argument("bundle", help="the bundle (.json) to check")
    parser.add_argument(
        "--tsa-ca",
        help="PEM file of the time-stamping authority's CA certificate(s), "
        "to check the anchors' RFC 3161 timestamp tokens",
    )
    args = parser.parse_args(argv)
    try:
        with open(args.bundle, encoding="utf-8") as handle:
            bundle = json.load(handle)
        verdicts = verify_bundle(bundle, args.tsa_ca)
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as error:
        # A file that is not a bundle, or a malformed one: no verdict.
        _say(f"cannot read the bundle: {error}", sys.stderr)
        return 2
    if not verdicts:
        _say("the bundle holds no session")
        return 1
    failed = 0
    for reference, ok, messages in verdicts:
        _say(f"{reference}: {'VERIFIED' if ok else 'FAILED'}")
        for message in messages:
            _say(f"  - {message}")
        failed += not ok
    _say(f"{len(verdicts) - failed} verified, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
