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
            s.checkin_count,
            (vc.id IS NOT NULL) AS has_valid_consent,
            CASE
                WHEN s.state = 'cancelled' THEN 'cancelled'
                WHEN s.state IN ('done', 'stopped') AND vc.id IS NOT NULL
                    THEN 'compliant'
                WHEN s.state IN ('done', 'stopped') THEN 'non_compliant'
                WHEN COALESCE(s.date_planned_end, s.date_planned)
                     < (NOW() AT TIME ZONE 'UTC') THEN 'non_compliant'
                ELSE 'pending'
            END AS compliance_state,
            (s.state IN ('done', 'stopped') AND vc.id IS NOT NULL) AS is_compliant
        """

    def _from(self):
        # vc: the session's consent, when it was valid at the start (and,
        # for a done session, at completion) and covered the protocol.
        return """
            spa_session s
            LEFT JOIN spa_consent vc
                   ON vc.id = s.consent_id
                  AND s.date_start IS NOT NULL
                  AND vc.given_at IS NOT NULL
                  AND vc.given_at <= s.date_start
                  AND vc.valid_until >= s.date_start::date
                  AND (vc.withdrawn_at IS NULL
                       OR vc.withdrawn_at > COALESCE(s.date_done, s.date_start))
                  AND (s.state != 'done' OR vc.valid_until >= s.date_done::date)
                  AND EXISTS (
                      SELECT 1
                        FROM spa_consent_spa_protocol_rel rel
                       WHERE rel.spa_consent_id = vc.id
                         AND rel.spa_protocol_id = s.protocol_id
                  )
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
