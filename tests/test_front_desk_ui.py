"""The front desk in Chromium at 1366x768 (issue 18): the day of every
therapist, booking without typing a title, the consent badge first,
recording a consent after reading its text, the signing link's state."""

import os
import pathlib
import unittest
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import SpaCommon, shoot_tour

FRONT_DESK_SCREEN = "1366x768"


class SpaFrontDeskUiCommon(SpaCommon, HttpCase):
    browser_size = FRONT_DESK_SCREEN

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client.email = "clara@example.com"
        cls.newcomer = cls.env["res.partner"].create(
            {"name": "Nina Newcomer", "email": "nina@example.com"}
        )
        cls.give_intake(cls.newcomer)
        for user in (cls.front_desk, cls.therapist, cls.therapist2):
            user.tz = "UTC"

    def book_the_day(self):
        """Two therapists' appointments in the next hours, one in a room."""
        start = fields.Datetime.now().replace(minute=0, second=0, microsecond=0)
        start += timedelta(hours=1)
        theo = self.book(start=start, spa_room_id=self.room.id)
        tara = self.book(
            partner=self.client2,
            therapist=self.therapist2,
            start=start,
            user=self.manager,
        )
        return theo, tara


@tagged("post_install", "-at_install", "spa_front_desk", "spa_front_desk_ui")
class TestFrontDeskUi(SpaFrontDeskUiCommon):
    def test_tour_front_desk_day(self):
        self.book_the_day()
        self.start_tour(
            "/odoo/spa-appointments", "spa_front_desk_day", login="spa_fd", timeout=240
        )
        event = self.env["calendar.event"].search(
            [("spa_client_id", "=", self.newcomer.id)]
        )
        self.assertEqual(len(event), 1)
        self.assertEqual(event.name, f"{self.protocol.name} – Nina Newcomer")
        self.assertLessEqual(
            self.newcomer | self.therapist2.partner_id, event.partner_ids
        )
        consent = self.env["spa.consent"].search(
            [("partner_id", "=", self.newcomer.id), ("state", "=", "given")]
        )
        self.assertEqual(len(consent), 1)
        self.assertEqual(consent.recorded_by_id, self.front_desk)
        self.assertEqual(consent.method, "written")
        self.assertIn(
            self.env.ref("spa_session_protocol.body_region_gluteal"),
            consent.body_region_ids,
        )
        link = self.env["spa.consent"].search(
            [("partner_id", "=", self.newcomer.id), ("state", "=", "draft")]
        )
        self.assertTrue(link.link_voided_at, "the link sent on booking is void")
        self.assertEqual(event.spa_consent_status, "valid")

    def test_front_desk_lands_on_the_day(self):
        """After logging in (``/odoo``), the front desk's home action is the
        spa's appointments."""
        self.book_the_day()
        self.start_tour("/odoo", "spa_fd_shot_calendar", login="spa_fd", timeout=120)


@tagged("post_install", "-at_install", "spa_screenshots")
@unittest.skipUnless(
    os.environ.get("SPA_SCREENSHOTS_DIR"),
    "set SPA_SCREENSHOTS_DIR (scripts/screenshots)",
)
class TestFrontDeskScreenshots(SpaFrontDeskUiCommon):
    """Pictures of the front desk's screens at 1366x768 (scripts/screenshots)."""

    def test_screenshots(self):
        out = pathlib.Path(os.environ["SPA_SCREENSHOTS_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        theo, tara = self.book_the_day()
        self.newcomer_event = self.book(
            partner=self.newcomer,
            therapist=self.therapist2,
            start=theo.start + timedelta(hours=1),
        )
        event_url = f"/odoo/spa-appointments/{self.newcomer_event.id}"
        for screen, url, tour in (
            ("calendar", "/odoo/spa-appointments", "spa_fd_shot_calendar"),
            ("appointment", event_url, "spa_fd_shot_appointment"),
            ("consent", event_url, "spa_fd_shot_consent"),
        ):
            png = shoot_tour(self, url, tour, "spa_fd")
            (out / f"frontdesk_{screen}_{FRONT_DESK_SCREEN}.png").write_bytes(png)
