import gc
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import SQL

from ..tools import evidence
from .common import SpaCommon
from .test_evidence import TestEvidence


@tagged("post_install", "-at_install", "spa_evidence")
class TestEvidenceCoverage(SpaCommon):
    """The evidence hash covers everything a finished session proves: each
    change made directly in SQL is found by ``check_evidence_integrity()``,
    which only managers run and which reports a removed last link itself."""

    finished_session = TestEvidence.finished_session
    tamper = TestEvidence.tamper
    reseal_chain = TestEvidence.reseal_chain

    def check(self):
        return (
            self.env["spa.session"].with_user(self.manager).check_evidence_integrity()
        )

    def assert_found(self, session):
        self.assertEqual(self.check(), session)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_protocol = cls.env["spa.protocol"].create(
            {"name": "Neck release", "code": "NECK"}
        )

    def setUp(self):
        super().setUp()
        # Two sessions before the one tampered with and none after: the
        # tampered session is the chain head, each change is found on its own.
        self.before = self.finished_session(note="before")
        self.session = self.finished_session(note="tampered")
        self.assertFalse(self.check())

    # ------------------------------------------------------------------
    # The consent as agreed
    # ------------------------------------------------------------------

    def test_sql_change_of_the_consents_protocols_is_found(self):
        consent = self.session.consent_id
        field = consent._fields["protocol_ids"]
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (%s, %s) VALUES (%s, %s)",
                SQL.identifier(field.relation),
                SQL.identifier(field.column1),
                SQL.identifier(field.column2),
                consent.id,
                self.other_protocol.id,
            )
        )
        self.env.invalidate_all()
        # Every session relying on that consent is reported.
        self.assertEqual(
            self.check(),
            self.env["spa.session"].search([("consent_id", "=", consent.id)]),
        )
        self.assertIn(self.session, self.check())

    def test_sql_change_of_the_consents_state_is_found(self):
        consent = self.session.consent_id
        self.tamper(
            "UPDATE spa_consent SET state = 'draft' WHERE id = %s", [consent.id]
        )
        self.assertIn(self.session, self.check())

    def test_sql_withdrawal_before_the_end_is_found(self):
        consent = self.session.consent_id
        self.tamper(
            "UPDATE spa_consent SET state = 'withdrawn', "
            "withdrawn_at = %s - interval '1 minute' WHERE id = %s",
            [self.session.date_start, consent.id],
        )
        self.assertIn(self.session, self.check())

    def test_sql_change_of_the_agreed_text_is_found(self):
        consent = self.session.consent_id
        self.tamper(
            "UPDATE spa_consent SET consent_text = '<p>I agree to anything.</p>' "
            "WHERE id = %s",
            [consent.id],
        )
        self.assertIn(self.session, self.check())

    def test_withdrawal_after_the_session_ended_stays_clean(self):
        consent = self.session.consent_id.with_user(self.manager)
        consent.action_withdraw()
        self.assertEqual(consent.state, "withdrawn")
        self.assertFalse(self.check())
        # ... but moving that withdrawal before the end is found.
        self.tamper(
            "UPDATE spa_consent SET withdrawn_at = %s - interval '1 minute' "
            "WHERE id = %s",
            [self.session.date_start, consent.id],
        )
        self.assertIn(self.session, self.check())

    def test_one_consent_is_read_as_of_each_sessions_end(self):
        """Sessions read in one batch may rely on the same consent (read
        once for the batch): each is checked against the consent as it was
        when it ended, so a withdrawal stamped between their ends is found
        on the later one only."""
        consent = self.session.consent_id
        with freeze_time(fields.Datetime.now() + timedelta(hours=3)):
            later = self.finished_session(consent=consent, note="later")
        self.assertEqual(later.consent_id, consent)
        self.assertGreater(later.date_done, self.session.date_done)
        self.assertFalse(self.check())
        self.tamper(
            "UPDATE spa_consent SET state = 'withdrawn', "
            "withdrawn_at = %s + interval '1 minute' WHERE id = %s",
            [self.session.date_done, consent.id],
        )
        self.assert_found(later)

    def test_a_batch_reads_what_each_session_reads_alone(self):
        """The set-based read of a batch gives each session its own lines
        and texts, exactly as reading that session alone."""
        Session = self.env["spa.session"].sudo()
        self.finished_session(stop=True, note="stopped")
        chain = Session.search(
            [("company_id", "=", self.company.id), ("evidence_sequence", ">", 0)],
            order="evidence_sequence",
        )
        self.assertGreaterEqual(len(chain), 3)
        Session._evidence_refresh()
        facts, texts = chain._evidence_parts()
        for session in chain:
            alone_facts, alone_texts = session._evidence_parts()
            self.assertEqual(facts[session.id], alone_facts[session.id])
            self.assertEqual(texts[session.id], alone_texts[session.id])
            self.assertEqual(
                [
                    step["id"]
                    for step in evidence.line_records(facts[session.id]["steps"])
                ],
                session.step_ids.sorted("id").ids,
            )
            self.assertEqual(
                [
                    checkin["id"]
                    for checkin in evidence.line_records(facts[session.id]["checkins"])
                ],
                session.checkin_ids.sorted("id").ids,
            )
            self.assertEqual(facts[session.id]["consent"]["id"], session.consent_id.id)

    def test_the_check_leaves_the_garbage_collector_as_it_was(self):
        self.assertTrue(gc.isenabled())
        self.assertFalse(self.check())
        self.assertTrue(gc.isenabled())
        gc.disable()
        try:
            self.assertFalse(self.check())
            self.assertFalse(gc.isenabled())
        finally:
            gc.enable()

    # ------------------------------------------------------------------
    # The steps as copied, the planned times, the company of every line
    # ------------------------------------------------------------------

    def test_sql_change_of_a_steps_instructions_is_found(self):
        step = self.session.step_ids.sorted("sequence")[:1]
        self.tamper(
            "UPDATE spa_session_step SET instructions = 'Press as hard as you can' "
            "WHERE id = %s",
            [step.id],
        )
        self.assert_found(self.session)

    def test_sql_change_of_the_planned_times_is_found(self):
        self.tamper(
            "UPDATE spa_session SET date_planned = date_planned - interval '1 day', "
            "date_planned_end = date_planned_end - interval '1 day' WHERE id = %s",
            [self.session.id],
        )
        self.assert_found(self.session)

    def test_sql_change_of_a_checkins_company_is_found(self):
        checkin = self.session.sudo().checkin_ids.filtered(lambda c: c.pain_level == 3)
        self.tamper(
            "UPDATE spa_checkin SET company_id = NULL WHERE id = %s", [checkin.id]
        )
        self.assert_found(self.session)

    def test_sql_change_of_a_steps_company_is_found(self):
        step = self.session.step_ids[:1]
        self.tamper(
            "UPDATE spa_session_step SET company_id = NULL WHERE id = %s", [step.id]
        )
        self.assert_found(self.session)

    # ------------------------------------------------------------------
    # Anonymisation
    # ------------------------------------------------------------------

    def test_sql_anonymisation_with_invented_text_is_found(self):
        self.tamper(
            "UPDATE spa_session SET anonymised_at = now() at time zone 'UTC', "
            "screening_note = 'No pain reported' WHERE id = %s",
            [self.session.id],
        )
        self.assert_found(self.session)

    def test_anonymised_session_with_an_invented_note_is_found(self):
        self.session.sudo()._spa_anonymise()
        self.assertFalse(self.check(), "anonymising keeps the chain verifying")
        checkin = self.session.sudo().checkin_ids[:1]
        self.tamper(
            "UPDATE spa_checkin SET note = 'All fine' WHERE id = %s", [checkin.id]
        )
        self.assert_found(self.session)

    # ------------------------------------------------------------------
    # The chain: its head, versions
    # ------------------------------------------------------------------

    def test_removed_last_link_is_reported_by_the_check(self):
        last = self.session
        place = last.evidence_sequence
        self.tamper("DELETE FROM spa_checkin WHERE session_id = %s", [last.id])
        self.tamper("DELETE FROM spa_session_step WHERE session_id = %s", [last.id])
        self.tamper("DELETE FROM spa_session WHERE id = %s", [last.id])
        # The link before the removed head is named.
        self.assertEqual(self.check(), self.before)
        results = self.env["spa.session"]._check_evidence_integrity(self.company)
        self.assertEqual(results[0]["missing"], [place])
        wizard = (
            self.env["spa.evidence.integrity.wizard"].with_user(self.manager).create({})
        )
        self.assertFalse(wizard.is_intact)
        self.assertIn(str(place), wizard.missing_places)
        self.assertEqual(wizard.broken_session_ids, self.before)

    def test_removed_last_link_with_a_lowered_counter_is_found(self):
        last = self.session
        self.tamper("DELETE FROM spa_checkin WHERE session_id = %s", [last.id])
        self.tamper("DELETE FROM spa_session_step WHERE session_id = %s", [last.id])
        self.tamper("DELETE FROM spa_session WHERE id = %s", [last.id])
        self.tamper(
            "UPDATE res_company SET spa_evidence_sequence = spa_evidence_sequence - 1 "
            "WHERE id = %s",
            [self.company.id],
        )
        # The head the company recorded is the hash of the removed session.
        self.assertEqual(self.check(), self.before)

    def test_hash_version_downgrade_is_found(self):
        self.assertEqual(self.session.evidence_version, evidence.MAX_HASH_VERSION)
        self.tamper(
            "UPDATE spa_session SET evidence_version = 1 WHERE id = %s",
            [self.session.id],
        )
        self.assert_found(self.session)

    def test_a_session_secured_with_version_1_keeps_verifying(self):
        """Re-secure the company's chain with version 1 (as it was before
        version 2 existed): it verifies under version 1, which did not cover
        the instructions, and still finds what version 1 covered."""
        chain, __, texts, v1_hash = self.reseal_chain(1)
        for link in chain:
            self.assertEqual(
                link.evidence_text_digest, evidence.text_digest(texts[link.id])
            )
        session = self.session.sudo()
        self.assertEqual(session.evidence_hash, v1_hash)
        step = session.step_ids[:1]
        self.tamper(
            "UPDATE spa_session_step SET instructions = 'Changed' WHERE id = %s",
            [step.id],
        )
        self.assertFalse(self.check())
        # A session finished now chains to it with the latest version.
        after = self.finished_session(note="after")
        self.assertEqual(after.evidence_previous_hash, v1_hash)
        self.assertEqual(after.evidence_version, evidence.MAX_HASH_VERSION)
        self.assertFalse(self.check())
        checkin = session.checkin_ids.filtered(lambda c: c.pain_level == 2)
        self.tamper("UPDATE spa_checkin SET pain_level = 0 WHERE id = %s", [checkin.id])
        self.assertEqual(self.check(), session)

    def test_version_4_hashes_the_lines_as_columns(self):
        """Version 4 covers what version 3 covers; its steps and check-ins
        are columns (each field named once, whatever the number of lines)
        that give back version 3's lines, and a session finished now is
        secured with it."""
        Session = self.env["spa.session"].sudo()
        self.assertEqual(evidence.MAX_HASH_VERSION, 4)
        spec = Session._get_evidence_hash_fields(4)
        self.assertEqual(spec, Session._get_evidence_hash_fields(3))
        chain = Session.search(
            [("company_id", "=", self.company.id), ("evidence_sequence", ">", 0)],
            order="evidence_sequence",
        )
        Session._evidence_refresh()
        v3, __ = chain._evidence_parts(dict.fromkeys(chain.ids, 3))
        v4, __ = chain._evidence_parts(dict.fromkeys(chain.ids, 4))
        for link in chain:
            self.assertEqual(link.evidence_version, 4)
            for section in ("steps", "checkins"):
                lines = v4[link.id][section]
                self.assertEqual(set(lines), {"columns", "rows"})
                self.assertEqual(list(lines["columns"]), ["id", *spec[section][1]])
                self.assertTrue(lines["rows"], section)
                self.assertIsInstance(v3[link.id][section], list)
                self.assertEqual(evidence.line_records(lines), v3[link.id][section])
            for section in ("session", "consent", "intake"):
                self.assertEqual(v4[link.id][section], v3[link.id][section])
            payload = Session._evidence_payload(
                4, v4[link.id], link.evidence_sequence, link.evidence_text_digest
            )
            self.assertEqual(
                link.evidence_hash,
                evidence.chain_hash(link.evidence_previous_hash, payload, 4),
            )
            text = evidence.canonical(payload)
            self.assertEqual(text.count('"done_at"'), 1)
            self.assertEqual(text.count('"pain_level"'), 1)

    def test_a_session_secured_with_version_3_keeps_verifying(self):
        """Re-secure the company's chain with version 3 (one object per
        line): it verifies under version 3, finds a changed line, and the
        next session chains to it with version 4."""
        chain, facts, __, v3_hash = self.reseal_chain(3, stored_version=3)
        for link in chain:
            self.assertIsInstance(facts[link.id]["steps"], list)
        self.assertFalse(self.check())
        after = self.finished_session(note="after")
        self.assertEqual(after.evidence_previous_hash, v3_hash)
        self.assertEqual(after.evidence_version, 4)
        self.assertFalse(self.check())
        session = self.session.sudo()
        self.assertEqual(session.evidence_version, 3)
        step = session.step_ids.filtered(lambda s: s.state == "done")[:1]
        self.tamper(
            "UPDATE spa_session_step SET state = 'skipped' WHERE id = %s", [step.id]
        )
        self.assertEqual(self.check(), session)
        # A version-4 link's line changed in SQL is found as well.
        self.tamper(
            "UPDATE spa_session_step SET state = 'todo' WHERE id = %s",
            [after.step_ids.filtered(lambda s: s.state == "done")[:1].id],
        )
        self.assertEqual(self.check(), session | after)

    # ------------------------------------------------------------------
    # Who may check, and what it costs
    # ------------------------------------------------------------------

    def test_only_managers_check_sudo_or_not(self):
        Session = self.env["spa.session"]
        for user in (self.therapist, self.front_desk, self.plain_user):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    Session.with_user(user).check_evidence_integrity()
                with self.assertRaises(AccessError):
                    Session.with_user(user).sudo().check_evidence_integrity()
        self.assertFalse(
            Session.with_user(self.manager).sudo().check_evidence_integrity()
        )

    def test_the_wizard_says_what_was_checked(self):
        wizard = (
            self.env["spa.evidence.integrity.wizard"].with_user(self.manager).create({})
        )
        self.assertTrue(wizard.is_intact)
        self.assertTrue(wizard.checked_at)
        self.assertGreaterEqual(wizard.checked_count, 2)
        self.assertIn(
            f"places 1 to {self.session.evidence_sequence} checked",
            wizard.checked_summary,
        )
        self.assertIn(
            f"hash versions {evidence.MAX_HASH_VERSION}", wizard.checked_summary
        )

    def test_the_check_costs_the_same_for_more_sessions(self):
        Session = self.env["spa.session"].with_user(self.manager)
        Session.check_evidence_integrity()  # warm the caches (groups, companies)
        before = self.env.cr.sql_log_count
        Session.check_evidence_integrity()
        two = self.env.cr.sql_log_count - before
        for index in range(3):
            self.finished_session(note=f"more {index}")
        self.env.flush_all()
        Session.check_evidence_integrity()
        before = self.env.cr.sql_log_count
        self.assertFalse(Session.check_evidence_integrity())
        five = self.env.cr.sql_log_count - before
        self.assertEqual(two, five, "one batch: as many queries for 2 as for 5")
        self.assertLess(five, 20)

    def test_sudo_does_not_widen_the_companies_checked(self):
        company_b, manager_b = self.other_company_manager()
        self.tamper(
            "UPDATE spa_session SET stop_reason = 'other' WHERE id = %s",
            [self.session.id],
        )
        self.assert_found(self.session)
        Session = self.env["spa.session"].with_user(manager_b).sudo()
        self.assertFalse(
            Session.with_context(
                allowed_company_ids=[company_b.id, self.company.id]
            ).check_evidence_integrity()
        )
