"""Rule 7 in the browser: the client answers the intake on their phone after
signing the consent; the therapist sees the caution on the tablet."""

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

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
        event.with_user(self.front_desk).action_spa_send_consent_link()
        consent = self.env["spa.consent"].search(
            [("partner_id", "=", newcomer.id), ("state", "=", "draft")]
        )
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

    def test_staff_fill_in_the_clients_intake_but_do_not_reread_it(self):
        """At check-in the front desk (or the therapist on the tablet) opens
        the client's intake with Survey's own flow; once it is finished, its
        answers are not shown to them again."""
        newcomer = self.env["res.partner"].create({"name": "Nina Newcomer"})
        event = self.book(partner=newcomer)
        url = event.with_user(self.front_desk).action_spa_fill_intake()["url"]
        self.authenticate("spa_fd", "spa_fd")
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        self.assertIn("Health intake: upper-back release", response.text)
        self.assertNotIn("o_survey_answer_wrong_user", response.text)
        # The therapist's tablet route leads to the same unfinished intake.
        session = self.session_of(event)
        self.authenticate("spa_th", "spa_th")
        response = self.url_open(
            f"/spa/tablet/session/{session.id}/intake", allow_redirects=False
        )
        self.assertIn(url, response.headers.get("Location", ""))
        # Another therapist's tablet does not open it (refused: logged).
        self.authenticate("spa_th2", "spa_th2")
        with mute_logger("odoo.http"):
            response = self.url_open(
                f"/spa/tablet/session/{session.id}/intake", allow_redirects=False
            )
        self.assertNotEqual(response.status_code, 303)
        # Finished: the front desk cannot read the answers back.
        user_input = self.env["survey.user_input"].search(
            [("partner_id", "=", newcomer.id)]
        )
        for question in user_input.survey_id.question_ids:
            if question.question_type == "simple_choice":
                user_input._save_lines(question, question.suggested_answer_ids[:1].id)
        user_input._mark_done()
        self.authenticate("spa_fd", "spa_fd")
        response = self.url_open(url)
        self.assertNotIn("injury, a fracture or surgery", response.text)
        # Nor through Survey's print page, which shows a finished answer to
        # whoever holds its link: an intake is printed for the client and the
        # therapists only.
        print_url = (
            f"/survey/print/{user_input.survey_id.access_token}"
            f"?answer_token={user_input.access_token}"
        )
        with mute_logger("odoo.http"):
            response = self.url_open(print_url)
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("injury, a fracture or surgery", response.text)
        self.authenticate("spa_th", "spa_th")
        response = self.url_open(print_url)
        self.assertEqual(response.status_code, 200)
        self.assertIn("injury, a fracture or surgery", response.text)
        self.authenticate(None, None)
        response = self.url_open(print_url)
        self.assertEqual(response.status_code, 200)
        self.assertIn("injury, a fracture or surgery", response.text)
