import base64
import shutil
from datetime import date, datetime, timedelta

from odoo.tests import HttpCase, tagged

from .common import SpaCommon

# A 1x1 transparent PNG: the client's drawn signature.
SIGNATURE = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
)


class ReportsCommon(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.Report = cls.env["ir.actions.report"]

    def _stopped_session(self):
        """A session on 17 March 2025, signed consent, stopped by pain."""
        self.give_consent(method="signature", signature=SIGNATURE)
        appointment = datetime(2025, 3, 17, 9, 0)
        session = self.session_of(self.book(start=appointment)).with_user(
            self.therapist
        )
        session.action_start()
        session.write(
            {
                "positioning": "seated",
                "adjust_lighter_pressure": True,
                "adjustment_note": "Softer on the left side",
            }
        )
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=8, note="Sharp")
        session.action_stop()
        return session

    def _html(self, report, ids, user=None, lang=None):
        Report = self.Report.with_user(user or self.manager)
        if lang:
            Report = Report.with_context(lang=lang)
        html, kind = Report._render_qweb_html(report, ids)
        self.assertEqual(kind, "html")
        return html.decode()


@tagged("post_install", "-at_install", "spa_reports")
class TestReportsPdf(ReportsCommon):
    def test_session_record_content_and_client_language(self):
        session = self._stopped_session()
        report = "spa_session_protocol.action_report_session_record"
        html_en = self._html(report, session.ids, user=self.therapist)
        for expected in (
            session.sudo().name,
            "Clara Client",
            "Theo Therapist",
            "Stabilise and apply pressure",
            "Seated upright on a chair",
            "Lighter pressure",
            "Softer on the left side",
            "Sharp",
            "Referral recommended",
            "o_spa_signature",
            "Valid for this session",
        ):
            self.assertIn(expected, html_en)
        self.assertIn("03/17/2025", html_en)

        # the client's language decides (t-lang), not the printing user's
        self.client.lang = "fr_FR"
        html_fr = self._html(report, session.ids, user=self.therapist)
        self.assertIn("17/03/2025", html_fr)
        self.assertNotIn("03/17/2025", html_fr)

    def test_session_record_binding_and_rights(self):
        action = self.env.ref("spa_session_protocol.action_report_session_record")
        self.assertEqual(action.binding_model_id.model, "spa.session")
        bindings = (
            self.env["ir.actions.actions"]
            .with_user(self.therapist)
            .get_bindings("spa.session")
        )
        self.assertIn(action.id, [a["id"] for a in bindings.get("report", [])])
        bindings = (
            self.env["ir.actions.actions"]
            .with_user(self.front_desk)
            .get_bindings("spa.session")
        )
        self.assertNotIn(action.id, [a["id"] for a in bindings.get("report", [])])

    def test_compliance_summary(self):
        session = self._stopped_session()
        wizard = (
            self.env["spa.compliance.summary.wizard"]
            .with_user(self.manager)
            .create({"date_from": date(2025, 3, 5), "date_to": date(2025, 3, 31)})
        )
        action = wizard.action_print()
        self.assertEqual(
            action["report_name"], "spa_session_protocol.report_compliance_summary"
        )
        report = "spa_session_protocol.action_report_compliance_summary"
        html_en = self._html(report, wizard.ids, lang="en_US")
        self.assertIn("03/05/2025", html_en)
        self.assertIn("Theo Therapist", html_en)
        self.assertIn(session.sudo().name, html_en)  # referral to follow up
        followup = session.sudo().activity_ids
        self.assertIn(followup.user_id.name, html_en)
        html_fr = self._html(report, wizard.ids, lang="fr_FR")
        self.assertIn("05/03/2025", html_fr)

        values = (
            self.env["report.spa_session_protocol.report_compliance_summary"]
            .with_user(self.manager)
            ._get_report_values(wizard.ids)
        )
        summary = values["summaries"][wizard.id]
        [group] = summary["therapists"]
        self.assertEqual(group["therapist"], self.therapist)
        [line] = group["lines"]
        self.assertEqual(line["protocol"], self.protocol)
        self.assertEqual(line["sessions"], 1)
        self.assertEqual(line["stopped"], 1)
        self.assertEqual(line["referrals"], 1)
        self.assertEqual(line["compliant"], 1)
        self.assertEqual(line["rate"], 100.0)
        self.assertEqual(line["missing_checkins"], 0)
        self.assertEqual(summary["total"]["sessions"], 1)
        [referral] = summary["referrals"]
        self.assertTrue(referral["activity"])

    def test_summary_filters(self):
        self._stopped_session()
        wizard = (
            self.env["spa.compliance.summary.wizard"]
            .with_user(self.manager)
            .create(
                {
                    "date_from": date(2025, 3, 1),
                    "date_to": date(2025, 3, 31),
                    "therapist_ids": [(6, 0, self.therapist2.ids)],
                }
            )
        )
        values = self.env[
            "report.spa_session_protocol.report_compliance_summary"
        ]._get_report_values(wizard.ids)
        self.assertFalse(values["summaries"][wizard.id]["therapists"])
        html = self._html(
            "spa_session_protocol.action_report_compliance_summary", wizard.ids
        )
        self.assertIn("No session in this period", html)


@tagged("post_install", "-at_install", "spa_reports")
class TestReportsPdfRendering(ReportsCommon, HttpCase):
    """wkhtmltopdf fetches the report's assets from the server: in an
    HttpCase the server shares the test's transaction instead of waiting on
    its locks."""

    def test_pdf_when_wkhtmltopdf_available(self):
        if not shutil.which("wkhtmltopdf"):
            self.skipTest("wkhtmltopdf is not installed")
        session = self._stopped_session()
        Report = self.Report.with_user(self.therapist).with_context(
            force_report_rendering=True
        )
        pdf, kind = Report._render_qweb_pdf(
            "spa_session_protocol.action_report_session_record", session.ids
        )
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        wizard = (
            self.env["spa.compliance.summary.wizard"]
            .with_user(self.manager)
            .create(
                {
                    "date_from": date(2025, 3, 1),
                    "date_to": date(2025, 3, 1) + timedelta(days=30),
                }
            )
        )
        pdf, kind = (
            self.Report.with_user(self.manager)
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(
                "spa_session_protocol.action_report_compliance_summary", wizard.ids
            )
        )
        self.assertTrue(pdf.startswith(b"%PDF"))
