from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time
from psycopg2.errors import LockNotAvailable

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..tools import evidence
from .common import SpaCommon
from .test_consent import SIGNATURE

T0 = datetime(2026, 3, 2, 9, 0, 0)


@tagged("post_install", "-at_install", "spa_evidence")
class TestEvidence(SpaCommon):
    """Tamper-evident session records, retention and erasure."""

    def finished_session(
        self, partner=None, stop=False, consent=None, note="ok", intake_text=None
    ):
        """A session run through the protocol and completed (or stopped by a
        severe-pain check-in), with clinical free text everywhere."""
        partner = partner or self.client
        if consent is None:
            self.give_consent(partner=partner)
        # Rule 7: the client answered the health intake (as the test's clock says).
        self.give_intake(partner, text=intake_text)
        session = self.session_of(self.book(partner=partner)).with_user(self.therapist)
        session.action_start()
        session.write({"screening_note": f"Stiff neck ({note})"})
        self.run_compliant_protocol(session)
        self.checkin(session, pain=1, note=f"Feels better ({note})")
        if stop:
            self.checkin(session, pain=8, note="Sharp pain")
            session.action_stop(note="Stopped for pain")
        else:
            session.action_done()
        return session

    def tamper(self, query, params):
        self.env.flush_all()
        self.env.cr.execute(query, params)
        self.env.invalidate_all()

    def reseal_chain(self, version, stored_version=None):
        """Re-secure the company's chain with hash ``version``, in SQL, as a
        chain secured before a later version existed (``stored_version``:
        what ``evidence_version`` then held; ``None`` before the column
        existed). Returns ``(chain, facts, texts, head hash)``."""
        Session = self.env["spa.session"]
        chain = Session.sudo().search(
            [("company_id", "=", self.company.id), ("evidence_sequence", ">", 0)],
            order="evidence_sequence",
        )
        Session._evidence_refresh()
        facts, texts = chain._evidence_parts(dict.fromkeys(chain.ids, version))
        previous = False
        for link in chain:
            payload = Session._evidence_payload(
                version,
                facts[link.id],
                link.evidence_sequence,
                link.evidence_text_digest,
            )
            link_hash = evidence.chain_hash(previous, payload, version)
            self.assertTrue(link_hash.startswith(f"${version}$"))
            self.tamper(
                "UPDATE spa_session SET evidence_hash = %s, "
                "evidence_previous_hash = %s, evidence_version = %s WHERE id = %s",
                [link_hash, previous or None, stored_version, link.id],
            )
            previous = link_hash
        self.tamper(
            "UPDATE res_company SET spa_evidence_head_hash = %s WHERE id = %s",
            [previous, self.company.id],
        )
        return chain, facts, texts, previous

    # ------------------------------------------------------------------
    # The chained hash
    # ------------------------------------------------------------------

    def test_finishing_chains_the_evidence(self):
        done = self.finished_session()
        stopped = self.finished_session(stop=True)
        for session in done | stopped:
            version = evidence.MAX_HASH_VERSION
            self.assertTrue(session.evidence_hash.startswith(f"${version}$"))
            self.assertEqual(session.evidence_version, version)
            self.assertTrue(session.evidence_text_digest)
        self.assertEqual(stopped.evidence_sequence, done.evidence_sequence + 1)
        self.assertEqual(stopped.evidence_previous_hash, done.evidence_hash)
        self.assertEqual(self.company.spa_evidence_sequence, stopped.evidence_sequence)
        self.assertEqual(self.company.spa_evidence_head_hash, stopped.evidence_hash)
        self.assertFalse(self.env["spa.session"].check_evidence_integrity())

    def test_running_and_cancelled_sessions_have_no_evidence_yet(self):
        session = self.started_session()
        self.assertFalse(session.evidence_hash)
        draft = self.session_of(self.book(partner=self.client2))
        draft.with_user(self.front_desk).action_cancel()
        self.assertFalse(draft.evidence_hash)
        self.assertFalse(self.env["spa.session"].check_evidence_integrity())

    def test_evidence_fields_are_set_by_the_server_only(self):
        session = self.finished_session()
        for vals in (
            {"evidence_hash": "$1$forged"},
            {"evidence_sequence": 99},
            {"anonymised_at": fields.Datetime.now()},
        ):
            with self.assertRaisesRegex(UserError, "set by the record's actions"):
                session.sudo().write(vals)

    def test_sql_tamper_of_a_checkin_is_found_and_nothing_else(self):
        first = self.finished_session(note="first")
        second = self.finished_session(note="second")
        third = self.finished_session(note="third")
        self.assertFalse(self.env["spa.session"].check_evidence_integrity())
        checkin = second.sudo().checkin_ids.filtered(lambda c: c.pain_level == 2)[:1]
        self.tamper("UPDATE spa_checkin SET pain_level = 0 WHERE id = %s", [checkin.id])
        self.assertEqual(checkin.pain_level, 0)
        broken = self.env["spa.session"].check_evidence_integrity()
        self.assertEqual(broken, second)
        self.assertNotIn(first, broken)
        self.assertNotIn(third, broken)

    def test_sql_tamper_of_steps_outcome_consent_and_text_is_found(self):
        sessions = [self.finished_session(note=str(i)) for i in range(5)]
        Session = self.env["spa.session"]
        step = sessions[0].step_ids.filtered(lambda s: s.state == "done")[:1]
        self.tamper(
            "UPDATE spa_session_step SET done_by_id = %s WHERE id = %s",
            [self.therapist2.id, step.id],
        )
        self.tamper(
            "UPDATE spa_session SET referral_recommended = TRUE WHERE id = %s",
            [sessions[1].id],
        )
        self.tamper(
            "UPDATE spa_consent SET given_at = given_at - interval '2 days' "
            "WHERE id = %s",
            [sessions[2].consent_id.id],
        )
        # The free text is covered by its digest until it is anonymised.
        self.tamper(
            "UPDATE spa_checkin SET note = 'No pain at all' WHERE session_id = %s",
            [sessions[3].id],
        )
        broken = Session.check_evidence_integrity()
        expected = sessions[0] | sessions[1] | sessions[3]
        # The consent of sessions[2] is shared with every session of the
        # client given the same day: each session relying on it is reported.
        expected |= Session.search([("consent_id", "=", sessions[2].consent_id.id)])
        self.assertEqual(broken, expected)

    def test_forged_hash_or_removed_link_breaks_the_chain(self):
        first = self.finished_session(note="a")
        second = self.finished_session(note="b")
        self.tamper(
            "UPDATE spa_session SET evidence_hash = %s WHERE id = %s",
            ["$1$" + "0" * 64, first.id],
        )
        # The forged link and the next one, chained to the real hash.
        self.assertEqual(
            self.env["spa.session"].check_evidence_integrity(), first | second
        )

    def test_concurrent_finisher_of_the_same_company_waits(self):
        """Finishing takes the company's chain counter: another transaction
        finishing a session of the same company waits for this one (then,
        under repeatable read, fails and is retried), so two sessions never
        chain to the same previous hash."""
        self.finished_session()
        with self.registry.cursor() as cr2:
            cr2.execute("SET LOCAL lock_timeout = '300ms'")
            with self.assertRaises(LockNotAvailable), mute_logger("odoo.sql_db"):
                cr2.execute(
                    "UPDATE res_company SET spa_evidence_sequence = "
                    "spa_evidence_sequence WHERE id = %s",
                    [self.company.id],
                )
            cr2.rollback()

    def test_last_link_taken_out_of_the_chain_is_reported(self):
        first = self.finished_session(note="a")
        last = self.finished_session(note="b")
        Session = self.env["spa.session"]
        # The last finished session is turned back into a cancelled one: it
        # still holds its place, and is named.
        self.tamper(
            "UPDATE spa_session SET state = 'cancelled' WHERE id = %s", [last.id]
        )
        self.assertEqual(Session.check_evidence_integrity(), last)
        wizard = (
            self.env["spa.evidence.integrity.wizard"].with_user(self.manager).create({})
        )
        self.assertFalse(wizard.is_intact)
        self.assertEqual(wizard.broken_session_ids, last)
        self.assertNotIn(first, wizard.broken_session_ids)
        self.assertFalse(wizard.missing_places)

    def test_finished_session_without_evidence_is_reported(self):
        session = self.finished_session()
        self.tamper(
            "UPDATE spa_session SET evidence_hash = NULL WHERE id = %s", [session.id]
        )
        self.assertIn(session, self.env["spa.session"].check_evidence_integrity())

    def test_integrity_wizard_and_pdf(self):
        session = self.finished_session()
        with Form(
            self.env["spa.evidence.integrity.wizard"].with_user(self.manager)
        ) as form:
            self.assertTrue(form.is_intact)
        wizard = form.record
        self.assertTrue(wizard.is_intact)
        self.assertGreaterEqual(wizard.checked_count, 1)
        self.tamper(
            "UPDATE spa_session SET stop_reason = 'other' WHERE id = %s", [session.id]
        )
        wizard = (
            self.env["spa.evidence.integrity.wizard"].with_user(self.manager).create({})
        )
        self.assertFalse(wizard.is_intact)
        self.assertEqual(wizard.broken_session_ids, session)
        html = self.env["ir.actions.report"]._render_qweb_html(
            "spa_session_protocol.action_report_evidence_integrity", wizard.ids
        )[0]
        self.assertIn(session.name, html.decode())
        with self.assertRaises(AccessError):
            self.env["spa.evidence.integrity.wizard"].with_user(self.therapist).create(
                {}
            )

    def test_each_company_has_its_own_chain(self):
        company_b, manager_b = self.other_company_manager()
        self.therapist.write({"company_ids": [Command.link(company_b.id)]})
        session_a = self.finished_session()
        consent_b = (
            self.env["spa.consent"]
            .with_user(manager_b)
            .create(
                {
                    "partner_id": self.client.id,
                    "protocol_ids": [Command.set(self.protocol.ids)],
                    "method": "written",
                    "body_region_ids": [
                        Command.set(self.protocol.sensitive_region_ids.ids)
                    ],
                }
            )
        )
        consent_b.action_give()
        session_b = (
            self.env["spa.session"]
            .with_user(manager_b)
            .create(
                {
                    "partner_id": self.client.id,
                    "protocol_id": self.protocol.id,
                    "therapist_id": self.therapist.id,
                }
            )
            .with_user(self.therapist)
        )
        session_b.action_start()
        self.run_compliant_protocol(session_b)
        session_b.action_done()
        self.assertEqual(session_b.company_id, company_b)
        self.assertEqual(session_b.evidence_sequence, 1)
        self.assertFalse(session_b.evidence_previous_hash)
        self.assertEqual(company_b.spa_evidence_sequence, 1)
        self.assertEqual(
            self.company.spa_evidence_sequence, session_a.evidence_sequence
        )
        self.tamper(
            "UPDATE spa_session SET date_done = date_done + interval '1 hour' "
            "WHERE id = %s",
            [session_a.id],
        )
        # Each manager checks the chains of their companies.
        self.assertFalse(
            self.env["spa.session"].with_user(manager_b).check_evidence_integrity()
        )
        self.assertEqual(
            self.env["spa.session"].with_user(self.manager).check_evidence_integrity(),
            session_a,
        )

    # ------------------------------------------------------------------
    # Retention and legal hold
    # ------------------------------------------------------------------

    def test_retention_cron_anonymises_exactly_the_records_past_retention(self):
        self.env["res.partner"].browse(self.client2.id).spa_legal_hold = True
        client3 = self.env["res.partner"].create({"name": "Cleo Client"})
        with freeze_time(T0):
            signature_consent = self.give_consent(
                method="signature", signature=SIGNATURE
            )
            old = self.finished_session(consent=signature_consent, note="old")
            held = self.finished_session(partner=self.client2, note="held")
        with freeze_time(T0 + relativedelta(years=2)):
            recent = self.finished_session(partner=client3, note="recent")
        Session = self.env["spa.session"].sudo()
        cron = self.env.ref("spa_session_protocol.ir_cron_apply_retention")
        self.assertEqual(cron.code.strip(), "model._cron_apply_retention()")

        # One day short of ten years: nothing happens.
        with freeze_time(T0 + relativedelta(years=10) - timedelta(days=1)):
            Session._cron_apply_retention()
        self.assertFalse(any((old | held | recent).sudo().mapped("anonymised_at")))

        past = T0 + relativedelta(years=10, days=2)
        with freeze_time(past):
            Session._cron_apply_retention()
        old_sudo, held_sudo, recent_sudo = old.sudo(), held.sudo(), recent.sudo()
        self.assertEqual(old_sudo.anonymised_at, past)
        self.assertFalse(old_sudo.screening_note)
        self.assertFalse(any(old_sudo.checkin_ids.mapped("note")))
        self.assertEqual(len(old_sudo.checkin_ids), 3, "counts stay")
        self.assertEqual(old_sudo.checkin_count, 3)
        self.assertEqual(sorted(old_sudo.checkin_ids.mapped("pain_level")), [1, 2, 3])
        self.assertEqual(old_sudo.state, "done")
        self.assertTrue(old_sudo.date_done)
        # Legal hold and sessions inside the period keep their text.
        self.assertFalse(held_sudo.anonymised_at)
        self.assertIn("held", held_sudo.screening_note)
        self.assertIn("Feels better (held)", held_sudo.checkin_ids.mapped("note"))
        self.assertFalse(recent_sudo.anonymised_at)
        self.assertIn("recent", recent_sudo.screening_note)
        # The consent's validity ended a year after giving: its signature is
        # kept ten years after that.
        self.assertTrue(signature_consent.sudo().signature)
        # The chain still verifies.
        self.assertFalse(self.env["spa.session"].check_evidence_integrity())

        # Idempotent: a second run changes nothing.
        with freeze_time(past + timedelta(days=1)):
            Session._cron_apply_retention()
        self.assertEqual(old_sudo.anonymised_at, past)
        self.assertFalse(recent_sudo.anonymised_at)

        with freeze_time(T0 + relativedelta(years=11, days=5)):
            Session._cron_apply_retention()
        consent_sudo = signature_consent.sudo()
        self.assertFalse(consent_sudo.signature)
        self.assertTrue(consent_sudo.signature_anonymised_at)
        self.assertEqual(consent_sudo.state, "given")
        self.assertTrue(consent_sudo.consent_text, "the agreed text stays")
        self.assertFalse(held_sudo.anonymised_at)
        self.assertFalse(self.env["spa.session"].check_evidence_integrity())

    def intake_texts(self, session):
        """The typed answers of the intake ``session`` relied on."""
        intake = session.sudo().intake_id
        self.assertTrue(intake, "the session relied on an intake")
        return intake.user_input_line_ids.filtered(
            lambda line: line.answer_type in ("char_box", "text_box")
        ).mapped(lambda line: line.value_char_box or line.value_text_box)

    def test_retention_anonymises_the_typed_intake_answers(self):
        self.env["res.partner"].browse(self.client2.id).spa_legal_hold = True
        with freeze_time(T0):
            old = self.finished_session(note="old", intake_text="Takes warfarin")
            held = self.finished_session(
                partner=self.client2, note="held", intake_text="Held text"
            )
        intake, held_intake = old.sudo().intake_id, held.sudo().intake_id
        self.assertEqual(set(self.intake_texts(old)), {"Takes warfarin"})
        chosen = intake.user_input_line_ids.filtered("suggested_answer_id")
        chosen_answers = chosen.mapped("suggested_answer_id")
        self.assertTrue(chosen_answers)
        Session = self.env["spa.session"].sudo()
        # The answers stay while the sessions relying on them are kept.
        with freeze_time(T0 + relativedelta(years=10) - timedelta(days=1)):
            Session._cron_apply_retention()
        self.assertFalse(intake.spa_answers_anonymised_at)
        self.assertEqual(set(self.intake_texts(old)), {"Takes warfarin"})
        past = T0 + relativedelta(years=10, days=2)
        with freeze_time(past):
            Session._cron_apply_retention()
        self.assertTrue(old.sudo().anonymised_at)
        self.assertEqual(intake.spa_answers_anonymised_at, past)
        texts = self.intake_texts(old)
        self.assertTrue(texts)
        self.assertEqual(set(texts), {"(anonymised)"})
        # The chosen answers, the state and the dates stay.
        self.assertEqual(
            intake.user_input_line_ids.filtered("suggested_answer_id").mapped(
                "suggested_answer_id"
            ),
            chosen_answers,
        )
        self.assertEqual(intake.state, "done")
        # Legal hold: the typed answers stay.
        self.assertFalse(held_intake.spa_answers_anonymised_at)
        self.assertEqual(set(self.intake_texts(held)), {"Held text"})
        # The chain still verifies, and nobody edits the answers afterwards.
        self.assertFalse(self.env["spa.session"].check_evidence_integrity())
        line = intake.user_input_line_ids.filtered("value_text_box")[:1]
        with self.assertRaisesRegex(UserError, "relied on the health intake"):
            line.write({"value_text_box": "Rewritten"})
        # Nobody writes when the answers were anonymised.
        with self.assertRaises(AccessError):
            intake.with_user(self.manager).write({"spa_answers_anonymised_at": False})
        # Idempotent.
        with freeze_time(past + timedelta(days=3)):
            Session._cron_apply_retention()
        self.assertEqual(intake.spa_answers_anonymised_at, past)

    def test_intake_answers_stay_while_a_session_relying_on_them_is_kept(self):
        """An intake relied on by a later session is kept as long as it."""
        with freeze_time(T0):
            first = self.finished_session(note="first", intake_text="Asthma")
        intake = first.sudo().intake_id
        with freeze_time(T0 + relativedelta(days=10)):
            self.give_consent()
            later = self.session_of(self.book()).with_user(self.therapist)
            later.action_start()
        self.assertEqual(later.sudo().intake_id, intake, "the intake is reused")
        with freeze_time(T0 + relativedelta(years=10, days=2)):
            self.env["spa.session"].sudo()._cron_apply_retention()
        self.assertTrue(first.sudo().anonymised_at)
        self.assertFalse(intake.spa_answers_anonymised_at, "a session still runs")
        self.assertEqual(set(self.intake_texts(first)), {"Asthma"})

    def test_retention_follows_the_company_setting(self):
        self.company.spa_retention_years = 2
        with freeze_time(T0):
            session = self.finished_session()
        with freeze_time(T0 + relativedelta(years=2, days=1)):
            self.env["spa.session"]._cron_apply_retention()
        self.assertTrue(session.sudo().anonymised_at)

    # ------------------------------------------------------------------
    # Erasure requests
    # ------------------------------------------------------------------

    def test_erasure_refused_inside_retention_with_the_date(self):
        with freeze_time(T0):
            session = self.finished_session()
        # The consent (valid a year) is kept ten years after its end too, so
        # the client's records must be kept until the later of both dates.
        keep_until = max(
            session.date_done.date() + relativedelta(years=10),
            session.consent_id.valid_until + relativedelta(years=10),
        )
        partner = self.client.with_user(self.manager)
        with freeze_time(T0 + relativedelta(years=3)):
            with self.assertRaisesRegex(
                UserError, f"must be kept until {fields.Date.to_string(keep_until)}"
            ):
                partner.action_spa_erase_clinical_data()
        self.assertFalse(session.sudo().anonymised_at)
        with self.assertRaises(AccessError):
            self.client.with_user(self.front_desk).action_spa_erase_clinical_data()

    def test_erasure_after_retention_anonymises(self):
        with freeze_time(T0):
            session = self.finished_session(intake_text="Recent surgery")
        with freeze_time(T0 + relativedelta(years=12)):
            self.client.with_user(self.manager).action_spa_erase_clinical_data()
        self.assertTrue(session.sudo().anonymised_at)
        self.assertFalse(session.sudo().screening_note)
        self.assertTrue(session.sudo().intake_id.spa_answers_anonymised_at)
        self.assertEqual(set(self.intake_texts(session)), {"(anonymised)"})
        self.assertFalse(self.env["spa.session"].check_evidence_integrity())

    def test_erasure_refused_on_legal_hold(self):
        with freeze_time(T0):
            session = self.finished_session()
        self.client.sudo().spa_legal_hold = True
        with freeze_time(T0 + relativedelta(years=12)):
            with self.assertRaisesRegex(UserError, "legal hold"):
                self.client.with_user(self.manager).action_spa_erase_clinical_data()
        self.assertFalse(session.sudo().anonymised_at)

    # ------------------------------------------------------------------
    # Consent text: what was agreed lasts
    # ------------------------------------------------------------------

    def test_old_consent_keeps_the_agreed_text(self):
        consent = self.give_consent()
        agreed = consent.consent_text
        self.assertIn("I agree to receive an upper-back release", agreed)
        self.protocol.consent_text = "<p>New wording: the pressure is stronger.</p>"
        self.assertEqual(consent.consent_text, agreed)
        self.assertNotIn("stronger", consent.consent_text)
        event = self.book()
        self.assertEqual(
            event.with_user(self.front_desk).spa_consent_status, "reconsent"
        )
        new = self.give_consent()
        self.assertIn("stronger", new.consent_text)
        self.assertEqual(consent.consent_text, agreed)

    def test_consent_text_in_the_clients_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["spa_session_protocol"], ["fr_FR"], overwrite=True
        )
        protocol_fr = self.protocol.with_context(lang="fr_FR")
        self.assertIn("J'accepte", protocol_fr.consent_text)
        self.assertNotEqual(protocol_fr.name, self.protocol.name)
        self.assertIn(
            "Positionnement", protocol_fr.step_ids.mapped("name"), "step names"
        )
        french_client = self.env["res.partner"].create(
            {"name": "Camille Cliente", "lang": "fr_FR"}
        )
        consent = self.give_consent(partner=french_client)
        self.give_intake(french_client)
        self.assertIn("J'accepte", consent.consent_text)
        # The fingerprint is taken on the source text: the French copy covers
        # the protocol as well as the English one.
        session = self.session_of(self.book(partner=french_client)).with_user(
            self.therapist
        )
        session.action_start()
        self.assertEqual(session.consent_id, consent)

    def test_signature_consent_created_given_by_import_keeps_its_text(self):
        consent = self.env["spa.consent"].create(
            {
                "partner_id": self.client.id,
                "protocol_ids": [Command.set(self.protocol.ids)],
                "method": "signature",
                "signature": SIGNATURE,
                "state": "given",
            }
        )
        self.assertEqual(consent.state, "given")
        self.assertIn("upper-back release", consent.consent_text)
        self.assertEqual(
            consent.consent_text_versions,
            {str(self.protocol.id): self.protocol._consent_text_version()},
        )
