import json
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import session_rules

_logger = logging.getLogger(__name__)

# Identical refusals within this window share one row (with a count).
COALESCE_MINUTES = 60

REFUSED_ACTIONS = [
    ("start", "Start"),
    ("done", "Completion"),
    ("tick", "Step Tick"),
]

# The rule that refused, for the analysis "blocked attempts by reason": the
# first problem of the refusal, by the rules' own codes.
REFUSAL_REASONS = [
    ("consent", "Consent"),
    ("intake", "Health intake"),
    ("steps", "Steps"),
    ("checkins", "Check-ins"),
    ("stop_rule", "Stop rule"),
    ("therapist", "No therapist"),
    ("step_order", "Step order"),
    ("qualification", "Qualification"),
    ("other", "Other"),
]

# A tick refused by one of these rules is a blocked attempt and is logged; a
# tick refused only because the step is no longer to do or the session is
# not running (a repeated tap, an offline tablet replaying its queue) is not.
LOGGED_TICK_CODES = frozenset(
    {
        session_rules.STEP_OUT_OF_ORDER,
        session_rules.STEP_NOT_QUALIFIED,
        session_rules.STEP_NEEDS_POSITIONING,
        session_rules.STEP_NEEDS_ADJUSTMENT,
        session_rules.STEP_SENSITIVE_REGION,
        session_rules.STOP_RULE,
    }
)


def reason_of(code):
    """The reason (``REFUSAL_REASONS``) of a rules' problem code."""
    if code in session_rules.CONSENT_CODES | {session_rules.STEP_SENSITIVE_REGION}:
        return "consent"
    if code in session_rules.INTAKE_CODES:
        return "intake"
    return {
        session_rules.STEPS_MISSING: "steps",
        session_rules.CHECKINS_MISSING: "checkins",
        session_rules.STOP_RULE: "stop_rule",
        session_rules.NO_THERAPIST: "therapist",
        session_rules.STEP_OUT_OF_ORDER: "step_order",
        session_rules.STEP_NOT_QUALIFIED: "qualification",
        session_rules.STEP_NEEDS_POSITIONING: "steps",
        session_rules.STEP_NEEDS_ADJUSTMENT: "steps",
    }.get(code, "other")


class SpaSessionRefusal(models.Model):
    """Refused attempts to start or complete a session, or to tick one of its
    steps against a rule of the protocol (out of order, without the
    qualification, ...), with their reasons.

    The refusal rolls the attempt's transaction back; the log row is written
    through a cursor of its own so that it stays. Identical refusals (same
    user, session, action and rules) within ``COALESCE_MINUTES`` of the
    row's first one are counted on that row (``attempt_count``) instead of
    adding rows, so one client repeating a refused call cannot grow the log
    without bound. Rows are written only by :meth:`_log_refusals`, never
    edited through the ORM.
    """

    _name = "spa.session.refusal"
    _description = "Spa Blocked Session Attempt"
    # Default-deny (see spa.write.policy.mixin): nothing is declared; the rows
    # are created by _log_refusals only, never edited or deleted.
    _inherit = ["spa.write.policy.mixin"]
    _order = "date desc, id desc"
    _rec_name = "session_id"

    session_id = fields.Many2one(
        "spa.session", required=True, index=True, ondelete="cascade", readonly=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Attempted By",
        required=True,
        index=True,
        ondelete="cascade",
        readonly=True,
    )
    therapist_id = fields.Many2one(
        "res.users",
        index=True,
        ondelete="set null",
        readonly=True,
        help="The session's therapist at the time of the attempt.",
    )
    protocol_id = fields.Many2one("spa.protocol", ondelete="set null", readonly=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, ondelete="cascade", readonly=True
    )
    action = fields.Selection(
        REFUSED_ACTIONS, string="Refused Action", required=True, readonly=True
    )
    reasons = fields.Text(readonly=True, help="The refusal message, as shown.")
    problem_codes = fields.Char(
        readonly=True, help="Comma-separated codes of the rules that refused."
    )
    reason = fields.Selection(
        REFUSAL_REASONS,
        compute="_compute_reason",
        store=True,
        index=True,
        help="The rule that refused the attempt (the first one, when several did).",
    )
    date = fields.Datetime(
        string="First Attempt",
        required=True,
        index=True,
        default=fields.Datetime.now,
        readonly=True,
    )
    date_last = fields.Datetime(
        string="Last Attempt",
        readonly=True,
        help="When the last of the identical attempts counted on this row was made.",
    )
    attempt_count = fields.Integer(
        string="Attempts",
        default=1,
        required=True,
        readonly=True,
        aggregator="sum",
        help="Identical attempts counted on this row.",
    )

    @api.depends("problem_codes")
    def _compute_reason(self):
        for refusal in self:
            # The first rule that refused (a step tick's codes may start with
            # a state code, "already done", that no rule stands behind).
            reasons = [
                reason_of(code) for code in (refusal.problem_codes or "").split(",")
            ]
            refusal.reason = next((r for r in reasons if r != "other"), "other")

    @api.model
    def _log_refusals(self, sessions, problems_by_session, action=None, reasons=None):
        """Record the refused attempt of each of ``sessions`` that has problems.

        Called by the session actions (and the step tick) just before they
        raise: the refusal rolls their transaction back, so the rows are
        written and committed through a separate cursor. Logging never hides
        the refusal itself: a failure here is logged and swallowed.

        ``action``: the refused action (``REFUSED_ACTIONS``); by default
        starting a draft session, completing a running one. ``reasons``:
        ``{session id: text}`` as the refusal showed it; by default the
        session's own wording of ``problems``.
        """
        now = fields.Datetime.now()
        user = self.env.user
        vals_list = []
        for session in sessions:
            problems = problems_by_session.get(session.id)
            if not problems:
                continue
            vals_list.append(
                {
                    "session_id": session.id,
                    "user_id": user.id,
                    "therapist_id": session.therapist_id.id,
                    "protocol_id": session.protocol_id.id,
                    "company_id": session.company_id.id,
                    # By default a draft session is being started, an
                    # in-progress one completed.
                    "action": action
                    or ("start" if session.state == "draft" else "done"),
                    "reasons": (reasons or {}).get(session.id)
                    or session._format_problems(problems),
                    "problem_codes": ",".join(
                        dict.fromkeys(code for code, __ in problems)
                    ),
                    "date": now,
                }
            )
        if not vals_list:
            return
        try:
            # One cursor for the whole refused call (every session of it),
            # borrowed from the connection pool and given back at once.
            with self.env.registry.cursor() as cr:
                # Never wait long on a lock held elsewhere: the refusal must
                # reach its user even if its log cannot be written.
                cr.execute("SET LOCAL lock_timeout = '5s'")
                vals_list = self._visible_vals(cr, vals_list)
                vals_list = self._coalesce(cr, vals_list)
                if vals_list:
                    # su: the log is written by the system for whoever was
                    # refused; nobody creates these rows through ORM rights.
                    self.with_env(self.env(cr=cr, su=True))._create_server(vals_list)
        except Exception as exc:  # noqa: BLE001 - the refusal must still reach its user
            _logger.warning(
                "Could not log the refused attempts on sessions %s: %s",
                sessions.ids,
                exc,
            )

    @api.model
    def _coalesce(self, cr, vals_list):
        """Count each refusal on the row of an identical one of the last
        ``COALESCE_MINUTES`` (one statement for the batch) and return the
        refusals that need a row of their own.

        SQL, not ``write``: concurrent refused calls of the same tablet count
        on the same row, and ``attempt_count = attempt_count + 1`` in one
        UPDATE is what keeps every attempt counted (a read-then-write through
        the ORM would lose increments); the rows are the server's log, which
        no caller writes (the write policy declares nothing on this model)."""
        if not vals_list:
            return vals_list
        keys = [
            (v["session_id"], v["user_id"], v["action"], v["problem_codes"] or "")
            for v in vals_list
        ]
        now = vals_list[0]["date"]
        cr.execute(
            SQL(
                """
                UPDATE spa_session_refusal r
                   SET attempt_count = r.attempt_count + 1,
                       date_last = %(now)s,
                       reasons = k.reasons
                  FROM (
                      SELECT DISTINCT ON (session_id, user_id, action, codes)
                             session_id, user_id, action, codes, reasons
                        FROM jsonb_to_recordset(%(keys)s::jsonb) AS k(
                             session_id int, user_id int, action varchar,
                             codes varchar, reasons text)
                  ) k
                 WHERE r.id IN (
                       SELECT max(r2.id)
                         FROM spa_session_refusal r2
                        WHERE r2.session_id = k.session_id
                          AND r2.user_id = k.user_id
                          AND r2.action = k.action
                          AND COALESCE(r2.problem_codes, '') = k.codes
                          AND r2.date >= %(since)s
                 )
             RETURNING r.session_id, r.user_id, r.action,
                       COALESCE(r.problem_codes, '')
                """,
                now=now,
                since=now - timedelta(minutes=COALESCE_MINUTES),
                keys=json.dumps(
                    [
                        {
                            "session_id": key[0],
                            "user_id": key[1],
                            "action": key[2],
                            "codes": key[3],
                            "reasons": vals["reasons"],
                        }
                        for key, vals in zip(keys, vals_list, strict=True)
                    ]
                ),
            )
        )
        counted = set(cr.fetchall())
        fresh, seen = [], set()
        for key, vals in zip(keys, vals_list, strict=True):
            if key in counted or key in seen:
                continue
            seen.add(key)
            fresh.append(dict(vals, date_last=vals["date"]))
        return fresh

    @api.model
    def _visible_vals(self, cr, vals_list):
        """The rows the separate cursor can write: a session or user created
        in the refused transaction itself is not visible to it (and vanishes
        with the rollback anyway)."""
        cr.execute(
            "SELECT id FROM spa_session WHERE id IN %s",
            [tuple(v["session_id"] for v in vals_list)],
        )
        sessions = {row[0] for row in cr.fetchall()}
        cr.execute("SELECT id FROM res_users WHERE id = %s", [self.env.uid])
        if not cr.fetchone():
            sessions = set()
        visible = [v for v in vals_list if v["session_id"] in sessions]
        if len(visible) < len(vals_list):
            _logger.info(
                "Refused attempts not logged (created in the same transaction): "
                "sessions %s",
                [v["session_id"] for v in vals_list if v not in visible],
            )
        return visible
