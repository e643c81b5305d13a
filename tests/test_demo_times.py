"""The demo's sessions show the times of their appointments: what their
actions stamped at install time is moved onto the planned times, in order,
and the evidence chain still verifies."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_demo")
class TestDemoTimes(SpaCommon):
    def run_session(self, hours_ago, stop=False):
        """A session of an appointment ``hours_ago`` hours ago, run now."""
        start = fields.Datetime.now().replace(microsecond=0) - timedelta(
            hours=hours_ago
        )
        session = self.started_session(start=start)
        if stop:
            self.tick(session, "Prepare the client and get consent")
            self.checkin(session, pain=8)
            session.action_stop()
        else:
            self.run_compliant_protocol(session)
            session.action_done()
        return session

    def test_demo_sessions_run_at_their_planned_times(self):
        done = self.run_session(3)
        stopped = self.run_session(2, stop=True)
        for session in done | stopped:
            # as installed: everything stamped now, hours after the appointment
            self.assertGreater(session.date_start, session.date_planned_end)
        sessions = (done | stopped).sudo()
        self.env["spa.demo"].sudo()._spa_align_session_times(sessions)
        for session in sessions:
            planned = (session.date_planned, session.date_planned_end)
            self.assertEqual(session.date_start, planned[0] + timedelta(minutes=3))
            self.assertTrue(planned[0] < session.date_done < planned[1])
            self.assertLessEqual(session.consent_id.given_at, session.date_start)
            moments = [session.date_start]
            for step in session.step_ids.filtered("done_at").sorted("sequence"):
                moments.append(step.done_at)
                moments.extend(
                    session.checkin_ids.filtered(
                        lambda c, s=step: c.session_step_id == s
                    ).mapped("create_date")
                )
            moments.append(session.date_done)
            # in the order they happened, within the appointment
            self.assertEqual(moments, sorted(moments))
            self.assertTrue(all(planned[0] <= m <= planned[1] for m in moments))
            for checkin in session.checkin_ids:
                self.assertEqual(checkin.device_at, checkin.create_date)
        self.assertLess(done.date_done, done.date_planned_end)
        # The stopped one ended halfway through its appointment.
        self.assertLess(stopped.date_done, stopped.date_planned + timedelta(minutes=35))
        # The chain is secured again over the times the sessions show.
        self.assertFalse(
            self.env["spa.session"].with_user(self.manager).check_evidence_integrity()
        )
        first, second = done.sorted("date_done") | stopped.sorted("date_done")
        self.assertEqual(second.evidence_sequence, first.evidence_sequence + 1)
        self.assertEqual(second.evidence_previous_hash, first.evidence_hash)

    def test_only_the_demo_data_may_align_times(self):
        done = self.run_session(3)
        Demo = self.env["spa.demo"].with_user(self.manager)
        with self.assertRaises(AccessError):
            Demo._spa_align_session_times(done)
        with self.assertRaises(AccessError):
            Demo._spa_align_times(done.event_id.ids)
        self.assertGreater(done.date_start, done.date_planned_end)
