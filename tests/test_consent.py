from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import SpaCommon, drawn_signature, png

# A signature as a pad draws it (ink across the box: action_give checks it).
SIGNATURE = drawn_signature()[0].encode()


@tagged("post_install", "-at_install", "spa_consent")
class TestConsent(SpaCommon):
    def test_verbal_consent_needs_only_partner_protocols_method(self):
        consent = self.give_consent()
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.recorded_by_id, self.front_desk)
        self.assertTrue(consent.given_at)
        self.assertEqual(consent.valid_until, fields.Date.today() + timedelta(days=365))
        self.assertIn("Upper-back", consent.consent_text)

    def test_validity_uses_shortest_protocol(self):
        short = self.protocol.copy({"code": "SHORT", "consent_validity_days": 30})
        consent = self.give_consent(protocols=self.protocol | short)
        self.assertEqual(consent.valid_until, fields.Date.today() + timedelta(days=30))

    def test_signature_must_hold_ink_on_every_path(self):
        """A consent given with method 'signature' shows a signature: a
        blank pad or a dot is refused by ``action_give`` itself (the desk's
        dialog, RPC), as the client's pads refuse them, naming what is
        wrong; nothing is given."""
        blank = png()
        dot = png(lambda draw: draw.ellipse((10, 10, 22, 22), fill=(0, 0, 0, 255)))
        for signature, words in ((blank, "empty"), (dot, "too small")):
            with self.subTest(words=words):
                consent = self.new_consent(method="signature")
                consent.write({"signature": signature})
                with self.assertRaisesRegex(UserError, words):
                    consent.action_give()
                with self.assertRaisesRegex(UserError, words):
                    consent.with_user(self.front_desk).action_spa_give_at_desk()
                self.assertEqual(consent.state, "draft")
        consent = self.new_consent(method="signature", signature=drawn_signature()[0])
        consent.action_give()
        self.assertEqual(consent.state, "given")

    def test_signature_consent_needs_signature(self):
        consent = self.new_consent(method="signature")
        with self.assertRaisesRegex(UserError, "missing signature"):
            consent.action_give()
        self.assertEqual(consent.state, "draft")
        consent.signature = SIGNATURE
        consent.action_give()
        self.assertEqual(consent.state, "given")

    def test_past_valid_until_refused(self):
        consent = self.new_consent(valid_until=fields.Date.today() - timedelta(days=1))
        with self.assertRaisesRegex(UserError, "already past"):
            consent.action_give()

    def test_given_consent_is_immutable(self):
        consent = self.give_consent()
        for vals in (
            {"valid_until": fields.Date.today() + timedelta(days=900)},
            {"partner_id": self.client2.id},
            {"method": "verbal"},
            {"protocol_ids": [Command.clear()]},
            {"body_region_ids": [Command.clear()]},
        ):
            with self.assertRaises(UserError):
                consent.sudo().write(vals)
        for vals in (
            {"given_at": fields.Datetime.now() - timedelta(days=10)},
            {"state": "draft"},
        ):
            with self.assertRaisesRegex(UserError, "set by the record's actions"):
                consent.sudo().write(vals)
        with self.assertRaisesRegex(UserError, "cannot be deleted"):
            consent.sudo().unlink()
        consent.withdraw_reason = "Client changed their mind"
        consent.action_withdraw()
        self.assertEqual(consent.state, "withdrawn")
        self.assertTrue(consent.withdrawn_at)
        with self.assertRaises(UserError):
            consent.sudo().write({"withdraw_reason": "edited"})
        with self.assertRaises(UserError):
            consent.action_withdraw()

    def test_cannot_create_given_without_checks(self):
        with self.assertRaisesRegex(UserError, "missing signature"):
            self.env["spa.consent"].create(
                {
                    "partner_id": self.client.id,
                    "protocol_ids": [Command.set(self.protocol.ids)],
                    "method": "signature",
                    "state": "given",
                }
            )
        with self.assertRaisesRegex(UserError, "set by the record's actions"):
            self.env["spa.consent"].create(
                {
                    "partner_id": self.client.id,
                    "protocol_ids": [Command.set(self.protocol.ids)],
                    "given_at": "2020-01-01 10:00:00",
                }
            )
        # An import of a given verbal consent goes through action_give().
        consent = self.new_consent(state="given")
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.recorded_by_id, self.front_desk)

    def test_draft_consent_can_be_deleted(self):
        consent = self.new_consent()
        consent.unlink()
        self.assertFalse(consent.exists())

    def test_consent_form_as_front_desk(self):
        form = Form(self.env["spa.consent"].with_user(self.front_desk))
        form.partner_id = self.client
        form.protocol_ids.add(self.protocol)
        form.method = "written"
        consent = form.save()
        consent.action_give()
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.method, "written")

    def test_consent_text_change_requires_new_consent(self):
        self.give_consent()
        self.protocol.consent_text = "<p>New wording of the consent</p>"
        session = self.session_of(self.book()).with_user(self.therapist)
        event = session.event_id
        self.assertEqual(
            event.with_user(self.front_desk).spa_consent_status, "reconsent"
        )
        with self.assertRaisesRegex(UserError, "a new consent is needed"):
            session.action_start()
        self.give_consent()
        event.invalidate_recordset(["spa_consent_status"])
        self.assertEqual(event.with_user(self.front_desk).spa_consent_status, "valid")
        session.action_start()
        self.assertEqual(session.state, "in_progress")
