import logging
import os
import pathlib
import unittest
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import SpaCommon, shoot_tour

TABLET_LANDSCAPE = "1024x768"
TABLET_PORTRAIT = "820x1180"


class SpaTabletUiCommon(SpaCommon, HttpCase):
    """A therapist whose day holds sessions, in the runner's time zone."""

    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tour_therapist = cls.certified_therapist(
            "spa_tour_th", "Tess Tablet", tz="UTC"
        )

    def book_today(self, partner=None):
        return self.session_of(
            self.book(
                partner=partner,
                therapist=self.tour_therapist,
                start=fields.Datetime.now().replace(microsecond=0),
            )
        )

    def run_tour(self, name, size):
        self.browser_size = size
        self.start_tour("/odoo/spa-tablet", name, login="spa_tour_th", timeout=180)


class _DropMessage(logging.Filter):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def filter(self, record):
        return self.text not in record.getMessage()


@tagged("post_install", "-at_install", "spa_tablet")
class TestRunnerUnit(HttpCase):
    """The runner's hoot unit tests, at the desktop preset's viewport (no
    touch emulation: hoot checks the viewport matches its preset)."""

    def test_hoot_session_runner(self):
        # Headless Chromium reserves part of the window for its own UI, so the
        # page's viewport is smaller than the window hoot's desktop preset
        # expects: hoot then warns. The warning is about the browser, not the
        # runner; drop just that one line.
        browser_logger = logging.getLogger(
            f"{type(self).__module__}.{type(self).__name__}.{self._testMethodName}.browser"
        )
        viewport_filter = _DropMessage("Viewport size does not match")
        browser_logger.addFilter(viewport_filter)
        self.addCleanup(browser_logger.removeFilter, viewport_filter)
        self.browser_js(
            "/web/tests?headless&loglevel=2&preset=desktop&timeout=15000"
            "&filter=%2F%40spa_session_protocol%2F",
            "",
            "",
            login="admin",
            timeout=300,
            success_signal="[HOOT] test suite succeeded",
            error_checker=lambda message: (
                "[HOOT]" not in message
                or message == "[HOOT] test failed (see above for details)"
            ),
        )


@tagged("post_install", "-at_install", "spa_tablet")
class TestUi(SpaTabletUiCommon):
    def _full_session(self, size):
        self.give_consent()
        session = self.book_today()
        self.run_tour("spa_tablet_full_session", size)
        self.assertEqual(session.state, "done")
        self.assertEqual(session.checkin_count, 2)
        self.assertTrue(all(session.checkin_ids.mapped("uuid")))
        self.assertTrue(all(session.checkin_ids.mapped("device_at")))
        self.assertEqual(session.sudo().positioning, "prone_table")
        self.assertEqual(
            set(session.step_ids.mapped("done_by_id")), {self.tour_therapist}
        )
        # Each tick and skip keeps the tablet's time beside the server's.
        for line in session.step_ids:
            self.assertTrue(line.device_done_at, line.name)
            self.assertLessEqual(
                abs(line.device_done_at - line.done_at), timedelta(minutes=1)
            )

    def test_tour_full_session_landscape(self):
        self._full_session(TABLET_LANDSCAPE)

    def test_tour_full_session_portrait(self):
        self._full_session(TABLET_PORTRAIT)

    def test_tour_pain_stop(self):
        self.give_consent()
        session = self.book_today().with_user(self.tour_therapist)
        session.action_start()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:4])
        self.run_tour("spa_tablet_pain_stop", TABLET_PORTRAIT)
        self.assertEqual(session.state, "stopped")
        self.assertTrue(session.referral_recommended)
        self.assertEqual(session.checkin_ids.pain_level, 8)

    def test_tour_pain_stop_landscape(self):
        self.give_consent()
        session = self.book_today().with_user(self.tour_therapist)
        session.action_start()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:4])
        self.run_tour("spa_tablet_pain_stop", TABLET_LANDSCAPE)
        self.assertEqual(session.state, "stopped")
        self.assertEqual(session.stop_reason, "pain")
        self.assertTrue(session.referral_recommended)

    def test_tour_refusal_at_the_step(self):
        """The server refuses a tick (the therapist's certification ended):
        the refusal shows at the step tapped, inside the viewport."""
        self.give_consent()
        session = self.book_today().with_user(self.tour_therapist)
        session.action_start()
        self.run_mandatory_steps(session)
        self.env["spa.certification"].search(
            [("user_id", "=", self.tour_therapist.id)]
        ).write({"date_to": fields.Date.today() - timedelta(days=1)})
        adjust = self.step(session, "Adjust the technique")
        for size in (TABLET_LANDSCAPE, TABLET_PORTRAIT):
            with self.subTest(size=size):
                # Each size starts from the same screen: "Adjust the
                # technique" to do (the tour skips it).
                self.env.flush_all()
                self.env.cr.execute(
                    "UPDATE spa_session_step SET state = 'todo', done_by_id = NULL, "
                    "done_at = NULL, device_done_at = NULL, skip_reason = NULL "
                    "WHERE id = %s",
                    [adjust.id],
                )
                self.env.invalidate_all()
                self.run_tour("spa_tablet_refusal_at_the_step", size)
                self.assertEqual(adjust.state, "skipped")
                self.assertEqual(
                    self.step(session, "Advanced techniques").state, "todo"
                )

    def test_tour_open_from_session_form(self):
        session = self.book_today()
        self.browser_size = TABLET_LANDSCAPE
        self.start_tour(
            f"/odoo/action-spa_session_protocol.spa_session_action/{session.id}",
            "spa_tablet_open_from_form",
            login="spa_tour_th",
        )

    def _consent_signed_on_tablet(self, size):
        session = self.book_today(partner=self.client2)
        self.run_tour("spa_tablet_consent", size)
        consent = session.consent_id
        self.assertEqual(session.state, "in_progress")
        self.assertEqual(consent.method, "signature")
        self.assertEqual(consent.recorded_by_id, self.tour_therapist)
        self.assertTrue(consent.signature)
        self.assertEqual(consent.signed_by, "Carl Client")

    def test_tour_consent_signed_on_tablet(self):
        self._consent_signed_on_tablet(TABLET_LANDSCAPE)

    def test_tour_consent_signed_on_tablet_portrait(self):
        self._consent_signed_on_tablet(TABLET_PORTRAIT)


@tagged("post_install", "-at_install", "spa_screenshots")
@unittest.skipUnless(
    os.environ.get("SPA_SCREENSHOTS_DIR"),
    "set SPA_SCREENSHOTS_DIR (scripts/screenshots)",
)
class TestRunnerScreenshots(SpaTabletUiCommon):
    """Pictures of the runner at tablet sizes, for review (scripts/screenshots)."""

    SCREENS = ("list", "session", "checkin", "stop", "start", "consent", "finished")

    def test_screenshots(self):
        out = pathlib.Path(os.environ["SPA_SCREENSHOTS_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        self.give_consent()
        running = self.book_today().with_user(self.tour_therapist)
        running.action_start()
        running.write({"positioning": "prone_table"})
        self.tick(running, *self.MANDATORY[:4])
        self.checkin(running, pain=2)
        self.book_today(partner=self.client2)
        # A session of the day already completed, one optional step skipped.
        dora = self.env["res.partner"].create({"name": "Dora Done"})
        self.give_consent(partner=dora)
        self.give_intake(dora)
        finished = self.book_today(partner=dora).with_user(self.tour_therapist)
        finished.action_start()
        self.run_compliant_protocol(finished)
        finished.action_done()
        for size in (TABLET_LANDSCAPE, TABLET_PORTRAIT):
            for screen in self.SCREENS:
                self.browser_size = size
                png = shoot_tour(
                    self, "/odoo/spa-tablet", f"spa_tablet_shot_{screen}", "spa_tour_th"
                )
                (out / f"therapist_{screen}_{size}.png").write_bytes(png)
