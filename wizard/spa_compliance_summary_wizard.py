from datetime import datetime, time, timedelta

import pytz

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..models.spa_write_policy_mixin import ROLE_MANAGER

# The default period: the last DEFAULT_PERIOD_DAYS days, today included.
DEFAULT_PERIOD_DAYS = 30
SUMMARY_FIELDS = ("date_from", "date_to", "therapist_ids", "protocol_ids", "company_id")


class SpaComplianceSummaryWizard(models.TransientModel):
    _name = "spa.compliance.summary.wizard"
    _description = "Spa Compliance Summary"
    _inherit = ["spa.write.policy.mixin"]
    _check_company_auto = True

    # Default-deny (see spa.write.policy.mixin): a manager's choice of period.
    _spa_create_policy = {ROLE_MANAGER: SUMMARY_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": SUMMARY_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}

    # By default the last 30 days up to today (today included): a useful
    # period on any day, the first of a month as well.
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: (
            fields.Date.context_today(self) - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        ),
        help="By default the last 30 days, today included.",
    )
    date_to = fields.Date(string="To", required=True, default=fields.Date.context_today)
    therapist_ids = fields.Many2many(
        "res.users",
        string="Therapists",
        domain=lambda self: [
            (
                "groups_id",
                "in",
                self.env.ref("spa_session_protocol.group_spa_therapist").id,
            )
        ],
        help="Leave empty for every therapist.",
    )
    protocol_ids = fields.Many2many(
        "spa.protocol",
        string="Protocols",
        check_company=True,
        help="Leave empty for every protocol.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for wizard in self:
            if wizard.date_to < wizard.date_from:
                raise ValidationError(
                    self.env._("The period must end on or after the day it starts.")
                )

    def _period_bounds(self):
        """The period as naive UTC datetimes ``[start, end)``, whole days in
        the user's time zone."""
        self.ensure_one()
        tz = pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")

        def to_utc(day):
            local = tz.localize(datetime.combine(day, time.min))
            return local.astimezone(pytz.utc).replace(tzinfo=None)

        return to_utc(self.date_from), to_utc(self.date_to + timedelta(days=1))

    def _report_domain(self):
        self.ensure_one()
        start, end = self._period_bounds()
        domain = [
            ("company_id", "=", self.company_id.id),
            ("date", ">=", start),
            ("date", "<", end),
        ]
        if self.therapist_ids:
            domain.append(("therapist_id", "in", self.therapist_ids.ids))
        if self.protocol_ids:
            domain.append(("protocol_id", "in", self.protocol_ids.ids))
        return domain

    def action_print(self):
        """The summary's PDF; the dialog closes once it is downloaded."""
        self.ensure_one()
        action = self.env.ref(
            "spa_session_protocol.action_report_compliance_summary"
        ).report_action(self)
        action["close_on_report_download"] = True
        return action
