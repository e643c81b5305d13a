"""Rule 7: a session starts only with a recent, completed health intake of its
client without an uncleared blocking answer; the intake is evidence."""

import os
from datetime import timedelta

import polib
from freezegun import freeze_time
from lxml import html

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.modules import get_module_path
from odoo.tests import Form, tagged

from odoo.addons.spa_session_protocol.tools import evidence

from .common import SpaCommon

BLOCK_INJURY = "survey_intake_q_injury_yes"
CAUTION_ALLERGY = "survey_intake_q_allergy_yes"


@tagged("post_install", "-at_install", "spa_intake")
class TestIntake(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.share_test_cursor()
        cls.newcomer = cls.env["res.partner"].create({"name": "Nina Newcomer"})

    def planned(self, partner):
        self.give_consent(partner=partner)
        return self.session_of(self.book(partner=partner)).with_user(self.therapist)

    # ------------------------------------------------------------------
    # The built-in intake
    # ------------------------------------------------------------------

    def test_builtin_protocol_ships_the_intake(self):
        survey = self.env.ref("spa_session_protocol.survey_intake_upper_back")
        self.assertEqual(self.protocol.intake_survey_id, survey)
        self.assertEqual(self.protocol.intake_validity_days, 30)
        questions = survey.question_ids
        self.assertGreaterEqual(len(questions), 10)
        flags = set(questions.suggested_answer_ids.mapped("spa_contraindication"))
        self.assertEqual(flags, {False, "caution", "block"})
        # Conditional follow-ups, with Survey's own conditional questions.
        self.assertTrue(questions.filtered("triggering_answer_ids"))
        # In French too: every question, answer and the title have their
        # French text in i18n/fr.po (read without the template, which the
        # translations' release regenerates).
        po = polib.pofile(
            os.path.join(get_module_path("spa_session_protocol"), "i18n", "fr.po")
        )
        french = {
            occurrence: entry.msgstr
            for entry in po
            if entry.msgstr
            for occurrence, __ in entry.occurrences
        }
        missing = []
        for record in [survey, *questions, *questions.suggested_answer_ids]:
            xmlid = record.get_external_id()[record.id]
            fname = "value" if record._name == "survey.question.answer" else "title"
            if not french.get(f"model:{record._name},{fname}:{xmlid}"):
                missing.append(xmlid)
        self.assertFalse(missing, f"no French text for {missing}")
        fever = "model:survey.question,title:spa_session_protocol.survey_intake_q_fever"
        self.assertIn("fièvre", french[fever])

    # ------------------------------------------------------------------
    # Rule 7 on start
    # ------------------------------------------------------------------

    def test_start_needs_an_intake_of_the_client(self):
        session = self.planned(self.newcomer)
        with self.assertRaisesRegex(UserError, "no completed health intake"):
            session.action_start()
        self.assertEqual(session.state, "draft")
        # Another client's intake does not count (partner mismatch).
        self.assertEqual(self.intake.partner_id, self.client)
        with self.assertRaisesRegex(UserError, "no completed health intake"):
            session.action_start()
        # An intake not finished does not count.
        pending = self.protocol._spa_intake_answer_for(self.newcomer)
        self.assertEqual(pending.partner_id, self.newcomer)
        with self.assertRaisesRegex(UserError, "no completed health intake"):
            session.action_start()
        intake = self.give_intake(self.newcomer)
        session.action_start()
        self.assertEqual(session.state, "in_progress")
        self.assertEqual(session.sudo().intake_id, intake)

    def test_intake_older_than_validity_is_refused(self):
        self.give_intake(self.newcomer, finished_days_ago=31)
        session = self.planned(self.newcomer)
        with self.assertRaisesRegex(UserError, "too old"):
            session.action_start()
        event = session.sudo().event_id
        self.assertEqual(event.spa_intake_status, "expired")
        fresh = self.give_intake(self.newcomer, finished_days_ago=30)
        event.invalidate_recordset()
        self.assertEqual(event.spa_intake_status, "valid")
        session.action_start()
        self.assertEqual(session.sudo().intake_id, fresh)

    def test_validity_is_judged_on_the_start_day(self):
        self.give_intake(self.newcomer)
        session = self.planned(self.newcomer)
        with freeze_time(fields.Datetime.now() + timedelta(days=31)):
            self.give_consent(partner=self.newcomer)
            with self.assertRaisesRegex(UserError, "too old"):
                session.action_start()

    def test_caution_does_not_block_and_is_shown(self):
        self.give_intake(self.newcomer, answers=[CAUTION_ALLERGY])
        session = self.planned(self.newcomer)
        event = session.sudo().event_id
        self.assertEqual(event.spa_intake_status, "caution")
        self.assertIn("allergic", event.with_user(self.therapist).spa_intake_cautions)
        self.assertIn("allergic", event.with_user(self.manager).spa_intake_cautions)
        # Another therapist reads the appointment's badge, not the answers
        # (nor the intake itself: test_therapist_reads_intakes_of_their_clients_only).
        other = event.with_user(self.therapist2)
        self.assertEqual(other.spa_intake_status, "caution")
        self.assertFalse(other.spa_intake_cautions)
        self.assertIn("allergic", session.intake_cautions)
        session.action_start()
        self.assertEqual(session.state, "in_progress")
        self.assertIn("allergic", session.intake_cautions)
        payload = session._tablet_payload()
        self.assertEqual(payload["intake_status"], "caution")
        self.assertIn("allergic", payload["intake_cautions"][0]["question"])

    def test_block_blocks_naming_question_and_answer(self):
        intake = self.give_intake(self.newcomer, answers=[BLOCK_INJURY])
        session = self.planned(self.newcomer)
        self.assertEqual(session.sudo().event_id.spa_intake_status, "blocked")
        # No savepoint: the refusal log shares the test's transaction.
        try:
            session.action_start()
        except UserError as error:
            message = str(error)
        else:
            self.fail("a blocking answer did not block the start")
        self.assertIn("injury, a fracture or surgery", message)
        self.assertIn("Yes", message)
        self.assertIn("manager must clear", message)
        self.assertEqual(session.state, "draft")
        refusal = self.env["spa.session.refusal"].search(
            [("session_id", "=", session.id)]
        )
        self.assertIn("intake_blocked", refusal.problem_codes)
        self.assertEqual(refusal.reason, "intake")
        # A manager clears it (a doctor's letter): the session starts.
        intake.with_user(self.manager).action_spa_clear("Letter of Dr Martin")
        self.assertEqual(intake.spa_cleared_by_id, self.manager)
        self.assertTrue(intake.spa_cleared_at)
        session.action_start()
        self.assertEqual(session.sudo().intake_id, intake)
        # The cleared answer is still shown to the therapist.
        self.assertIn("injury", session.intake_cautions)

    def test_clearance_is_for_managers_only(self):
        intake = self.give_intake(self.newcomer, answers=[BLOCK_INJURY])
        for user in (self.front_desk, self.therapist, self.plain_user):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    intake.with_user(user).action_spa_clear("I say so")
                with self.assertRaises(AccessError):
                    intake.with_user(user).sudo().action_spa_clear("I say so")
        self.assertFalse(intake.spa_cleared_at)
        # Never through a write, whoever writes it, sudo included.
        for user in (self.front_desk, self.manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                intake.with_user(user).sudo().write(
                    {
                        "spa_cleared_by_id": self.manager.id,
                        "spa_cleared_at": fields.Datetime.now(),
                        "spa_clearance_note": "forged",
                    }
                )
        with self.assertRaisesRegex(UserError, "Say why"):
            intake.with_user(self.manager).action_spa_clear("  ")
        wizard = Form(
            self.env["spa.intake.clear.wizard"]
            .with_user(self.manager)
            .with_context(default_user_input_id=intake.id)
        )
        wizard.note = "Letter of Dr Martin, massage allowed"
        wizard.save().action_clear()
        self.assertEqual(
            intake.spa_clearance_note, "Letter of Dr Martin, massage allowed"
        )
        with self.assertRaisesRegex(UserError, "already cleared"):
            intake.with_user(self.manager).action_spa_clear("again")

    def test_relied_intake_and_clearance_are_frozen_and_hashed(self):
        intake = self.give_intake(self.newcomer, answers=[BLOCK_INJURY])
        intake.with_user(self.manager).action_spa_clear("Letter of Dr Martin")
        session = self.planned(self.newcomer)
        session.action_start()
        self.run_compliant_protocol(session)
        session.action_done()
        self.assertEqual(session.evidence_version, evidence.MAX_HASH_VERSION)
        # Covered from version 3 on (4 covers the same, as columns).
        self.assertGreaterEqual(evidence.MAX_HASH_VERSION, 3)
        Session = self.env["spa.session"].with_user(self.manager)
        self.assertFalse(Session.check_evidence_integrity())
        for vals in (
            {"end_datetime": fields.Datetime.now() - timedelta(days=1)},
            {"state": "in_progress"},
            {"user_input_line_ids": [Command.clear()]},
        ):
            with self.subTest(vals=vals), self.assertRaisesRegex(UserError, "evidence"):
                intake.sudo().write(vals)
        with self.assertRaisesRegex(UserError, "evidence"):
            intake.user_input_line_ids[:1].sudo().write({"skipped": True})
        with self.assertRaisesRegex(UserError, "evidence"):
            intake.sudo().unlink()
        # A change behind the ORM's back breaks the chain.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE survey_user_input SET spa_clearance_note = 'forged' WHERE id = %s",
            [intake.id],
        )
        self.env.invalidate_all()
        self.assertEqual(Session.check_evidence_integrity(), session)

    def test_older_sessions_keep_verifying(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        session.action_done()
        for version in (1, 2):
            spec = self.env["spa.session"]._get_evidence_hash_fields(version)
            self.assertNotIn("intake", spec)
        spec = self.env["spa.session"]._get_evidence_hash_fields(3)
        self.assertIn("intake_id", spec["session"][1])
        self.assertIn("spa_clearance_note", spec["intake"][1])

    # ------------------------------------------------------------------
    # Every path, every role
    # ------------------------------------------------------------------

    def test_tablet_start_obeys_rule_7(self):
        session = self.planned(self.newcomer)
        payload = session._tablet_payload()
        self.assertEqual(payload["intake_status"], "missing")
        self.assertTrue(payload["intake_url"])
        with self.assertRaisesRegex(UserError, "health intake"):
            session._tablet_action("start")
        self.assertEqual(session.state, "draft")

    def test_front_desk_opens_the_intake_at_check_in_but_never_reads_it(self):
        event = self.book(partner=self.newcomer)
        self.assertEqual(event.spa_intake_status, "missing")
        action = event.with_user(self.front_desk).action_spa_fill_intake()
        self.assertIn("/survey/start/", action["url"])
        user_input = self.env["survey.user_input"].search(
            [("partner_id", "=", self.newcomer.id)]
        )
        self.assertEqual(len(user_input), 1)
        self.assertIn(user_input.access_token, action["url"])
        # The same unfinished intake is reopened, not a second one.
        event.with_user(self.front_desk).action_spa_fill_intake()
        self.assertEqual(
            self.env["survey.user_input"].search_count(
                [("partner_id", "=", self.newcomer.id)]
            ),
            1,
        )
        # Another therapist cannot open it for a session they do not run.
        with self.assertRaises(AccessError):
            event.with_user(self.therapist2).action_spa_fill_intake()
        # The answers are clinical: the front desk reads none.
        UserInput = self.env["survey.user_input"].with_user(self.front_desk)
        with self.assertRaises(AccessError):
            UserInput.browse(self.intake.id).read(["state"])
        with self.assertRaises(AccessError):
            self.env["survey.user_input.line"].with_user(self.front_desk).browse(
                self.intake.user_input_line_ids.ids
            ).read(["suggested_answer_id"])
        # Even a front desk who is a survey officer.
        self.front_desk.groups_id = [Command.link(self.ref("survey.group_survey_user"))]
        self.assertFalse(UserInput.search([("id", "=", self.intake.id)]))
        self.assertNotIn(
            "spa_intake_cautions",
            event.with_user(self.front_desk).fields_get(),
        )

    def test_therapist_reads_intakes_of_their_clients_only(self):
        self.started_session()  # a session of self.client with self.therapist
        UserInput = self.env["survey.user_input"]
        self.assertTrue(
            UserInput.with_user(self.therapist).search([("id", "=", self.intake.id)])
        )
        self.assertFalse(
            UserInput.with_user(self.therapist2).search([("id", "=", self.intake.id)])
        )
        self.assertTrue(
            UserInput.with_user(self.manager).search([("id", "=", self.intake.id)])
        )

    def test_contraindication_is_the_managers(self):
        answer = self.env.ref("spa_session_protocol.survey_intake_q_allergy_yes")
        with self.assertRaises(AccessError):
            answer.with_user(self.front_desk).sudo().write(
                {"spa_contraindication": "block"}
            )
        answer.with_user(self.manager).write({"spa_contraindication": "block"})
        self.assertEqual(answer.spa_contraindication, "block")

    def test_protocol_without_intake_needs_none(self):
        self.protocol.intake_survey_id = False
        session = self.planned(self.newcomer)
        self.assertFalse(session.sudo().event_id.spa_intake_status)
        session.action_start()
        self.assertFalse(session.sudo().intake_id)

    def test_session_record_pdf_shows_the_caution(self):
        self.give_intake(self.newcomer, answers=[CAUTION_ALLERGY])
        session = self.planned(self.newcomer)
        session.action_start()
        report = self.env["ir.actions.report"].with_user(self.therapist)
        content, __ = report._render_qweb_html(
            "spa_session_protocol.action_report_session_record", session.ids
        )
        tree = html.fromstring(content)
        cautions = tree.xpath("//*[contains(@class, 'o_spa_intake_cautions')]")
        self.assertTrue(cautions)
        self.assertIn("allergic", cautions[0].text_content())
        content, __ = report.with_user(self.front_desk)._render_qweb_html(
            "spa_session_protocol.action_report_session_record", session.ids
        )
        self.assertFalse(
            html.fromstring(content).xpath("//*[contains(@class, 'o_spa_intake')]")
        )

    def test_compliance_analysis_counts_intakes(self):
        session = self.started_session()
        self.env.flush_all()
        row = self.env["spa.compliance.report"].search(
            [("session_id", "=", session.id)]
        )
        self.assertTrue(row.has_intake)
        self.assertTrue(row.intake_required)

    def test_start_is_flat_in_sessions_and_intakes(self):
        """Rule 7 is gathered in batch: starting three sessions, each client
        with several intakes, takes the queries of starting one."""
        Partner = self.env["res.partner"]

        def ready(count):
            sessions = self.env["spa.session"]
            for i in range(count):
                partner = Partner.create({"name": f"Batch client {count}-{i}"})
                for days in (40, 5, 1):
                    self.give_intake(partner, finished_days_ago=days)
                sessions |= self.planned(partner)
            self.env.flush_all()
            self.env.invalidate_all()
            return sessions.with_user(self.therapist)

        def queries(sessions):
            sessions.check_access("read")
            before = self.cr.sql_log_count
            sessions.action_start()
            self.env.flush_all()
            return self.cr.sql_log_count - before

        one = queries(ready(1))
        three_sessions = ready(3)
        three = queries(three_sessions)
        self.assertEqual(set(three_sessions.mapped("state")), {"in_progress"})
        self.assertLessEqual(three, one + 6, "action_start must not query per session")

    def test_booking_warns_without_a_valid_intake(self):
        """The appointment form shows the intake badge before it is saved,
        beside the consent badge."""
        form = Form(self.env["calendar.event"].with_user(self.front_desk))
        form.name = "Upper-back release"
        form.start = fields.Datetime.now() + timedelta(days=1)
        form.stop = form.start + timedelta(hours=1)
        form.spa_protocol_id = self.protocol
        form.spa_client_id = self.newcomer
        form.spa_therapist_id = self.therapist
        self.assertEqual(form.spa_intake_status, "missing")
        form.spa_client_id = self.client
        self.assertEqual(form.spa_intake_status, "valid")
        event = form.save()
        self.assertEqual(event.spa_intake_status, "valid")
