from datetime import timedelta

from lxml import html as lxml_html

from odoo import Command, fields
from odoo.tests import Form, HttpCase, tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_portal")
class TestPortal(SpaCommon, HttpCase):
    """Pre-visit consent: the link the front desk sends, the page the client
    signs on their phone, and what a link without its token shows."""

    browser_size = "390x844"
    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client.email = "clara@example.com"

    @staticmethod
    def page(response):
        """The consent page's main block, parsed."""
        [main] = lxml_html.fromstring(response.text).xpath(
            "//div[@id='wrap'][contains(@class, 'o_spa_consent_portal')]"
        )
        return main

    @staticmethod
    def text_of(page, css_class):
        """Text of the page's element with that class ('' when there is none)."""
        nodes = page.xpath(f".//*[contains(concat(' ', @class, ' '), ' {css_class} ')]")
        return " ".join(" ".join(n.text_content().split()) for n in nodes)

    def send_link(self, event=None):
        """The front desk's "Send Link" on the appointment: the link's
        consent (the client's pending one) and the button's answer."""
        event = event or self.book()
        action = event.with_user(self.front_desk).action_spa_send_consent_link()
        consent = self.env["spa.consent"].search(
            [
                ("partner_id", "=", event.spa_client_id.id),
                ("state", "=", "draft"),
                ("access_token", "!=", False),
                ("link_voided_at", "=", False),
            ],
            order="id desc",
            limit=1,
        )
        return event, consent, action

    # ------------------------------------------------------------------
    # Sending the link
    # ------------------------------------------------------------------

    def test_booking_sends_the_consent_link_once(self):
        Consent = self.env["spa.consent"]
        event = self.book()
        consent = Consent.search(
            [("partner_id", "=", self.client.id), ("state", "=", "draft")]
        )
        self.assertEqual(len(consent), 1)
        self.assertEqual(consent.method, "signature")
        self.assertEqual(consent.protocol_ids, self.protocol)
        self.assertEqual(
            consent.link_expires_on, fields.Date.today() + timedelta(days=30)
        )
        message = consent.message_ids.filtered(
            lambda m: consent.access_token in (m.body or "")
        )
        self.assertEqual(len(message), 1)
        self.assertIn(self.client, message.partner_ids)
        self.assertIn(f"/my/spa/consent/{consent.id}?access_token=", message.body)
        # The button reuses the pending draft instead of creating another.
        __, again, action = self.send_link(event)
        self.assertEqual(again, consent)
        self.assertEqual(action["tag"], "display_notification")

    def test_booking_a_batch_sends_one_link_per_client(self):
        """Several appointments booked at once: the links are looked up for
        the whole batch, and a client booked twice gets one pending consent
        (the second appointment reuses the one the first created)."""
        self.client2.email = "carl@example.com"
        start = fields.Datetime.now() + timedelta(days=2)
        events = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .create(
                [
                    {
                        "name": f"Batch {i}",
                        "start": start + timedelta(hours=i),
                        "stop": start + timedelta(hours=i, minutes=50),
                        "spa_protocol_id": self.protocol.id,
                        "spa_client_id": client.id,
                        "spa_therapist_id": self.therapist.id,
                    }
                    for i, client in enumerate((self.client, self.client2, self.client))
                ]
            )
        )
        self.assertEqual(len(events), 3)
        consents = self.env["spa.consent"].search(
            [
                ("partner_id", "in", (self.client | self.client2).ids),
                ("state", "=", "draft"),
            ]
        )
        self.assertEqual(
            sorted(consents.partner_id.ids), sorted((self.client | self.client2).ids)
        )
        self.assertEqual(len(consents), 2, "one pending consent per client")
        self.assertTrue(all(consents.mapped("access_token")))
        clara = consents.filtered(lambda c: c.partner_id == self.client)
        sent = clara.message_ids.filtered(
            lambda m: clara.access_token in (m.body or "")
        )
        self.assertEqual(len(sent), 2, "each appointment emails its link")

    def test_no_link_with_valid_consent_without_email_or_when_disabled(self):
        Consent = self.env["spa.consent"]
        self.give_consent()
        self.book()
        self.book(partner=self.client2)  # no email
        self.company.spa_consent_link_on_booking = False
        self.give_consent().action_withdraw()
        self.book()
        self.assertFalse(
            Consent.search(
                [
                    ("partner_id", "in", (self.client | self.client2).ids),
                    ("state", "=", "draft"),
                ]
            )
        )

    def test_button_on_the_appointment_form(self):
        """The front desk sends the link from the appointment form; the
        button is hidden once the client has a valid consent."""
        event = self.book(partner=self.client2)
        with Form(event.with_user(self.front_desk)) as form:
            self.assertEqual(form.spa_consent_status, "missing")
        arch = event.with_user(self.front_desk).get_views([(False, "form")])
        arch = arch["views"]["form"]["arch"]
        self.assertIn('name="action_spa_send_consent_link"', arch)
        self.assertNotIn(
            'name="action_spa_send_consent_link"',
            event.with_user(self.therapist).get_views([(False, "form")])["views"][
                "form"
            ]["arch"],
        )

    def test_send_emails_the_link(self):
        __, consent, __ = self.send_link()
        self.assertTrue(
            consent.message_ids.filtered(
                lambda m: (
                    self.client in m.partner_ids and consent.get_portal_url() in m.body
                )
            )
        )

    # ------------------------------------------------------------------
    # The page
    # ------------------------------------------------------------------

    def test_link_without_valid_token_shows_nothing_of_the_client(self):
        __, consent, __ = self.send_link()
        for url in (
            f"/my/spa/consent/{consent.id}",
            f"/my/spa/consent/{consent.id}?access_token=wrong",
            f"/my/spa/consent/{consent.id + 100000}?access_token="
            f"{consent.access_token}",
        ):
            response = self.url_open(url)
            self.assertIn(response.status_code, (403, 404), url)
            self.assertNotIn("Clara", response.text)
        result = self.make_jsonrpc_request(
            f"/my/spa/consent/{consent.id}/accept",
            {"access_token": "wrong", "name": "Mallory", "signature": "AAAA"},
        )
        self.assertIn("error", result)
        self.assertEqual(consent.state, "draft")

    def test_page_says_plainly_when_the_link_cannot_be_used(self):
        __, consent, __ = self.send_link()
        url = consent.get_portal_url()
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        page = self.page(response)
        self.assertEqual(page.xpath("string(.//p/strong)"), "Clara Client")
        self.assertIn(
            "I agree to receive an upper-back release",
            self.text_of(page, "o_spa_consent_text"),
        )
        self.assertTrue(page.xpath(".//button[contains(@class, 'o_spa_consent_sign')]"))

        consent.link_expires_on = fields.Date.today() - timedelta(days=1)
        page = self.page(self.url_open(url))
        self.assertIn(
            "This link has expired", self.text_of(page, "o_spa_consent_status")
        )
        self.assertFalse(page.xpath(".//*[contains(@class, 'o_spa_consent_sign')]"))
        self.assertFalse(page.xpath(".//*[contains(@class, 'o_spa_consent_text')]"))
        result = self.make_jsonrpc_request(
            f"/my/spa/consent/{consent.id}/accept",
            {"access_token": consent.access_token, "name": "C", "signature": "AAAA"},
        )
        self.assertIn("expired", result["error"])

        given = self.give_consent()
        page = self.page(self.url_open(given.get_portal_url()))
        self.assertIn("already given", self.text_of(page, "o_spa_consent_status"))
        self.assertIn(
            "I agree to receive an upper-back release",
            self.text_of(page, "o_spa_consent_given"),
        )
        self.assertFalse(page.xpath(".//*[contains(@class, 'o_spa_consent_sign')]"))
        given.action_withdraw()
        page = self.page(self.url_open(given.get_portal_url()))
        self.assertIn("was withdrawn", self.text_of(page, "o_spa_consent_status"))

    def test_client_signs_on_the_phone(self):
        """The client, not logged in, reads and signs with a finger; signing
        gives the consent and the session can start."""
        event, consent, __ = self.send_link()
        self.assertFalse(consent.given_at)
        self.start_tour(consent.get_portal_url(), "spa_consent_portal_tour")
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.method, "signature")
        self.assertTrue(consent.signature)
        self.assertEqual(consent.signed_by, "Clara Client")
        self.assertTrue(consent.given_at)
        self.assertEqual(consent.recorded_by_id, self.env.ref("base.public_user"))
        self.assertIn("upper-back release", consent.consent_text)
        session = self.session_of(event).with_user(self.therapist)
        session.action_start()
        self.assertEqual(session.consent_id, consent)

    def test_page_in_the_clients_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["spa_session_protocol"], ["fr_FR"], overwrite=True
        )
        self.client.lang = "fr_FR"
        consent = self.env["spa.consent"].create(
            {
                "partner_id": self.client.id,
                "protocol_ids": [Command.set(self.protocol.ids)],
                "method": "signature",
            }
        )
        response = self.url_open(consent.get_portal_url())
        self.assertEqual(response.status_code, 200)
        page = self.page(response)
        self.assertIn(
            "accepte de recevoir une libération",
            self.text_of(page, "o_spa_consent_text"),
        )
        self.assertEqual(
            " ".join(page.xpath("string(.//h1)").split()),
            "Votre consentement avant le soin",
        )
