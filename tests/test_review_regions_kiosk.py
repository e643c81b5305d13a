"""Regression tests of the hostile review of body regions, the room's
tablet and the kiosk PIN: each reproduces a path that was open."""

import uuid

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from .common import SpaCommon
from .test_body_regions import PRESSURE, BodyRegionCommon


@tagged("post_install", "-at_install", "spa_body_regions", "spa_every_path")
class TestRegionsStayWhatTheRecordNames(BodyRegionCommon):
    def test_archiving_a_sensitive_region_does_not_lift_rule_8(self):
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        with self.assertRaises(UserError):
            line.action_done()
        self.gluteal.with_user(self.manager).action_archive()
        self.assertIn(self.gluteal, line.touched_region_ids)
        with self.assertRaises(UserError) as refusal:
            line.action_done()
        self.assertIn("Buttocks (gluteal area)", str(refusal.exception))
        self.assertEqual(line.state, "todo")

    def test_a_region_in_use_is_neither_deleted_nor_made_plain(self):
        self.running_until_pressure(method="verbal")
        with self.assertRaises(UserError) as refusal:
            self.gluteal.with_user(self.manager).unlink()
        self.assertIn("Archive it instead", str(refusal.exception))
        with self.assertRaises(UserError):
            self.gluteal.with_user(self.manager).write({"is_sensitive": False})
        self.assertTrue(self.gluteal.exists().is_sensitive)
        # A region nobody names yet is the manager's to change or delete.
        foot = (
            self.env["spa.body.region"]
            .with_user(self.manager)
            .create({"name": "Foot", "code": "foot", "side": "front"})
        )
        foot.write({"is_sensitive": True})
        foot.unlink()
        self.assertFalse(foot.exists())

    def test_archiving_a_region_changes_no_evidence(self):
        self.give_consent(body_region_ids=[Command.set(self.gluteal.ids)])
        session = self.session_of(self.book()).with_user(self.therapist)
        session.action_start()
        self.run_compliant_protocol(session)
        session.action_done()
        Session = self.env["spa.session"].with_user(self.manager)
        before = session.with_user(self.manager)._evidence_bundle()
        self.gluteal.with_user(self.manager).action_archive()
        self.env.invalidate_all()
        self.assertFalse(Session.check_evidence_integrity())
        after = session.with_user(self.manager)._evidence_bundle()
        self.assertEqual(
            [s["evidence"]["hash_input"] for s in before["sessions"]],
            [s["evidence"]["hash_input"] for s in after["sessions"]],
        )

    def test_front_desk_cannot_search_on_clinical_regions(self):
        self.running_until_pressure()
        for model, path in (
            ("spa.session", "step_ids.touched_region_ids"),
            ("spa.session", "step_ids.planned_region_ids"),
            ("spa.session.step", "touched_region_ids"),
        ):
            with self.assertRaises(AccessError):
                self.env[model].with_user(self.front_desk).search_read(
                    [(path, "=", self.gluteal.id)], ["id"]
                )
        # The therapist may (their own sessions' lines).
        self.assertTrue(
            self.env["spa.session.step"]
            .with_user(self.therapist)
            .search([("touched_region_ids", "=", self.gluteal.id)])
        )


@tagged("post_install", "-at_install", "spa_kiosk", "spa_every_path")
class TestKioskUnlockScope(SpaCommon, HttpCase):
    def setUp(self):
        super().setUp()
        self.spa_session = self.started_session(spa_room_id=self.room.id)
        self.give_consent(partner=self.client2)
        self.other_session = self.started_session(partner=self.client2)
        self.therapist.with_user(self.therapist).action_spa_set_pin("2468")
        self.token = self.room.sudo().kiosk_token

    def call(self, route, **params):
        return self.make_jsonrpc_request(
            f"/spa/kiosk/{route}", {"token": self.token, **params}
        )

    def test_an_unlock_acts_on_its_session_only_whatever_the_id_looks_like(self):
        unlock = self.call("unlock", session_id=self.spa_session.id, pin="2468")
        self.assertTrue(unlock["ok"], unlock)
        key = unlock["unlock"]
        other_line = self.step(self.other_session, "Prepare the client and get consent")
        for op in (
            {"kind": "tick", "step_id": str(other_line.id)},
            {"kind": "tick", "step_id": f" {other_line.id} "},
            {"kind": "skip", "step_id": str(other_line.id), "reason": "x"},
            {"kind": "regions", "step_id": other_line.id, "region_ids": []},
            {"kind": "regions", "step_id": str(other_line.id), "region_ids": []},
            {
                "kind": "checkin",
                "session_id": str(self.other_session.id),
                "pain_level": 1,
            },
            {"kind": "record", "session_id": str(self.other_session.id), "values": {}},
            {"kind": "nonsense", "session_id": self.spa_session.id},
        ):
            op["uuid"] = str(uuid.uuid4())
            result = self.call("sync", unlock=key, ops=[op])
            key = result.get("unlock") or key
            self.assertFalse(result["results"][0]["ok"], (op, result))
            self.assertIn("unlocked for", result["results"][0]["error"])
        self.assertEqual(other_line.state, "todo")
        self.assertFalse(self.other_session.sudo().checkin_ids)

    def test_an_empty_pin_removes_it(self):
        user = self.therapist.with_user(self.therapist)
        self.assertTrue(user.sudo().spa_has_pin)
        user.write({"spa_pin": False})
        self.env.invalidate_all()
        self.assertFalse(user.sudo().spa_has_pin)
        answer = self.call("unlock", session_id=self.spa_session.id, pin="2468")
        self.assertFalse(answer["ok"])
