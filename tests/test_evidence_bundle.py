"""Evidence anyone can verify: anchors, RFC 3161 tokens from a real local
time-stamping authority, FHIR bundles and the offline verifier."""

import base64
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.spa_session_protocol.tools import verify_evidence

from .common import SpaCommon

VERIFIER = Path(verify_evidence.__file__)

TSA_CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
[ tsa_ext ]
basicConstraints = CA:FALSE
extendedKeyUsage = critical,timeStamping
keyUsage = critical,digitalSignature
"""


def _openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_authority(directory, name):
    """A throwaway CA and a time-stamping authority certified by it, in
    ``directory``; returns the openssl configuration file of the TSA."""
    os.makedirs(directory)
    config = os.path.join(directory, "tsa.cnf")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(TSA_CONFIG.format(dir=directory))
    with open(os.path.join(directory, "serial"), "w", encoding="utf-8") as handle:
        handle.write("01\n")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", f"/CN={name} CA",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key",
        "-out", "tsa.csr", "-subj", f"/CN={name} TSA",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.pem", "-days", "2",
        "-extfile", "tsa.cnf", "-extensions", "tsa_ext",
        cwd=directory,
    )  # fmt: skip
    return config


class LocalTimestampAuthority:
    """``openssl ts -reply`` behind an HTTP server on 127.0.0.1; ``config``
    chooses the authority (key) that signs."""

    def __init__(self, config):
        self.config = config
        self.requests = 0
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                query = self.rfile.read(int(self.headers["Content-Length"]))
                authority.requests += 1
                with tempfile.TemporaryDirectory() as tmp:
                    query_path = os.path.join(tmp, "query.tsq")
                    reply_path = os.path.join(tmp, "reply.tsr")
                    with open(query_path, "wb") as handle:
                        handle.write(query)
                    subprocess.run(
                        [
                            "openssl", "ts", "-reply", "-config", authority.config,
                            "-queryfile", query_path, "-out", reply_path,
                        ],
                        check=True,
                        capture_output=True,
                    )  # fmt: skip
                    with open(reply_path, "rb") as handle:
                        reply = handle.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@tagged("post_install", "-at_install", "spa_evidence")
class TestEvidenceBundle(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("openssl"):
            raise RuntimeError("the openssl command is needed by these tests")
        cls.tmp = tempfile.mkdtemp(prefix="spa-tsa-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.tsa_config = make_authority(os.path.join(cls.tmp, "tsa"), "Test")
        cls.other_config = make_authority(os.path.join(cls.tmp, "other"), "Other")
        cls.ca_file = os.path.join(cls.tmp, "tsa", "ca.pem")
        cls.tsa = LocalTimestampAuthority(cls.tsa_config)
        cls.addClassCleanup(cls.tsa.stop)
        cls.other_tsa = LocalTimestampAuthority(cls.other_config)
        cls.addClassCleanup(cls.other_tsa.stop)
        cls.Anchor = cls.env["spa.evidence.anchor"]
        cls.Session = cls.env["spa.session"]

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def finished_session(self, partner=None, stop=False):
        partner = partner or self.client
        self.give_consent(partner=partner)
        session = self.session_of(self.book(partner=partner)).with_user(self.therapist)
        session.action_start()
        self.run_compliant_protocol(session)
        self.checkin(session, pain=1, note="Feels better")
        if stop:
            self.checkin(session, pain=8, note="Sharp pain")
            session.action_stop()
        else:
            session.action_done()
        return session.with_user(self.manager)

    def chain(self):
        """The finished sessions of the company's chain, in place order."""
        return (
            self.Session.sudo()
            .search(
                [
                    ("company_id", "=", self.env.company.id),
                    ("evidence_sequence", ">", 0),
                ],
                order="evidence_sequence",
            )
            .with_user(self.manager)
        )

    def set_tsa(self, url):
        # The settings of the company: an administrator's.
        self.env.company.write({"spa_tsa_url": url})

    def anchor(self):
        return self.Anchor._anchor_companies(self.env.company)

    def anchored_sessions(self):
        self.set_tsa(self.tsa.url)
        done = self.finished_session()
        stopped = self.finished_session(partner=self.client2, stop=True)
        third = self.finished_session()
        anchors = self.anchor()
        self.assertEqual(len(anchors), 1)
        return done | stopped | third, anchors

    def verify(self, bundle, ca_file=None):
        """``{reference: (ok, messages)}`` by the verifier's function."""
        verdicts = verify_evidence.verify_bundle(
            json.loads(json.dumps(bundle)), ca_file or self.ca_file
        )
        return {reference: (ok, messages) for reference, ok, messages in verdicts}

    def run_verifier(self, bundle, *args):
        """The verifier as an inspector runs it: a separate Python process in
        isolated mode (no Odoo on its path), from a directory of its own."""
        path = os.path.join(self.tmp, "bundle.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(bundle, handle)
        return subprocess.run(
            [sys.executable, "-I", str(VERIFIER), path, *args],
            capture_output=True,
            text=True,
            cwd=self.tmp,
            check=False,
        )

    def assert_rejected(self, bundle, reference, phrase):
        verdicts = self.verify(bundle)
        ok, messages = verdicts[reference]
        self.assertFalse(ok, f"{reference} verified after tampering")
        self.assertTrue(
            any(phrase in message for message in messages),
            f"{phrase!r} not in {messages}",
        )
        result = self.run_verifier(bundle, "--tsa-ca", self.ca_file)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"{reference}: FAILED", result.stdout)
        self.assertIn(phrase, result.stdout)

    @staticmethod
    def entry(bundle, session):
        return next(e for e in bundle["sessions"] if e["reference"] == session.name)

    @staticmethod
    def observations(entry):
        return [
            e["resource"]
            for e in entry["fhir"]["entry"]
            if e["resource"]["resourceType"] == "Observation"
        ]

    # ------------------------------------------------------------------
    # Anchors
    # ------------------------------------------------------------------

    def test_daily_anchor_with_a_real_timestamp(self):
        sessions, anchor = self.anchored_sessions()
        last = sessions.sorted("evidence_sequence")[-1]
        # The first anchor covers the whole chain so far (demo sessions too).
        chain = self.chain()
        self.assertLessEqual(sessions, chain)
        self.assertEqual(anchor.company_id, self.env.company)
        self.assertEqual(anchor.first_sequence, 1)
        self.assertEqual(chain[0].evidence_sequence, 1)
        self.assertEqual(anchor.chain_sequence, last.evidence_sequence)
        self.assertEqual(chain[-1], last)
        self.assertEqual(anchor.chain_hash, last.evidence_hash)
        self.assertEqual(
            anchor.merkle_root,
            verify_evidence.merkle_root(chain.mapped("evidence_hash")),
        )
        self.assertTrue(anchor.tsa_token)
        self.assertTrue(anchor.tsa_time)
        self.assertEqual(anchor.tsa_url, self.tsa.url)
        self.assertTrue(anchor._token_matches_root())
        # The token is a real RFC 3161 token: openssl accepts it for the root.
        ok, message = verify_evidence.check_token(
            anchor.tsa_token.decode(), anchor.merkle_root, self.ca_file
        )
        self.assertTrue(ok, message)
        # Nothing new: the next run anchors nothing; a new link starts the
        # next anchor after the last one.
        self.assertFalse(self.Anchor._cron_anchor_chains())
        newer = self.finished_session()
        second = self.anchor()
        self.assertEqual(second.first_sequence, anchor.chain_sequence + 1)
        self.assertEqual(second.chain_sequence, newer.evidence_sequence)
        self.assertFalse(
            self.Session.with_user(self.manager).check_evidence_integrity()
        )

    def test_anchor_without_authority_and_authority_down(self):
        self.finished_session()
        anchor = self.anchor()
        self.assertTrue(anchor)
        self.assertFalse(anchor.tsa_token)
        self.finished_session(partner=self.client2)
        # A closed port: no anchor today, the next run covers the links.
        self.set_tsa("http://127.0.0.1:9/tsr")
        with mute_logger("odoo.addons.spa_session_protocol.models.spa_evidence_anchor"):
            self.assertFalse(self.anchor())
        self.set_tsa(self.tsa.url)
        later = self.anchor()
        self.assertEqual(later.first_sequence, anchor.chain_sequence + 1)
        self.assertTrue(later.tsa_token)

    def test_anchor_now_is_the_managers(self):
        self.finished_session()
        for user in (self.front_desk, self.therapist):
            with self.assertRaises(AccessError):
                self.Anchor.with_user(user).action_anchor_now()
        self.assertFalse(self.Anchor.sudo().search([]))
        action = self.Anchor.with_user(self.manager).action_anchor_now()
        self.assertEqual(action["params"]["type"], "success")
        anchor = self.Anchor.with_user(self.manager).search([])
        self.assertEqual(anchor.chain_sequence, self.env.company.spa_evidence_sequence)
        action = self.Anchor.with_user(self.manager).action_anchor_now()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertEqual(self.Anchor.sudo().search_count([]), 1)

    def test_anchors_are_frozen(self):
        __, anchor = self.anchored_sessions()
        for env in (
            self.env(user=self.manager),
            self.env(user=self.manager, su=True),
            self.env(user=self.front_desk, su=True),
        ):
            record = anchor.with_env(env)
            for vals in (
                {"merkle_root": "00" * 32},
                {"chain_hash": "$2$forged"},
                {"tsa_token": base64.b64encode(b"forged")},
                {"chain_sequence": 1},
            ):
                with self.assertRaises(AccessError), self.env.cr.savepoint():
                    record.write(vals)
            with self.assertRaises(AccessError), self.env.cr.savepoint():
                record.unlink()
            with self.assertRaises(AccessError), self.env.cr.savepoint():
                env["spa.evidence.anchor"].create(
                    {
                        "company_id": self.env.company.id,
                        "first_sequence": 1,
                        "chain_sequence": 1,
                        "chain_hash": "$2$x",
                        "merkle_root": "00" * 32,
                    }
                )
        # Read by managers only.
        with self.assertRaises(AccessError):
            anchor.with_user(self.therapist).read(["merkle_root"])
        with self.assertRaises(AccessError):
            anchor.with_user(self.front_desk).read(["merkle_root"])
        self.assertTrue(anchor.with_user(self.manager).merkle_root)

    def test_integrity_check_finds_a_whole_chain_rewrite_after_an_anchor(self):
        sessions, anchor = self.anchored_sessions()
        company = self.env.company
        # Whoever can write the database changes a pain level and recomputes
        # the whole chain, the company's chain head included.
        checkin = sessions[0].sudo().checkin_ids[:1]
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE spa_checkin SET pain_level = 0 WHERE id = %s", [checkin.id]
        )
        self.env.cr.execute(
            """UPDATE spa_session SET evidence_hash = NULL, evidence_sequence = NULL,
                      evidence_previous_hash = NULL
                WHERE company_id = %s AND evidence_hash IS NOT NULL""",
            [company.id],
        )
        self.env.cr.execute(
            """UPDATE res_company SET spa_evidence_sequence = 0,
                      spa_evidence_head_hash = NULL WHERE id = %s""",
            [company.id],
        )
        self.env.invalidate_all()
        finished = self.Session.sudo().search(
            [("company_id", "=", company.id), ("state", "in", ("done", "stopped"))]
        )
        finished._secure_evidence()
        self.env.flush_all()
        # The chain is consistent in itself again...
        results = self.Session._check_evidence_integrity(company)
        self.assertEqual(results[0]["broken_anchors"], anchor)
        # ...but it no longer gives what the anchor recorded.
        reported = self.Session.with_user(self.manager).check_evidence_integrity()
        self.assertLessEqual(sessions, reported)
        self.assertEqual(reported, self.chain())
        wizard = (
            self.env["spa.evidence.integrity.wizard"].with_user(self.manager).create({})
        )
        self.assertFalse(wizard.is_intact)
        self.assertEqual(wizard.broken_anchor_ids, anchor)
        # Without the anchor the rewrite would go unseen: the anchor is what
        # finds it.
        self.env.cr.execute(
            "DELETE FROM spa_evidence_anchor WHERE id = %s", [anchor.id]
        )
        self.env.invalidate_all()
        self.assertFalse(
            self.Session.with_user(self.manager).check_evidence_integrity()
        )

    def test_integrity_check_finds_a_rewritten_anchor_token(self):
        __, anchor = self.anchored_sessions()
        other_token, __ = self.Anchor._request_timestamp(self.tsa.url, "00" * 32)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE spa_evidence_anchor SET tsa_token = %s WHERE id = %s",
            [base64.b64encode(other_token), anchor.id],
        )
        self.env.invalidate_all()
        results = self.Session._check_evidence_integrity(self.env.company)
        self.assertEqual(results[0]["broken_anchors"], anchor)

    # ------------------------------------------------------------------
    # Bundles
    # ------------------------------------------------------------------

    def test_bundle_is_valid_fhir_and_exports_the_checked_payload(self):
        sessions, anchor = self.anchored_sessions()
        bundle = sessions.with_user(self.manager)._evidence_bundle()
        json.dumps(bundle)  # JSON-serialisable
        self.assertEqual(len(bundle["sessions"]), 3)
        self.assertEqual([a["id"] for a in bundle["anchors"]], anchor.ids)
        self.Session._evidence_refresh()
        payloads, __ = sessions.sudo()._evidence_stored_payloads()
        for session in sessions:
            entry = self.entry(bundle, session)
            # The hash input is the payload the integrity check recomputes.
            self.assertEqual(
                entry["evidence"]["hash_input"],
                verify_evidence.canonical(payloads[session.id]),
            )
            self.assertEqual(entry["evidence"]["hash"], session.evidence_hash)
            fhir = entry["fhir"]
            get_fhir_model_class("Bundle").model_validate(fhir)
            kinds = [e["resource"]["resourceType"] for e in fhir["entry"]]
            for item in fhir["entry"]:
                resource = item["resource"]
                get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            self.assertEqual(kinds.count("Patient"), 1)
            self.assertEqual(kinds.count("Consent"), 1)
            self.assertEqual(kinds.count("Procedure"), 1)
            self.assertEqual(kinds.count("Provenance"), 1)
            checkins = session.sudo().checkin_ids
            observations = self.observations(entry)
            self.assertEqual(len(observations), len(checkins))
            for observation in observations:
                coding = observation["code"]["coding"][0]
                self.assertEqual(coding["system"], "http://loinc.org")
                self.assertEqual(coding["code"], "72514-3")
                self.assertEqual(
                    coding["display"], "Pain severity - 0-10 verbal numeric rating"
                )
            self.assertEqual(
                sorted(o["valueInteger"] for o in observations),
                sorted(checkins.mapped("pain_level")),
            )
            procedure = next(
                e["resource"]
                for e in fhir["entry"]
                if e["resource"]["resourceType"] == "Procedure"
            )
            self.assertEqual(
                procedure["status"],
                "stopped" if session.state == "stopped" else "completed",
            )
            consent = next(
                e["resource"]
                for e in fhir["entry"]
                if e["resource"]["resourceType"] == "Consent"
            )
            agreed = session.sudo().consent_id.consent_text
            self.assertEqual(
                consent["identifier"][0]["value"],
                hashlib.sha256(str(agreed).encode()).hexdigest(),
            )
            patient = fhir["entry"][0]["resource"]
            self.assertEqual(patient["resourceType"], "Patient")
            self.assertNotIn("name", patient)
        named = (
            sessions[:1].with_user(self.manager)._evidence_bundle(pseudonymous=False)
        )
        patient = named["sessions"][0]["fhir"]["entry"][0]["resource"]
        self.assertEqual(patient["name"][0]["text"], sessions[0].partner_id.name)

    def test_untouched_bundle_verifies_offline(self):
        sessions, __ = self.anchored_sessions()
        bundle = sessions.with_user(self.manager)._evidence_bundle()
        verdicts = self.verify(bundle)
        self.assertEqual(len(verdicts), 3)
        for reference, (ok, messages) in verdicts.items():
            self.assertTrue(ok, f"{reference}: {messages}")
            self.assertTrue(any("timestamp token valid" in m for m in messages))
        result = self.run_verifier(bundle, "--tsa-ca", self.ca_file)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("3 verified, 0 failed", result.stdout)
        # A session finished after the last anchor verifies by hash and chain.
        newer = self.finished_session()
        bundle = newer._evidence_bundle()
        ok, messages = self.verify(bundle)[newer.name]
        self.assertTrue(ok, messages)
        self.assertIn("not anchored yet", messages[0])
        proof = bundle["sessions"][0]["merkle_proof"]
        self.assertFalse(proof["anchor_id"])
        self.assertEqual(proof["first_sequence"], newer.evidence_sequence)
        # Its proof must fit the links since the last anchor.
        bundle["chains"][0]["links"][0]["hash"] = "$2$" + "0" * 64
        ok, messages = self.verify(bundle)[newer.name]
        self.assertFalse(ok)
        self.assertTrue(any("root of the chain's links" in m for m in messages))

    def test_tampered_bundles_are_rejected_naming_what_broke(self):
        sessions, __ = self.anchored_sessions()
        bundle = sessions.with_user(self.manager)._evidence_bundle()
        done = sessions[0]
        entry = self.entry(bundle, done)

        with self.subTest("changed pain level, hash input and FHIR alike"):
            tampered = copy.deepcopy(bundle)
            target = self.entry(tampered, done)
            payload = json.loads(target["evidence"]["hash_input"])
            # Version 4: the check-ins as columns.
            checkins = payload["facts"]["checkins"]
            columns = checkins["columns"]
            checkins["rows"][0][columns.index("pain_level")] = 0
            checkin_id = str(checkins["rows"][0][columns.index("id")])
            target["evidence"]["hash_input"] = verify_evidence.canonical(payload)
            for observation in self.observations(target):
                if observation["identifier"][0]["value"] == checkin_id:
                    observation["valueInteger"] = 0
            self.assert_rejected(
                tampered, done.name, "evidence hash does not match the hash input"
            )

        with self.subTest("changed pain level in the FHIR Observation only"):
            tampered = copy.deepcopy(bundle)
            self.observations(self.entry(tampered, done))[0]["valueInteger"] = 9
            self.assert_rejected(tampered, done.name, "the Observation says pain 9")

        with self.subTest("removed check-in"):
            tampered = copy.deepcopy(bundle)
            target = self.entry(tampered, done)
            payload = json.loads(target["evidence"]["hash_input"])
            checkins = payload["facts"]["checkins"]
            removed = dict(
                zip(checkins["columns"], checkins["rows"].pop(), strict=True)
            )
            target["evidence"]["hash_input"] = verify_evidence.canonical(payload)
            target["fhir"]["entry"] = [
                e
                for e in target["fhir"]["entry"]
                if e["resource"].get("identifier", [{}])[0].get("value")
                != str(removed["id"])
            ]
            self.assert_rejected(
                tampered, done.name, "evidence hash does not match the hash input"
            )
            tampered = copy.deepcopy(bundle)
            target = self.entry(tampered, done)
            observation = self.observations(target)[-1]
            target["fhir"]["entry"] = [
                e for e in target["fhir"]["entry"] if e["resource"] is not observation
            ]
            count = len(
                verify_evidence.line_records(
                    json.loads(entry["evidence"]["hash_input"])["facts"]["checkins"]
                )
            )
            self.assert_rejected(
                tampered,
                done.name,
                f"check-ins: the hashed record has {count}, the FHIR Bundle has "
                f"{count - 1} pain Observations",
            )

        with self.subTest("reordered chain"):
            tampered = copy.deepcopy(bundle)
            links = tampered["chains"][0]["links"]
            second = sessions.sorted("evidence_sequence")[1]
            at = {link["sequence"]: i for i, link in enumerate(links)}
            i, j = at[done.evidence_sequence], at[second.evidence_sequence]
            links[i], links[j] = links[j], links[i]
            self.assert_rejected(tampered, second.name, "out of order")
            self.assert_rejected(tampered, done.name, "out of order")

        with self.subTest("root not matching its token"):
            tampered = copy.deepcopy(bundle)
            token, __ = self.Anchor._request_timestamp(self.tsa.url, "11" * 32)
            tampered["anchors"][0]["tsa_token"] = base64.b64encode(token).decode()
            self.assert_rejected(
                tampered,
                done.name,
                "the timestamp token does not cover the anchor's Merkle root",
            )

        with self.subTest("token from another key"):
            tampered = copy.deepcopy(bundle)
            root = tampered["anchors"][0]["merkle_root"]
            token, __ = self.Anchor._request_timestamp(self.other_tsa.url, root)
            tampered["anchors"][0]["tsa_token"] = base64.b64encode(token).decode()
            self.assert_rejected(
                tampered, done.name, "not signed by a trusted time-stamping authority"
            )

        with self.subTest("forged Merkle proof"):
            tampered = copy.deepcopy(bundle)
            self.entry(tampered, done)["merkle_proof"]["path"][0] = "00" * 32
            self.assert_rejected(
                tampered, done.name, "the Merkle inclusion proof does not lead"
            )

        with self.subTest("changed clinical note"):
            tampered = copy.deepcopy(bundle)
            texts = self.entry(tampered, done)["evidence"]["clinical_text"]
            texts[-1][-1] = "Edited note"
            self.assert_rejected(tampered, done.name, "clinical text")

        # The untouched bundle still verifies (the tampers worked on copies).
        self.assertTrue(all(ok for ok, __ in self.verify(bundle).values()))

    def test_bundle_queries_do_not_grow_with_the_sessions(self):
        sessions, __ = self.anchored_sessions()
        more = self.finished_session() | self.finished_session(partner=self.client2)
        self.anchor()
        one = sessions[:1].with_user(self.manager)
        five = (sessions | more).with_user(self.manager)
        one._evidence_bundle()  # warm the caches (parameters, translations)

        def count(records):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            records._evidence_bundle()
            return self.cr.sql_log_count - before

        self.assertLessEqual(count(five), count(one) + 2)

    def test_who_may_export(self):
        sessions, __ = self.anchored_sessions()
        for user in (self.front_desk, self.therapist, self.plain_user):
            with self.assertRaises(AccessError):
                sessions.with_user(user)._evidence_bundle()
            with self.assertRaises(AccessError):
                self.Session.with_user(user).get_evidence_bundle(
                    session_ids=sessions.ids
                )
            # sudo() does not make the caller a manager.
            with self.assertRaises(AccessError):
                sessions.with_user(user).sudo()._evidence_bundle()
        # A manager of another company exports nothing of this one.
        __, other_manager = self.other_company_manager()
        with self.assertRaises(AccessError):
            sessions.with_user(other_manager)._evidence_bundle()

    def test_export_for_a_session_a_client_and_a_period(self):
        sessions, __ = self.anchored_sessions()
        Session = self.Session.with_user(self.manager)
        by_client = Session.get_evidence_bundle(partner_id=self.client.id)
        self.assertEqual(
            {e["reference"] for e in by_client["sessions"]},
            set(
                sessions.filtered(lambda s: s.partner_id == self.client).mapped("name")
            ),
        )
        today = sessions[0].date_done.date()
        by_period = Session.get_evidence_bundle(date_from=today, date_to=today)
        self.assertEqual(
            {e["reference"] for e in by_period["sessions"]},
            set(
                self.chain()
                .filtered(lambda s: s.date_done.date() == today)
                .mapped("name")
            ),
        )
        self.assertLessEqual(
            set(sessions.mapped("name")),
            {e["reference"] for e in by_period["sessions"]},
        )
        tomorrow = today + timedelta(days=1)
        self.assertFalse(
            Session.get_evidence_bundle(date_from=tomorrow, date_to=tomorrow)[
                "sessions"
            ]
        )
        with self.assertRaises(UserError):
            Session.get_evidence_bundle()
        # The buttons open the export wizard.
        action = sessions[:1].action_export_evidence()
        self.assertEqual(action["res_model"], "spa.evidence.export.wizard")
        action = self.client.with_user(self.manager).action_spa_export_evidence()
        wizard = (
            self.env["spa.evidence.export.wizard"]
            .with_user(self.manager)
            .with_context(**action["context"])
            .create({})
        )
        self.assertEqual(wizard.session_count, 2)
        self.assertEqual(
            wizard.action_export()["url"], f"/spa/evidence/bundle/{wizard.id}"
        )
        with self.assertRaises(AccessError):
            self.client.with_user(self.front_desk).action_spa_export_evidence()


@tagged("post_install", "-at_install", "spa_evidence")
class TestEvidenceBundleDownload(HttpCase, SpaCommon):
    def finished(self):
        self.give_consent()
        session = self.session_of(self.book()).with_user(self.therapist)
        session.action_start()
        self.run_compliant_protocol(session)
        session.action_done()
        return session

    def test_tour_anchor_now_and_export_a_session(self):
        session = self.finished()
        tsa_dir = tempfile.mkdtemp(prefix="spa-tsa-")
        self.addCleanup(shutil.rmtree, tsa_dir, True)
        tsa = LocalTimestampAuthority(
            make_authority(os.path.join(tsa_dir, "tsa"), "Tour")
        )
        self.addCleanup(tsa.stop)
        self.env.company.write({"spa_tsa_url": tsa.url})
        self.start_tour(
            "/odoo/action-spa_session_protocol.spa_evidence_anchor_action",
            "spa_evidence_anchor_now",
            login="spa_mgr",
        )
        anchor = self.env["spa.evidence.anchor"].search([])
        self.assertEqual(anchor.chain_hash, session.sudo().evidence_hash)
        self.assertTrue(anchor.tsa_token)
        self.start_tour(
            f"/odoo/spa.session/{session.id}",
            "spa_evidence_export_session",
            login="spa_mgr",
        )

    def test_download_as_manager_only(self):
        session = self.finished()
        wizard = (
            self.env["spa.evidence.export.wizard"]
            .with_user(self.manager)
            .create({"session_ids": [(6, 0, session.ids)]})
        )
        self.authenticate("spa_mgr", "spa_mgr")
        response = self.url_open(f"/spa/evidence/bundle/{wizard.id}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response.headers["Content-Disposition"])
        bundle = response.json()
        verdicts = verify_evidence.verify_bundle(bundle)
        self.assertEqual(
            [(ref, ok) for ref, ok, __ in verdicts], [(session.name, True)]
        )
        # Another user cannot fetch the manager's export.
        self.authenticate("spa_th", "spa_th")
        with mute_logger("odoo.http"):
            response = self.url_open(f"/spa/evidence/bundle/{wizard.id}")
        self.assertNotEqual(response.status_code, 200)
