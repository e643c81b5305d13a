from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import SpaCommon

NOW = datetime(2025, 6, 2, 8, 0)


@tagged("post_install", "-at_install", "spa_reminders")
class TestReminders(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Activity = cls.env["mail.activity"]
        cls.type_missing = cls.env.ref(
            "spa_session_protocol.mail_activity_type_spa_consent_missing"
        )
        cls.type_consent = cls.env.ref(
            "spa_session_protocol.mail_activity_type_spa_consent_expiring"
        )
        cls.type_cert = cls.env.ref(
            "spa_session_protocol.mail_activity_type_spa_certification_expiring"
        )
        cls.todo = cls.env.ref("mail.mail_activity_data_todo")
        cls.front_desk_group = cls.env.ref("spa_session_protocol.group_spa_front_desk")

    def activities(self, records, activity_type):
        return self.Activity.search(
            [
                ("res_model", "=", records._name),
                ("res_id", "in", records.ids),
                ("activity_type_id", "=", activity_type.id),
            ]
        )

    # ------------------------------------------------------------------
    # Appointments without a valid consent
    # ------------------------------------------------------------------

    @freeze_time(NOW)
    def test_missing_consent_reminder(self):
        soon = NOW + timedelta(hours=5)
        no_consent = self.book(partner=self.client2, start=soon)
        self.give_consent()
        covered = self.book(start=soon + timedelta(hours=1))
        later = self.book(partner=self.client2, start=NOW + timedelta(days=3))
        by_therapist = self.book(
            partner=self.client2, start=soon + timedelta(hours=2), user=self.manager
        )
        by_therapist.sudo().user_id = self.therapist  # organizer not front desk

        Event = self.env["calendar.event"]
        Event._cron_spa_remind_missing_consent()
        Event._cron_spa_remind_missing_consent()  # idempotent

        activity = self.activities(no_consent, self.type_missing)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.front_desk)  # the organizer
        self.assertEqual(activity.date_deadline, soon.date())
        self.assertIn("Carl Client", activity.summary)
        self.assertFalse(self.activities(covered, self.type_missing))
        self.assertFalse(self.activities(later, self.type_missing))
        other = self.activities(by_therapist, self.type_missing)
        self.assertEqual(len(other), 1)
        self.assertIn(self.front_desk_group, other.user_id.groups_id)

    @freeze_time(NOW)
    def test_missing_consent_checked_on_the_appointment_day(self):
        # valid today, expired tomorrow, the day of the appointment
        self.give_consent(valid_until=NOW.date())
        event = self.book(start=NOW + timedelta(hours=20))
        self.env["calendar.event"]._cron_spa_remind_missing_consent()
        self.assertEqual(len(self.activities(event, self.type_missing)), 1)

    def test_missing_consent_cron_batched(self):
        """The cron's queries do not grow with the number of appointments."""
        Event = self.env["calendar.event"]
        start = fields.Datetime.now() + timedelta(hours=2)
        counts = []
        for n in (2, 8):
            clients = self.env["res.partner"].create(
                [{"name": f"Batch client {n}-{i}"} for i in range(n)]
            )
            for i, client in enumerate(clients):
                self.book(partner=client, start=start + timedelta(minutes=i))
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            Event._cron_spa_remind_missing_consent()
            self.env.flush_all()
            counts.append(self.cr.sql_log_count - before)
            # the next round starts from reminders already sent
            start += timedelta(minutes=30)
        per_small, per_big = counts[0] / 2, counts[1] / 8
        self.assertLess(per_big, per_small, f"queries per appointment: {counts}")

    # ------------------------------------------------------------------
    # Expiring consents and certifications
    # ------------------------------------------------------------------

    def test_expiring_consent_reminder(self):
        with freeze_time(NOW):
            expiring = self.give_consent(valid_until=date(2025, 6, 20))
            renewed = self.give_consent(
                partner=self.client2, valid_until=date(2025, 6, 25)
            )
            self.give_consent(partner=self.client2, valid_until=date(2026, 6, 1))
            far = self.give_consent(
                partner=self.client2,
                protocols=self.protocol.copy({"code": "OTHER"}),
                valid_until=date(2025, 12, 1),
            )
            Consent = self.env["spa.consent"]
            Consent._cron_remind_expiring()
            Consent._cron_remind_expiring()
        activity = self.activities(expiring, self.type_consent)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.front_desk)  # who recorded it
        self.assertEqual(activity.date_deadline, date(2025, 6, 20))
        self.assertFalse(self.activities(renewed, self.type_consent))
        self.assertFalse(self.activities(far, self.type_consent))

        # done: not scheduled again for the same expiry
        activity.action_done()
        with freeze_time(NOW + timedelta(days=1)):
            self.env["spa.consent"]._cron_remind_expiring()
        self.assertFalse(self.activities(expiring, self.type_consent))

    def test_expiring_certification_reminder(self):
        Cert = self.env["spa.certification"]
        with freeze_time(NOW):
            expiring = Cert.create(
                {
                    "user_id": self.therapist2.id,
                    "qualification_id": self.qualification.id,
                    "date_from": date(2024, 6, 1),
                    "date_to": date(2025, 6, 30),
                }
            )
            old = Cert.create(
                {
                    "user_id": self.manager.id,
                    "qualification_id": self.qualification.id,
                    "date_from": date(2024, 6, 1),
                    "date_to": date(2025, 6, 15),
                }
            )
            Cert.create(
                {
                    "user_id": self.manager.id,
                    "qualification_id": self.qualification.id,
                    "date_from": date(2025, 6, 16),
                }
            )
            Cert._cron_remind_expiring()
            Cert._cron_remind_expiring()
        activities = self.activities(expiring, self.type_cert)
        self.assertIn(self.therapist2, activities.user_id)
        managers = activities.user_id - self.therapist2
        self.assertEqual(len(managers), 1)
        self.assertTrue(managers.has_group("spa_session_protocol.group_spa_manager"))
        self.assertEqual(len(activities), 2)
        self.assertEqual(set(activities.mapped("date_deadline")), {date(2025, 6, 30)})
        self.assertFalse(self.activities(old, self.type_cert), "renewed")

    # ------------------------------------------------------------------
    # Stop follow-up
    # ------------------------------------------------------------------

    def _stop_with_referral(self):
        session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=9)
        session.action_stop()
        self.assertTrue(session.referral_recommended)
        return session

    def test_referral_followup_for_responsible(self):
        self.protocol.responsible_id = self.manager
        session = self._stop_with_referral()
        activity = self.activities(session, self.todo)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.manager)
        self.assertIn(session.sudo().name, activity.summary)
        session.sudo()._schedule_referral_followup()  # no duplicate
        self.assertEqual(len(self.activities(session, self.todo)), 1)

    def test_referral_followup_default_manager(self):
        self.protocol.responsible_id = False
        session = self._stop_with_referral()
        activity = self.activities(session, self.todo)
        self.assertEqual(len(activity), 1)
        self.assertTrue(
            activity.user_id.has_group("spa_session_protocol.group_spa_manager")
        )

    def test_no_followup_without_referral(self):
        session = self.started_session()
        session.action_stop(reason="client_late")
        self.assertFalse(self.activities(session, self.todo))
