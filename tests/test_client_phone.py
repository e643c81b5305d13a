"""The client's phone (390x844): signing a consent with a finger under its
text, a drawn signature only (refused by the server otherwise), and times in
the client's time zone."""

import base64
import io
import os
import pathlib
import unittest
from datetime import timedelta

import pytz
from lxml import html as lxml_html
from PIL import Image

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import ChromeBrowser, ChromeBrowserException

from .common import (
    SpaCommon,
    ink,
    png,
    shoot_tour,
    typed_name,
    zigzag,
)

PHONE = "390x844"
AUCKLAND = "Pacific/Auckland"


class ClientPhoneCommon(SpaCommon, HttpCase):
    browser_size = PHONE
    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client.write({"email": "clara@example.com", "tz": AUCKLAND})

    def draft_consent(self, partner=None):
        consent = self.env["spa.consent"].create(
            {
                "partner_id": (partner or self.client).id,
                "protocol_ids": [Command.set(self.protocol.ids)],
                "method": "signature",
            }
        )
        consent._portal_ensure_token()
        return consent

    def phone_browser(self, login=None, success_signal="tour succeeded"):
        """Chromium showing a 390x844 phone screen: a headless window is at
        least 500 px wide, so the page's viewport is set as a phone's (as
        Chrome's device mode does)."""
        browser = ChromeBrowser(self, success_signal=success_signal)
        width, height = (int(v) for v in PHONE.split("x"))
        browser._websocket_request(
            "Emulation.setDeviceMetricsOverride",
            params={
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": True,
            },
        )
        self.authenticate(login, login, browser=browser)
        self.cr.flush()
        self.cr.clear()
        return browser

    def run_phone_tour(self, browser, url, tour):
        browser.navigate_to(f"{self.base_url()}{url}", wait_stop=False)
        self.assertTrue(browser._wait_ready(f"odoo.isTourReady({tour!r})"))
        try:
            browser._wait_code_ok(f"odoo.startTour({tour!r}, {{}})", 120)
        except ChromeBrowserException as error:
            self.fail(f"Tour {tour} failed on the phone:\n\n{error}")

    def phone_tour(self, url, tour, login=None):
        """Run ``tour`` on ``url`` on a 390x844 phone screen."""
        browser = self.phone_browser(login)
        try:
            self.run_phone_tour(browser, url, tour)
        finally:
            browser.stop()
            self._wait_remaining_requests()

    def shoot(self, url, tour, login=None):
        """Run ``tour`` on ``url`` (it ends on the screen to capture), then
        capture the phone's screen as a PNG."""
        return shoot_tour(self, url, tour, browser=self.phone_browser(login))


@tagged("post_install", "-at_install", "spa_portal", "spa_client_phone")
class TestClientPhone(ClientPhoneCommon):
    def accept(self, consent, signature, strokes=None, **extra):
        params = {
            "access_token": consent.access_token,
            "name": "Clara Client",
            "signature": signature,
            "shown": consent._spa_shown_version(),
            **extra,
        }
        if strokes is not None:
            params["strokes"] = strokes
        return self.make_jsonrpc_request(f"/my/spa/consent/{consent.id}/accept", params)

    # ------------------------------------------------------------------
    # The phone, in Chromium
    # ------------------------------------------------------------------

    def test_client_signs_on_the_phone_under_the_text(self):
        """At 390x844: the pad opens under the text (the text stays in view,
        not covered), the pad is the form's width and >= 180 px high, every
        control >= 48 px, no "Auto" or "Load" mode; the drawn signature gives
        the consent, and the page says when, in the client's time zone."""
        consent = self.draft_consent()
        self.phone_tour(consent.get_portal_url(), "spa_client_phone_sign_tour")
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.signed_by, "Clara Client")
        image = Image.open(io.BytesIO(base64.b64decode(consent.signature)))
        # The pad's picture: the phone's width less the page's margins.
        self.assertGreaterEqual(image.height, 180)
        self.assertGreaterEqual(image.width, 300)
        self.assertLess(image.width, 390)

    # ------------------------------------------------------------------
    # The server refuses what was not drawn (a real HTTP post)
    # ------------------------------------------------------------------

    def test_server_refuses_a_signature_that_was_not_drawn(self):
        consent = self.draft_consent()
        stroke = zigzag()
        cases = [
            ("blank pad", png(), [stroke], "empty"),
            ("typed name (Auto)", png(typed_name("Clara Client")), [], "typed name"),
            ("typed name, no strokes sent", png(typed_name("Clara")), None, "typed"),
            (
                "typed name with a made-up stroke",
                png(typed_name("Clara Client")),
                [stroke],
                "not the one drawn",
            ),
            (
                "a drawing somewhere else than the strokes",
                png(ink(zigzag(top=40))),
                [zigzag(top=170)],
                "not the one drawn",
            ),
            (
                "a dot",
                png(lambda d: d.ellipse((99, 99, 109, 109), fill="black")),
                [[[100, 100], [108, 108]]],
                "too small",
            ),
            ("strokes not points", png(ink(stroke)), [["a", "b"]], "typed name"),
            ("strokes not a list", png(ink(stroke)), "draw", "typed name"),
        ]
        for label, signature, strokes, message in cases:
            with self.subTest(label):
                result = self.accept(consent, signature, strokes)
                self.assertIn("error", result)
                self.assertIn(message, result["error"])
                consent.invalidate_recordset()
                self.assertEqual(consent.state, "draft")
                self.assertFalse(consent.signature)
        # The drawing with the strokes that made it is accepted.
        result = self.accept(consent, png(ink(stroke)), [stroke])
        self.assertNotIn("error", result)
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.method, "signature")
        self.assertTrue(consent.signature)

    # ------------------------------------------------------------------
    # Times in the client's time zone
    # ------------------------------------------------------------------

    @staticmethod
    def local(moment, tz):
        return pytz.utc.localize(moment).astimezone(pytz.timezone(tz))

    def test_consent_page_shows_the_clients_time(self):
        consent = self.give_consent()
        page = lxml_html.fromstring(self.url_open(consent.get_portal_url()).text)
        [given_at] = page.xpath("//*[contains(@class, 'o_spa_consent_given_at')]")
        local = self.local(consent.given_at, AUCKLAND)
        self.assertNotEqual(local.hour, consent.given_at.hour)
        self.assertIn(local.strftime("%H:%M"), given_at.text_content())
        self.assertIn(AUCKLAND, page.xpath("string(//*[contains(@class, 'o_spa_tz')])"))

    def test_portal_pages_show_the_clients_time(self):
        portal_user = new_test_user(
            self.env,
            "spa_phone_portal",
            groups="base.group_portal",
            name="Paula Phone",
            email="paula@example.com",
            tz=AUCKLAND,
        )
        partner = portal_user.partner_id
        self.give_consent(partner=partner)
        planned = fields.Datetime.now().replace(microsecond=0, second=0) + timedelta(
            days=2
        )
        session = self.session_of(self.book(partner=partner, start=planned))
        self.authenticate("spa_phone_portal", "spa_phone_portal")

        def shown_time():
            page = lxml_html.fromstring(self.url_open("/my/spa").text)
            [item] = page.xpath(
                f"//*[contains(@class, 'o_spa_portal_appointments')]"
                f"/li[@data-id='{session.id}']"
            )
            tz_note = page.xpath("string(//*[contains(@class, 'o_spa_tz')])")
            return item.text_content(), tz_note

        text, tz_note = shown_time()
        local = self.local(planned, AUCKLAND)
        self.assertIn(local.strftime("%H:%M"), text)
        self.assertNotIn(planned.strftime("%H:%M"), text)
        self.assertIn(AUCKLAND, tz_note)
        # Without a time zone of their own: the company's (its working
        # calendar's), else the browser's.
        partner.tz = False
        self.opener.cookies.set("tz", "America/New_York")
        company_tz = self.env.company._spa_tz().zone
        expected = company_tz if company_tz != "UTC" else "America/New_York"
        text, tz_note = shown_time()
        self.assertIn(self.local(planned, expected).strftime("%H:%M"), text)
        self.assertIn(expected, tz_note)


@tagged("post_install", "-at_install", "spa_screenshots")
@unittest.skipUnless(
    os.environ.get("SPA_SCREENSHOTS_DIR"),
    "set SPA_SCREENSHOTS_DIR (scripts/screenshots)",
)
class TestClientScreenshots(ClientPhoneCommon):
    """The client's phone screens, for review (scripts/screenshots)."""

    def test_screenshots(self):
        out = pathlib.Path(os.environ["SPA_SCREENSHOTS_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        consent = self.draft_consent()
        url = consent.get_portal_url()
        (out / f"client_consent_{PHONE}.png").write_bytes(
            self.shoot(url, "spa_client_shot_consent")
        )
        (out / f"client_signing_{PHONE}.png").write_bytes(
            self.shoot(url, "spa_client_shot_signing")
        )
        portal_user = new_test_user(
            self.env,
            "spa_shot_portal",
            groups="base.group_portal",
            name="Paula Phone",
            email="paula@example.com",
            tz=AUCKLAND,
        )
        partner = portal_user.partner_id
        self.give_intake(partner)
        self.give_consent(partner=partner)
        done = self.session_of(
            self.book(partner=partner, start=fields.Datetime.now())
        ).with_user(self.therapist)
        done.action_start()
        self.run_compliant_protocol(done)
        done.action_done()
        self.session_of(
            self.book(partner=partner, start=fields.Datetime.now() + timedelta(days=3))
        )
        (out / f"client_portal_{PHONE}.png").write_bytes(
            self.shoot("/my/spa", "spa_client_shot_portal", login="spa_shot_portal")
        )
