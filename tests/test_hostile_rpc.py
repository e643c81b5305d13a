"""Hostile JSON-RPC: malformed and malicious calls to /web/dataset/call_kw.

A therapist and a front desk user, logged in over HTTP, post payloads a
tampered tablet or a script could send: wrong types, pain out of range,
unknown fields, records of another therapist or company, huge, markup and
SQL-looking strings, bad ids, missing arguments, writes of the state and
evidence fields, private methods. Each answer must be a JSON-RPC error (HTTP
200, a JSON body, never an HTML error page), of the expected kind, and
nothing may be written: the rows of every spa model and the evidence fields
of the target records are compared before and after each call.

Tracebacks: Odoo 18's JSON-RPC error handler (``odoo.http.serialize_exception``)
puts the server traceback in ``error.data.debug`` for every user, admin or
not; that is core behaviour, not the addon's, and the test does not assert on
it. It asserts that the messages the addon gives (``error.data.message``)
are clean: no traceback, no source paths, no SQL.
"""

import json
import logging
from collections import Counter
from contextlib import closing
from datetime import timedelta

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import SpaCommon

_logger = logging.getLogger(__name__)

ACCESS = "odoo.exceptions.AccessError"
USER = "odoo.exceptions.UserError"
VALIDATION = "odoo.exceptions.ValidationError"
MISSING = "odoo.exceptions.MissingError"
# A refusal of the addon's rules: a UserError or one of its subclasses.
REFUSAL = (USER, VALIDATION, ACCESS, MISSING)
# Structurally broken calls are refused by Odoo's own RPC layer, before any
# addon code runs: any JSON-RPC error is right for them.
ANY = None

HUGE = "x" * 2_000_000
MARKUP = '<img src=x onerror="alert(1)"><script>alert(document.cookie)</script>'
SQL = "1; DROP TABLE spa_checkin; --"
SQL_QUOTE = "' OR '1'='1'; UPDATE spa_session SET state='done'; --"
LEAK_MARKERS = (
    "Traceback",
    'File "',
    '.py"',
    "psycopg2",
    "SELECT ",
    "UPDATE spa_",
    "INSERT INTO",
)
EVIDENCE_TABLES = {
    "spa_session": "state, date_start, date_done, consent_id, referral_recommended, "
    "evidence_hash, "
    "therapist_id, partner_id, protocol_id, company_id, screening_note, positioning",
    "spa_session_step": "state, done_by_id, done_at, name, is_mandatory, skip_reason",
    "spa_checkin": "session_id, session_step_id, pain_level, stop_requested, note, "
    "logged_by_id, uuid",
    "spa_consent": "state, given_at, recorded_by_id, valid_until, withdrawn_at, "
    "partner_id, method",
    "spa_certification": "user_id, qualification_id, date_from, date_to",
    "spa_protocol": "name, pain_stop_threshold, min_checkin_count, consent_text",
    "calendar_event": "spa_therapist_id, spa_client_id, spa_protocol_id, active",
}


@tagged("post_install", "-at_install", "spa_security", "spa_hostile")
class TestHostileRpc(HttpCase, SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Hostile Other Company"})
        cls.manager_b = new_test_user(
            cls.env,
            "spa_hostile_mgr_b",
            groups="spa_session_protocol.group_spa_manager",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        cls.own = cls._running_session(cls.therapist, cls.client)
        cls.other = cls._running_session(cls.therapist2, cls.client2)
        cls.own_step = cls.own.step_ids.sorted("sequence")
        cls.own_checkin = (
            cls.env["spa.checkin"]
            .with_user(cls.therapist)
            .create(
                {
                    "session_id": cls.own.id,
                    "session_step_id": cls.own_step[0].id,
                    "pain_level": 2,
                    "uuid": "own-1",
                }
            )
        )
        cls.other_checkin = (
            cls.env["spa.checkin"]
            .with_user(cls.therapist2)
            .create({"session_id": cls.other.id, "pain_level": 1, "uuid": "other-1"})
        )
        cls.finished = cls._running_session(cls.therapist, cls.client)
        cls.finished_checkin = (
            cls.env["spa.checkin"]
            .with_user(cls.therapist)
            .create({"session_id": cls.finished.id, "pain_level": 9})
        )
        cls.finished.with_user(cls.therapist).action_stop()
        cls.draft = (
            cls.env["calendar.event"]
            .with_user(cls.front_desk)
            .create(
                {
                    "name": "Hostile draft",
                    "start": fields.Datetime.now() + timedelta(days=1),
                    "stop": fields.Datetime.now() + timedelta(days=1, hours=1),
                    "spa_protocol_id": cls.protocol.id,
                    "spa_client_id": cls.client.id,
                    "spa_therapist_id": cls.therapist.id,
                }
            )
            .spa_session_ids
        )
        cls.consent = cls.own.consent_id
        cls.draft_consent = (
            cls.env["spa.consent"]
            .with_user(cls.front_desk)
            .create(
                {
                    "partner_id": cls.client2.id,
                    "protocol_ids": [Command.set(cls.protocol.ids)],
                    "method": "verbal",
                }
            )
        )
        # Another company's session, consent and check-in.
        protocol_b = cls.protocol.sudo()
        cls.consent_b = (
            cls.env["spa.consent"]
            .with_user(cls.manager_b)
            .with_company(cls.company_b)
            .create(
                {
                    "partner_id": cls.client.id,
                    "protocol_ids": [Command.set(protocol_b.ids)],
                }
            )
        )
        cls.consent_b.action_give()
        cls.session_b = (
            cls.env["spa.session"]
            .with_user(cls.manager_b)
            .with_company(cls.company_b)
            .create(
                {
                    "partner_id": cls.client.id,
                    "protocol_id": protocol_b.id,
                    "therapist_id": cls.manager_b.id,
                }
            )
        )
        cls.session_b.action_start()
        cls.checkin_b = (
            cls.env["spa.checkin"]
            .with_user(cls.manager_b)
            .create({"session_id": cls.session_b.id, "pain_level": 1})
        )

    @classmethod
    def _running_session(cls, therapist, partner):
        consent = (
            cls.env["spa.consent"]
            .with_user(cls.front_desk)
            .create(
                {
                    "partner_id": partner.id,
                    "protocol_ids": [Command.set(cls.protocol.ids)],
                    "method": "verbal",
                }
            )
        )
        consent.action_give()
        start = fields.Datetime.now() + timedelta(hours=1)
        session = (
            cls.env["calendar.event"]
            .with_user(cls.front_desk)
            .create(
                {
                    "name": "Hostile appointment",
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "spa_protocol_id": cls.protocol.id,
                    "spa_client_id": partner.id,
                    "spa_therapist_id": therapist.id,
                }
            )
            .spa_session_ids.with_user(therapist)
        )
        session.action_start()
        session.write({"positioning": "seated"})
        session.step_ids.sorted("sequence")[0].action_done()
        return session.sudo()

    # ------------------------------------------------------------------
    # The payloads: (label, login, payload, expected error name(s))
    # ------------------------------------------------------------------

    @staticmethod
    def _kw(model, method, args=(), kwargs=None):
        return {
            "model": model,
            "method": method,
            "args": list(args),
            "kwargs": kwargs or {},
        }

    def _payloads(self):
        kw = self._kw
        th, fd = "spa_th", "spa_fd"
        own, other, finished, session_b = (
            self.own.id,
            self.other.id,
            self.finished.id,
            self.session_b.id,
        )
        step = self.own_step
        checkin, other_checkin, finished_checkin = (
            self.own_checkin.id,
            self.other_checkin.id,
            self.finished_checkin.id,
        )

        def checkin_vals(**vals):
            return [{"session_id": own, "pain_level": 3, **vals}]

        yield from (
            # -- check-ins: types and ranges of the pain level
            *(
                (
                    f"check-in pain {value!r:.20}",
                    th,
                    kw("spa.checkin", "create", [checkin_vals(pain_level=value)]),
                    VALIDATION,
                )
                for value in (
                    "eight",
                    "7",
                    8.5,
                    None,
                    [8],
                    {"$gt": 1},
                    True,
                    -1,
                    11,
                    2**31,
                    -(2**63),
                    10**100,
                    HUGE,
                    SQL,
                )
            ),
            (
                "check-in without pain",
                th,
                kw("spa.checkin", "create", [[{"session_id": own}]]),
                VALIDATION,
            ),
            (
                "check-in without session",
                th,
                kw("spa.checkin", "create", [[{"pain_level": 2}]]),
                VALIDATION,
            ),
            # -- check-ins: whose session, which step
            (
                "check-in on another therapist's session",
                th,
                kw("spa.checkin", "create", [[{"session_id": other, "pain_level": 2}]]),
                ACCESS,
            ),
            (
                "check-in on another company's session",
                th,
                kw(
                    "spa.checkin",
                    "create",
                    [[{"session_id": session_b, "pain_level": 2}]],
                ),
                ACCESS,
            ),
            (
                "check-in on a finished session",
                th,
                kw(
                    "spa.checkin",
                    "create",
                    [[{"session_id": finished, "pain_level": 2}]],
                ),
                USER,
            ),
            (
                "check-in on a missing session",
                th,
                kw(
                    "spa.checkin",
                    "create",
                    [[{"session_id": 987654321, "pain_level": 2}]],
                ),
                REFUSAL,
            ),
            (
                "check-in on session id -1",
                th,
                kw("spa.checkin", "create", [[{"session_id": -1, "pain_level": 2}]]),
                REFUSAL,
            ),
            (
                "check-in on session id 'abc'",
                th,
                kw("spa.checkin", "create", [[{"session_id": "abc", "pain_level": 2}]]),
                REFUSAL,
            ),
            (
                "check-in on session id [1, 2]",
                th,
                kw(
                    "spa.checkin",
                    "create",
                    [[{"session_id": [own, other], "pain_level": 2}]],
                ),
                REFUSAL,
            ),
            (
                "check-in after another session's step",
                th,
                kw(
                    "spa.checkin",
                    "create",
                    [checkin_vals(session_step_id=self.other.step_ids[0].id)],
                ),
                VALIDATION,
            ),
            (
                "check-in after a step not done",
                th,
                kw(
                    "spa.checkin", "create", [checkin_vals(session_step_id=step[-1].id)]
                ),
                VALIDATION,
            ),
            (
                "check-in with a list as key",
                th,
                kw("spa.checkin", "create", [checkin_vals(uuid=["own-1"])]),
                VALIDATION,
            ),
            (
                "check-in with an object as key",
                th,
                kw("spa.checkin", "create", [checkin_vals(uuid={"$ne": None})]),
                VALIDATION,
            ),
            (
                "check-in after step id true",
                th,
                kw("spa.checkin", "create", [checkin_vals(session_step_id=True)]),
                VALIDATION,
            ),
            (
                "check-in replaying another session's key",
                th,
                kw("spa.checkin", "create", [checkin_vals(uuid="other-1")]),
                VALIDATION,
            ),
            (
                "check-in with an unknown field",
                th,
                kw("spa.checkin", "create", [checkin_vals(x_injected=1)]),
                ANY,
            ),
            (
                "check-in with a huge note on another's session",
                th,
                kw(
                    "spa.checkin",
                    "create",
                    [[{"session_id": other, "pain_level": 1, "note": HUGE}]],
                ),
                ACCESS,
            ),
            (
                "check-in values not a dict",
                th,
                kw("spa.checkin", "create", [["junk"]]),
                ANY,
            ),
            ("check-in without values", th, kw("spa.checkin", "create", []), ANY),
            (
                "check-in with an unexpected keyword",
                th,
                kw("spa.checkin", "create", [checkin_vals()], {"sudo": True}),
                ANY,
            ),
            # -- check-ins are append-only
            (
                "rewrite a check-in's pain",
                th,
                kw("spa.checkin", "write", [[checkin], {"pain_level": 0}]),
                USER,
            ),
            (
                "rewrite a check-in's stop request",
                th,
                kw("spa.checkin", "write", [[checkin], {"stop_requested": True}]),
                USER,
            ),
            (
                "move a check-in to another step",
                th,
                kw("spa.checkin", "write", [[checkin], {"session_step_id": False}]),
                USER,
            ),
            (
                "forge who logged a check-in",
                th,
                kw(
                    "spa.checkin",
                    "write",
                    [[checkin], {"logged_by_id": self.therapist2.id}],
                ),
                USER,
            ),
            (
                "annotate another therapist's check-in",
                th,
                kw("spa.checkin", "write", [[other_checkin], {"note": MARKUP}]),
                ACCESS,
            ),
            (
                "annotate a finished session's check-in",
                th,
                kw("spa.checkin", "write", [[finished_checkin], {"note": "edited"}]),
                USER,
            ),
            (
                "lower a finished check-in's pain",
                th,
                kw("spa.checkin", "write", [[finished_checkin], {"pain_level": 2}]),
                USER,
            ),
            ("delete a check-in", th, kw("spa.checkin", "unlink", [[checkin]]), ACCESS),
            (
                "read another company's check-in",
                th,
                kw("spa.checkin", "read", [[self.checkin_b.id], ["note"]]),
                ACCESS,
            ),
            # -- sessions: state and evidence fields
            (
                "write state done",
                th,
                kw("spa.session", "write", [[own], {"state": "done"}]),
                USER,
            ),
            (
                "write date_start",
                th,
                kw(
                    "spa.session",
                    "write",
                    [[own], {"date_start": "2020-01-01 00:00:00"}],
                ),
                USER,
            ),
            (
                "write date_done",
                th,
                kw(
                    "spa.session",
                    "write",
                    [[own], {"date_done": "2020-01-01 00:00:00"}],
                ),
                USER,
            ),
            (
                "write consent_id",
                th,
                kw(
                    "spa.session",
                    "write",
                    [[own], {"consent_id": self.draft_consent.id}],
                ),
                USER,
            ),
            (
                "write referral_recommended",
                th,
                kw("spa.session", "write", [[own], {"referral_recommended": True}]),
                USER,
            ),
            (
                "write evidence_hash",
                th,
                kw("spa.session", "write", [[own], {"evidence_hash": SQL_QUOTE}]),
                USER,
            ),
            (
                "reopen a finished session",
                th,
                kw("spa.session", "write", [[finished], {"state": "in_progress"}]),
                USER,
            ),
            (
                "edit a finished session's screening",
                th,
                kw("spa.session", "write", [[finished], {"screening_note": MARKUP}]),
                USER,
            ),
            (
                "move own running session to another therapist",
                th,
                kw(
                    "spa.session",
                    "write",
                    [[own], {"therapist_id": self.therapist2.id}],
                ),
                REFUSAL,
            ),
            (
                "take another therapist's session",
                th,
                kw(
                    "spa.session",
                    "write",
                    [[other], {"therapist_id": self.therapist.id}],
                ),
                ACCESS,
            ),
            (
                "move own session to another company",
                th,
                kw("spa.session", "write", [[own], {"company_id": self.company_b.id}]),
                REFUSAL,
            ),
            (
                "huge screening note on another's session",
                th,
                kw("spa.session", "write", [[other], {"screening_note": HUGE}]),
                ACCESS,
            ),
            (
                "write a session with an unknown field",
                th,
                kw("spa.session", "write", [[own], {"x_state": "done"}]),
                ANY,
            ),
            (
                "write a missing session",
                th,
                kw("spa.session", "write", [[987654321], {"positioning": "seated"}]),
                MISSING,
            ),
            (
                "write session ids 'abc'",
                th,
                kw("spa.session", "write", [["abc"], {"positioning": "seated"}]),
                ANY,
            ),
            (
                "write with values as a list",
                th,
                kw("spa.session", "write", [[own], [["state", "done"]]]),
                ANY,
            ),
            (
                "create a session done",
                "spa_fd",
                kw(
                    "spa.session",
                    "create",
                    [
                        [
                            {
                                "partner_id": self.client.id,
                                "protocol_id": self.protocol.id,
                                "state": "done",
                            }
                        ]
                    ],
                ),
                USER,
            ),
            (
                "create a session as a therapist",
                th,
                kw(
                    "spa.session",
                    "create",
                    [[{"partner_id": self.client.id, "protocol_id": self.protocol.id}]],
                ),
                ACCESS,
            ),
            (
                "delete a running session",
                th,
                kw("spa.session", "unlink", [[own]]),
                ACCESS,
            ),
            # -- session actions
            (
                "complete with missing steps",
                th,
                kw("spa.session", "action_done", [[own]]),
                USER,
            ),
            (
                "complete with a context flag",
                th,
                kw(
                    "spa.session",
                    "action_done",
                    [[own]],
                    {
                        "context": {
                            "spa_force": True,
                            "install_mode": True,
                            "tracking_disable": True,
                        }
                    },
                ),
                USER,
            ),
            (
                "start another therapist's session",
                th,
                kw("spa.session", "action_start", [[other]]),
                ACCESS,
            ),
            (
                "stop another company's session",
                th,
                kw("spa.session", "action_stop", [[session_b]]),
                ACCESS,
            ),
            # the ORM's own check of a selection value answers (ValueError)
            (
                "stop with a forged reason",
                th,
                kw("spa.session", "action_stop", [[own]], {"reason": SQL}),
                (*REFUSAL, "builtins.ValueError"),
            ),
            (
                "complete a missing session",
                th,
                kw("spa.session", "action_done", [[987654321]]),
                MISSING,
            ),
            # -- private methods are not callable remotely
            *(
                (
                    f"private {model}.{method}",
                    th,
                    kw(model, method, [[rec], vals]),
                    ACCESS,
                )
                for model, method, rec, vals in (
                    ("spa.session", "_write_server", own, {"state": "done"}),
                    (
                        "spa.session.step",
                        "_write_server",
                        step[1].id,
                        {"state": "done"},
                    ),
                    ("spa.checkin", "_write_server", checkin, {"pain_level": 0}),
                    (
                        "spa.consent",
                        "_write_server",
                        self.consent.id,
                        {"given_at": "2020-01-01 00:00:00"},
                    ),
                    ("spa.session", "_lock_for_update", own, {}),
                    ("spa.session", "_secure_evidence", own, {}),
                    ("spa.session", "init", own, {}),
                )
            ),
            # -- checklist steps
            (
                "tick another therapist's step",
                th,
                kw(
                    "spa.session.step",
                    "action_done",
                    [[self.other.step_ids.sorted("sequence")[1].id]],
                ),
                ACCESS,
            ),
            (
                "write a step done",
                th,
                kw("spa.session.step", "write", [[step[1].id], {"state": "done"}]),
                USER,
            ),
            (
                "sign a step in another's name",
                th,
                kw(
                    "spa.session.step",
                    "write",
                    [[step[0].id], {"done_by_id": self.manager.id}],
                ),
                USER,
            ),
            (
                "backdate a tick",
                th,
                kw(
                    "spa.session.step",
                    "write",
                    [[step[0].id], {"done_at": "2020-01-01 00:00:00"}],
                ),
                USER,
            ),
            (
                "rename a checklist line",
                th,
                kw("spa.session.step", "write", [[step[1].id], {"name": MARKUP}]),
                USER,
            ),
            (
                "skip a mandatory step",
                th,
                kw("spa.session.step", "action_skip", [[step[1].id]], {"reason": SQL}),
                USER,
            ),
            (
                "tick out of order",
                th,
                kw("spa.session.step", "action_done", [[step[3].id]]),
                USER,
            ),
            (
                "tick a finished session's step",
                th,
                kw(
                    "spa.session.step",
                    "action_done",
                    [[self.finished.step_ids.sorted("sequence")[1].id]],
                ),
                USER,
            ),
            # -- consents
            (
                "backdate a given consent",
                th,
                kw(
                    "spa.consent",
                    "write",
                    [[self.consent.id], {"given_at": "2020-01-01 00:00:00"}],
                ),
                USER,
            ),
            (
                "extend a given consent",
                th,
                kw(
                    "spa.consent",
                    "write",
                    [[self.consent.id], {"valid_until": "2099-12-31"}],
                ),
                USER,
            ),
            (
                "write a consent given",
                fd,
                kw(
                    "spa.consent",
                    "write",
                    [[self.draft_consent.id], {"state": "given"}],
                ),
                USER,
            ),
            (
                "create a signature consent given unsigned",
                fd,
                kw(
                    "spa.consent",
                    "create",
                    [
                        [
                            {
                                "partner_id": self.client2.id,
                                "protocol_ids": [[6, 0, self.protocol.ids]],
                                "method": "signature",
                                "state": "given",
                            }
                        ]
                    ],
                ),
                USER,
            ),
            (
                "create a consent with its recorder",
                fd,
                kw(
                    "spa.consent",
                    "create",
                    [
                        [
                            {
                                "partner_id": self.client2.id,
                                "protocol_ids": [[6, 0, self.protocol.ids]],
                                "recorded_by_id": self.manager.id,
                            }
                        ]
                    ],
                ),
                USER,
            ),
            (
                "delete a given consent",
                fd,
                kw("spa.consent", "unlink", [[self.consent.id]]),
                USER,
            ),
            (
                "withdraw another company's consent",
                fd,
                kw("spa.consent", "action_withdraw", [[self.consent_b.id]]),
                ACCESS,
            ),
            # -- the front desk never runs sessions nor reads clinical detail
            (
                "front desk logs a check-in",
                fd,
                kw("spa.checkin", "create", [checkin_vals()]),
                ACCESS,
            ),
            (
                "front desk ticks a step",
                fd,
                kw("spa.session.step", "action_done", [[step[1].id]]),
                ACCESS,
            ),
            (
                "front desk starts a session",
                fd,
                kw("spa.session", "action_start", [[self.draft.id]]),
                ACCESS,
            ),
            (
                "front desk completes a session",
                fd,
                kw("spa.session", "action_done", [[own]]),
                ACCESS,
            ),
            (
                "front desk reads check-in notes",
                fd,
                kw("spa.session", "read", [[own], ["checkin_ids", "screening_note"]]),
                ACCESS,
            ),
            (
                "front desk reads the compliance report",
                fd,
                kw("spa.compliance.report", "search_read", [[]]),
                ACCESS,
            ),
            # -- structurally broken calls (Odoo's RPC layer answers)
            ("unknown model", th, kw("spa.nope", "search", [[]]), ANY),
            ("markup as model name", th, kw(MARKUP, "search", [[]]), ANY),
            (
                "unknown method",
                th,
                kw("spa.session", "action_" + "x" * 5000, [[own]]),
                ANY,
            ),
            (
                "SQL in a domain field",
                th,
                kw(
                    "spa.checkin",
                    "search_read",
                    [[["pain_level; DROP TABLE spa_checkin", "=", 1]]],
                ),
                ANY,
            ),
            (
                "SQL in an order",
                th,
                kw(
                    "spa.checkin",
                    "search_read",
                    [[]],
                    {"order": "id; DELETE FROM spa_checkin"},
                ),
                ANY,
            ),
            (
                "missing model",
                th,
                {"method": "search", "args": [[]], "kwargs": {}},
                ANY,
            ),
            (
                "missing args",
                th,
                {"model": "spa.session", "method": "action_done", "kwargs": {}},
                ANY,
            ),
        )

    # ------------------------------------------------------------------

    def _rows(self):
        """Every row of the spa tables (and the booking fields of events),
        as the database holds them."""
        self.env.flush_all()
        snapshot = {}
        for table, columns in EVIDENCE_TABLES.items():
            self.env.cr.execute(f"SELECT id, {columns} FROM {table} ORDER BY id")  # noqa: S608 - constants above
            snapshot[table] = self.env.cr.fetchall()
        return snapshot

    def _post(self, params, raw=None):
        body = (
            raw
            if raw is not None
            else json.dumps(
                {"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}
            )
        )
        with mute_logger("odoo.http", "odoo.sql_db"):
            return self.url_open(
                "/web/dataset/call_kw",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )

    def _check_answer(self, label, response, expected):
        self.assertEqual(
            response.status_code, 200, f"{label}: HTTP {response.status_code}"
        )
        self.assertIn(
            "application/json",
            response.headers.get("Content-Type", ""),
            f"{label}: not a JSON answer",
        )
        answer = response.json()
        self.assertNotIn(
            "result",
            answer,
            f"{label}: accepted, answered {str(answer.get('result'))[:200]}",
        )
        error = answer.get("error")
        self.assertTrue(
            error and error.get("data"),
            f"{label}: no JSON-RPC error in {str(answer)[:300]}",
        )
        name, message = error["data"].get("name"), error["data"].get("message") or ""
        if expected is not ANY:
            allowed = expected if isinstance(expected, tuple) else (expected,)
            if USER in allowed:
                # The declared write policy refuses what is not the caller's
                # to write with an AccessError, a kind of UserError.
                allowed = (*allowed, ACCESS)
            self.assertIn(name, allowed, f"{label}: {name}: {message[:300]}")
            for marker in LEAK_MARKERS:
                self.assertNotIn(
                    marker,
                    message,
                    f"{label}: the message leaks {marker!r}: {message[:300]}",
                )
        return name

    def test_hostile_payloads(self):
        count = 0
        answers = Counter()
        logged_in = None
        for label, login, params, expected in self._payloads():
            if login != logged_in:
                self.authenticate(login, login)
                logged_in = login
            before = self._rows()
            # A payload wrongly accepted is rolled back: it cannot spoil the next.
            with (
                self.subTest(payload=label, user=login),
                closing(self.env.cr.savepoint()),
            ):
                response = self._post(params)
                answers[self._check_answer(label, response, expected)] += 1
                self.env.invalidate_all()
                after = self._rows()
                for table in before:
                    self.assertEqual(
                        after[table], before[table], f"{label}: {table} changed"
                    )
            count += 1
        _logger.info(
            "hostile RPC: %s payloads, answers: %s",
            count,
            ", ".join(f"{name} {n}" for name, n in answers.most_common()),
        )
        self.assertGreaterEqual(count, 50)

    def test_malformed_bodies(self):
        self.authenticate("spa_th", "spa_th")
        for label, raw in (
            ("not JSON", "{not json"),
            (
                "params as a list",
                json.dumps(
                    {"jsonrpc": "2.0", "method": "call", "id": 1, "params": [1, 2]}
                ),
            ),
            ("empty body", ""),
            ("JSON null", "null"),
        ):
            with self.subTest(body=label):
                before = self._rows()
                response = self._post(None, raw=raw)
                self.assertNotIn(
                    "<html", response.text[:500].lower(), f"{label}: an HTML error page"
                )
                self.assertLess(
                    response.status_code, 500, f"{label}: HTTP {response.status_code}"
                )
                self.assertEqual(self._rows(), before)
