"""The client's own records on the portal (issue 15, item 5): record rules
for portal users, the /my/spa pages as each visitor, the withdrawal, and the
client's copy of the session record."""

import shutil
from datetime import timedelta

from lxml import html as lxml_html

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import SpaCommon

CLIENT_COPY = "spa_session_protocol.action_report_session_client"


class ClientPortalCommon(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(
            cls.env,
            "spa_portal_clara",
            groups="base.group_portal",
            name="Clara Portal",
            email="clara.portal@example.com",
        )
        cls.portal_user2 = new_test_user(
            cls.env,
            "spa_portal_carl",
            groups="base.group_portal",
            name="Carl Portal",
            email="carl.portal@example.com",
        )
        cls.me = cls.portal_user.partner_id
        cls.other = cls.portal_user2.partner_id

    def session_for(self, partner, hours, start=True):
        """A session of ``partner`` booked ``hours`` from now, started."""
        begin = fields.Datetime.now() + timedelta(hours=hours)
        session = self.session_of(self.book(partner=partner, start=begin)).with_user(
            self.therapist
        )
        if start:
            session.action_start()
        return session

    def build_records(self):
        """For the client: a done session, a stopped one with a referral, a
        running one, a planned one; for another client, a done one."""
        self.consent = self.give_consent(partner=self.me)
        self.done = self.session_for(self.me, 1)
        self.run_compliant_protocol(self.done)
        self.done.action_done()
        self.stopped = self.session_for(self.me, 3)
        self.stopped.write(
            {
                "screening_note": "INTERNAL screening words",
                "adjustment_note": "INTERNAL adjustment words",
                "stop_note": "INTERNAL stop words",
            }
        )
        self.tick(self.stopped, "Prepare the client and get consent")
        self.checkin(self.stopped, pain=8, note="INTERNAL check-in words")
        self.stopped.action_stop()
        self.running = self.session_for(self.me, 5)
        self.planned = self.session_for(self.me, 48, start=False)
        self.give_consent(partner=self.other)
        self.others = self.session_for(self.other, 7)
        self.run_compliant_protocol(self.others)
        self.others.action_done()
        self.other_consent = self.others.consent_id
        # Health questionnaires (Odoo Survey answers): the client's completed
        # one, their unfinished one, another client's.
        survey = self.env["survey.survey"].create({"title": "Health questionnaire"})
        Answer = self.env["survey.user_input"]
        self.intake = Answer.create(
            {"survey_id": survey.id, "partner_id": self.me.id, "state": "done"}
        )
        self.unfinished_intake = Answer.create(
            {"survey_id": survey.id, "partner_id": self.me.id, "state": "in_progress"}
        )
        self.other_intake = Answer.create(
            {"survey_id": survey.id, "partner_id": self.other.id, "state": "done"}
        )


@tagged("post_install", "-at_install", "spa_portal", "spa_client_portal")
class TestClientRecordRules(ClientPortalCommon):
    """Record rules, read through the ORM as the portal user."""

    def setUp(self):
        super().setUp()
        self.build_records()

    def test_portal_reads_only_their_finished_and_planned_sessions(self):
        Session = self.env["spa.session"].with_user(self.portal_user)
        self.assertEqual(Session.search([]), self.done | self.stopped | self.planned)
        for foreign in (self.others, self.running):
            with self.assertRaises(AccessError):
                foreign.with_user(self.portal_user).read(["name"])
        self.assertEqual(Session.with_user(self.portal_user2).search([]), self.others)

    def test_portal_reads_lines_and_checkins_of_finished_sessions_only(self):
        Step = self.env["spa.session.step"].with_user(self.portal_user)
        Checkin = self.env["spa.checkin"].with_user(self.portal_user)
        self.assertEqual(Step.search([]), (self.done | self.stopped).step_ids)
        self.assertEqual(
            Checkin.search([]), (self.done | self.stopped).sudo().checkin_ids
        )
        with self.assertRaises(AccessError):
            self.running.sudo().step_ids[:1].with_user(self.portal_user).read(["name"])
        with self.assertRaises(AccessError):
            self.others.sudo().checkin_ids[:1].with_user(self.portal_user).read(
                ["pain_level"]
            )

    def test_internal_notes_are_not_readable(self):
        checkin = self.stopped.sudo().checkin_ids.with_user(self.portal_user)
        self.assertEqual(checkin.pain_level, 8)
        with self.assertRaises(AccessError):
            checkin.read(["note"])
        with self.assertRaises(AccessError):
            self.stopped.with_user(self.portal_user).read(["stop_note"])

    def test_portal_reads_only_their_consents(self):
        Consent = self.env["spa.consent"].with_user(self.portal_user)
        self.assertEqual(Consent.search([]), self.consent)
        with self.assertRaises(AccessError):
            self.other_consent.with_user(self.portal_user).read(["name"])

    def test_portal_reads_only_their_completed_intakes(self):
        Answer = self.env["survey.user_input"].with_user(self.portal_user)
        self.assertEqual(Answer.search([]), self.intake)
        for foreign in (self.other_intake, self.unfinished_intake):
            with self.assertRaises(AccessError):
                foreign.with_user(self.portal_user).read(["state"])
        with self.assertRaises(AccessError):
            self.intake.with_user(self.portal_user).write({"state": "new"})

    def test_portal_writes_nothing(self):
        session = self.done.with_user(self.portal_user)
        with self.assertRaises(AccessError):
            session.write({"referral_recommended": True})
        with self.assertRaises(AccessError):
            self.planned.with_user(self.portal_user).write(
                {"date_planned": fields.Datetime.now()}
            )
        consent = self.consent.with_user(self.portal_user)
        with self.assertRaises(AccessError):
            consent.write({"withdraw_reason": "mine"})
        # Not through the staff's action either (no write right on consents).
        with self.assertRaises(AccessError):
            consent.action_withdraw()
        with self.assertRaises(AccessError):
            self.env["spa.consent"].with_user(self.portal_user).create(
                {"partner_id": self.me.id}
            )
        with self.assertRaises(AccessError):
            session.step_ids[:1].write({"skip_reason": "x"})
        self.assertEqual(self.consent.state, "given")

    def test_portal_withdrawal_is_recorded(self):
        self.consent.with_user(self.portal_user).sudo()._action_withdraw_from_portal()
        self.assertEqual(self.consent.state, "withdrawn")
        self.assertEqual(self.consent.withdrawn_via, "portal")
        self.assertEqual(self.consent.withdrawn_by_id, self.portal_user)
        self.assertTrue(self.consent.withdrawn_at)
        # Staff record theirs as staff, and never "on the portal".
        with self.assertRaises(UserError):
            self.other_consent.with_user(self.front_desk)._action_withdraw_from_portal()
        self.other_consent.with_user(self.front_desk).action_withdraw()
        self.assertEqual(self.other_consent.withdrawn_via, "staff")

    def test_client_copy_leaves_out_internal_notes(self):
        html, __ = (
            self.env["ir.actions.report"]
            .sudo()
            ._render_qweb_html(CLIENT_COPY, self.stopped.ids)
        )
        tree = lxml_html.fromstring(html.decode())
        text = " ".join(tree.text_content().split())
        self.assertNotIn("INTERNAL", text)
        [page] = tree.xpath("//div[contains(@class, 'o_spa_client_copy')]")
        self.assertIn(self.stopped.name, " ".join(page.xpath("string(.//h2)").split()))
        pains = [
            " ".join(row.xpath("string(./td[3])").split())
            for row in page.xpath(
                ".//table[contains(@class, 'o_spa_client_checkins')]/tbody/tr"
            )
        ]
        self.assertEqual(pains, ["8"])
        self.assertTrue(page.xpath(".//*[contains(@class, 'o_spa_client_referral')]"))
        steps = page.xpath(".//table[contains(@class, 'o_spa_client_steps')]/tbody/tr")
        self.assertEqual(len(steps), len(self.stopped.step_ids))

    def test_client_copy_in_the_clients_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["spa_session_protocol"], ["fr_FR"], overwrite=True
        )
        self.me.lang = "fr_FR"
        html, __ = (
            self.env["ir.actions.report"]
            .sudo()
            ._render_qweb_html(CLIENT_COPY, self.done.ids)
        )
        tree = lxml_html.fromstring(html.decode())
        self.assertIn(
            "Votre dossier de séance",
            " ".join(tree.xpath("string(//h2)").split()),
        )

    def test_client_copy_is_a_real_pdf(self):
        if not shutil.which("wkhtmltopdf"):
            self.skipTest("wkhtmltopdf is not installed")
        pdf, kind = (
            self.env["ir.actions.report"]
            .sudo()
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(CLIENT_COPY, self.done.ids)
        )
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))


@tagged("post_install", "-at_install", "spa_portal", "spa_client_portal")
class TestClientPortalPages(ClientPortalCommon, HttpCase):
    """/my/spa as the client, as another client and as a visitor."""

    def setUp(self):
        super().setUp()
        self.build_records()

    def records_page(self, response):
        self.assertEqual(response.status_code, 200)
        [main] = lxml_html.fromstring(response.text).xpath(
            "//div[contains(@class, 'o_spa_portal_records')]"
        )
        return main

    @staticmethod
    def ids_in(page, css_class):
        return {
            int(i)
            for i in page.xpath(
                f".//*[contains(concat(' ', @class, ' '), ' {css_class} ')]//@data-id"
            )
        }

    def test_client_sees_their_records(self):
        self.authenticate("spa_portal_clara", "spa_portal_clara")
        page = self.records_page(self.url_open("/my/spa"))
        self.assertEqual(
            self.ids_in(page, "o_spa_portal_sessions"),
            set((self.done | self.stopped).ids),
        )
        self.assertEqual(
            self.ids_in(page, "o_spa_portal_appointments"), set(self.planned.ids)
        )
        self.assertEqual(
            self.ids_in(page, "o_spa_portal_consents"), set(self.consent.ids)
        )
        self.assertEqual(
            self.ids_in(page, "o_spa_portal_intakes"), set(self.intake.ids)
        )
        self.assertIn("Health questionnaire", page.text_content())
        self.assertTrue(page.xpath(".//*[contains(@class, 'o_spa_portal_referral')]"))
        self.assertNotIn("INTERNAL", page.text_content())
        self.assertNotIn(self.others.name, page.text_content())
        counters = self.make_jsonrpc_request(
            "/my/counters", {"counters": ["spa_record_count"]}
        )
        self.assertEqual(counters["spa_record_count"], 4)
        home = self.url_open("/my")
        self.assertIn("/my/spa", home.text)

    def test_client_downloads_their_copy(self):
        self.authenticate("spa_portal_clara", "spa_portal_clara")
        response = self.url_open(f"/my/spa/session/{self.stopped.id}/pdf")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        self.assertIn("attachment", response.headers["Content-Disposition"])
        # In tests Odoo renders the report as HTML behind the PDF headers.
        self.assertNotIn("INTERNAL", response.text)
        self.assertIn(self.stopped.name, response.text)

    def test_other_client_gets_nothing(self):
        self.authenticate("spa_portal_carl", "spa_portal_carl")
        page = self.records_page(self.url_open("/my/spa"))
        self.assertEqual(
            self.ids_in(page, "o_spa_portal_sessions"), set(self.others.ids)
        )
        self.assertNotIn(self.done.name, page.text_content())
        self.assertEqual(
            self.ids_in(page, "o_spa_portal_intakes"), set(self.other_intake.ids)
        )
        for session in (self.done, self.stopped, self.planned, self.running):
            response = self.url_open(f"/my/spa/session/{session.id}/pdf")
            self.assertEqual(response.status_code, 404)
            self.assertNotIn(session.name, response.text)
        response = self.url_open(
            f"/my/spa/consent/{self.consent.id}/withdraw",
            data={"csrf_token": self.csrf_token()},
        )
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.consent.state, "given")

    def test_own_unfinished_or_missing_session_is_not_printed(self):
        self.authenticate("spa_portal_clara", "spa_portal_clara")
        for session_id in (self.planned.id, self.running.id, 999999):
            response = self.url_open(f"/my/spa/session/{session_id}/pdf")
            self.assertEqual(response.status_code, 404)

    def test_public_is_sent_to_the_login(self):
        for url in ("/my/spa", f"/my/spa/session/{self.done.id}/pdf"):
            response = self.url_open(url, allow_redirects=False)
            self.assertIn(response.status_code, (302, 303))
            self.assertIn("/web/login", response.headers["Location"])
        response = self.url_open(
            f"/my/spa/consent/{self.consent.id}/withdraw",
            data={"csrf_token": self.csrf_token()},
            allow_redirects=False,
        )
        self.assertNotEqual(response.status_code, 200)
        self.assertEqual(self.consent.state, "given")

    def csrf_token(self):
        page = lxml_html.fromstring(self.url_open("/my/spa").text)
        tokens = page.xpath("//input[@name='csrf_token']/@value")
        return tokens[0] if tokens else "none"

    def test_withdraw_from_the_portal_takes_effect_at_once(self):
        self.authenticate("spa_portal_clara", "spa_portal_clara")
        token = self.csrf_token()
        response = self.url_open(
            f"/my/spa/consent/{self.consent.id}/withdraw", data={"csrf_token": token}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("/my/spa?message=withdrawn", response.url)
        self.assertTrue(
            self.records_page(response).xpath(
                ".//*[contains(@class, 'o_spa_portal_withdrawn')]"
            )
        )
        self.consent.invalidate_recordset()
        self.assertEqual(self.consent.state, "withdrawn")
        self.assertEqual(self.consent.withdrawn_via, "portal")
        self.assertEqual(self.consent.withdrawn_by_id, self.portal_user)
        self.assertTrue(self.consent.withdrawn_at)
        self.assertIn(
            "withdrawn by the client on their portal",
            " ".join(self.consent.message_ids.mapped("body")),
        )
        with self.assertRaisesRegex(UserError, "consent"):
            self.planned.action_start()
        # Twice: said plainly, nothing changes.
        response = self.url_open(
            f"/my/spa/consent/{self.consent.id}/withdraw", data={"csrf_token": token}
        )
        self.assertIn("message=not_withdrawn", response.url)
        self.consent.invalidate_recordset()
        self.assertEqual(self.consent.withdrawn_by_id, self.portal_user)

    def test_withdraw_needs_the_csrf_token(self):
        self.authenticate("spa_portal_clara", "spa_portal_clara")
        response = self.url_open(
            f"/my/spa/consent/{self.consent.id}/withdraw", data={"csrf_token": "x"}
        )
        self.assertNotEqual(response.status_code, 200)
        self.assertEqual(self.consent.state, "given")


@tagged("post_install", "-at_install", "spa_portal", "spa_client_portal")
class TestClientPortalTour(ClientPortalCommon, HttpCase):
    browser_size = "390x844"
    touch_enabled = True

    def test_client_downloads_their_record_on_the_phone(self):
        self.give_consent(partner=self.me)
        session = self.session_for(self.me, 1)
        self.run_compliant_protocol(session)
        session.action_done()
        self.start_tour("/my", "spa_client_portal_tour", login="spa_portal_clara")


@tagged("post_install", "-at_install", "spa_portal", "spa_client_portal")
class TestClientPortalQueries(ClientPortalCommon, HttpCase):
    """The client's page reads their records in batches: its queries do not
    grow with the number of sessions it lists."""

    def page_queries(self):
        before = self.cr.sql_log_count
        response = self.url_open("/my/spa")
        self.assertEqual(response.status_code, 200)
        return self.cr.sql_log_count - before

    def finished(self, hours):
        session = self.session_for(self.me, hours)
        self.run_compliant_protocol(session)
        session.action_done()

    def test_records_page_is_flat_in_sessions(self):
        self.give_consent(partner=self.me)
        self.finished(1)
        self.authenticate("spa_portal_clara", "spa_portal_clara")
        self.url_open("/my/spa")  # caches warm: what is measured is the page
        few = self.page_queries()
        for hours in (3, 5, 7, 9):
            self.finished(hours)
        self.env.flush_all()
        many = self.page_queries()
        self.assertGreater(few, 0, "the page's queries are counted")
        self.assertEqual(few, many, "the page must not query per session")
