"""Aftercare: the client's email when a session ends (issue 15, item 4)."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_aftercare")
class TestAftercare(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client.write({"email": "clara@example.com"})
        cls.aftercare = cls.env.ref("spa_session_protocol.mail_template_aftercare")
        cls.referral = cls.env.ref("spa_session_protocol.mail_template_referral")

    def client_messages(self, session):
        """The emails of the session's chatter addressed to its client."""
        return (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", "spa.session"),
                    ("res_id", "=", session.id),
                    ("message_type", "=", "comment"),
                    ("partner_ids", "in", session.partner_id.ids),
                ]
            )
        )

    def notes(self, session):
        return (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", "spa.session"),
                    ("res_id", "=", session.id),
                    ("subtype_id", "=", self.env.ref("mail.mt_note").id),
                ]
            )
        )

    def queued_mails(self, message):
        return (
            self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        )

    def done_session(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        session.action_done()
        return session

    def stopped_by_pain(self, hours=1):
        start = fields.Datetime.now() + timedelta(hours=hours)
        session = self.started_session(start=start)
        self.tick(session, *self.MANDATORY[:1])
        self.checkin(session, pain=8)
        session.action_stop()
        return session

    def test_built_in_protocol_uses_the_default_templates(self):
        self.assertEqual(self.protocol.aftercare_template_id, self.aftercare)
        self.assertEqual(self.protocol.referral_template_id, self.referral)
        new = (
            self.env["spa.protocol"]
            .with_user(self.manager)
            .create({"name": "Neck release", "code": "NECK"})
        )
        self.assertEqual(new.aftercare_template_id, self.aftercare)

    def test_done_sends_the_aftercare_queued_and_logged(self):
        session = self.done_session()
        self.assertEqual(session.state, "done")
        message = self.client_messages(session)
        self.assertEqual(len(message), 1, "one aftercare email in the chatter")
        self.assertIn("taking care of yourself", message.subject)
        self.assertIn("Drink plenty of water", str(message.body))
        self.assertEqual(message.model, "spa.session")
        mails = self.queued_mails(message)
        self.assertTrue(mails, "the email is queued for the client")
        self.assertEqual(set(mails.mapped("state")), {"outgoing"})
        self.assertIn(self.client, mails.recipient_ids)

    def test_stop_with_referral_sends_the_referral_letter(self):
        session = self.stopped_by_pain()
        self.assertTrue(session.referral_recommended)
        message = self.client_messages(session)
        self.assertEqual(len(message), 1)
        body = str(message.body)
        self.assertIn("severe pain", body)
        self.assertIn("physiotherapist or a chiropractor", body)
        self.assertNotIn("Drink plenty of water", body)

    def test_stop_requested_by_the_client_says_so(self):
        session = self.started_session()
        self.checkin(session, pain=2, stop=True)
        session.action_stop()
        body = str(self.client_messages(session).body)
        self.assertIn("you asked us to stop", body)

    def test_stop_without_referral_sends_nothing(self):
        session = self.started_session()
        session.action_stop(reason="client_late")
        self.assertFalse(session.referral_recommended)
        self.assertFalse(self.client_messages(session))

    def test_company_switch_off(self):
        self.company.spa_aftercare_enabled = False
        session = self.done_session()
        self.assertFalse(self.client_messages(session))
        session = self.stopped_by_pain(hours=4)
        self.assertFalse(self.client_messages(session))

    def test_settings_switch_the_company(self):
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.spa_aftercare_enabled)
        settings.spa_aftercare_enabled = False
        settings.execute()
        self.assertFalse(self.company.spa_aftercare_enabled)

    def test_empty_template_sends_nothing(self):
        self.protocol.with_user(self.manager).aftercare_template_id = False
        session = self.done_session()
        self.assertEqual(session.state, "done")
        self.assertFalse(self.client_messages(session))

    def test_client_without_email_is_noted(self):
        self.client.email = False
        session = self.done_session()
        self.assertEqual(session.state, "done")
        self.assertFalse(self.client_messages(session))
        self.assertIn(
            "has no email address", " ".join(self.notes(session).mapped("body"))
        )

    def test_unsendable_address_is_noted_not_raised(self):
        self.client.email = "not an address"
        session = self.stopped_by_pain()
        self.assertEqual(session.state, "stopped")
        self.assertFalse(self.client_messages(session))
        self.assertIn("is not valid", " ".join(self.notes(session).mapped("body")))

    def test_broken_template_never_blocks_finishing(self):
        self.aftercare.sudo().body_html = "<p><t t-out='object.no_such_field'/></p>"
        with self.assertLogs(
            "odoo.addons.spa_session_protocol.models.spa_session", level="WARNING"
        ) as logged:
            session = self.done_session()
        self.assertIn("not sent", logged.output[0])
        self.assertEqual(session.state, "done")
        self.assertTrue(session.evidence_hash)
        self.assertIn(
            "could not be prepared", " ".join(self.notes(session).mapped("body"))
        )

    def test_in_the_client_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["spa_session_protocol"], ["fr_FR"], overwrite=True
        )
        self.client.lang = "fr_FR"
        session = self.done_session()
        message = self.client_messages(session)
        self.assertIn("Buvez beaucoup d'eau", str(message.body))
        self.assertIn("prendre soin de vous", message.subject)
        session = self.stopped_by_pain(hours=4)
        message = self.client_messages(session)
        self.assertIn("kinésithérapeute", str(message.body))

    def test_the_front_desk_does_not_read_the_referral_letter(self):
        """The referral letter says why the session was stopped (clinical
        detail): the client gets it by email; in the session's chatter it is
        read by therapists and managers, not by the front desk."""
        session = self.stopped_by_pain()
        letter = self.client_messages(session)
        self.assertIn("severe pain", str(letter.body))
        desk_session = session.with_user(self.front_desk)
        self.assertNotIn(letter, desk_session.message_ids)
        with self.assertRaises(AccessError):
            letter.with_user(self.front_desk).read(["body"])
        self.assertFalse(
            self.env["mail.message"]
            .with_user(self.front_desk)
            .search([("id", "=", letter.id)])
        )
        for user in (self.therapist, self.manager):
            self.assertIn(
                "severe pain", letter.with_user(user).read(["body"])[0]["body"]
            )
        # The front desk still reads what they write on the session.
        note = desk_session.message_post(body="Client arrived late")
        self.assertEqual(
            note.with_user(self.front_desk).read(["body"])[0]["body"],
            "<p>Client arrived late</p>",
        )
