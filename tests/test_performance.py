import uuid
from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..controllers.tablet import SpaTabletController
from .common import SpaCommon

AFTERCARE_DONE_QUERIES = 84
# The session itself, the progress line the runner shows ("5/7 steps · 2/2
# check-ins", issue 18) from the same facts; the tablet's time of each tick is
# read with the lines (it took a query of its own).
TABLET_READ_COLD = 12
TABLET_READ_WARM = 2
TABLET_TICK = 11
# A line that touches no sensitive region: no consent read (issue 14).
TABLET_TICK_PLAIN = 8
TABLET_CHECKIN = 8
# Booking through the ORM (issue 14, P1), the front desk with mail tracking
# on, as in the back office: one appointment with its session and 9 lines,
# and a batch of 20 (queries per batch, not per appointment, beyond the
# session references).
# The client and the therapist are the appointment's attendees (issue 18):
# their calendar.attendee rows, and their following the appointment (the
# existing followers, then the followers and their subtypes: 3 queries per
# batch, whatever the number of clients). The protocol's steps (and their
# regions) come from the registry's cache, read once until a step changes;
# the sequence is found and read in one query.
BOOKING_ONE = 28
BOOKING_TWENTY = 48
# What booking adds to a plain appointment saved through the form's RPC;
# the consent badge and the signing link's state the form reads back are
# found by one search of the client's consents.
BOOKING_FORM_EXTRA = 13


@tagged("post_install", "-at_install", "spa_performance")
class TestQueryCounts(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # What completing costs by itself: the client's aftercare email that
        # follows (a message and its notification) is tested in test_aftercare.
        cls.company.spa_aftercare_enabled = False

    def _ready_session(self, protocol=None, extra_steps=()):
        """A session of ``protocol`` with everything done, 5 check-ins."""
        protocol = protocol or self.protocol
        if protocol != self.protocol:
            self.give_consent(protocols=protocol)
            session = self.session_of(self.book(protocol=protocol)).with_user(
                self.therapist
            )
            session.action_start()
        else:
            session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure")
        self.tick(session, "Pressing motions")
        self.checkin(session, "Pressing motions")
        self.tick(session, "Feedback check-ins")
        session.step_ids.filtered(lambda s: s.name in extra_steps).action_done()
        session.step_ids.filtered(
            lambda s: s.state == "todo" and not s.is_mandatory
        ).action_skip("not needed")
        for __ in range(3):
            self.checkin(session, pain=1)
        self.assertEqual(session.checkin_count, 5)
        self.env.flush_all()
        return session

    def _done_queries(self, session):
        self.env.invalidate_all()
        session.with_user(self.therapist).check_access(
            "read"
        )  # user's groups and rules in cache
        before = self.cr.sql_log_count
        session.action_done()
        self.env.flush_all()
        self.assertEqual(session.state, "done")
        return self.cr.sql_log_count - before

    def _warm_registry(self, session):
        """The registry's caches (the user's groups, access rights and record
        rules), as a running server has them; nothing of the records."""
        session.with_user(self.therapist).check_access("read")
        self.env.invalidate_all()

    def test_action_done_query_count(self):
        session = self._ready_session()
        self._warm_registry(session)
        # Each fact read once, the evidence hash (v3: the lines' planned and
        # touched regions, the consent's regions, the intake) over the same
        # cache as the rules' check: lock (2), session, lines (2) and their
        # touched regions (2), check-ins (2), consent with its protocols and
        # regions (4), planned regions, intake, evidence chain (2), the
        # company's aftercare switch, the write.
        with self.assertQueryCount(19):
            session.action_done()
            self.env.flush_all()
        self.assertEqual(session.state, "done")
        self.assertTrue(session.evidence_hash)

    def test_action_done_query_count_with_aftercare_mail(self):
        """The aftercare mail switched on: what the client's email adds."""
        self.company.spa_aftercare_enabled = True
        self.client.email = "clara@example.com"
        session = self._ready_session()
        # The template compiled once, as a running server has it.
        template = self.env.ref("spa_session_protocol.mail_template_aftercare")
        template._render_field("body_html", session.ids)
        self._warm_registry(session)
        with self.assertQueryCount(AFTERCARE_DONE_QUERIES):
            session.action_done()
            self.env.flush_all()
        self.assertEqual(session.state, "done")
        self.assertTrue(
            session.message_ids.filtered(lambda m: self.client in m.partner_ids),
            "the aftercare email was queued for the client",
        )

    # ------------------------------------------------------------------
    # The tablet (issue 14, P4): its session read, a tick, a check-in
    # ------------------------------------------------------------------

    def _tablet_session(self):
        session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:3])
        self.checkin(session, "Warm-up")
        self.env.flush_all()
        return session

    def test_tablet_session_read_query_count(self):
        """Opening a session on the tablet (``/spa/tablet/session/<id>``):
        the rules' facts read once, for the consent badge, rule 7 and rule
        8, without going through the appointment."""
        session = self._tablet_session()
        env = self.env(user=self.therapist)

        def open_session():
            return env["spa.session"]._tablet_session(session.id)._tablet_payload()

        # The registry's caches (groups, access rights, record rules of
        # every model read), as a running server has them after a first read.
        for __ in range(2):
            open_session()
            self.env.invalidate_all()
        # A new request: nothing of the session in cache (cold). The session
        # as the user, its lines with their touched regions (2), check-ins,
        # the consent it relied on with its protocols and regions (3), the
        # protocol, the intake's flagged answers and the intake (2), the
        # names shown (2: who ticked, then the client's and theirs). The body
        # chart and the qualifications' names come from the registry's cache.
        with self.assertQueryCount(TABLET_READ_COLD):
            payload = open_session()
        self.assertEqual(len(payload["steps"]), 9)
        self.assertEqual(payload["consent_status"], "valid")
        self.assertEqual(payload["intake_status"], "valid")
        self.assertEqual(len(payload["checkins"]), 1)
        # Opened again (warm): what is searched anew each time (the session
        # as the user, the intake's flagged answers).
        with self.assertQueryCount(TABLET_READ_WARM):
            self.assertEqual(open_session(), payload)

    def _sync(self, env, op):
        result = SpaTabletController()._sync_one(
            {"uuid": str(uuid.uuid4()), **op}, env=env
        )
        self.assertTrue(result["ok"], result)
        return result

    def test_tablet_tick_query_count(self):
        session = self._tablet_session()
        env = self.env(user=self.therapist)
        tick = {"kind": "tick", "session_id": session.id}
        first = self.step(session, "Locate the target area")
        self._sync(env, {**tick, "step_id": first.id})
        self.env.invalidate_all()
        step = self.step(session, "Stabilise and apply pressure")
        # Savepoint (2), the session's lines as the server (found by the
        # line, whose record rules are then checked as the user; the session
        # itself is in cache here, read by self.step), the lock, the
        # session's check-ins, the touched regions of all its lines (one
        # query), what the sensitive region asks for: the consent with its
        # protocols and regions and the protocol's consent text (4), and the
        # write (11 in all in this setup; the transaction's clock is read).
        with self.assertQueryCount(TABLET_TICK):
            self._sync(env, {**tick, "step_id": step.id})
        self.assertEqual(step.state, "done")
        # The next line touches no sensitive region: no consent is read.
        # Savepoint (2), the lines, the lock, the check-ins, the lines'
        # regions, the write, and the counters' update (the line asks for a
        # check-in after it: one more required).
        self.env.invalidate_all()
        step = self.step(session, "Pressing motions")
        with self.assertQueryCount(TABLET_TICK_PLAIN):
            self._sync(env, {**tick, "step_id": step.id})
        self.assertEqual(step.state, "done")

    def test_tablet_checkin_query_count(self):
        session = self._tablet_session()
        env = self.env(user=self.therapist)
        checkin = {"kind": "checkin", "session_id": session.id, "pain_level": 2}
        self._sync(env, checkin)
        self.env.invalidate_all()
        # Savepoint (2), the session as the user, the idempotency key with
        # the session's check-ins (one query), the lock, the insert (its
        # stored computes in it), the lines for the counters (no region is
        # read), their update.
        with self.assertQueryCount(TABLET_CHECKIN):
            self._sync(env, checkin)
        self.assertEqual(session.checkin_count, 3)

    def test_action_done_flat_in_steps(self):
        """A 30-step protocol completes in as many queries as the 9-step one."""
        big = self.protocol.copy({"code": "BIG"})
        base = max(big.step_ids.mapped("sequence"))
        self.env["spa.protocol.step"].create(
            [
                {
                    "protocol_id": big.id,
                    "name": f"Extra {i}",
                    "sequence": base + i,
                    "is_mandatory": True,
                }
                for i in range(1, 22)
            ]
        )
        self.assertEqual(len(big.step_ids), 30)
        small_count = self._done_queries(self._ready_session())
        big_session = self._ready_session(
            big, extra_steps=[f"Extra {i}" for i in range(1, 22)]
        )
        self.assertEqual(len(big_session.step_ids), 30)
        big_count = self._done_queries(big_session)
        self.assertLessEqual(small_count, 20)
        self.assertEqual(big_count, small_count, "action_done must not query per step")

    def test_booking_is_flat_per_event(self):
        start = fields.Datetime.now() + timedelta(days=5)

        def vals(n):
            return [
                {
                    "name": f"Booking {i}",
                    "start": start + timedelta(hours=i),
                    "stop": start + timedelta(hours=i, minutes=50),
                    "spa_protocol_id": self.protocol.id,
                    "spa_client_id": self.client.id,
                    "spa_therapist_id": self.therapist.id,
                }
                for i in range(n)
            ]

        Event = self.env["calendar.event"].with_user(self.front_desk)
        Event.create(vals(1))  # warm caches
        self.env.flush_all()
        queries = []
        for n in (5, 20):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            events = Event.create(vals(n))
            self.env.flush_all()
            queries.append(self.cr.sql_log_count - before)
            self.assertEqual(len(events.spa_session_ids), n)
        per_event_small, per_event_big = queries[0] / 5, queries[1] / 20
        self.assertLessEqual(
            per_event_big, per_event_small, f"booking queries grow per event: {queries}"
        )

    # ------------------------------------------------------------------
    # Booking (issue 14, P1)
    # ------------------------------------------------------------------

    def _booking_vals(self, count, start, booked=True):
        vals_list = []
        for i in range(count):
            vals = {
                "name": f"Guarded {i}",
                "start": start + timedelta(hours=i),
                "stop": start + timedelta(hours=i, minutes=50),
            }
            if booked:
                vals |= {
                    "spa_protocol_id": self.protocol.id,
                    "spa_client_id": self.client.id,
                    "spa_therapist_id": self.therapist.id,
                }
            vals_list.append(vals)
        return vals_list

    def _booking_env(self):
        """The front desk with mail tracking on (the class's environment turns
        it off), caches warm as a running server has them: one booking and
        one plain appointment first, the year's reference range made."""
        Event = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .with_context(tracking_disable=False)
        )
        start = fields.Datetime.now() + timedelta(days=3)
        Event.create(self._booking_vals(2, start))
        Event.create(self._booking_vals(1, start, booked=False))
        self.env.flush_all()
        self.env.cr.precommit.run()
        self.env.invalidate_all()
        return Event, start + timedelta(days=1)

    def test_booking_query_count(self):
        """One appointment booked (its session, its 9 lines, its reference)
        and a batch of 20: the references are one query each, everything
        else is one query per batch."""
        Event, start = self._booking_env()
        with self.assertQueryCount(BOOKING_ONE):
            event = Event.create(self._booking_vals(1, start))
            self.env.flush_all()
            self.env.cr.precommit.run()
        session = self.session_of(event)
        self.assertEqual(len(session.step_ids), 9)
        self.env.invalidate_all()
        with self.assertQueryCount(BOOKING_TWENTY):
            events = Event.create(self._booking_vals(20, start + timedelta(days=1)))
            self.env.flush_all()
            self.env.cr.precommit.run()
        sessions = events.sudo().spa_session_ids
        self.assertEqual(len(sessions), 20)
        self.assertEqual(len(sessions.step_ids), 180)
        self.assertEqual(len(set(sessions.mapped("name"))), 20)
        self.assertEqual(set(sessions.step_ids.company_id), {self.company})

    def test_booking_flat_in_clients(self):
        """A batch of bookings for many clients costs what one for a single
        client does: the attendees (each appointment's own client) follow
        their appointments in one batch, not one round per client."""
        Event, start = self._booking_env()
        clients = self.env["res.partner"].create(
            [{"name": f"Client {i}"} for i in range(10)]
        )

        def book_twenty(partners, day):
            vals_list = self._booking_vals(20, start + timedelta(days=day))
            for i, vals in enumerate(vals_list):
                vals["spa_client_id"] = partners[i % len(partners)].id
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            events = Event.create(vals_list)
            self.env.flush_all()
            self.env.cr.precommit.run()
            return self.cr.sql_log_count - before, events

        one, __ = book_twenty(self.client, 1)
        many, events = book_twenty(clients, 2)
        self.assertLessEqual(many, one, f"10 clients: {many} queries, one: {one}")
        for event in events:
            self.assertIn(event.spa_client_id, event.attendee_ids.partner_id)
            self.assertIn(event.spa_client_id, event.sudo().message_partner_ids)

    def test_booking_form_query_count(self):
        """Booking through the form's RPC (``web_save`` as the front desk)
        costs at most BOOKING_FORM_EXTRA queries more than saving a plain
        appointment the same way."""
        Event, start = self._booking_env()
        views = Event.get_views([(False, "form")])
        described = views["models"]["calendar.event"]
        spec = {
            fname: {"fields": {"display_name": {}}}
            if desc["type"] in ("many2one", "one2many", "many2many")
            else {}
            for fname, desc in described.get("fields", described).items()
        }

        def save(vals):
            vals = {
                k: fields.Datetime.to_string(v) if k in ("start", "stop") else v
                for k, v in vals.items()
            }
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            result = Event.browse().web_save(vals, spec)
            self.env.flush_all()
            self.env.cr.precommit.run()
            return self.cr.sql_log_count - before, result

        save(self._booking_vals(1, start, booked=False)[0])
        save(self._booking_vals(1, start)[0])
        plain, __ = save(self._booking_vals(1, start, booked=False)[0])
        booked, result = save(self._booking_vals(1, start)[0])
        self.assertEqual(result[0]["spa_consent_status"], "missing")
        self.assertLessEqual(
            booked - plain,
            BOOKING_FORM_EXTRA,
            f"form booking: {booked} queries, plain appointment: {plain}",
        )

    def test_batch_references_follow_the_sequence_whatever_its_implementation(self):
        """A batch of bookings draws one reference per session through
        ``ir.sequence`` itself: consecutive and distinct, from the shared
        sequence, then from a company's own no-gap sequence, which takes
        precedence as ``next_by_code`` would give it."""
        start = fields.Datetime.now() + timedelta(days=7)

        def book_four(tag):
            nonlocal start
            start += timedelta(days=1)
            events = (
                self.env["calendar.event"]
                .with_user(self.front_desk)
                .create(
                    [
                        {
                            "name": f"Ref {tag} {i}",
                            "start": start + timedelta(hours=i),
                            "stop": start + timedelta(hours=i, minutes=50),
                            "spa_protocol_id": self.protocol.id,
                            "spa_client_id": self.client.id,
                            "spa_therapist_id": self.therapist.id,
                        }
                        for i in range(4)
                    ]
                )
            )
            names = events.sudo().spa_session_ids.sorted("id").mapped("name")
            numbers = [int(name.rsplit("/", 1)[1]) for name in names]
            self.assertEqual(numbers, list(range(numbers[0], numbers[0] + 4)), names)
            return names

        year = fields.Date.today().year
        shared = book_four("shared")
        self.assertTrue(all(n.startswith(f"SES/{year}/") for n in shared), shared)
        self.env["ir.sequence"].create(
            {
                "name": "Spa Session (no gap, this company)",
                "code": "spa.session",
                "prefix": "NG/",
                "padding": 3,
                "implementation": "no_gap",
                "company_id": self.company.id,
            }
        )
        own = book_four("own")
        self.assertEqual(own, ["NG/001", "NG/002", "NG/003", "NG/004"])
