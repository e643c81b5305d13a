"""Rule 7 in the browser: the client answers the intake on their phone after
signing the consent; the therapist sees the caution on the tablet."""

from odoo.tests import HttpCase, tagged

from .common import SpaCommon
from .test_ui import TABLET_PORTRAIT, SpaTabletUiCommon


@tagged("post_install", "-at_install", "spa_intake", "spa_portal")
class TestIntakePortalUi(SpaCommon, HttpCase):
    browser_size = "390x844"
    touch_enabled = True

    def test_client_signs_and_answers_on_the_phone(self):
        newcomer = self.env["res.partner"].create(
            {"name": "Nina Newcomer", "email": "nina@example.com"}
        )
        event = self.book(partner=newcomer)
        self.assertEqual(event.spa_intake_status, "missing")
        action = event.with_user(self.front_desk).action_spa_send_consent_link()
        consent = self.env["spa.consent"].browse(action["context"]["default_res_ids"])
        self.start_tour(consent.get_portal_url(), "spa_intake_portal_tour")
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "given")
        intake = self.env["survey.user_input"].search(
            [("partner_id", "=", newcomer.id)]
        )
        self.assertEqual(len(intake), 1)
        self.assertEqual(intake.state, "done")
        self.assertEqual(intake.survey_id, self.protocol.intake_survey_id)
        self.assertIn("allergic", intake.spa_contraindication_summary)
        follow_up = intake.user_input_line_ids.filtered(
            lambda line: (
                line.question_id
                == self.env.ref("spa_session_protocol.survey_intake_q_allergy_what")
            )
        )
        self.assertEqual(follow_up.value_text_box, "Almond oil")
        event.invalidate_recordset()
        self.assertEqual(event.spa_intake_status, "caution")
        session = self.session_of(event).with_user(self.therapist)
        session.action_start()
        self.assertEqual(session.sudo().intake_id, intake)


@tagged("post_install", "-at_install", "spa_intake", "spa_tablet")
class TestIntakeTabletUi(SpaTabletUiCommon):
    def test_therapist_sees_the_caution_on_the_tablet(self):
        intake = self.give_intake(self.client2, answers=["survey_intake_q_allergy_yes"])
        self.give_consent(partner=self.client2)
        session = self.book_today(partner=self.client2)
        self.run_tour("spa_tablet_intake_caution", TABLET_PORTRAIT)
        self.assertEqual(session.state, "in_progress")
        self.assertEqual(session.sudo().intake_id, intake)
