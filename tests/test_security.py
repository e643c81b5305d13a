from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_security")
class TestRoles(SpaCommon):
    def test_front_desk_never_sees_clinical_detail(self):
        session = self.started_session()
        self.checkin(session, pain=2, note="Tender left side")
        session.write({"screening_note": "Old shoulder injury"})
        as_fd = session.with_user(self.front_desk)
        self.assertEqual(as_fd.state, "in_progress")
        for fname in (
            "screening_note",
            "checkin_ids",
            "positioning",
            "completion_blockers",
        ):
            with self.assertRaises(AccessError, msg=fname):
                as_fd.read([fname])
        with self.assertRaises(AccessError):
            self.env["spa.checkin"].with_user(self.front_desk).search([])
        with self.assertRaises(AccessError):
            self.env["spa.compliance.report"].with_user(self.front_desk).search([])
        # The front desk sees the schedule and the checklist progress.
        self.assertIn(
            session, self.env["spa.session"].with_user(self.front_desk).search([])
        )
        self.assertEqual(as_fd.step_total_count, 9)

    def test_therapist_sees_only_own_sessions(self):
        own = self.session_of(self.book())
        other = self.session_of(
            self.book(therapist=self.therapist2, partner=self.client2)
        )
        visible = self.env["spa.session"].with_user(self.therapist).search([])
        self.assertIn(own, visible)
        self.assertNotIn(other, visible)
        self.assertEqual(
            self.env["spa.session"]
            .with_user(self.manager)
            .search_count([("id", "in", (own | other).ids)]),
            2,
        )

    def test_therapist_cannot_create_or_delete_sessions(self):
        with self.assertRaises(AccessError):
            self.env["spa.session"].with_user(self.therapist).create(
                {
                    "partner_id": self.client.id,
                    "protocol_id": self.protocol.id,
                    "therapist_id": self.therapist.id,
                }
            )
        session = self.session_of(self.book())
        with self.assertRaises(AccessError):
            session.with_user(self.therapist).unlink()
        with self.assertRaises(AccessError):
            session.with_user(self.front_desk).unlink()

    def test_only_managers_configure_protocols(self):
        for user in (self.front_desk, self.therapist):
            with self.assertRaises(AccessError):
                self.protocol.with_user(user).write({"pain_stop_threshold": 9})
            with self.assertRaises(AccessError):
                self.env["spa.qualification"].with_user(user).create(
                    {"name": "Hot stones"}
                )
            with self.assertRaises(AccessError):
                self.env["spa.certification"].with_user(user).create(
                    {"user_id": user.id, "qualification_id": self.qualification.id}
                )
        self.protocol.with_user(self.manager).write({"pain_stop_threshold": 8})
        self.assertEqual(self.protocol.pain_stop_threshold, 8)

    def test_users_without_spa_groups(self):
        with self.assertRaises(AccessError):
            self.env["spa.session"].with_user(self.plain_user).search([])
        with self.assertRaises(AccessError):
            self.env["spa.consent"].with_user(self.plain_user).search([])

    def test_therapist_reports_only_own_rows(self):
        own = self.started_session()
        other = self.started_session(therapist=self.therapist2)
        rows = self.env["spa.compliance.report"].with_user(self.therapist).search([])
        self.assertIn(own.id, rows.session_id.ids)
        self.assertNotIn(other.id, rows.session_id.ids)
        all_rows = self.env["spa.compliance.report"].with_user(self.manager).search([])
        self.assertTrue({own.id, other.id} <= set(all_rows.session_id.ids))


@tagged("post_install", "-at_install", "spa_security")
class TestMultiCompany(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Spa B"})
        cls.manager_b = new_test_user(
            cls.env,
            "spa_mgr_b",
            groups="spa_session_protocol.group_spa_manager",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        cls.therapist.write({"company_ids": [Command.link(cls.company_b.id)]})

    def test_records_stay_in_their_company(self):
        session = self.started_session()
        self.assertEqual(session.company_id, self.company)
        consent = session.consent_id
        self.assertFalse(
            self.env["spa.session"]
            .with_user(self.manager_b)
            .search([("id", "=", session.id)])
        )
        self.assertFalse(
            self.env["spa.consent"]
            .with_user(self.manager_b)
            .search([("id", "=", consent.id)])
        )
        self.assertFalse(
            self.env["spa.compliance.report"]
            .with_user(self.manager_b)
            .search([("session_id", "=", session.id)])
        )
        with self.assertRaises(AccessError):
            session.with_user(self.manager_b).read(["state"])
        # Shared protocol (no company) is visible to both.
        self.assertIn(
            self.protocol, self.env["spa.protocol"].with_user(self.manager_b).search([])
        )

    def test_tablet_operations_obey_the_allowed_companies(self):
        """A tablet tick finds the line and its session as the server; the
        record rules (here the multi-company one) are then checked on them
        as the user (issue 14): a session of a company the user did not
        allow is refused, and nothing changes."""
        session = self.started_session()
        line = self.step(session, "Prepare the client and get consent")
        env = self.env(
            user=self.therapist,
            context={"allowed_company_ids": self.company_b.ids},
        )
        SpaSession = env["spa.session"]
        for op in (
            {"kind": "tick", "step_id": line.id},
            {"kind": "checkin", "session_id": session.id, "pain_level": 1},
        ):
            with self.subTest(kind=op["kind"]), self.assertRaises(AccessError):
                SpaSession._tablet_apply_op({"uuid": f"mc-{op['kind']}", **op})
        self.assertEqual(line.state, "todo")
        self.assertFalse(session.checkin_count)
        # Allowed, the same operations pass.
        env = self.env(user=self.therapist)
        env["spa.session"]._tablet_apply_op(
            {"uuid": "mc-ok", "kind": "tick", "step_id": line.id}
        )
        self.assertEqual(line.state, "done")

    def test_consent_of_another_company_does_not_count(self):
        self.env["spa.consent"].with_user(self.manager_b).with_company(
            self.company_b
        ).create(
            {
                "partner_id": self.client.id,
                "protocol_ids": [Command.set(self.protocol.ids)],
            }
        ).action_give()
        session = self.session_of(self.book()).with_user(self.therapist)
        with self.assertRaisesRegex(UserError, "no valid consent"):
            session.action_start()

    def test_company_protocol_not_usable_elsewhere(self):
        protocol_b = (
            self.env["spa.protocol"]
            .with_user(self.manager_b)
            .create(
                {"name": "B only", "code": "B-ONLY", "company_id": self.company_b.id}
            )
        )
        with self.assertRaises(UserError):
            self.env["spa.session"].with_user(self.manager).create(
                {"partner_id": self.client.id, "protocol_id": protocol_b.id}
            )
