from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_rules")
class TestSessionFlow(SpaCommon):
    def test_checklist_is_a_snapshot_of_the_protocol(self):
        session = self.session_of(self.book())
        self.assertEqual(session.state, "draft")
        self.assertEqual(
            session.step_ids.mapped("name"), self.protocol.step_ids.mapped("name")
        )
        self.assertEqual(len(session.step_ids), 9)
        self.assertEqual(session.min_checkin_count, 2)
        self.assertEqual(session.pain_stop_threshold, 7)
        # Editing the protocol later does not change a started session.
        self.give_consent()
        session.with_user(self.therapist).action_start()
        self.protocol.step_ids[0].name = "Renamed step"
        self.protocol.pain_stop_threshold = 5
        self.assertEqual(session.step_ids[0].name, "Prepare the client and get consent")
        self.assertEqual(session.pain_stop_threshold, 7)

    def test_only_the_sessions_therapist_ticks_its_steps(self):
        """Another therapist may not tick or skip the steps of a session,
        even one they can read; the session's own therapist and a manager
        may."""
        session = self.started_session()
        line = self.step(session, session.step_ids.sorted("sequence")[0].name)
        # Another therapist who also works the front desk reads every
        # session: the rule, not the record rules, refuses, naming it.
        self.therapist2.groups_id |= self.env.ref(
            "spa_session_protocol.group_spa_front_desk"
        )
        self.assertEqual(
            self.env["spa.session"].with_user(self.therapist2).browse(session.id).name,
            session.name,
        )
        with self.assertRaisesRegex(
            AccessError, f"You are not the therapist of {session.name}"
        ):
            line.with_user(self.therapist2)._check_therapist()
        with self.assertRaisesRegex(AccessError, "not the therapist"):
            line.with_user(self.therapist2).action_done()
        self.assertEqual(line.state, "todo")
        # The session's own therapist and a manager pass the check.
        line.with_user(self.therapist)._check_therapist()
        line.with_user(self.manager)._check_therapist()

    def test_start_needs_consent(self):
        session = self.session_of(self.book()).with_user(self.therapist)
        with self.assertRaisesRegex(UserError, "no valid consent"):
            session.action_start()
        self.assertEqual(session.state, "draft")
        self.assertFalse(session.date_start)
        consent = self.give_consent()
        session.action_start()
        self.assertEqual(session.state, "in_progress")
        self.assertEqual(session.consent_id, consent)
        self.assertEqual(session.started_by_id, self.therapist)
        self.assertTrue(session.date_start)

    def test_start_refuses_withdrawn_expired_and_other_protocol_consents(self):
        other_protocol = self.protocol.copy({"code": "OTHER"})
        self.give_consent(protocols=other_protocol)
        session = self.session_of(self.book()).with_user(self.therapist)
        with self.assertRaisesRegex(UserError, "no valid consent"):
            session.action_start()
        withdrawn = self.give_consent()
        withdrawn.action_withdraw()
        with self.assertRaisesRegex(UserError, "withdrawn"):
            session.action_start()
        self.give_consent(valid_until=fields.Date.today() + timedelta(days=3))
        with freeze_time(fields.Datetime.now() + timedelta(days=5)):
            with self.assertRaisesRegex(UserError, "expired"):
                session.action_start()
        self.assertEqual(session.state, "draft")

    def test_complete_compliant_session(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        self.assertFalse(session.completion_blockers)
        self.assertTrue(session.can_complete)
        session.action_done()
        self.assertEqual(session.state, "done")
        self.assertTrue(session.date_done)
        self.assertFalse(session.referral_recommended)
        self.assertEqual(session.finished_by_id, self.therapist)

    def test_completion_refusal_names_every_missing_item(self):
        session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:6])
        with self.assertRaises(UserError) as ctx:
            session.action_done()
        message = str(ctx.exception)
        self.assertIn("'Feedback check-ins'", message)
        self.assertIn(
            "2 check-in(s) missing: after 'Stabilise and apply pressure', after "
            "'Pressing motions'",
            message,
        )
        self.assertEqual(session.state, "in_progress")
        self.assertFalse(session.date_done)

    def test_completion_counts_min_checkins(self):
        session = self.started_session()
        self.protocol.min_checkin_count = 2
        session.write({"positioning": "prone_bed"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure")
        self.tick(session, "Pressing motions", "Feedback check-ins")
        with self.assertRaisesRegex(
            UserError, "1 check-in\\(s\\) missing: after 'Pressing motions'"
        ):
            session.action_done()

    def test_withdrawn_consent_blocks_completion(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        session.consent_id.with_user(self.front_desk).action_withdraw()
        # A new consent given after the start does not count.
        self.give_consent()
        with self.assertRaisesRegex(UserError, "consent was withdrawn"):
            session.action_done()
        self.assertEqual(session.state, "in_progress")
        session.action_stop()
        self.assertEqual(session.state, "stopped")
        self.assertFalse(session.referral_recommended)

    def test_expired_consent_blocks_completion(self):
        self.give_consent(valid_until=fields.Date.today() + timedelta(days=1))
        session = self.session_of(self.book()).with_user(self.therapist)
        session.action_start()
        self.run_compliant_protocol(session)
        with freeze_time(fields.Datetime.now() + timedelta(days=3)):
            with self.assertRaisesRegex(UserError, "consent expired"):
                session.action_done()

    def test_stop_rule_pain_at_threshold(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        self.checkin(session, pain=7)
        # Logging a check-in never changes the state by itself.
        self.assertEqual(session.state, "in_progress")
        with self.assertRaisesRegex(UserError, "pain 7/10"):
            session.action_done()
        session.action_stop()
        self.assertEqual(session.state, "stopped")
        self.assertTrue(session.referral_recommended)
        self.assertEqual(session.stop_reason, "pain")

    def test_pain_below_threshold_does_not_stop(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        self.checkin(session, pain=6)
        session.action_done()
        self.assertEqual(session.state, "done")

    def test_stop_requested_triggers_stop_rule(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        self.checkin(session, pain=1, stop=True)
        with self.assertRaisesRegex(UserError, "asked to stop"):
            session.action_done()
        session.action_stop()
        self.assertTrue(session.referral_recommended)
        self.assertEqual(session.stop_reason, "client_request")

    def test_no_tick_after_stop_rule(self):
        session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=9)
        with self.assertRaisesRegex(UserError, "stop rule"):
            self.tick(session, "Pressing motions")

    def test_stop_refused_for_draft_and_cancel_refused_when_started(self):
        session = self.session_of(self.book()).with_user(self.therapist)
        with self.assertRaisesRegex(UserError, "Stopping is not possible"):
            session.action_stop()
        session.with_user(self.front_desk).action_cancel()
        self.assertEqual(session.state, "cancelled")
        started = self.started_session()
        with self.assertRaisesRegex(UserError, "Cancelling is not possible"):
            started.action_cancel()
        with self.assertRaisesRegex(UserError, "Unknown stop reason"):
            started.action_stop(reason="bogus")
        self.assertEqual(started.state, "in_progress")

    def test_mandatory_steps_in_order(self):
        session = self.started_session()
        with self.assertRaisesRegex(
            UserError,
            "earlier mandatory steps first: 'Prepare the client and get consent'",
        ):
            self.tick(session, "Warm-up")
        self.tick(session, "Prepare the client and get consent")
        with self.assertRaisesRegex(UserError, "positioning"):
            self.tick(session, "Positioning")
        session.write({"positioning": "prone_table"})
        self.tick(session, "Positioning")
        step = self.step(session, "Positioning")
        self.assertEqual(step.state, "done")
        self.assertEqual(step.done_by_id, self.therapist)
        self.assertTrue(step.done_at)
        with self.assertRaisesRegex(UserError, "already done"):
            step.action_done()

    def test_ticks_only_while_in_progress(self):
        session = self.session_of(self.book()).with_user(self.therapist)
        with self.assertRaisesRegex(UserError, "not in progress"):
            self.tick(session, "Prepare the client and get consent")

    def test_skip_needs_reason_and_optional_step(self):
        session = self.started_session()
        with self.assertRaisesRegex(UserError, "mandatory"):
            self.step(session, "Warm-up").action_skip("no time")
        with self.assertRaisesRegex(UserError, "reason is required"):
            self.step(session, "Advanced techniques").action_skip()
        self.step(session, "Advanced techniques").action_skip("Not indicated")
        self.assertEqual(self.step(session, "Advanced techniques").state, "skipped")

    def test_qualification_required_for_advanced_step(self):
        session = self.started_session(therapist=self.therapist2)
        with self.assertRaisesRegex(UserError, "Advanced Techniques"):
            self.tick(session, "Advanced techniques")
        certified = self.started_session()
        self.tick(certified, "Advanced techniques")
        self.assertEqual(self.step(certified, "Advanced techniques").state, "done")

    def test_expired_certification_does_not_qualify(self):
        self.env["spa.certification"].create(
            {
                "user_id": self.therapist2.id,
                "qualification_id": self.qualification.id,
                "date_from": fields.Date.today() - timedelta(days=400),
                "date_to": fields.Date.today() - timedelta(days=1),
            }
        )
        session = self.started_session(therapist=self.therapist2)
        with self.assertRaisesRegex(UserError, "certification"):
            self.tick(session, "Advanced techniques")

    def test_checkin_rules(self):
        session = self.started_session()
        with self.assertRaisesRegex(ValidationError, "outside 0-10"):
            self.checkin(session, pain=11)
        with self.assertRaisesRegex(ValidationError, "outside 0-10"):
            self.checkin(session, pain=-1)
        with self.assertRaisesRegex(ValidationError, "not done yet"):
            self.checkin(session, "Pressing motions")
        checkin = self.checkin(session, pain=4, note="fine")
        self.assertEqual(checkin.logged_by_id, self.therapist)
        checkin.note = "slight tension"
        for vals in ({"pain_level": 2}, {"stop_requested": True}):
            with self.assertRaisesRegex(UserError, "You cannot change"):
                checkin.write(vals)
            with self.assertRaisesRegex(UserError, "You cannot change"):
                checkin.sudo().write(vals)
        with self.assertRaisesRegex(UserError, "never deleted"):
            checkin.sudo().unlink()

    def test_checkin_idempotency_key(self):
        session = self.started_session()
        first = self.checkin(session, pain=3, uuid="tablet-1-abc")
        again = self.checkin(session, pain=3, uuid="tablet-1-abc")
        self.assertEqual(first, again)
        self.assertEqual(
            self.env["spa.checkin"]
            .sudo()
            .search_count([("uuid", "=", "tablet-1-abc")]),
            1,
        )
        batch = (
            self.env["spa.checkin"]
            .with_user(self.therapist)
            .create(
                [
                    {"session_id": session.id, "pain_level": 1, "uuid": "k2"},
                    {"session_id": session.id, "pain_level": 1, "uuid": "k2"},
                ]
            )
        )
        self.assertEqual(len(batch), 1)
        self.assertEqual(session.checkin_count, 2)

    def test_finished_session_is_frozen(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        session.action_done()
        step = self.step(session, "Warm-up")
        checkin = session.checkin_ids[:1]
        for records, vals in (
            (session, {"positioning": "seated"}),
            (session, {"screening_note": "changed"}),
            (step.sudo(), {"skip_reason": "changed"}),
            (checkin.sudo(), {"note": "changed"}),
        ):
            with self.assertRaises(UserError):
                records.write(vals)
        with self.assertRaises(UserError):
            step.sudo().unlink()
        with self.assertRaises(UserError):
            session.sudo().unlink()
        with self.assertRaises(UserError):
            self.checkin(session, pain=1)
        with self.assertRaises(UserError):
            session.sudo().write({"state": "in_progress"})

    def test_server_fields_never_from_callers(self):
        with self.assertRaisesRegex(UserError, "set by the record's actions"):
            self.env["spa.session"].sudo().create(
                {
                    "partner_id": self.client.id,
                    "protocol_id": self.protocol.id,
                    "state": "done",
                }
            )
        session = self.started_session()
        for vals in (
            {"state": "done"},
            {"date_start": fields.Datetime.now() - timedelta(days=1)},
            {"referral_recommended": True},
            {"consent_id": False},
        ):
            with self.assertRaisesRegex(UserError, "set by the record's actions"):
                session.sudo().write(vals)
        # A context key never lifts the rule.
        with self.assertRaises(UserError):
            session.sudo().with_context(spa_force=True, install_mode=True).write(
                {"state": "done"}
            )
        step = self.step(session, "Prepare the client and get consent")
        with self.assertRaisesRegex(UserError, "set by the record's actions"):
            step.sudo().write({"state": "done"})
        with self.assertRaisesRegex(UserError, "set by the record's actions"):
            step.write({"done_by_id": self.therapist2.id})

    def test_front_desk_cannot_run_sessions(self):
        self.give_consent()
        session = self.session_of(self.book()).with_user(self.front_desk)
        with self.assertRaises(AccessError):
            session.action_start()
        session.with_user(self.therapist).action_start()
        with self.assertRaises(AccessError):
            self.step(
                session.with_user(self.front_desk), "Prepare the client and get consent"
            ).action_done()
        with self.assertRaises(AccessError):
            session.with_user(self.front_desk).action_done()
        with self.assertRaises(AccessError):
            session.with_user(self.front_desk).action_stop()
        with self.assertRaises(AccessError):
            self.env["spa.checkin"].with_user(self.front_desk).create(
                {"session_id": session.id, "pain_level": 1}
            )

    def test_other_therapist_cannot_touch_session(self):
        session = self.started_session()
        other = session.with_user(self.therapist2)
        with self.assertRaises(AccessError):
            other.read(["state"])
        with self.assertRaises(AccessError):
            other.action_stop()
        self.assertFalse(
            self.env["spa.session"]
            .with_user(self.therapist2)
            .search([("id", "=", session.id)])
        )

    def test_manager_can_run_any_session(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        session.with_user(self.manager).action_done()
        self.assertEqual(session.state, "done")
