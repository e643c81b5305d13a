from odoo import fields, models, tools
from odoo.tools import SQL

from ..models.spa_session import STOP_REASONS, THERAPIST_GROUP

COMPLIANCE_STATES = [
    ("compliant", "Compliant"),
    ("non_compliant", "Non-compliant"),
    ("pending", "Pending"),
    ("cancelled", "Cancelled"),
]


class SpaComplianceReport(models.Model):
    """One row per session: was it done with a valid consent, and is it
    documented? Read-only, an SQL view over the sessions.

    Kept lean for large volumes: every measure comes from a stored column of
    ``spa_session`` (the check-in counts and the consent verdict are stored
    computes there, asked of the session rules) or the small refusal log
    aggregated once; no correlated subquery per row. Indexes serving the
    usual filters and group-bys: ``spa_session`` ``date_planned``,
    ``therapist_id``, ``protocol_id``, ``company_id``, ``state`` and
    ``spa_session_refusal.session_id``; the period filters of one company
    read the composite ``spa_session (company_id, report_date)`` (the row's
    ``date`` is the session's stored ``report_date``).
    """

    _name = "spa.compliance.report"
    _description = "Spa Compliance Analysis"
    # Default-deny (see spa.write.policy.mixin): nothing is declared, the rows
    # are read from the sessions and never written.
    _inherit = ["spa.write.policy.mixin"]
    _auto = False
    # What the view reads: searched or grouped, the ORM flushes these first
    # (the consent verdict is a stored compute of the session, written at flush).
    _depends = {
        "spa.session": [
            "create_date",
            "date_planned",
            "date_planned_end",
            "report_date",
            "date_start",
            "date_done",
            "therapist_id",
            "protocol_id",
            "partner_id",
            "company_id",
            "state",
            "referral_recommended",
            "stop_reason",
            "checkin_count",
            "checkin_required_count",
            "checkin_missing_count",
            "has_valid_consent",
            "intake_id",
        ],
        "spa.protocol": ["intake_survey_id"],
        "spa.session.refusal": ["session_id", "reason", "attempt_count"],
    }
    _order = "date desc, session_id desc"
    _rec_name = "session_id"

    session_id = fields.Many2one("spa.session", readonly=True)
    date = fields.Datetime(readonly=True)
    therapist_id = fields.Many2one("res.users", readonly=True)
    protocol_id = fields.Many2one("spa.protocol", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Client", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    state = fields.Selection(
        [
            ("draft", "Planned"),
            ("in_progress", "In Progress"),
            ("done", "Done"),
            ("stopped", "Stopped"),
            ("cancelled", "Cancelled"),
        ],
        readonly=True,
    )
    has_valid_consent = fields.Boolean(readonly=True)
    checkin_count = fields.Integer(string="Check-ins", readonly=True, aggregator="sum")
    compliance_state = fields.Selection(COMPLIANCE_STATES, readonly=True)
    is_compliant = fields.Boolean(readonly=True)
    referral_recommended = fields.Boolean(readonly=True)
    stop_reason = fields.Selection(STOP_REASONS, readonly=True, groups=THERAPIST_GROUP)
    session_count = fields.Integer(string="Sessions", readonly=True, aggregator="sum")
    # Consent coverage and compliance rate: 100 or 0 per session, averaged;
    # empty (left out of the average) where they do not apply yet.
    consent_coverage = fields.Float(
        string="Consent Coverage (%)",
        readonly=True,
        aggregator="avg",
        help="Share of the started sessions (in progress, done, stopped) that rest "
        "on a consent valid when they started (and, for done ones, at completion).",
    )
    compliance_rate = fields.Float(
        string="Compliance Rate, Finished Sessions (%)",
        readonly=True,
        aggregator="avg",
        help="Share of the finished sessions (done or stopped) that are compliant. "
        "Sessions not finished yet are left out and counted apart: Pending "
        "(their appointment has not ended) and Unfinished (still planned or in "
        "progress after it ended, non-compliant). Empty when no session is "
        "finished.",
    )
    finished_count = fields.Integer(
        string="Finished",
        readonly=True,
        aggregator="sum",
        help="Sessions done or stopped: the sessions the compliance rate is over.",
    )
    pending_count = fields.Integer(
        string="Pending",
        readonly=True,
        aggregator="sum",
        help="Sessions planned or in progress whose appointment has not ended: "
        "not finished yet, left out of the compliance rate.",
    )
    compliant_count = fields.Integer(
        string="Compliant", readonly=True, aggregator="sum"
    )
    non_compliant_count = fields.Integer(
        string="Non-compliant", readonly=True, aggregator="sum"
    )
    checkin_required_count = fields.Integer(
        string="Check-ins Required",
        readonly=True,
        aggregator="sum",
        help="Started sessions: at least the protocol's minimum (not for stopped "
        "sessions) and one after each done step that requires a check-in.",
    )
    checkin_missing_count = fields.Integer(
        string="Check-ins Missing",
        readonly=True,
        aggregator="sum",
        help="Check-ins still missing, as the completion rule counts them; for a "
        "stopped session, the done steps that require a check-in and lack one.",
    )
    stopped_count = fields.Integer(string="Stopped", readonly=True, aggregator="sum")
    referral_count = fields.Integer(string="Referrals", readonly=True, aggregator="sum")
    is_unfinished = fields.Boolean(
        string="Left Unfinished",
        readonly=True,
        help="Still planned or in progress after its appointment ended.",
    )
    unfinished_count = fields.Integer(
        string="Unfinished", readonly=True, aggregator="sum"
    )
    documentation_lag = fields.Float(
        string="Documentation Lag (h)",
        readonly=True,
        aggregator="avg",
        help="Hours from the appointment's end to the session's completion or "
        "stop (0 when finished before the end); empty while not finished.",
    )
    refusal_count = fields.Integer(
        string="Blocked Attempts",
        readonly=True,
        aggregator="sum",
        help="Refused attempts to start or complete the session, or to tick "
        "one of its steps against a rule of the protocol.",
    )

    # Rule 7: the health intake.
    intake_required = fields.Boolean(
        readonly=True,
        help="The session's protocol asks for a health intake.",
    )
    has_intake = fields.Boolean(
        string="Started with an Intake",
        readonly=True,
        help="The session started relying on a health intake of its client.",
    )
    intake_coverage = fields.Float(
        string="Intake Coverage (%)",
        readonly=True,
        aggregator="avg",
        help="Share of the started sessions of protocols with a health intake "
        "that started relying on a valid intake of their client.",
    )
    intake_refusal_count = fields.Integer(
        string="Starts Blocked by the Intake",
        readonly=True,
        aggregator="sum",
        help="Refused attempts whose first reason was the health intake "
        "(missing, too old or with a blocking answer).",
    )
    consent_refusal_count = fields.Integer(
        string="Attempts Blocked by the Consent",
        readonly=True,
        aggregator="sum",
        help="Refused attempts whose first reason was the consent.",
    )

    def _select(self):
        unfinished = self._unfinished_condition()
        # The rules' verdict, stored on the session (see _from).
        valid = "COALESCE(s.has_valid_consent, FALSE)"
        # The compliance rule, written once: every measure below that speaks
        # of compliance is derived from this expression.
        compliance = self._compliance_state_expression(valid, unfinished)
        finished = "s.state IN ('done', 'stopped')"
        return f"""
            s.id AS id,
            s.id AS session_id,
            s.report_date AS date,
            s.therapist_id,
            s.protocol_id,
            s.partner_id,
            s.company_id,
            s.state,
            s.referral_recommended,
            s.stop_reason,
            1 AS session_count,
            s.checkin_count,
            s.checkin_required_count,
            s.checkin_missing_count,
            {valid} AS has_valid_consent,
            CASE
                WHEN s.state IN ('in_progress', 'done', 'stopped')
                    THEN CASE WHEN {valid} THEN 100.0 ELSE 0.0 END
            END AS consent_coverage,
            {compliance} AS compliance_state,
            ({compliance}) = 'compliant' AS is_compliant,
            CASE WHEN ({compliance}) = 'compliant' THEN 1 ELSE 0 END
                AS compliant_count,
            CASE WHEN ({compliance}) = 'non_compliant' THEN 1 ELSE 0 END
                AS non_compliant_count,
            CASE WHEN ({compliance}) = 'pending' THEN 1 ELSE 0 END AS pending_count,
            CASE WHEN {finished} THEN 1 ELSE 0 END AS finished_count,
            -- The rate is over the finished sessions only.
            CASE
                WHEN {finished}
                    THEN CASE WHEN ({compliance}) = 'compliant' THEN 100.0 ELSE 0.0 END
            END AS compliance_rate,
            CASE WHEN s.state = 'stopped' THEN 1 ELSE 0 END AS stopped_count,
            CASE WHEN s.referral_recommended THEN 1 ELSE 0 END AS referral_count,
            COALESCE({unfinished}, FALSE) AS is_unfinished,
            CASE WHEN {unfinished} THEN 1 ELSE 0 END AS unfinished_count,
            CASE
                WHEN s.state IN ('done', 'stopped') AND s.date_planned_end IS NOT NULL
                    THEN GREATEST(
                        EXTRACT(EPOCH FROM s.date_done - s.date_planned_end)
                        / 3600.0,
                        0.0
                    )
            END AS documentation_lag,
            COALESCE(r.refusal_count, 0)::integer AS refusal_count,
            COALESCE(r.intake_refusal_count, 0)::integer AS intake_refusal_count,
            COALESCE(r.consent_refusal_count, 0)::integer AS consent_refusal_count,
            (p.intake_survey_id IS NOT NULL) AS intake_required,
            (s.intake_id IS NOT NULL) AS has_intake,
            CASE
                WHEN s.state IN ('in_progress', 'done', 'stopped')
                    AND p.intake_survey_id IS NOT NULL
                    THEN CASE WHEN s.intake_id IS NOT NULL THEN 100.0 ELSE 0.0 END
            END AS intake_coverage
        """

    def _compliance_state_expression(self, valid, unfinished):
        """``compliance_state`` (see ``COMPLIANCE_STATES``) as SQL over the
        session ``s``: the one statement of the compliance rule."""
        return f"""CASE
                WHEN s.state = 'cancelled' THEN 'cancelled'
                WHEN s.state IN ('done', 'stopped') AND {valid} THEN 'compliant'
                WHEN s.state IN ('done', 'stopped') THEN 'non_compliant'
                WHEN {unfinished} THEN 'non_compliant'
                ELSE 'pending'
            END"""

    def _unfinished_condition(self):
        """Still planned or in progress after its appointment ended."""
        return """(
            s.state IN ('draft', 'in_progress')
            AND COALESCE(s.date_planned_end, s.date_planned)
                < (NOW() AT TIME ZONE 'UTC')
        )"""

    def _from(self):
        # The consent column is the rules' own verdict, stored on the session
        # (``spa.session.has_valid_consent``, computed by
        # ``session_rules.relied_consent_valid`` on the company's day): the
        # view never re-implements consent validity.
        # r: refused attempts per session; a small table, aggregated once
        # (no per-row subquery).
        return """
            spa_session s
            LEFT JOIN (
                SELECT session_id,
                       SUM(attempt_count) AS refusal_count,
                       SUM(attempt_count) FILTER (WHERE reason = 'intake')
                           AS intake_refusal_count,
                       SUM(attempt_count) FILTER (WHERE reason = 'consent')
                           AS consent_refusal_count
                  FROM spa_session_refusal
                 GROUP BY session_id
            ) r ON r.session_id = s.id
            LEFT JOIN spa_protocol p ON p.id = s.protocol_id
        """

    def _where(self):
        return ""

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        where = self._where()
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (SELECT %s FROM %s %s)",
                SQL.identifier(self._table),
                SQL(self._select()),
                SQL(self._from()),
                SQL(f"WHERE {where}" if where else ""),
            )
        )
