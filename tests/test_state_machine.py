"""State-machine fuzzing of the session rules through the real ORM.

A hypothesis ``RuleBasedStateMachine`` books appointments, gives and withdraws
consents, starts, ticks, skips, logs check-ins (any pain, stop requests),
completes, stops and cancels sessions, lets days pass, edits protocols, and
tries direct writes and deletions of the state and evidence fields, each as
a random role (front desk, therapists, manager, ``sudo()``). Every rule runs
in its own savepoint; refusals (``UserError`` and its subclasses) are
expected, anything else fails the test.

After every step the invariants of the design are checked on what the
database holds: no ``done`` session without a consent valid at completion,
its check-ins, its mandatory steps and a clean stop rule; advanced steps only
by certified users; and evidence never changes once it is final.

Budget: ``SPA_FUZZ_EXAMPLES`` runs of at most ``SPA_FUZZ_STEPS`` steps
(small by default, see ``scripts/reliability/fuzz_long`` for a long run);
``SPA_FUZZ_RANDOM=1`` draws new examples instead of the fixed sequence,
``SPA_FUZZ_SHRINK=1`` shrinks a failing sequence (slow).
"""

import logging
import os
from collections import Counter
from datetime import datetime, time, timedelta

from freezegun import freeze_time
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SpaCommon, drawn_signature

_logger = logging.getLogger(__name__)

ROLES = ("front_desk", "therapist", "therapist2", "manager", "sudo_therapist2", "root")
SESSION_STATES = ("draft", "in_progress", "done", "stopped", "cancelled")
FINISHED = ("done", "stopped")
MAX_SESSIONS = 4
MAX_CONSENTS = 6

indexes = st.integers(min_value=0, max_value=63)
roles = st.sampled_from(ROLES)


def _env_int(name, default):
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


class SessionMachine(RuleBasedStateMachine):
    """One example: a fresh savepoint, a clock, a few clients and sessions."""

    case = None  # the running TestStateMachine, set by the test
    stats = None  # Counter shared by the examples of one test run

    def __init__(self):
        super().__init__()
        case = self.case
        self.env = case.env
        self.savepoint = self.env.cr.savepoint()
        self.clock = datetime.combine(fields.Date.today(), time(10, 0))
        self.session_ids = []
        self.consent_ids = []
        self.seen_states = {}  # session id -> last state seen
        self.started_snap = {}  # session id -> what a started session relies on
        self.finished_snap = {}  # session id -> the evidence of a finished session
        self.step_snap = {}  # step id -> who/when once done or skipped
        self.checkin_snap = {}  # check-in id -> what it says, append-only
        self.consent_snap = {}  # consent id -> what a given consent proves
        self.stats["examples"] += 1

    def teardown(self):
        self.savepoint.close(rollback=True)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _env(self, role):
        case = self.case
        if role == "root":
            return self.env(su=True)
        if role == "sudo_therapist2":
            return self.env(user=case.therapist2, su=True)
        return self.env(user=getattr(case, role), su=False)

    def _attempt(self, label, fn):
        """Run ``fn`` in a savepoint at the machine's clock: True when it
        went through, False when refused with a ``UserError`` (or one of its
        subclasses: access, validation, missing record)."""
        self.stats["steps"] += 1
        try:
            with freeze_time(self.clock), self.env.cr.savepoint():
                fn()
        except UserError:
            self.stats[f"{label}: refused"] += 1
            ok = False
        else:
            self.stats[f"{label}: done"] += 1
            ok = True
        self.clock += timedelta(seconds=1)
        self.env.invalidate_all()
        return ok

    def _pick(self, ids, index, model):
        return self.env[model].browse(ids[index % len(ids)]) if ids else self.env[model]

    def _session(self, index):
        return self._pick(self.session_ids, index, "spa.session")

    def _consent(self, index):
        return self._pick(self.consent_ids, index, "spa.consent")

    def _step(self, session, index):
        steps = session.sudo().step_ids.sorted(lambda s: (s.sequence, s.id))
        return steps[index % len(steps)] if steps else steps

    def _protocol(self, index):
        case = self.case
        return (case.protocol, case.mini_protocol)[index % 2]

    def _therapist(self, index):
        case = self.case
        return (case.therapist, case.therapist2, case.manager)[index % 3]

    def _client(self, index):
        case = self.case
        return (case.client, case.client2)[index % 2]

    # ------------------------------------------------------------------
    # Rules: the normal life of sessions and consents
    # ------------------------------------------------------------------

    @initialize(mini=st.booleans())
    def opening_day(self, mini):
        """Two appointments and the consents of both clients, so that the
        first rules already have something to work on."""
        case = self.case
        Consent = self._env("front_desk")["spa.consent"]

        def do():
            for client in (case.client, case.client2):
                consent = Consent.create(
                    {
                        "partner_id": client.id,
                        "protocol_ids": [
                            Command.set((case.protocol | case.mini_protocol).ids)
                        ],
                        "method": "verbal",
                    }
                )
                consent.action_give()
                self.consent_ids.append(consent.id)

        self._attempt("give consent", do)
        self.book(0, 0, int(mini))
        self.book(1, 1, 1)

    @precondition(lambda self: len(self.session_ids) < MAX_SESSIONS)
    @rule(client=indexes, therapist=indexes, protocol=indexes)
    def book(self, client, therapist, protocol):
        created = []

        def do():
            start = self.clock + timedelta(hours=1)
            event = self._env("front_desk")["calendar.event"].create(
                {
                    "name": "Fuzz appointment",
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "spa_protocol_id": self._protocol(protocol).id,
                    "spa_client_id": self._client(client).id,
                    "spa_therapist_id": self._therapist(therapist).id,
                }
            )
            sessions = event.sudo().spa_session_ids
            self.case.assertEqual(
                len(sessions), 1, "an appointment gives exactly one session"
            )
            created.append(sessions.id)

        if self._attempt("book", do):
            self.session_ids += created

    @precondition(lambda self: len(self.consent_ids) < MAX_CONSENTS)
    @rule(
        client=indexes,
        protocols=st.sampled_from(("upper", "mini", "both")),
        validity=st.sampled_from((None, -1, 0, 1, 5)),
        method=st.sampled_from(
            ("verbal", "signature", "signature_signed", "given_at_create")
        ),
        role=roles,
    )
    def give_consent(self, client, protocols, validity, method, role):
        case = self.case
        protocol_ids = {
            "upper": case.protocol.ids,
            "mini": case.mini_protocol.ids,
            "both": (case.protocol | case.mini_protocol).ids,
        }[protocols]
        vals = {
            "partner_id": self._client(client).id,
            "protocol_ids": [Command.set(protocol_ids)],
            "method": "verbal"
            if method in ("verbal", "given_at_create")
            else "signature",
        }
        if validity is not None:
            vals["valid_until"] = self.clock.date() + timedelta(days=validity)
        if method == "signature_signed":
            vals["signature"] = case.SIGNATURE
        Consent = self._env(role)["spa.consent"]
        created = []

        def do():
            if method == "given_at_create":
                # An import of a consent "given" goes through action_give().
                consent = Consent.create({**vals, "state": "given"})
            else:
                consent = Consent.create(vals)
                consent.action_give()
            self.case.assertEqual(consent.sudo().state, "given")
            self.case.assertEqual(
                consent.sudo().given_at, self.clock, "given_at is the moment of giving"
            )
            self.case.assertEqual(consent.sudo().recorded_by_id, consent.env.user)
            created.append(consent.id)

        if self._attempt("give consent", do):
            self.consent_ids += created
        elif method == "signature":
            # Refused at action_give() for want of a signature: keep a draft.
            self._attempt(
                "draft consent", lambda: created.append(Consent.create(vals).id)
            )
            self.consent_ids += created

    @precondition(lambda self: self.consent_ids)
    @rule(consent=indexes, role=roles)
    def withdraw_consent(self, consent, role):
        record = self._consent(consent)
        self._attempt(
            "withdraw", lambda: record.with_env(self._env(role)).action_withdraw()
        )

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, role=roles)
    def withdraw_session_consent(self, session, role):
        """The client withdraws the consent a started session relies on."""
        consent = self._session(session).sudo().consent_id.with_env(self._env(role))
        if consent:
            self._attempt("withdraw", consent.action_withdraw)

    @precondition(lambda self: self.consent_ids)
    @rule(consent=indexes, role=roles)
    def give_draft_consent(self, consent, role):
        record = self._consent(consent)
        self._attempt(
            "give draft", lambda: record.with_env(self._env(role)).action_give()
        )

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, role=roles)
    def start(self, session, role):
        record = self._session(session)
        self._attempt("start", lambda: record.with_env(self._env(role)).action_start())

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes)
    def start_own(self, session):
        """The session's therapist starts it, as on the tablet."""
        record = self._session(session)
        env = self.env(user=record.sudo().therapist_id, su=False)
        self._attempt("start", lambda: record.with_env(env).action_start())

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, step=indexes, role=roles)
    def tick(self, session, step, role):
        record = self._step(self._session(session), step)
        self._attempt("tick", lambda: record.with_env(self._env(role)).action_done())

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, role=roles)
    def tick_advanced(self, session, role):
        """An advanced technique, by whoever: only the certified may."""
        steps = self._session(session).sudo().step_ids.filtered("qualification_id")
        if steps:
            self._attempt(
                "tick advanced",
                lambda: steps[0].with_env(self._env(role)).action_done(),
            )

    @precondition(lambda self: self.session_ids)
    @rule(
        session=indexes,
        step=indexes,
        role=roles,
        reason=st.sampled_from(("Not needed", "", None)),
    )
    def skip(self, session, step, role, reason):
        record = self._step(self._session(session), step)
        self._attempt(
            "skip", lambda: record.with_env(self._env(role)).action_skip(reason)
        )

    @precondition(lambda self: self.session_ids)
    @rule(
        session=indexes,
        pain=st.integers(min_value=-2, max_value=12),
        stop=st.booleans(),
        step=st.one_of(st.none(), indexes),
        role=roles,
    )
    def checkin(self, session, pain, stop, step, role):
        record = self._session(session)
        vals = {"session_id": record.id, "pain_level": pain, "stop_requested": stop}
        if step is not None:
            vals["session_step_id"] = self._step(record, step).id
        self._attempt("check-in", lambda: self._env(role)["spa.checkin"].create(vals))

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, role=roles)
    def position(self, session, role):
        record = self._session(session)
        self._attempt(
            "record positioning",
            lambda: record.with_env(self._env(role)).write({"positioning": "seated"}),
        )

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, role=roles)
    def done(self, session, role):
        record = self._session(session)
        self._attempt(
            "complete", lambda: record.with_env(self._env(role)).action_done()
        )

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, role=roles)
    def stop(self, session, role):
        record = self._session(session)
        self._attempt("stop", lambda: record.with_env(self._env(role)).action_stop())

    @precondition(lambda self: self.session_ids)
    @rule(
        session=indexes,
        role=roles,
        how=st.sampled_from(("cancel", "archive event", "delete event")),
    )
    def cancel(self, session, role, how):
        record = self._session(session)

        def do():
            env = self._env(role)
            if how == "cancel":
                record.with_env(env).action_cancel()
            elif how == "archive event":
                record.sudo().event_id.with_env(env).write({"active": False})
            else:
                record.sudo().event_id.with_env(env).unlink()

        before = record.sudo().state
        if self._attempt(how, do) and how != "cancel":
            self.case.assertIn(
                before,
                ("draft", "cancelled"),
                f"{how} went through for a session that was {before}",
            )

    @precondition(lambda self: self.session_ids)
    @rule(
        session=indexes,
        actions=st.integers(min_value=1, max_value=16),
        pain=st.sampled_from((0, 1, 2, 3, 8)),
    )
    def advance(self, session, actions, pain):
        """What its therapist does next, ``actions`` times: start, position
        the client, tick the next mandatory step, log the check-ins it needs,
        skip the optional steps, complete."""
        record = self._session(session)
        for __ in range(actions):
            if not self._advance_once(record, pain):
                return
            # several actions in one rule: check after each of them
            self.rules_hold()

    def _advance_once(self, record, pain):
        """One action of the therapist on ``record``; False when there is
        nothing more to do (or it was refused)."""
        record_sudo = record.sudo()
        env = self.env(user=record_sudo.therapist_id, su=False)
        as_therapist = record.with_env(env)
        if record_sudo.state == "draft":
            return self._attempt("advance", as_therapist.action_start)
        if record_sudo.state != "in_progress":
            return False
        steps = record_sudo.step_ids.sorted(lambda s: (s.sequence, s.id))
        checked = set(record_sudo.checkin_ids.session_step_id.ids)
        lacking = steps.filtered(
            lambda s: s.state == "done" and s.requires_checkin and s.id not in checked
        )
        todo = steps.filtered(lambda s: s.state == "todo")
        Checkin = env["spa.checkin"]
        if not record_sudo.positioning:
            vals = {"positioning": "prone_table"}
            return self._attempt("advance", lambda: as_therapist.write(vals))
        if lacking:
            vals = {
                "session_id": record.id,
                "session_step_id": lacking[0].id,
                "pain_level": pain,
            }
            return self._attempt("advance", lambda: Checkin.create(vals))
        if todo.filtered("is_mandatory"):
            step = todo.filtered("is_mandatory")[0].with_env(env)
            return self._attempt("advance", step.action_done)
        if len(record_sudo.checkin_ids) < record_sudo.min_checkin_count:
            vals = {"session_id": record.id, "pain_level": pain}
            return self._attempt("advance", lambda: Checkin.create(vals))
        if todo:
            step = todo[0].with_env(env)
            return self._attempt("advance", lambda: step.action_skip("Not needed"))
        self._attempt("advance: complete", as_therapist.action_done)
        return False

    @rule(
        days=st.integers(min_value=0, max_value=3),
        minutes=st.integers(min_value=0, max_value=90),
    )
    def time_passes(self, days, minutes):
        self.clock += timedelta(days=days, minutes=minutes)

    @rule(
        what=st.sampled_from(("consent text", "settings")),
        text=st.sampled_from(
            ("<p>Mini protocol, version 2</p>", "<p>Mini protocol</p>")
        ),
        threshold=st.integers(min_value=0, max_value=10),
        minimum=st.integers(min_value=0, max_value=3),
    )
    def edit_protocol(self, what, text, threshold, minimum):
        """A manager edits the mini protocol: a new consent text (older
        consents no longer cover it) or new settings (for sessions booked
        from now on)."""
        protocol = self.case.mini_protocol.with_env(self._env("manager"))
        vals = (
            {"consent_text": text}
            if what == "consent text"
            else {
                "pain_stop_threshold": threshold,
                "min_checkin_count": minimum,
            }
        )
        self._attempt(f"edit protocol {what}", lambda: protocol.write(vals))

    # ------------------------------------------------------------------
    # Rules: attacks on the evidence (direct writes and deletions)
    # ------------------------------------------------------------------

    def _field_value(self, model, fname, choice):
        """A value to write in ``fname``, different from usual ones."""
        case = self.case
        users = (case.therapist, case.therapist2, case.manager, case.front_desk)
        field = self.env[model]._fields[fname]
        if field.type == "selection":
            selection = [value for value, __ in field._description_selection(self.env)]
            return selection[choice % len(selection)]
        if field.type == "datetime":
            return self.clock - timedelta(days=choice % 5, hours=1)
        if field.type == "date":
            return self.clock.date() + timedelta(days=(choice % 7) - 3)
        if field.type == "boolean":
            return bool(choice % 2)
        if field.type == "integer":
            return choice % 11
        if field.comodel_name == "res.users":
            return users[choice % len(users)].id
        if field.comodel_name == "spa.consent":
            return (
                self.consent_ids[choice % len(self.consent_ids)]
                if self.consent_ids
                else False
            )
        if field.comodel_name == "spa.session.step":
            steps = self.env["spa.session.step"].search(
                [("session_id", "in", self.session_ids)]
            )
            return steps[choice % len(steps)].id if steps else False
        if field.comodel_name == "spa.session":
            return (
                self.session_ids[choice % len(self.session_ids)]
                if self.session_ids
                else False
            )
        if field.comodel_name == "spa.protocol":
            return self._protocol(choice).id
        if field.type == "many2many":
            return [Command.set(self._protocol(choice).ids)]
        if field.comodel_name == "res.partner":
            return self._client(choice).id
        if field.comodel_name == "spa.qualification":
            return False
        return f"forged {choice}"

    # Fields a caller can never change through write(), in any state.
    NEVER_WRITABLE = {
        "spa.session": (
            "state",
            "date_start",
            "date_done",
            "consent_id",
            "referral_recommended",
            "evidence_hash",
            "started_by_id",
            "finished_by_id",
        ),
        "spa.session.step": (
            "state",
            "done_by_id",
            "done_at",
            "name",
            "is_mandatory",
            "qualification_id",
            "session_id",
        ),
        "spa.checkin": (
            "pain_level",
            "stop_requested",
            "session_step_id",
            "session_id",
            "logged_by_id",
        ),
        "spa.consent": (
            "state",
            "given_at",
            "recorded_by_id",
            "withdrawn_at",
            "withdrawn_by_id",
            "consent_text",
        ),
    }
    # Fields that may change only while the record is a draft.
    DRAFT_ONLY = {
        "spa.consent": ("valid_until", "partner_id", "protocol_ids", "method"),
        "spa.session": ("partner_id", "therapist_id", "protocol_id"),
    }

    def _forge_target(self, model, index):
        if model == "spa.session":
            return self._session(index)
        if model == "spa.consent":
            return self._consent(index)
        if model == "spa.session.step":
            return self._step(self._session(index), index // 4)
        checkins = self.env["spa.checkin"].search(
            [("session_id", "in", self.session_ids)]
        )
        return checkins[index % len(checkins)] if checkins else checkins

    @precondition(lambda self: self.session_ids)
    @rule(
        model=st.sampled_from(
            ("spa.session", "spa.session.step", "spa.checkin", "spa.consent")
        ),
        index=indexes,
        field_index=indexes,
        choice=indexes,
        role=roles,
    )
    def forge(self, model, index, field_index, choice, role):
        record = self._forge_target(model, index)
        if not record:
            return
        candidates = self.NEVER_WRITABLE[model] + self.DRAFT_ONLY.get(model, ())
        fname = candidates[field_index % len(candidates)]
        value = self._field_value(model, fname, choice)
        record_sudo = record.sudo()
        before = record_sudo[fname]
        was_draft = (
            record_sudo.state == "draft" if "state" in record_sudo._fields else False
        )
        went_through = self._attempt(
            f"forge {model}.{fname}",
            lambda: record.with_env(self._env(role)).write({fname: value}),
        )
        after = record.sudo()[fname]
        if fname in self.NEVER_WRITABLE[model] or not was_draft:
            self.case.assertEqual(
                after,
                before,
                f"{role} changed {model}.{fname} of {record} "
                f"from {before!r} to {after!r} "
                f"(write {'accepted' if went_through else 'refused'})",
            )

    @precondition(lambda self: self.session_ids)
    @rule(
        model=st.sampled_from(
            ("spa.session", "spa.session.step", "spa.checkin", "spa.consent")
        ),
        index=indexes,
        role=roles,
    )
    def delete(self, model, index, role):
        record = self._forge_target(model, index)
        if not record:
            return
        record_sudo = record.sudo()
        deletable = {
            "spa.session": lambda: record_sudo.state in ("draft", "cancelled"),
            "spa.session.step": lambda: record_sudo.session_id.state == "draft",
            "spa.checkin": lambda: False,
            "spa.consent": lambda: record_sudo.state == "draft",
        }[model]()
        self._attempt(
            f"delete {model}", lambda: record.with_env(self._env(role)).unlink()
        )
        if not deletable:
            self.case.assertTrue(
                record.sudo().exists(),
                f"{role} deleted {model} {record.id}, which is evidence",
            )
        elif not record.sudo().exists():
            if model == "spa.session":
                self.session_ids.remove(record.id)
            elif model == "spa.consent":
                self.consent_ids.remove(record.id)

    @precondition(lambda self: self.session_ids)
    @rule(session=indexes, therapist=indexes, role=roles)
    def reassign(self, session, therapist, role):
        record = self._session(session)
        event = record.sudo().event_id
        new_therapist = self._therapist(therapist)
        self._attempt(
            "reassign",
            lambda: event.with_env(self._env(role)).write(
                {"spa_therapist_id": new_therapist.id}
            ),
        )

    # ------------------------------------------------------------------
    # Invariants
    # ------------------------------------------------------------------

    @invariant()
    def rules_hold(self):
        self.stats["invariant checks"] += 1
        self.env.invalidate_all()
        sessions = self.env["spa.session"].browse(self.session_ids).exists()
        for session in sessions:
            self._check_transition(session)
            if session.state != "draft" and session.state != "cancelled":
                self._check_started(session)
            if session.state == "done":
                self._check_done(session)
            if session.state == "stopped":
                self._check_stopped(session)
            self._check_steps(session)
            self._check_checkins(session)
            if session.state in FINISHED:
                self._check_finished_frozen(session)
                self._check_reported(session)
        for consent in self.env["spa.consent"].browse(self.consent_ids).exists():
            self._check_consent(consent)

    def _check_transition(self, session):
        allowed = {
            "draft": {"draft", "in_progress", "cancelled"},
            "in_progress": {"in_progress", "done", "stopped"},
            "done": {"done"},
            "stopped": {"stopped"},
            "cancelled": {"cancelled"},
        }
        previous = self.seen_states.get(session.id, "draft")
        self.case.assertIn(
            session.state,
            allowed[previous],
            f"{session.name}: {previous} -> {session.state}",
        )
        if session.state != previous:
            self.stats[f"session {session.state}"] += 1
        self.seen_states[session.id] = session.state

    def _consent_problems(self, session, consent, on_day):
        problems = []
        if consent.partner_id != session.partner_id:
            problems.append("another client's consent")
        if consent.company_id != session.company_id:
            problems.append("another company's consent")
        if session.protocol_id not in consent.protocol_ids:
            problems.append("does not cover the protocol")
        if not consent.given_at or consent.given_at > session.date_start:
            problems.append(
                f"given at {consent.given_at}, after the start {session.date_start}"
            )
        if not consent.valid_until or consent.valid_until < on_day:
            problems.append(f"valid until {consent.valid_until}, checked on {on_day}")
        return problems

    def _check_started(self, session):
        consent = session.consent_id
        case = self.case
        case.assertTrue(
            session.date_start and session.started_by_id,
            f"{session.name}: started without who/when",
        )
        case.assertTrue(consent, f"{session.name}: {session.state} without a consent")
        snap = (
            session.partner_id.id,
            session.therapist_id.id,
            session.protocol_id.id,
            consent.id,
            session.date_start,
            session.started_by_id.id,
            session.min_checkin_count,
            session.pain_stop_threshold,
        )
        if session.id not in self.started_snap:
            # First seen started: the consent was valid at the start.
            problems = self._consent_problems(
                session, consent, session.date_start.date()
            )
            if consent.state != "given":
                problems.append(f"consent {consent.state} at the start")
            version = session.protocol_id._consent_text_version()
            if (
                version
                and (consent.consent_text_versions or {}).get(
                    str(session.protocol_id.id)
                )
                != version
            ):
                problems.append("consent given to another consent text")
            case.assertFalse(
                problems,
                f"{session.name} started on a consent that is not valid: {problems}",
            )
            self.started_snap[session.id] = snap
        case.assertEqual(
            snap,
            self.started_snap[session.id],
            f"{session.name}: what the start relied on changed",
        )

    def _check_done(self, session):
        case = self.case
        consent = session.consent_id
        done_day = session.date_done.date()
        problems = self._consent_problems(session, consent, done_day)
        if consent.state == "draft":
            problems.append("consent never given")
        if consent.withdrawn_at and consent.withdrawn_at <= session.date_done:
            problems.append(
                f"withdrawn at {consent.withdrawn_at}, "
                f"before completion at {session.date_done}"
            )
        steps = session.step_ids
        missing = steps.filtered(lambda s: s.is_mandatory and s.state != "done")
        if missing:
            problems.append(f"mandatory steps not done: {missing.mapped('name')}")
        checkins = session.checkin_ids
        if len(checkins) < session.min_checkin_count:
            problems.append(
                f"{len(checkins)} check-ins, {session.min_checkin_count} needed"
            )
        lacking = (
            steps.filtered(lambda s: s.state == "done" and s.requires_checkin)
            - checkins.session_step_id
        )
        if lacking:
            problems.append(f"no check-in after {lacking.mapped('name')}")
        triggers = checkins.filtered(
            lambda c: c.stop_requested or c.pain_level >= session.pain_stop_threshold
        )
        if triggers:
            problems.append(
                f"stop rule triggered by pain {triggers.mapped('pain_level')}, "
                f"stop {triggers.mapped('stop_requested')}"
            )
        if session.referral_recommended:
            problems.append("referral recommended on a done session")
        case.assertFalse(problems, f"{session.name} is done but: {problems}")

    def _check_stopped(self, session):
        triggered = any(
            c.stop_requested or c.pain_level >= session.pain_stop_threshold
            for c in session.checkin_ids
        )
        self.case.assertEqual(
            session.referral_recommended,
            triggered,
            f"{session.name}: stopped, referral {session.referral_recommended}, "
            f"stop rule triggered {triggered}",
        )

    def _check_steps(self, session):
        case = self.case
        certified = self.env["spa.certification"]
        for step in session.step_ids:
            if step.state == "todo":
                case.assertFalse(
                    step.done_by_id or step.done_at, f"{step.name}: todo with who/when"
                )
                case.assertNotIn(
                    step.id, self.step_snap, f"{step.name}: went back to todo"
                )
                continue
            case.assertTrue(
                step.done_by_id and step.done_at,
                f"{step.name}: {step.state} without who/when",
            )
            case.assertTrue(
                session.date_start and step.done_at >= session.date_start,
                f"{step.name}: before start",
            )
            case.assertTrue(
                not session.date_done or step.done_at <= session.date_done,
                f"{step.name}: after the end",
            )
            if step.state == "done" and step.qualification_id:
                day = step.done_at.date()
                holders = certified.search(
                    [
                        ("user_id", "=", step.done_by_id.id),
                        ("qualification_id", "=", step.qualification_id.id),
                        ("date_from", "<=", day),
                        "|",
                        ("date_to", "=", False),
                        ("date_to", ">=", day),
                    ]
                )
                case.assertTrue(
                    holders,
                    f"{step.name} done by {step.done_by_id.name}, "
                    f"not certified on {day}",
                )
                self.stats["advanced step done"] += (
                    1 if step.id not in self.step_snap else 0
                )
            snap = (
                step.state,
                step.done_by_id.id,
                step.done_at,
                step.name,
                step.is_mandatory,
                step.qualification_id.id,
            )
            case.assertEqual(
                snap,
                self.step_snap.setdefault(step.id, snap),
                f"{step.name}: who/when changed",
            )

    def _check_checkins(self, session):
        for checkin in session.checkin_ids:
            snap = (
                checkin.session_id.id,
                checkin.session_step_id.id,
                checkin.pain_level,
                checkin.stop_requested,
            )
            self.case.assertEqual(
                snap,
                self.checkin_snap.setdefault(checkin.id, snap),
                f"check-in {checkin.id} changed",
            )
            self.case.assertTrue(0 <= checkin.pain_level <= 10)
            self.case.assertTrue(
                not checkin.session_step_id
                or checkin.session_step_id.session_id == session,
                f"check-in {checkin.id} follows a step of another session",
            )
        gone = {
            cid for cid, snap in self.checkin_snap.items() if snap[0] == session.id
        } - set(session.checkin_ids.ids)
        self.case.assertFalse(gone, f"check-ins {gone} of {session.name} disappeared")

    def _check_finished_frozen(self, session):
        snap = (
            session.state,
            session.date_done,
            session.finished_by_id.id,
            session.referral_recommended,
            session.positioning,
            session.screening_note,
            session.stop_reason,
            tuple(
                (s.id, s.state, s.done_by_id.id, s.done_at, s.skip_reason)
                for s in session.step_ids
            ),
            tuple(
                (c.id, c.pain_level, c.stop_requested, c.session_step_id.id, c.note)
                for c in session.checkin_ids
            ),
        )
        self.case.assertEqual(
            snap,
            self.finished_snap.setdefault(session.id, snap),
            f"{session.name}: finished evidence changed",
        )

    def _check_reported(self, session):
        """The compliance report agrees: a session finished through the
        actions rests on a valid consent, so it is compliant."""
        row = self.env["spa.compliance.report"].search(
            [("session_id", "=", session.id)]
        )
        self.case.assertEqual(
            (row.compliance_state, row.has_valid_consent),
            ("compliant", True),
            f"{session.name}: {session.state}, reported {row.compliance_state}",
        )

    def _check_consent(self, consent):
        case = self.case
        if consent.state == "draft":
            case.assertNotIn(
                consent.id, self.consent_snap, f"{consent.name} went back to draft"
            )
            case.assertFalse(
                consent.given_at or consent.recorded_by_id,
                f"{consent.name}: draft with who/when",
            )
            return
        case.assertTrue(
            consent.given_at and consent.recorded_by_id,
            f"{consent.name}: given without who/when",
        )
        case.assertTrue(
            consent.valid_until and consent.valid_until >= consent.given_at.date()
        )
        key = (
            consent.partner_id.id,
            tuple(sorted(consent.protocol_ids.ids)),
            consent.method,
            consent.given_at,
            consent.recorded_by_id.id,
            consent.valid_until,
            consent.consent_text,
            bool(consent.signature),
        )
        snap = self.consent_snap.setdefault(consent.id, {"given": key})
        case.assertEqual(
            key, snap["given"], f"{consent.name}: what the given consent proves changed"
        )
        if consent.state == "withdrawn":
            case.assertTrue(
                consent.withdrawn_at and consent.withdrawn_at >= consent.given_at
            )
            withdrawn = (consent.withdrawn_at, consent.withdrawn_by_id.id)
            case.assertEqual(
                withdrawn,
                snap.setdefault("withdrawn", withdrawn),
                f"{consent.name}: withdrawal changed",
            )
        else:
            case.assertNotIn(
                "withdrawn", snap, f"{consent.name}: withdrawn, then given again"
            )


@tagged("post_install", "-at_install", "spa_fuzz")
class TestStateMachine(SpaCommon):
    # A signature as a pad draws it (action_give checks its ink).
    SIGNATURE = drawn_signature()[0].encode()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # therapist2 holds the qualification for two days only, the manager
        # never: advanced steps must be refused to them (root included).
        cls.env["spa.certification"].create(
            {
                "user_id": cls.therapist2.id,
                "qualification_id": cls.qualification.id,
                "date_from": fields.Date.today() - timedelta(days=10),
                "date_to": fields.Date.today() + timedelta(days=1),
            }
        )
        # A short protocol, so that random walks complete sessions often.
        cls.mini_protocol = cls.env["spa.protocol"].create(
            {
                "name": "Mini release",
                "code": "MINI-FUZZ",
                "min_checkin_count": 1,
                "pain_stop_threshold": 5,
                "consent_validity_days": 2,
                "consent_text": "<p>Mini protocol</p>",
                "step_ids": [
                    Command.create(
                        {
                            "name": "Mini warm-up",
                            "sequence": 10,
                            "requires_checkin": True,
                        }
                    ),
                    Command.create(
                        {
                            "name": "Mini bear hug",
                            "sequence": 20,
                            "is_mandatory": False,
                            "requires_checkin": True,
                            "qualification_id": cls.qualification.id,
                        }
                    ),
                    Command.create({"name": "Mini stretch", "sequence": 30}),
                ],
            }
        )

    def test_state_machine(self):
        examples = _env_int("SPA_FUZZ_EXAMPLES", 12)
        steps = _env_int("SPA_FUZZ_STEPS", 30)
        randomize = os.environ.get("SPA_FUZZ_RANDOM") == "1"
        # Shrinking replays many ORM runs: slow, so only on demand. Without it,
        # a failure still prints the whole failing sequence of rules.
        phases = [Phase.explicit, Phase.reuse, Phase.generate]
        if os.environ.get("SPA_FUZZ_SHRINK") == "1":
            phases.append(Phase.shrink)
        stats = Counter()
        machine = type(
            "SpaSessionMachine", (SessionMachine,), {"case": self, "stats": stats}
        )
        # In a test transaction, the refusal log's own cursor cannot see the
        # sessions the test created: its failed inserts are noise here.
        with mute_logger(
            "odoo.sql_db", "odoo.addons.spa_session_protocol.models.spa_session_refusal"
        ):
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=examples,
                    stateful_step_count=steps,
                    deadline=None,
                    database=None,
                    derandomize=not randomize,
                    print_blob=True,
                    phases=phases,
                    suppress_health_check=list(HealthCheck),
                ),
            )
        _logger.info(
            "state machine: %s examples, %s rule steps, %s ORM actions "
            "(budget %s x %s)\n%s",
            stats["examples"],
            stats["invariant checks"] - stats["examples"],
            stats["steps"],
            examples,
            steps,
            "\n".join(f"  {key}: {count}" for key, count in sorted(stats.items())),
        )
        self.assertGreater(stats["steps"], 0)
