from odoo import fields, models, tools
from odoo.tools import SQL

COMPLIANCE_STATES = [
    ("compliant", "Compliant"),
    ("non_compliant", "Non-compliant"),
    ("pending", "Pending"),
    ("cancelled", "Cancelled"),
]


class SpaComplianceReport(models.Model):
    """One row per session: was it done with a valid consent, and is it
    documented? Read-only, an SQL view over the sessions."""

    _name = "spa.compliance.report"
    _description = "Spa Compliance Analysis"
    _auto = False
    _order = "date desc, session_id desc"
    _rec_name = "session_id"

    session_id = fields.Many2one("spa.session", readonly=True)
    date = fields.Datetime(readonly=True)
    therapist_id = fields.Many2one("res.users", string="Therapist", readonly=True)
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
    session_count = fields.Integer(string="Sessions", readonly=True, aggregator="sum")

    def _select(self):
        return """
            s.id AS id,
            s.id AS session_id,
            COALESCE(s.date_planned, s.date_start, s.create_date) AS date,
            s.therapist_id,
            s.protocol_id,
            s.partner_id,
            s.company_id,
            s.state,
            s.referral_recommended,
            1 AS session_count,
            COALESCE(ck.checkin_count, 0) AS checkin_count,
            (vc.session_id IS NOT NULL) AS has_valid_consent,
            CASE
                WHEN s.state = 'cancelled' THEN 'cancelled'
                WHEN s.state IN ('done', 'stopped') AND vc.session_id IS NOT NULL THEN 'compliant'
                WHEN s.state IN ('done', 'stopped') THEN 'non_compliant'
                WHEN COALESCE(s.date_planned_end, s.date_planned) < (NOW() AT TIME ZONE 'UTC') THEN 'non_compliant'
                ELSE 'pending'
            END AS compliance_state,
            (s.state IN ('done', 'stopped') AND vc.session_id IS NOT NULL) AS is_compliant
        """

    def _from(self):
        return """
            spa_session s
            LEFT JOIN (
                SELECT session_id, COUNT(*) AS checkin_count
                  FROM spa_checkin
              GROUP BY session_id
            ) ck ON ck.session_id = s.id
            LEFT JOIN (
                SELECT s2.id AS session_id
                  FROM spa_session s2
                  JOIN spa_consent c ON c.id = s2.consent_id
                  JOIN spa_consent_spa_protocol_rel rel
                    ON rel.spa_consent_id = c.id AND rel.spa_protocol_id = s2.protocol_id
                 WHERE s2.date_start IS NOT NULL
                   AND c.given_at IS NOT NULL
                   AND c.given_at <= s2.date_start
                   AND c.valid_until >= s2.date_start::date
                   AND (c.withdrawn_at IS NULL OR c.withdrawn_at > COALESCE(s2.date_done, s2.date_start))
                   AND (s2.state != 'done' OR c.valid_until >= s2.date_done::date)
            ) vc ON vc.session_id = s.id
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
