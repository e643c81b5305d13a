from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from .common import SpaCommon

# What the completion blockers say when consent is the problem (the step
# "Prepare the client and get consent" is named "... get consent").
CONSENT_BLOCKERS = (
    "no valid consent",
    "the consent was",
    "the consent expired",
    "the consent does not cover",
    "the consent text",
)


@tagged("post_install", "-at_install", "spa_one_source")
class TestOneSource(SpaCommon, HttpCase):
    """One source for each rule: the appointment's badge, ``action_start``'s
    decision, the compliance analysis' consent column and the tablet's
    payload ask the same functions, so they agree for every client."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "One Source Spa B"})
        cls.manager.company_ids += cls.company_b

    def setUp(self):
        super().setUp()
        self.authenticate("spa_th", "spa_th")

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def payload(self, session):
        data = self.make_jsonrpc_request(f"/spa/tablet/session/{session.id}")
        self.assertTrue(data["ok"], data)
        return data["session"]

    def consent_blockers(self, payload):
        blockers = payload["completion_blockers"] or ""
        return [b for b in CONSENT_BLOCKERS if b in blockers]

    def compliance_row(self, session):
        self.env.flush_all()
        Report = self.env["spa.compliance.report"]
        Report.invalidate_model()
        row = Report.search([("session_id", "=", session.id)])
        self.assertEqual(len(row), 1)
        return row

    def try_start(self, session):
        """``action_start``'s decision (no savepoint: the refusal changes
        nothing, and its log shares the test's transaction)."""
        try:
            session.action_start()
        except UserError as error:
            return False, str(error)
        return True, ""

    def new_client(self, name):
        client = self.env["res.partner"].create({"name": name})
        self.give_intake(client)
        return client

    # Client situations, before the appointment is booked.

    def situation_none(self, client):
        pass

    def situation_expired(self, client):
        with freeze_time(fields.Datetime.now() - timedelta(days=400)):
            self.give_consent(partner=client)

    def situation_withdrawn(self, client):
        self.give_consent(partner=client).action_withdraw()

    def situation_other_company(self, client):
        consent = (
            self.env["spa.consent"]
            .with_user(self.manager)
            .with_company(self.company_b)
            .create(
                {
                    "partner_id": client.id,
                    "protocol_ids": [Command.set(self.protocol.ids)],
                    "method": "verbal",
                    "company_id": self.company_b.id,
                }
            )
        )
        consent.action_give()
        self.assertEqual(consent.company_id, self.company_b)

    def situation_valid(self, client):
        self.give_consent(partner=client)

    def situation_text_changed(self, client):
        self.give_consent(partner=client)
        self.protocol.with_user(
            self.manager
        ).consent_text = "<p>New wording of the consent.</p>"

    # ------------------------------------------------------------------
    # Tests
    # ------------------------------------------------------------------

    def test_badge_start_compliance_and_payload_agree(self):
        # situation -> (badge, start allowed); "text changed" last: it changes
        # the built-in protocol's text for every client.
        table = [
            ("no consent", self.situation_none, "missing", False),
            ("expired", self.situation_expired, "expired", False),
            ("withdrawn", self.situation_withdrawn, "withdrawn", False),
            ("other company", self.situation_other_company, "missing", False),
            ("valid", self.situation_valid, "valid", True),
            ("text changed", self.situation_text_changed, "reconsent", False),
        ]
        for label, build, badge, allowed in table:
            with self.subTest(situation=label):
                client = self.new_client(f"Client {label}")
                build(client)
                event = self.book(partner=client)
                session = self.session_of(event).with_user(self.therapist)
                before = self.payload(session)
                self.assertEqual(event.spa_consent_status, badge)
                self.assertEqual(before["consent_status"], badge)
                started, refusal = self.try_start(session)
                self.assertEqual(started, allowed, refusal)
                # The badge is "valid" exactly when the start is allowed.
                self.assertEqual(started, badge == "valid")
                if not started:
                    self.assertIn("consent", refusal)
                row = self.compliance_row(session)
                self.assertEqual(row.has_valid_consent, started)
                self.assertEqual(row.compliance_state, "pending")
                after = self.payload(session)
                event.invalidate_recordset(["spa_consent_status"])
                self.assertEqual(after["consent_status"], event.spa_consent_status)
                if started:
                    self.assertEqual(after["state"], "in_progress")
                    self.assertEqual(after["consent_status"], "valid")
                    self.assertFalse(self.consent_blockers(after), after)
                else:
                    self.assertEqual(after["state"], "draft")

    def test_consent_withdrawn_mid_session_and_replaced(self):
        """A consent given after the start does not count for that session:
        badge, completion, tablet and compliance all say so."""
        client = self.new_client("Client given after start")
        consent = self.give_consent(partner=client)
        event = self.book(partner=client)
        session = self.session_of(event).with_user(self.therapist)
        session.action_start()
        self.run_compliant_protocol(session)
        self.assertEqual(self.payload(session)["completion_blockers"], "")
        consent.with_user(self.front_desk).action_withdraw()
        replacement = self.give_consent(partner=client)
        event.invalidate_recordset(["spa_consent_status"])
        self.assertEqual(event.spa_consent_status, "withdrawn")
        payload = self.payload(session)
        self.assertEqual(payload["consent_status"], "withdrawn")
        self.assertEqual(self.consent_blockers(payload), ["the consent was"])
        self.assertFalse(payload["can_complete"])
        with self.assertRaisesRegex(UserError, "withdrawn"):
            session.action_done()
        self.assertEqual(session.consent_id, consent)
        self.assertNotEqual(session.consent_id, replacement)
        # It was valid when the session started: stopping it is compliant.
        self.assertTrue(self.compliance_row(session).has_valid_consent)
        session.action_stop()
        row = self.compliance_row(session)
        self.assertEqual(row.compliance_state, "compliant")

    def test_text_changed_mid_session(self):
        """The client agreed to the text in force when the session started:
        a later edit blocks new starts, not this session's completion, and
        the badge says what completing would decide."""
        client = self.new_client("Client text changed mid-session")
        self.give_consent(partner=client)
        event = self.book(partner=client)
        session = self.session_of(event).with_user(self.therapist)
        session.action_start()
        self.run_compliant_protocol(session)
        self.protocol.with_user(self.manager).consent_text = "<p>Reworded.</p>"
        payload = self.payload(session)
        self.assertEqual(payload["completion_blockers"], "")
        self.assertTrue(payload["can_complete"])
        event.invalidate_recordset(["spa_consent_status"])
        self.assertEqual(event.spa_consent_status, "valid")
        self.assertEqual(payload["consent_status"], "valid")
        session.action_done()
        self.assertEqual(self.compliance_row(session).compliance_state, "compliant")

    def test_stop_rule_one_source(self):
        """The check-in's flag, the session's blockers and the levels the
        tablet confirms come from the same stop rule."""
        session = self.started_session()
        self.assertEqual(session.stop_pain_levels, [7, 8, 9, 10])
        six = self.checkin(session, pain=6)
        self.assertFalse(six.triggers_stop)
        self.assertFalse(self.payload(session)["is_stop_triggered"])
        seven = self.checkin(session, pain=7)
        self.assertTrue(seven.triggers_stop)
        payload = self.payload(session)
        self.assertTrue(payload["is_stop_triggered"])
        self.assertIn("pain 7/10", payload["completion_blockers"])
        self.assertEqual(
            [c["triggers_stop"] for c in payload["checkins"]], [False, True]
        )

    COMPLETION_FIELDS = (
        "completion_blockers",
        "completion_blocker_lines",
        "can_complete",
        "is_stop_triggered",
    )

    def assert_completion_agrees(self, session):
        """The tablet's completion values (computed over the facts it read
        for its answer) are the session's computed fields, read afresh."""
        payload = self.payload(session)
        session.invalidate_recordset(list(self.COMPLETION_FIELDS))
        fresh = session.read(list(self.COMPLETION_FIELDS))[0]
        self.assertEqual(
            {fname: payload[fname] for fname in self.COMPLETION_FIELDS},
            {
                "completion_blockers": fresh["completion_blockers"] or "",
                "completion_blocker_lines": fresh["completion_blocker_lines"] or [],
                "can_complete": fresh["can_complete"],
                "is_stop_triggered": fresh["is_stop_triggered"],
            },
        )
        return payload

    def test_completion_values_one_source(self):
        """Planned, started with steps and check-ins missing, compliant,
        stopped by a check-in, stopped: the tablet's answer and the session's
        fields say the same."""
        client = self.new_client("Client completion one source")
        self.give_consent(partner=client)
        self.give_intake(client)
        session = self.session_of(self.book(partner=client)).with_user(self.therapist)
        self.assertFalse(self.assert_completion_agrees(session)["can_complete"])
        session.action_start()
        started = self.assert_completion_agrees(session)
        self.assertFalse(started["can_complete"])
        self.assertGreaterEqual(len(started["completion_blocker_lines"]), 2)
        self.run_compliant_protocol(session)
        self.assertTrue(self.assert_completion_agrees(session)["can_complete"])
        self.checkin(session, pain=9)
        stopping = self.assert_completion_agrees(session)
        self.assertTrue(stopping["is_stop_triggered"])
        self.assertFalse(stopping["can_complete"])
        session.action_stop()
        stopped = self.assert_completion_agrees(session)
        self.assertEqual(stopped["completion_blockers"], "")
        self.assertTrue(stopped["is_stop_triggered"])


@tagged("post_install", "-at_install", "spa_one_source")
class TestCompanyToday(SpaCommon):
    """Today is the company's day (its working calendar's time zone, else
    UTC), never the caller's ``tz`` context or preference."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.sudo().partner_id.tz = "UTC"
        if "resource_calendar_id" in cls.company._fields:
            cls.company.resource_calendar_id.tz = "UTC"

    def test_company_today_ignores_the_caller(self):
        with freeze_time("2026-03-10 20:00:00"):
            company = self.company.with_context(tz="Pacific/Kiritimati")
            self.assertEqual(company._spa_today(), date(2026, 3, 10))
            self.assertEqual(
                company._spa_date_of(datetime(2026, 3, 10, 23, 59)), date(2026, 3, 10)
            )

    def _certified_tomorrow(self):
        return self.env["spa.certification"].create(
            {
                "user_id": self.therapist2.id,
                "qualification_id": self.qualification.id,
                "date_from": date(2026, 3, 11),
            }
        )

    def test_certification_starting_tomorrow_refused_whatever_the_caller_tz(self):
        # 20:00 UTC on 10 March: already 11 March in Kiritimati (UTC+14).
        with freeze_time("2026-03-10 20:00:00"):
            cert = self._certified_tomorrow()
            session = self.started_session(therapist=self.therapist2)
            step = self.step(session, "Advanced techniques")
            kiritimati = step.with_context(tz="Pacific/Kiritimati")
            with self.assertRaisesRegex(UserError, "certification"):
                kiritimati.action_done()
            self.assertFalse(cert.with_context(tz="Pacific/Kiritimati").is_valid_today)
            Cert = self.env["spa.certification"].with_context(tz="Pacific/Kiritimati")
            self.assertNotIn(cert, Cert.search([("is_valid_today", "=", True)]))
            # The user's own time zone preference does not move the day either.
            self.therapist2.tz = "Pacific/Kiritimati"
            step.invalidate_recordset()
            with self.assertRaisesRegex(UserError, "certification"):
                self.step(
                    session.with_user(self.therapist2), "Advanced techniques"
                ).with_context(tz=None).action_done()
            self.assertEqual(step.state, "todo")
        with freeze_time("2026-03-11 00:30:00"):
            step.invalidate_recordset()
            step.with_user(self.therapist2).action_done()
            self.assertEqual(step.state, "done")

    def test_consent_expired_yesterday_refused_whatever_the_caller_tz(self):
        with freeze_time("2026-03-01 10:00:00"):
            consent = self.give_consent(valid_until=date(2026, 3, 9))
            event = self.book(start=datetime(2026, 3, 10, 4, 0))
        # 03:00 UTC on 10 March: still 9 March in Pago Pago (UTC-11).
        with freeze_time("2026-03-10 03:00:00"):
            session = self.session_of(event)
            pago = session.with_user(self.therapist).with_context(
                tz="Pacific/Pago_Pago"
            )
            with self.assertRaisesRegex(UserError, "expired"):
                pago.action_start()
            self.assertFalse(
                consent.with_context(tz="Pacific/Pago_Pago").is_valid_today
            )
            self.assertEqual(
                event.with_context(tz="Pacific/Pago_Pago").spa_consent_status,
                "expired",
            )
            self.therapist.tz = "Pacific/Pago_Pago"
            with self.assertRaisesRegex(UserError, "expired"):
                session.with_user(self.therapist).with_context(tz=None).action_start()
            self.assertEqual(session.state, "draft")
