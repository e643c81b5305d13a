import base64
import uuid
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import SpaCommon, drawn_signature, ink, png, typed_name, zigzag

# A 1x1 transparent PNG, as the signature pad sends it (a data URL).
PNG_DATA_URL = (
    "data:image/png;base64,"
    + base64.b64encode(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
        )
    ).decode()
)


@tagged("post_install", "-at_install", "spa_tablet")
class TestTabletApi(SpaCommon, HttpCase):
    """The tablet's JSON routes: the rules stay in the models, refusals come
    back as data, and replays of queued work create nothing twice."""

    def setUp(self):
        super().setUp()
        self.spa_session = self.started_session()
        self.authenticate("spa_th", "spa_th")

    def sync(self, *ops):
        return self.make_jsonrpc_request("/spa/tablet/sync", {"ops": list(ops)})[
            "results"
        ]

    def op(self, kind, **vals):
        return {
            "uuid": str(uuid.uuid4()),
            "kind": kind,
            "session_id": self.spa_session.id,
            **vals,
        }

    def step_id(self, name):
        return self.step(self.spa_session, name).id

    def test_sessions_today_and_session_data(self):
        result = self.make_jsonrpc_request("/spa/tablet/sessions_today")
        self.assertEqual([s["id"] for s in result["sessions"]], self.spa_session.ids)
        self.assertEqual(result["sessions"][0]["consent_status"], "valid")
        data = self.make_jsonrpc_request(f"/spa/tablet/session/{self.spa_session.id}")
        self.assertTrue(data["ok"])
        payload = data["session"]
        self.assertEqual(len(payload["steps"]), 9)
        self.assertFalse(payload["can_complete"])
        self.assertIn("mandatory step", payload["completion_blockers"])
        self.assertEqual(payload["pain_stop_threshold"], 7)

    def test_checkin_replay_creates_one_record(self):
        first = self.step_id("Prepare the client and get consent")
        checkin = self.op("checkin", step_id=False, pain_level=2)
        # The device's clock, a minute behind the server's, in UTC.
        device_at = fields.Datetime.now() - timedelta(minutes=1)
        checkin["device_at"] = device_at.isoformat(timespec="milliseconds") + "Z"
        tick = self.op("tick", step_id=first)
        self.assertEqual(
            [r["ok"] for r in self.sync(tick, checkin)], [True, True], "first send"
        )
        # The answer was lost: the device sends the same batch again.
        results = self.sync(tick, checkin)
        self.assertEqual([r["ok"] for r in results], [True, True], "replay")
        checkins = self.env["spa.checkin"].search([("uuid", "=", checkin["uuid"])])
        self.assertEqual(len(checkins), 1)
        self.assertEqual(results[1]["checkin_id"], checkins.id)
        self.assertEqual(checkins.device_at, device_at.replace(microsecond=0))
        self.assertEqual(self.spa_session.checkin_count, 1)

    def test_tick_keeps_the_tablet_time_beside_the_servers(self):
        first = self.step_id("Prepare the client and get consent")
        device_at = fields.Datetime.now() - timedelta(minutes=2)
        tick = self.op(
            "tick",
            step_id=first,
            device_at=device_at.isoformat(timespec="milliseconds") + "Z",
        )
        self.assertTrue(self.sync(tick)[0]["ok"])
        line = self.step(self.spa_session, "Prepare the client and get consent")
        self.assertEqual(line.device_done_at, device_at.replace(microsecond=0))
        self.assertNotEqual(line.done_at, line.device_done_at)
        payload = self.make_jsonrpc_request(
            f"/spa/tablet/session/{self.spa_session.id}"
        )
        step = next(s for s in payload["session"]["steps"] if s["id"] == first)
        self.assertEqual(
            step["device_done_at"], fields.Datetime.to_string(line.device_done_at)
        )
        # A clock far off (before the start, or in the future) is refused as
        # a check-in's is; the tick does not happen.
        self.spa_session.write({"positioning": "seated"})
        second = self.step_id("Positioning")
        for moment in ("2001-01-01T09:00:00Z", "2099-01-01T09:00:00Z", "yesterday"):
            with self.subTest(device_at=moment):
                result = self.sync(self.op("tick", step_id=second, device_at=moment))[0]
                self.assertFalse(result["ok"])
                self.assertIn("device time", result["error"])
                self.assertEqual(
                    self.step(self.spa_session, "Positioning").state, "todo"
                )
        # A skip keeps it too.
        self.tick(self.spa_session, *self.MANDATORY[1:5])
        self.checkin(self.spa_session, "Stabilise and apply pressure")
        self.tick(self.spa_session, "Pressing motions")
        self.checkin(self.spa_session, "Pressing motions")
        self.tick(self.spa_session, "Feedback check-ins")
        skip = self.op(
            "skip",
            step_id=self.step_id("Advanced techniques"),
            reason="Not needed",
            device_at=device_at.isoformat() + "Z",
        )
        self.assertTrue(self.sync(skip)[0]["ok"])
        self.assertEqual(
            self.step(self.spa_session, "Advanced techniques").device_done_at,
            device_at.replace(microsecond=0),
        )

    def test_payload_progress_and_blocker_lines_are_the_rules(self):
        data = self.make_jsonrpc_request(f"/spa/tablet/session/{self.spa_session.id}")
        payload = data["session"]
        self.assertEqual(
            payload["progress"],
            {
                "steps_done": 0,
                "steps_total": 7,
                "checkins_done": 0,
                "checkins_required": 2,
            },
        )
        # One line per problem, the same words as the one sentence.
        self.assertEqual(len(payload["completion_blocker_lines"]), 2)
        self.assertEqual(
            "; ".join(payload["completion_blocker_lines"]),
            payload["completion_blockers"],
        )
        self.assertIn("mandatory step", payload["completion_blocker_lines"][0])
        self.assertIn("check-in", payload["completion_blocker_lines"][1])
        self.assertEqual(
            [o["value"] for o in payload["stop_reason_options"]],
            ["client_late", "therapist_unavailable", "other"],
        )
        self.spa_session.write({"positioning": "seated"})
        self.tick(self.spa_session, *self.MANDATORY[:5])
        self.checkin(self.spa_session, "Stabilise and apply pressure")
        payload = self.make_jsonrpc_request(
            f"/spa/tablet/session/{self.spa_session.id}"
        )["session"]
        self.assertEqual(
            payload["progress"],
            {
                "steps_done": 5,
                "steps_total": 7,
                "checkins_done": 1,
                "checkins_required": 2,
            },
        )
        self.assertEqual(len(payload["completion_blocker_lines"]), 2)

    def test_tick_replay_is_ok(self):
        first = self.step_id("Prepare the client and get consent")
        tick = self.op("tick", step_id=first)
        self.assertTrue(self.sync(tick)[0]["ok"])
        # The same tick queued twice on the device (a second tap offline).
        result = self.sync(self.op("tick", step_id=first))[0]
        self.assertTrue(result["ok"])
        self.assertTrue(result["replayed"])
        self.assertEqual(
            self.step(self.spa_session, "Prepare the client and get consent").state,
            "done",
        )

    def test_refused_item_returns_its_error_and_others_pass(self):
        # "Warm-up" before "Positioning": the server refuses it, in order.
        results = self.sync(
            self.op("tick", step_id=self.step_id("Prepare the client and get consent")),
            self.op("tick", step_id=self.step_id("Warm-up")),
            self.op("record", values={"positioning": "seated"}),
            self.op("checkin", pain_level=11),
            self.op("record", values={"state": "done"}),
        )
        self.assertEqual([r["ok"] for r in results], [True, False, True, False, False])
        self.assertIn("Positioning", results[1]["error"])
        self.assertIn("0-10", results[3]["error"])
        self.assertIn("state", results[4]["error"])
        self.assertEqual(self.step(self.spa_session, "Warm-up").state, "todo")
        self.assertEqual(self.spa_session.sudo().positioning, "seated")
        self.assertEqual(self.spa_session.state, "in_progress")
        self.assertFalse(self.spa_session.checkin_count)

    def test_skip_needs_reason_and_replays(self):
        step_id = self.step_id("Advanced techniques")
        self.assertFalse(self.sync(self.op("skip", step_id=step_id))[0]["ok"])
        skip = self.op("skip", step_id=step_id, reason="Not needed")
        self.assertTrue(self.sync(skip)[0]["ok"])
        self.assertTrue(self.sync(skip)[0]["ok"])
        self.assertEqual(
            self.step(self.spa_session, "Advanced techniques").state, "skipped"
        )

    def test_other_therapists_session_refused(self):
        self.authenticate("spa_th2", "spa_th2")
        results = self.sync(
            self.op("tick", step_id=self.step_id("Prepare the client and get consent")),
            self.op("checkin", pain_level=1),
            self.op("record", values={"positioning": "seated"}),
        )
        self.assertEqual([r["ok"] for r in results], [False, False, False])
        self.assertTrue(all(r["error"] for r in results))
        data = self.make_jsonrpc_request(f"/spa/tablet/session/{self.spa_session.id}")
        self.assertFalse(data["ok"])
        self.assertFalse(
            self.make_jsonrpc_request("/spa/tablet/sessions_today")["sessions"]
        )
        action = self.make_jsonrpc_request(
            f"/spa/tablet/session/{self.spa_session.id}/action", {"action": "stop"}
        )
        self.assertFalse(action["ok"])
        self.assertEqual(self.spa_session.state, "in_progress")
        self.assertEqual(
            self.step(self.spa_session, "Prepare the client and get consent").state,
            "todo",
        )

    def test_full_session_and_stop_rule_through_the_api(self):
        self.sync(self.op("record", values={"positioning": "prone_table"}))
        names = self.MANDATORY
        ops = [self.op("tick", step_id=self.step_id(n)) for n in names[:5]]
        ops.append(self.op("checkin", step_id=self.step_id(names[4]), pain_level=3))
        ops.append(self.op("tick", step_id=self.step_id(names[5])))
        ops.append(self.op("checkin", step_id=self.step_id(names[5]), pain_level=8))
        self.assertTrue(all(r["ok"] for r in self.sync(*ops)))
        data = self.make_jsonrpc_request(f"/spa/tablet/session/{self.spa_session.id}")
        self.assertTrue(data["session"]["is_stop_triggered"])
        done = self.make_jsonrpc_request(
            f"/spa/tablet/session/{self.spa_session.id}/action", {"action": "done"}
        )
        self.assertFalse(done["ok"])
        self.assertIn("8/10", done["error"])
        stop = self.make_jsonrpc_request(
            f"/spa/tablet/session/{self.spa_session.id}/action", {"action": "stop"}
        )
        self.assertTrue(stop["ok"])
        self.assertEqual(stop["session"]["state"], "stopped")
        self.assertTrue(stop["session"]["referral_recommended"])
        # A check-in queued before the stop and replayed after it: still one.
        self.assertTrue(self.sync(ops[-1])[0]["ok"])
        self.assertEqual(self.spa_session.checkin_count, 2)

    def test_start_refused_without_consent_shows_message(self):
        session = self.session_of(self.book(partner=self.client2))
        result = self.make_jsonrpc_request(
            f"/spa/tablet/session/{session.id}/action", {"action": "start"}
        )
        self.assertFalse(result["ok"])
        self.assertIn("consent", result["error"])
        self.assertEqual(session.state, "draft")

    def test_consent_signed_on_tablet(self):
        session = self.session_of(self.book(partner=self.client2))
        signature, strokes = drawn_signature()
        for login in ("spa_fd", "spa_th"):
            self.authenticate(login, login)
            info = self.make_jsonrpc_request(
                "/spa/tablet/consent_info", {"event_id": session.event_id.id}
            )
            self.assertTrue(info["ok"])
            self.assertEqual(
                info["consent_status"], "missing" if login == "spa_fd" else "valid"
            )
            result = self.make_jsonrpc_request(
                "/spa/tablet/consent",
                {
                    "event_id": session.event_id.id,
                    # the pad's picture as a data URL, and the strokes drawn
                    "signature": f"data:image/png;base64,{signature}",
                    "strokes": strokes,
                    "signed_by": "Carl Client",
                },
            )
            self.assertTrue(result["ok"], result.get("error"))
            consent = self.env["spa.consent"].browse(result["consent_id"])
            self.assertEqual(consent.state, "given")
            self.assertEqual(consent.method, "signature")
            self.assertEqual(consent.partner_id, self.client2)
            self.assertEqual(consent.recorded_by_id.login, login)
            self.assertTrue(consent.signature)
        refused = self.make_jsonrpc_request(
            "/spa/tablet/consent",
            {"session_id": session.id, "signature": "", "signed_by": "Carl"},
        )
        self.assertFalse(refused["ok"])
        self.assertIn("signature", refused["error"])
        start = self.make_jsonrpc_request(
            f"/spa/tablet/session/{session.id}/action", {"action": "start"}
        )
        self.assertTrue(start["ok"], start.get("error"))

    # The client's signature on the tablet: a drawing, as on their own
    # consent page (the same check, the same messages).
    NOT_DRAWN = (
        "Please draw your signature with your finger: a typed name or a "
        "loaded picture is not accepted for a consent."
    )
    NOT_THE_DRAWING = (
        "The signature sent is not the one drawn on the pad: please clear "
        "the box and sign again with your finger."
    )

    def post_tablet_signature(self, session, signature, strokes=None):
        params = {
            # by the appointment: the front desk's way (and the therapist's)
            "event_id": session.event_id.id,
            "signature": f"data:image/png;base64,{signature}",
            "signed_by": "Carl Client",
        }
        if strokes is not None:
            params["strokes"] = strokes
        return self.make_jsonrpc_request("/spa/tablet/consent", params)

    def test_tablet_refuses_a_signature_that_was_not_drawn(self):
        session = self.session_of(self.book(partner=self.client2))
        stroke = zigzag()
        # A picture loaded from a file: a filled shape nobody drew.
        loaded = png(lambda d: d.rectangle((40, 40, 290, 160), fill="black"))
        cases = [
            (
                "blank pad",
                png(),
                [stroke],
                "The signature box is empty: please sign with your finger.",
            ),
            ("typed name (Auto)", png(typed_name("Carl Client")), [], self.NOT_DRAWN),
            (
                "typed name, no strokes sent (a tablet of before)",
                png(typed_name("Carl Client")),
                None,
                self.NOT_DRAWN,
            ),
            (
                "typed name with a made-up stroke",
                png(typed_name("Carl Client")),
                [stroke],
                self.NOT_THE_DRAWING,
            ),
            ("loaded picture", loaded, [], self.NOT_DRAWN),
            ("loaded picture with a scribble", loaded, [stroke], self.NOT_THE_DRAWING),
            (
                "a drawing somewhere else than the strokes",
                png(ink(zigzag(top=40))),
                [zigzag(top=170)],
                self.NOT_THE_DRAWING,
            ),
        ]
        for login in ("spa_fd", "spa_th"):
            self.authenticate(login, login)
            for label, signature, strokes, message in cases:
                with self.subTest(login=login, case=label):
                    result = self.post_tablet_signature(session, signature, strokes)
                    self.assertFalse(result["ok"])
                    self.assertEqual(result["error"], message)
        self.assertFalse(
            self.env["spa.consent"].search([("partner_id", "=", self.client2.id)])
        )
        self.assertEqual(session._tablet_consent_statuses()[session.id], "missing")
        # The drawing with the strokes that made it gives the consent.
        signature, strokes = drawn_signature()
        result = self.post_tablet_signature(session, signature, strokes)
        self.assertTrue(result["ok"], result.get("error"))
        consent = self.env["spa.consent"].browse(result["consent_id"])
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.signature.decode(), signature)

    def test_tablet_refusal_in_the_users_language(self):
        """The tablet's refusal is the consent page's message, translated."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(
            ["spa_session_protocol"], ["fr_FR"], overwrite=True
        )
        self.front_desk.lang = "fr_FR"
        self.authenticate("spa_fd", "spa_fd")
        session = self.session_of(self.book(partner=self.client2))
        result = self.post_tablet_signature(session, png(), [zigzag()])
        self.assertFalse(result["ok"])
        self.assertEqual(
            result["error"],
            "Le cadre de signature est vide : veuillez signer avec votre doigt.",
        )
