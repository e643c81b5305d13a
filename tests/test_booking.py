from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_booking")
class TestBooking(SpaCommon):
    def test_event_gets_exactly_one_session(self):
        event = self.book()
        self.assertEqual(len(event.spa_session_ids), 1)
        session = event.spa_session_ids
        self.assertEqual(session.partner_id, self.client)
        self.assertEqual(session.therapist_id, self.therapist)
        self.assertEqual(session.protocol_id, self.protocol)
        self.assertEqual(session.date_planned, event.start)
        event.write({"spa_therapist_id": self.therapist.id, "name": "Renamed"})
        event.write({"spa_client_id": self.client.id})
        self.assertEqual(len(event.sudo().spa_session_ids), 1)

    def test_writing_protocol_and_client_later_books_once(self):
        start = fields.Datetime.now() + timedelta(days=1)
        event = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .create(
                {"name": "Walk-in", "start": start, "stop": start + timedelta(hours=1)}
            )
        )
        self.assertFalse(event.spa_session_ids)
        event.write(
            {"spa_protocol_id": self.protocol.id, "spa_client_id": self.client.id}
        )
        event.write({"spa_therapist_id": self.therapist.id})
        self.assertEqual(len(event.spa_session_ids), 1)
        self.assertEqual(event.spa_session_ids.therapist_id, self.therapist)

    def test_booking_through_the_form(self):
        form = Form(self.env["calendar.event"].with_user(self.front_desk))
        form.name = "Upper back"
        form.start = fields.Datetime.now() + timedelta(days=2)
        form.stop = fields.Datetime.now() + timedelta(days=2, hours=1)
        form.spa_protocol_id = self.protocol
        form.spa_client_id = self.client
        form.spa_therapist_id = self.therapist
        event = form.save()
        self.assertEqual(len(event.spa_session_ids), 1)
        self.assertEqual(event.spa_session_state, "draft")
        self.assertEqual(event.spa_consent_status, "missing")
        self.give_consent()
        event.invalidate_recordset(["spa_consent_status"])
        self.assertEqual(event.spa_consent_status, "valid")

    def test_moving_event_moves_planned_time(self):
        event = self.book()
        new_start = event.start + timedelta(days=1)
        event.write({"start": new_start, "stop": new_start + timedelta(hours=1)})
        self.assertEqual(event.spa_session_ids.date_planned, new_start)

    def test_draft_session_follows_reassignment(self):
        event = self.book()
        event.write(
            {"spa_client_id": self.client2.id, "spa_therapist_id": self.therapist2.id}
        )
        session = event.spa_session_ids
        self.assertEqual(len(session), 1)
        self.assertEqual(session.partner_id, self.client2)
        self.assertEqual(session.therapist_id, self.therapist2)

    def test_therapist_cannot_reassign(self):
        event = self.book()
        session = event.spa_session_ids.with_user(self.therapist)
        with self.assertRaises(AccessError):
            session.write({"therapist_id": self.therapist2.id})
        with self.assertRaises(AccessError):
            session.write({"partner_id": self.client2.id})

    def test_started_session_refuses_reassignment(self):
        event = self.book()
        self.give_consent()
        event.spa_session_ids.with_user(self.therapist).action_start()
        with self.assertRaisesRegex(
            UserError, "cannot change once its session has started"
        ):
            event.write({"spa_client_id": self.client2.id})
        with self.assertRaisesRegex(UserError, "cannot change once it has started"):
            event.spa_session_ids.with_user(self.manager).write(
                {"therapist_id": self.therapist2.id}
            )

    def test_delete_or_archive_event_cancels_planned_session(self):
        event = self.book()
        session = event.spa_session_ids
        event.unlink()
        self.assertTrue(session.exists())
        self.assertEqual(session.state, "cancelled")
        self.assertTrue(session.date_planned)
        event2 = self.book()
        session2 = event2.spa_session_ids
        event2.action_archive()
        self.assertEqual(session2.state, "cancelled")

    def test_delete_or_archive_event_refused_once_started(self):
        event = self.book()
        self.give_consent()
        event.spa_session_ids.with_user(self.therapist).action_start()
        with self.assertRaisesRegex(UserError, "has started and is evidence"):
            event.unlink()
        with self.assertRaisesRegex(UserError, "has started and is evidence"):
            event.action_archive()
        self.assertTrue(event.active)
        self.assertEqual(event.spa_session_ids.state, "in_progress")

    def test_batch_booking(self):
        start = fields.Datetime.now() + timedelta(days=3)
        events = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .create(
                [
                    {
                        "name": f"Session {i}",
                        "start": start + timedelta(hours=i),
                        "stop": start + timedelta(hours=i, minutes=45),
                        "spa_protocol_id": self.protocol.id,
                        "spa_client_id": self.client.id,
                        "spa_therapist_id": self.therapist.id,
                    }
                    for i in range(5)
                ]
            )
        )
        self.assertEqual(len(events.spa_session_ids), 5)
        self.assertEqual(sorted(len(e.spa_session_ids) for e in events), [1] * 5)
