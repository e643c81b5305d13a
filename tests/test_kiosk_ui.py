from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from .common import SpaCommon
from .test_ui import TABLET_LANDSCAPE, TABLET_PORTRAIT


@tagged("post_install", "-at_install", "spa_kiosk")
class TestKioskUi(SpaCommon, HttpCase):
    """The room's tablet in Chromium, with touch, at tablet sizes: no Odoo
    login, a PIN unlocks the therapist's session."""

    touch_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kiosk_therapist = new_test_user(
            cls.env,
            "spa_kiosk_th",
            groups="spa_session_protocol.group_spa_therapist",
            name="Kim Kiosk",
            tz="UTC",
        )
        cls.env["spa.certification"].create(
            {
                "user_id": cls.kiosk_therapist.id,
                "qualification_id": cls.qualification.id,
                "date_from": fields.Date.today() - timedelta(days=30),
            }
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

    def _full_session(self, size):
        session = self.book_in_room()
        self.browser_size = size
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
        session = self.book_in_room()
        self.browser_size = TABLET_PORTRAIT
        self.start_tour(self.kiosk_url(), "spa_kiosk_wrong_pin", timeout=180)
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
        self.assertEqual(self.url_open(old_url).status_code, 404)
        self.start_tour(old_url, "spa_kiosk_address_refused")
        self.assertEqual(self.url_open(self.kiosk_url()).status_code, 200)
