import uuid
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields, http
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, new_test_user, tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_kiosk")
class TestRooms(SpaCommon):
    """Rooms on appointments: two live sessions never share a room at the
    same time, on every path; the room's token and the PINs are never read."""

    def test_overlap_refused_naming_the_other(self):
        start = fields.Datetime.now() + timedelta(hours=2)
        first = self.book(start=start, spa_room_id=self.room.id)
        first_session = self.session_of(first)
        with self.assertRaises(ValidationError) as refusal:
            self.book(
                partner=self.client2,
                therapist=self.therapist2,
                start=start + timedelta(minutes=30),
                spa_room_id=self.room.id,
            )
        self.assertIn(first_session.name, str(refusal.exception))
        # Booked apart, then moved onto it: refused too, and nothing changes.
        second = self.book(
            partner=self.client2,
            therapist=self.therapist2,
            start=start + timedelta(hours=2),
            spa_room_id=self.room.id,
        )
        with self.assertRaises(ValidationError) as refusal:
            second.with_user(self.front_desk).write(
                {
                    "start": start + timedelta(minutes=15),
                    "stop": start + timedelta(minutes=75),
                }
            )
        self.assertIn(first_session.name, str(refusal.exception))
        self.assertEqual(second.start, start + timedelta(hours=2))
        # Another room, or back to back, is fine.
        other_room = self.env["spa.room"].create({"name": "Room Two"})
        second.with_user(self.front_desk).write(
            {
                "start": start + timedelta(minutes=15),
                "stop": start + timedelta(minutes=75),
                "spa_room_id": other_room.id,
            }
        )
        with self.assertRaises(ValidationError) as refusal:
            second.with_user(self.front_desk).write({"spa_room_id": self.room.id})
        self.assertIn(first_session.name, str(refusal.exception))
        second.with_user(self.front_desk).write(
            {
                "start": start + timedelta(hours=1),
                "stop": start + timedelta(hours=2),
                "spa_room_id": self.room.id,
            }
        )
        # A cancelled session frees its room.
        first.with_user(self.front_desk).action_archive()
        self.book(
            partner=self.client2,
            therapist=self.therapist2,
            start=start,
            spa_room_id=self.room.id,
        )

    def test_front_desk_sees_free_rooms(self):
        start = fields.Datetime.now() + timedelta(hours=2)
        other_room = self.env["spa.room"].create({"name": "Room Two"})
        self.book(start=start, spa_room_id=self.room.id)
        Event = self.env["calendar.event"].with_user(self.front_desk)
        with Form(Event) as form:
            form.name = "Another booking"
            form.start = start + timedelta(minutes=30)
            form.stop = start + timedelta(minutes=90)
            self.assertNotIn(self.room, form.spa_free_room_ids)
            self.assertIn(other_room, form.spa_free_room_ids)
            form.start = start + timedelta(hours=3)
            form.stop = start + timedelta(hours=4)
            self.assertIn(self.room, form.spa_free_room_ids)

    def test_room_token_never_read(self):
        admin = self.env.ref("base.user_admin")
        token = self.room.sudo().kiosk_token
        self.assertTrue(token and len(token) >= 32)
        for user in (self.manager, admin, self.front_desk, self.therapist):
            Room = self.env["spa.room"].with_user(user)
            room = Room.browse(self.room.id)
            with self.subTest(user=user.login):
                self.assertNotIn("kiosk_token", room.read()[0])
                self.assertNotIn("kiosk_token", Room.fields_get())
                self.assertNotIn(token, str(room.read()))
                self.assertNotIn(token, str(Room.search_read([])))
                self.assertNotIn(token, str(room.web_read({"name": {}})))
                for attempt in (
                    lambda r=room: r.read(["kiosk_token"]),
                    lambda r=room: r.export_data(["kiosk_token"]),
                    lambda r=room: r.web_read({"kiosk_token": {}}),
                    lambda R=Room: R.search([("kiosk_token", "=", token)]),
                    lambda r=room: r.kiosk_token,
                ):
                    # (AccessError is a UserError: exporting needs its own right)
                    with self.assertRaises(UserError):
                        attempt()
                self.assertNotIn(token, str(Room.default_get(list(Room._fields))))

    def test_regenerate_token_managers_only(self):
        token = self.room.sudo().kiosk_token
        for user in (self.front_desk, self.therapist):
            with self.assertRaises(AccessError):
                self.room.with_user(user).action_regenerate_kiosk_token()
        self.room.with_user(self.manager).action_regenerate_kiosk_token()
        new_token = self.room.sudo().kiosk_token
        self.assertNotEqual(token, new_token)
        # The link carries the token in its fragment, never in its path.
        action = self.room.with_user(self.manager).action_open_kiosk()
        self.assertEqual(action["url"], f"/spa/kiosk#{new_token}")
        copy = self.room.with_user(self.manager).action_copy_kiosk_link()
        self.assertEqual(copy["tag"], "spa_session_protocol.copy_kiosk_link")
        self.assertEqual(
            copy["params"]["url"], f"{self.room.get_base_url()}/spa/kiosk#{new_token}"
        )
        for user in (self.front_desk, self.therapist):
            with self.assertRaises(AccessError):
                self.room.with_user(user).action_open_kiosk()
            with self.assertRaises(AccessError):
                self.room.with_user(user).action_copy_kiosk_link()
        self.assertFalse(self.env["spa.room"]._spa_room_by_token(token))
        self.assertEqual(self.env["spa.room"]._spa_room_by_token(new_token), self.room)
        # A caller never chooses the token.
        with self.assertRaises(AccessError):
            self.env["spa.room"].with_user(self.manager).create(
                {"name": "Chosen", "kiosk_token": "x" * 40}
            )

    def test_pin_hashed_never_read(self):
        self.therapist.with_user(self.therapist).write({"spa_pin": "2468"})
        user_sudo = self.therapist.sudo()
        self.assertTrue(user_sudo.spa_pin_hash)
        self.assertNotIn("2468", user_sudo.spa_pin_hash)
        self.assertTrue(self.therapist.spa_has_pin)
        for user in (self.therapist, self.manager, self.env.ref("base.user_admin")):
            me = self.therapist.with_user(user)
            with self.subTest(user=user.login):
                values = me.read(["name", "spa_pin", "spa_has_pin"])[0]
                self.assertFalse(values["spa_pin"])
                self.assertTrue(values["spa_has_pin"])
                if user.has_group("base.group_erp_manager"):
                    self.assertNotIn("spa_pin_hash", me.read()[0])
                    self.assertNotIn("$", str(me.read()[0]))
                self.assertNotIn("spa_pin_hash", me.fields_get())
                with self.assertRaises(AccessError):
                    me.read(["spa_pin_hash"])
                with self.assertRaises(UserError):
                    me.export_data(["spa_pin_hash"])
        # Only the user themselves sets it (see TestKioskPinOwner).
        with self.assertRaises(AccessError):
            self.therapist.with_user(self.therapist2).action_spa_set_pin("1111")
        with self.assertRaises(AccessError):
            self.therapist.with_user(self.manager).action_spa_set_pin("1111")
        self.therapist.with_user(self.therapist).action_spa_set_pin("13579")
        self.assertIsNone(self.therapist._spa_kiosk_verify_pin("13579"))
        for bad in ("123", "123456789", "12a4", "١٢٣٤"):
            with self.assertRaises(ValidationError):
                self.therapist.with_user(self.therapist).write({"spa_pin": bad})

    def test_room_plan_queries_flat_in_sessions(self):
        """The tablet's plan of the day costs the same for one session as for
        three (no query per session)."""
        # Three appointments of today, 1 and 2 hours apart, whenever the
        # suite runs (the plan lists today's sessions only).
        morning = fields.Datetime.now().replace(hour=8, minute=0, second=0)
        with freeze_time(morning):
            self._room_plan_queries_flat_in_sessions()

    def _room_plan_queries_flat_in_sessions(self):

        def plan_queries():
            self.env.invalidate_all()
            self.env.flush_all()
            before = self.cr.sql_log_count
            plan = self.room._kiosk_plan()
            return self.cr.sql_log_count - before, plan

        start = fields.Datetime.now() + timedelta(minutes=5)
        self.book(start=start, spa_room_id=self.room.id)
        one, plan = plan_queries()
        self.assertEqual(len(plan["sessions"]), 1)
        for hours, partner in ((1, self.client2), (2, self.client)):
            self.book(
                partner=partner,
                start=start + timedelta(hours=hours),
                spa_room_id=self.room.id,
            )
        three, plan = plan_queries()
        self.assertEqual(len(plan["sessions"]), 3)
        self.assertEqual(three, one)
        with self.assertQueryCount(one):
            self.env.invalidate_all()
            self.room._kiosk_plan()

    def test_five_wrong_pins_lock_for_five_minutes(self):
        self.therapist.with_user(self.therapist).action_spa_set_pin("2468")
        now = fields.Datetime.now()
        with freeze_time(now):
            for __ in range(4):
                self.assertIn("Wrong PIN", self.therapist._spa_kiosk_verify_pin("0000"))
            self.assertIn("locked out", self.therapist._spa_kiosk_verify_pin("0000"))
            # Even the right PIN is refused while locked out.
            self.assertIn("locked out", self.therapist._spa_kiosk_verify_pin("2468"))
        with freeze_time(now + timedelta(minutes=4)):
            self.assertIn("locked out", self.therapist._spa_kiosk_verify_pin("2468"))
        with freeze_time(now + timedelta(minutes=5, seconds=1)):
            self.assertIsNone(self.therapist._spa_kiosk_verify_pin("2468"))


@tagged("post_install", "-at_install", "spa_kiosk")
class TestKioskPinOwner(SpaCommon):
    """A kiosk PIN is its owner's secret: only the user themselves sets it,
    on every path (the method, a write of ``spa_pin``, the wizard); a spa
    manager may only reset (clear) another user's PIN; nobody else may."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.therapist.with_user(cls.therapist).action_spa_set_pin("2468")
        cls.admin = cls.env.ref("base.user_admin")
        # May write users, but is no spa manager.
        cls.sysadmin = new_test_user(
            cls.env, "spa_sysadmin", groups="base.group_system", name="Sid Admin"
        )

    def pin_hash(self, user=None):
        return (user or self.therapist).sudo().spa_pin_hash

    def set_paths(self, caller, user, pin):
        """Every way ``caller`` could try to set ``user``'s PIN."""
        target = user.with_user(caller)
        return {
            "action_spa_set_pin": lambda: target.action_spa_set_pin(pin),
            "write spa_pin": lambda: target.write({"spa_pin": pin}),
            "_spa_set_pin": lambda: target._spa_set_pin(pin),
        }

    def test_only_the_user_sets_their_pin(self):
        # The administrator is a spa manager and may write users: refused too.
        for caller in (
            self.therapist2,
            self.front_desk,
            self.manager,
            self.admin,
            self.sysadmin,
            self.plain_user,
        ):
            for path, attempt in self.set_paths(caller, self.therapist, "1357").items():
                with self.subTest(caller=caller.login, path=path):
                    with self.assertRaises(AccessError) as refusal:
                        attempt()
                    if path != "write spa_pin" or caller.has_group("base.group_system"):
                        # (others may not write a user at all)
                        self.assertIn(
                            "a spa manager may only reset it", str(refusal.exception)
                        )
                    self.assertIn(
                        "Wrong PIN", self.therapist._spa_kiosk_verify_pin("1357")
                    )
                    self.assertIsNone(self.therapist._spa_kiosk_verify_pin("2468"))
        # The user themselves, by each path: the new PIN replaces the old one.
        for pin, path in zip(
            ("1357", "97531", "8642"),
            self.set_paths(self.therapist, self.therapist, None),
            strict=True,
        ):
            with self.subTest(caller="self", path=path):
                self.set_paths(self.therapist, self.therapist, pin)[path]()
                self.assertIsNone(self.therapist._spa_kiosk_verify_pin(pin))
                self.assertIn("Wrong PIN", self.therapist._spa_kiosk_verify_pin("2468"))
                self.therapist.sudo()._spa_set_pin("2468")
        # A user with no spa group sets their own PIN too (it opens nothing).
        self.front_desk.with_user(self.front_desk).action_spa_set_pin("9999")
        self.assertIsNone(self.front_desk._spa_kiosk_verify_pin("9999"))

    def test_the_servers_own_paths_may_set_one(self):
        """The superuser is the server itself (data files, the shell): the
        demo's PINs are set that way. No RPC caller is the superuser."""
        self.therapist2.sudo().action_spa_set_pin("1357")
        self.assertIsNone(self.therapist2._spa_kiosk_verify_pin("1357"))
        # sudo() keeps the caller: a manager's sudo() is the server's path,
        # which only code of the server takes.
        self.therapist2.with_user(self.manager).sudo()._spa_set_pin("8642")
        self.assertIsNone(self.therapist2._spa_kiosk_verify_pin("8642"))

    def test_a_manager_only_resets_a_pin(self):
        self.assertTrue(self.therapist.spa_has_pin)
        # Another therapist, the front desk, an administrator who is not a spa
        # manager: refused, nothing changes.
        for caller in (
            self.therapist2,
            self.front_desk,
            self.plain_user,
            self.sysadmin,
        ):
            with self.subTest(caller=caller.login):
                user = self.therapist.with_user(caller)
                with self.assertRaises(AccessError):
                    user.action_spa_reset_pin()
                with self.assertRaises(AccessError):
                    user._spa_set_pin("")
                self.assertIsNone(self.therapist._spa_kiosk_verify_pin("2468"))
        # The spa manager resets it: the PIN no longer opens the kiosk, its
        # wrong tries and lock-out go, and only the user sets a new one.
        for __ in range(5):
            self.therapist._spa_kiosk_verify_pin("0000")
        self.assertTrue(self.therapist.sudo().spa_pin_locked_until)
        # (and so is the administrator, from the user form)
        self.therapist.with_user(self.admin).action_spa_reset_pin()
        self.therapist.invalidate_recordset()
        self.assertFalse(self.pin_hash())
        self.therapist.sudo()._spa_set_pin("2468")
        for __ in range(5):
            self.therapist._spa_kiosk_verify_pin("0000")
        self.therapist.with_user(self.manager).action_spa_reset_pin()
        self.therapist.invalidate_recordset()
        self.assertFalse(self.pin_hash())
        self.assertFalse(self.therapist.spa_has_pin)
        self.assertFalse(self.therapist.sudo().spa_pin_locked_until)
        self.assertIn("no kiosk PIN yet", self.therapist._spa_kiosk_verify_pin("2468"))
        with self.assertRaises(AccessError):
            self.therapist.with_user(self.manager).action_spa_set_pin("2468")
        self.therapist.with_user(self.therapist).action_spa_set_pin("1357")
        self.assertIsNone(self.therapist._spa_kiosk_verify_pin("1357"))
        # Anyone may remove their own PIN.
        self.therapist.with_user(self.therapist).action_spa_reset_pin()
        self.assertFalse(self.pin_hash())

    def test_the_wizard_resets_and_never_sets(self):
        Wizard = self.env["spa.kiosk.pin.wizard"]
        self.assertNotIn("pin", Wizard._fields)
        with Form(Wizard.with_user(self.manager)) as form:
            form.user_id = self.therapist
            self.assertTrue(form.has_pin)
        action = form.record.action_reset_pin()
        self.assertEqual(action["type"], "ir.actions.act_window_close")
        self.assertFalse(self.pin_hash())
        # Nobody else opens it (the access rules), let alone resets through it.
        self.therapist.with_user(self.therapist).action_spa_set_pin("2468")
        for caller in (self.therapist2, self.front_desk):
            with self.subTest(caller=caller.login), self.assertRaises(AccessError):
                Wizard.with_user(caller).create({"user_id": self.therapist.id})
        self.assertTrue(self.pin_hash())


@tagged("post_install", "-at_install", "spa_kiosk")
class TestKioskRoutes(SpaCommon, HttpCase):
    """The room's tablet: no login, a PIN unlocks one session, and each
    request acts as that therapist, never beyond their rights."""

    def setUp(self):
        super().setUp()
        self.spa_session = self.started_session(spa_room_id=self.room.id)
        self.therapist.with_user(self.therapist).action_spa_set_pin("2468")
        self.therapist2.with_user(self.therapist2).action_spa_set_pin("1357")
        self.token = self.room.sudo().kiosk_token

    def call(self, route, token=None, **params):
        # The token travels in the body of the JSON request, never in its path.
        return self.make_jsonrpc_request(
            f"/spa/kiosk/{route}", {"token": token or self.token, **params}
        )

    def unlock(self, session=None, pin="2468"):
        return self.call("unlock", session_id=(session or self.spa_session).id, pin=pin)

    def op(self, kind, **vals):
        return {
            "uuid": str(uuid.uuid4()),
            "kind": kind,
            "session_id": self.spa_session.id,
            **vals,
        }

    def test_plan_and_page_need_the_current_token(self):
        plan = self.call("plan")
        self.assertTrue(plan["ok"])
        self.assertEqual([s["id"] for s in plan["sessions"]], self.spa_session.ids)
        self.assertEqual(plan["idle_seconds"], 180)
        self.assertNotIn("checkin", str(plan))
        self.room.with_user(self.manager).action_regenerate_kiosk_token()
        self.assertFalse(self.call("plan")["ok"])
        self.assertFalse(self.unlock()["ok"])
        self.assertTrue(self.call("plan", token=self.room.sudo().kiosk_token)["ok"])

    def test_the_page_and_its_manifest_hold_no_token(self):
        page = self.url_open("/spa/kiosk")
        self.assertEqual(page.status_code, 200)
        self.assertNotIn(self.token, page.text)
        self.assertIn('rel="manifest"', page.text)
        self.assertIn('href="/spa/kiosk/manifest.webmanifest"', page.text)
        self.assertEqual(page.headers["Referrer-Policy"], "no-referrer")
        manifest = self.url_open("/spa/kiosk/manifest.webmanifest")
        self.assertEqual(manifest.status_code, 200)
        self.assertNotIn(self.token, manifest.text)
        self.assertEqual(manifest.json()["start_url"], "/spa/kiosk")
        self.assertEqual(manifest.json()["scope"], "/spa/kiosk")
        worker = self.url_open("/spa/kiosk/sw.js")
        self.assertEqual(worker.status_code, 200)
        self.assertEqual(worker.headers["Service-Worker-Allowed"], "/spa/kiosk")

    def test_the_designs_address_opens_the_kiosk(self):
        """``/spa/kiosk/<kiosk_token>`` (the address the design names) serves
        the kiosk page for the room's token, with no redirect; a wrong token
        and the token before a new kiosk link was made get the same 404; the
        JSON routes are never under a token (``/spa/kiosk/<token>/plan``...
        are gone)."""
        page = self.url_open(f"/spa/kiosk/{self.token}", allow_redirects=False)
        self.assertEqual(page.status_code, 200)
        self.assertNotIn("Location", page.headers)
        self.assertEqual(page.headers["Referrer-Policy"], "no-referrer")
        self.assertIn("no-store", page.headers["Cache-Control"])
        self.assertIn('class="o_spa_kiosk"', page.text)
        self.assertIn(self.room.name, page.text)
        old_token = self.token
        self.room.with_user(self.manager).action_regenerate_kiosk_token()
        for token in (old_token, "x" * 43):
            page = self.url_open(f"/spa/kiosk/{token}", allow_redirects=False)
            self.assertEqual(page.status_code, 404)
            self.assertNotIn("Location", page.headers)
            self.assertNotIn('class="o_spa_kiosk"', page.text)
            self.assertIn("not valid", page.text)
        for token in (old_token, self.room.sudo().kiosk_token):
            for old in ("manifest.webmanifest", "plan", "unlock", "session"):
                response = self.url_open(
                    f"/spa/kiosk/{token}/{old}",
                    data="{}",
                    headers={"Content-Type": "application/json"},
                    allow_redirects=False,
                )
                self.assertEqual(response.status_code, 404, old)

    def test_each_route_refuses_a_missing_or_wrong_token_as_before(self):
        """A missing token, a wrong one and the room's token before a new
        kiosk link was made get the very answers the routes gave when the
        token was in the path; a right token with nothing else is answered
        past the token."""
        unlock = self.unlock()["unlock"]
        old_token = self.token
        self.room.with_user(self.manager).action_regenerate_kiosk_token()
        # Word for word today's answer (and its translations).
        refused = (
            "This tablet's address is no longer valid: ask a manager for the "
            "room's new kiosk URL."
        )
        expected = {
            "plan": {"ok": False, "refused": True, "error": refused},
            "unlock": {"ok": False, "error": refused},
            "lock": {"ok": False, "error": refused},
            "session": {"ok": False, "locked": True, "error": refused},
            "sync": {"ok": False, "locked": True, "error": refused},
            "action": {"ok": False, "locked": True, "error": refused},
        }
        params = {
            "plan": {},
            "unlock": {"session_id": self.spa_session.id, "pin": "2468"},
            "lock": {"unlock": unlock},
            "session": {"unlock": unlock},
            "sync": {"unlock": unlock, "ops": []},
            "action": {"unlock": unlock, "action": "done"},
        }
        for route, answer in expected.items():
            for label, token in (
                ("missing", None),
                ("empty", ""),
                ("wrong", "x" * 43),
                ("not a string", 12345),
                ("old", old_token),
            ):
                with self.subTest(route=route, token=label):
                    body = dict(params[route])
                    if label != "missing":
                        body["token"] = token
                    self.assertEqual(
                        self.make_jsonrpc_request(f"/spa/kiosk/{route}", body), answer
                    )
        self.assertEqual(self.spa_session.state, "in_progress")
        # The current token passes: the plan, and the unlock's own refusal.
        self.token = self.room.sudo().kiosk_token
        self.assertTrue(self.call("plan")["ok"])
        self.assertNotEqual(self.call("session", unlock=unlock)["error"], refused)

    def test_unlock_acts_as_the_therapist(self):
        answer = self.unlock()
        self.assertTrue(answer["ok"], answer)
        unlock = answer["unlock"]
        data = self.call("session", unlock=unlock)
        self.assertTrue(data["ok"], data)
        self.assertEqual(len(data["session"]["steps"]), 9)
        step = self.step(self.spa_session, "Prepare the client and get consent")
        result = self.call(
            "sync", unlock=data["unlock"], ops=[self.op("tick", step_id=step.id)]
        )
        self.assertEqual(result["results"][0]["status"], "done", result)
        self.assertEqual(step.done_by_id, self.therapist)
        checkin = self.op("checkin", step_id=step.id, pain_level=2)
        for __ in range(2):
            result = self.call("sync", unlock=result["unlock"], ops=[checkin])
            self.assertTrue(result["results"][0]["ok"], result)
        self.assertEqual(
            self.env["spa.checkin"].search_count([("uuid", "=", checkin["uuid"])]), 1
        )
        # No Odoo session of the therapist is left on the tablet.
        sid = self.opener.cookies.get("session_id")
        if sid:
            self.assertFalse(http.root.session_store.get(sid).uid)

    def test_wrong_pin_and_other_therapists(self):
        # Another therapist's PIN does not open this therapist's session.
        self.assertFalse(self.unlock(pin="1357")["ok"])
        # An unlock of one session never acts on another therapist's session.
        other = self.session_of(
            self.book(
                partner=self.client2,
                therapist=self.therapist2,
                start=fields.Datetime.now() + timedelta(hours=3),
                spa_room_id=self.room.id,
            )
        )
        unlock = self.unlock()["unlock"]
        result = self.call(
            "sync",
            unlock=unlock,
            ops=[
                self.op("tick", step_id=other.step_ids[0].id),
                {**self.op("checkin", pain_level=1), "session_id": other.id},
            ],
        )
        self.assertEqual([r["status"] for r in result["results"]], ["refused"] * 2)
        self.assertEqual(other.step_ids[0].state, "todo")
        # Five wrong tries lock the therapist out.
        answers = [self.unlock(pin="0000") for __ in range(5)]
        self.assertIn("locked out", answers[-1]["error"])
        self.assertIn("locked out", self.unlock()["error"])

    def test_front_desk_with_a_pin_cannot_run_a_session(self):
        self.front_desk.with_user(self.front_desk).action_spa_set_pin("9999")
        # A PIN opens its owner's sessions only: the front desk's opens none.
        answer = self.unlock(pin="9999")
        self.assertFalse(answer["ok"])
        self.assertIn("Wrong PIN", answer["error"])
        # Nor does the kiosk run a session for a user who is no therapist.
        self.therapist.sudo().write(
            {
                "groups_id": [
                    (3, self.env.ref("spa_session_protocol.group_spa_therapist").id)
                ]
            }
        )
        answer = self.unlock()
        self.assertFalse(answer["ok"])
        self.assertNotIn("unlock", answer)

    def test_lock_expiry_and_another_unlock(self):
        # Both sessions of the room today, whenever the suite runs: the
        # other one is booked three hours later, which after 21:00 would be
        # tomorrow (the kiosk opens today's sessions only).
        morning = fields.Datetime.now().replace(hour=8, minute=0, second=0)
        with freeze_time(morning):
            self._lock_expiry_and_another_unlock()

    def _lock_expiry_and_another_unlock(self):
        first = self.unlock()["unlock"]
        # Another therapist unlocking the tablet ends the first unlock.
        other = self.session_of(
            self.book(
                partner=self.client2,
                therapist=self.therapist2,
                start=fields.Datetime.now() + timedelta(hours=3),
                spa_room_id=self.room.id,
            )
        )
        second = self.unlock(session=other, pin="1357")
        self.assertTrue(second["ok"], second)
        self.assertTrue(self.call("session", unlock=first)["locked"])
        self.assertTrue(self.call("session", unlock=second["unlock"])["ok"])
        # Locking ends it at once.
        self.assertTrue(self.call("lock", unlock=second["unlock"])["ok"])
        self.assertTrue(self.call("session", unlock=second["unlock"])["locked"])
        # The idle delay ends it too.
        third = self.unlock()["unlock"]
        with freeze_time(fields.Datetime.now() + timedelta(minutes=4)):
            answer = self.call("session", unlock=third)
        self.assertTrue(answer["locked"])
        self.assertIn("without a touch", answer["error"])
        # A forged unlock is refused.
        room_id, user_id, session_id, expiry, sig = self.unlock()["unlock"].split(".")
        forged = ".".join((room_id, str(self.manager.id), session_id, expiry, sig))
        self.assertTrue(self.call("session", unlock=forged)["locked"])
