import logging
from contextlib import contextmanager
from unittest.mock import patch

from werkzeug.wrappers import Response

from odoo import fields, http
from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from .common import SpaCommon
from .test_ui import TABLET_LANDSCAPE, TABLET_PORTRAIT, _DropMessage


@tagged("post_install", "-at_install", "spa_kiosk")
class TestKioskUi(SpaCommon, HttpCase):
    """The room's tablet in Chromium, with touch, at tablet sizes: no Odoo
    login, a PIN unlocks the therapist's session."""

    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kiosk_therapist = cls.certified_therapist(
            "spa_kiosk_th", "Kim Kiosk", tz="UTC"
        )
        cls.kiosk_therapist.with_user(cls.kiosk_therapist).action_spa_set_pin("2468")
        cls.tour_room = cls.env["spa.room"].create({"name": "Tour Room"})

    def book_in_room(self):
        self.give_consent()
        return self.session_of(
            self.book(
                therapist=self.kiosk_therapist,
                start=fields.Datetime.now().replace(microsecond=0),
                spa_room_id=self.tour_room.id,
            )
        )

    def kiosk_url(self):
        return self.tour_room._spa_kiosk_path()

    @contextmanager
    def access_log_without_token(self):
        """The request lines the server logs (``werkzeug``: Odoo's access
        log) and Odoo's HTTP layer's lines while the block runs: there must be
        kiosk requests among them, and the room's token in none."""
        token = self.tour_room.sudo().kiosk_token
        lines = []

        class Keep(logging.Handler):
            def emit(self, record):
                lines.append(f"{record.name} {record.getMessage()}")

        keep = Keep(logging.DEBUG)
        loggers = [logging.getLogger(name) for name in ("werkzeug", "odoo.http")]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(keep)
        # The access log's request lines are INFO.
        loggers[0].setLevel(logging.INFO)
        try:
            yield lines
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(keep)
                logger.setLevel(level)
        leaks = [line for line in lines if token in line]
        self.assertFalse(leaks, "The room's token is in the server's log")
        requests = [line for line in lines if line.startswith("werkzeug ")]
        self.assertTrue(
            any('"GET /spa/kiosk HTTP' in line for line in requests), requests
        )
        self.assertTrue(
            any('"POST /spa/kiosk/unlock' in line for line in requests), requests
        )

    def _full_session(self, size):
        session = self.book_in_room()
        self.browser_size = size
        with self.access_log_without_token():
            self.start_tour(self.kiosk_url(), "spa_kiosk_full_session", timeout=240)
        self.assertEqual(session.state, "done")
        self.assertEqual(session.checkin_count, 2)
        self.assertTrue(all(session.checkin_ids.mapped("uuid")))
        self.assertEqual(
            set(session.step_ids.mapped("done_by_id")), {self.kiosk_therapist}
        )
        self.assertEqual(session.sudo().positioning, "prone_table")
        # Locked at the end: the last unlock no longer works.
        self.assertTrue(self.tour_room.sudo().kiosk_unlock_key)

    def test_tour_kiosk_full_session_landscape(self):
        self._full_session(TABLET_LANDSCAPE)

    def test_tour_kiosk_full_session_portrait(self):
        self._full_session(TABLET_PORTRAIT)

    def test_tour_kiosk_wrong_pin_five_times(self):
        """Opened at the address the design names, ``/spa/kiosk/<token>``:
        the same kiosk, and the token leaves the address bar at once."""
        session = self.book_in_room()
        self.browser_size = TABLET_PORTRAIT
        token = self.tour_room.sudo().kiosk_token
        self.start_tour(f"/spa/kiosk/{token}", "spa_kiosk_wrong_pin", timeout=180)
        user_sudo = self.kiosk_therapist.sudo()
        self.assertGreater(user_sudo.spa_pin_locked_until, fields.Datetime.now())
        self.assertEqual(session.state, "draft")

    def test_tour_manager_regenerates_token(self):
        self.book_in_room()
        old_url = self.kiosk_url()
        self.browser_size = TABLET_LANDSCAPE
        self.start_tour(
            "/odoo/action-spa_session_protocol.spa_room_action",
            "spa_kiosk_regenerate_token",
            login="spa_mgr",
        )
        self.assertNotEqual(self.kiosk_url(), old_url)
        # The old link opens the kiosk page, which learns from the server
        # (in a request's body) that its token is refused, and forgets it.
        self.start_tour(old_url, "spa_kiosk_address_refused")

    def test_tour_kiosk_offline_reload_then_sync_once(self):
        """Load, lose the server, reload (the service worker serves the page),
        record, tick and log a check-in, get the server back: each reaches
        the database exactly once, and nothing stays on the tablet after the
        lock."""
        session = self.book_in_room()
        network = {"offline": False}
        handle_console = ChromeBrowser._handle_console

        def watch_console(browser, **params):
            args = params.get("args")
            if args:
                text = str(browser._from_remoteobject(args[0]))
                if text in ("spa_kiosk_test:offline", "spa_kiosk_test:online"):
                    network["offline"] = text.endswith("offline")
            return handle_console(browser, **params)

        serve = http.Application.__call__

        def away_or_serve(app, environ, start_response):
            # The server is unreachable (as behind a proxy with no upstream).
            if network["offline"]:
                return Response("offline", status=503)(environ, start_response)
            return serve(app, environ, start_response)

        # While the server is away, the browser's idle connections time out
        # on the test server: that line is about the simulated outage.
        werkzeug_logger = logging.getLogger("werkzeug")
        timeout_filter = _DropMessage("Request timed out")
        werkzeug_logger.addFilter(timeout_filter)
        self.addCleanup(werkzeug_logger.removeFilter, timeout_filter)
        self.browser_size = TABLET_PORTRAIT
        with (
            patch.object(ChromeBrowser, "_handle_console", watch_console),
            patch.object(http.Application, "__call__", away_or_serve),
        ):
            with self.access_log_without_token():
                self.start_tour(self.kiosk_url(), "spa_kiosk_offline", timeout=240)
        session.invalidate_recordset()
        positioning = self.step(session, "Positioning")
        self.assertEqual(positioning.state, "done")
        self.assertEqual(positioning.done_by_id, self.kiosk_therapist)
        self.assertEqual(session.sudo().positioning, "prone_table")
        checkins = session.sudo().checkin_ids
        self.assertEqual(len(checkins), 1)
        self.assertEqual(checkins.pain_level, 2)
        self.assertEqual(checkins.session_step_id, positioning)
        self.assertTrue(checkins.uuid and checkins.device_at)
