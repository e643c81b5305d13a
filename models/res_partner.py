from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from .spa_write_policy_mixin import MANAGER_GROUP, ROLE_MANAGER, THERAPIST_GROUP


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin).
    _spa_guard_own_fields_only = True
    _spa_create_policy = {ROLE_MANAGER: ("spa_legal_hold",)}
    _spa_write_policy = {ROLE_MANAGER: {"*": ("spa_legal_hold",)}}

    spa_legal_hold = fields.Boolean(
        string="Legal Hold (Spa Records)",
        tracking=True,
        groups="spa_session_protocol.group_spa_manager",
        help="While set, the client's session records are never anonymised, "
        "neither by the retention period nor by an erasure request (a claim or "
        "an inquiry needs them).",
    )

    # Where the client felt it, across sessions (clinical detail: therapists
    # and managers, and only the check-ins they may read).
    spa_region_pain_ids = fields.Many2many(
        "spa.checkin",
        string="Pain by Region",
        compute="_compute_spa_region_pain_ids",
        groups=THERAPIST_GROUP,
    )

    def _compute_spa_region_pain_ids(self):
        checkins = self.env["spa.checkin"].search(
            [
                ("partner_id", "in", self._origin.ids),
                ("body_region_id", "!=", False),
            ],
            order="body_region_id, create_date desc, id desc",
        )
        for partner in self:
            partner.spa_region_pain_ids = checkins.filtered(
                lambda c, p=partner._origin: c.partner_id == p
            )

    def action_spa_pain_history(self):
        """The client's check-ins by region over time (a graph)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "spa_session_protocol.spa_checkin_action_pain_history"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["display_name"] = self.env._(
            "Pain History of %(client)s", client=self.display_name
        )
        return action

    def action_spa_export_evidence(self):
        """Open the export of this client's finished sessions' evidence
        (managers: the bundle holds clinical data)."""
        self.ensure_one()
        self.env["spa.session"]._evidence_check_companies()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Export Evidence"),
            "res_model": "spa.evidence.export.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.id},
        }

    spa_session_ids = fields.One2many(
        "spa.session", "partner_id", string="Spa Sessions", readonly=True
    )

    def action_spa_erase_clinical_data(self):
        """Erasure request of clients: anonymise the clinical free text of
        their finished sessions, the signatures of their ended consents and
        the answers they typed in their health intakes.

        Refused while a record must still be kept (inside the retention
        period), while a session is running and while a client is on legal
        hold; the message says until when the records must be kept.
        """
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                self.env._("Only a spa manager can erase a client's clinical data.")
            )
        # sudo: an erasure request covers every session of the clients, in
        # every company the manager may not have selected; the manager's
        # right was checked above.
        partners_sudo = self.sudo()
        Session = self.env["spa.session"].sudo()
        errors = []
        held = partners_sudo.filtered("spa_legal_hold")
        if held:
            errors.append(
                self.env._(
                    "%(clients)s: on legal hold, the records must be kept until the "
                    "hold is lifted",
                    clients=", ".join(held.mapped("display_name")),
                )
            )
        running = Session.search(
            [
                ("partner_id", "in", self.ids),
                ("state", "in", ("draft", "in_progress")),
                ("date_start", "!=", False),
            ]
        )
        if running:
            errors.append(
                self.env._(
                    "sessions still running: %(sessions)s",
                    sessions=", ".join(running.mapped("name")),
                )
            )
        sessions = Session.search(
            [("partner_id", "in", self.ids), ("state", "in", ("done", "stopped"))]
        )
        consents = (
            self.env["spa.consent"]
            .sudo()
            .search([("partner_id", "in", self.ids), ("state", "!=", "draft")])
        )
        intake_surveys = self.env["survey.user_input"]._spa_intake_surveys()
        intakes = (
            self.env["survey.user_input"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.ids),
                    ("spa_answers_anonymised_at", "=", False),
                ]
            )
            .filtered(lambda i, s=intake_surveys: i.survey_id in s)
        )
        keep_until = {}
        for records in (sessions, consents, intakes):
            for record, until in records._spa_retention_end().items():
                partner_id = record.partner_id.id
                keep_until[partner_id] = max(keep_until.get(partner_id, until), until)
        # The company's day, not the caller's: a manager's time zone does not
        # end a retention period early.
        today = self.env.company._spa_today()
        for partner in partners_sudo - held:
            until = keep_until.get(partner.id)
            if until and until > today:
                errors.append(
                    self.env._(
                        "%(client)s: the session records must be kept until "
                        "%(date)s (retention period)",
                        client=partner.display_name,
                        date=fields.Date.to_string(until),
                    )
                )
        if errors:
            raise UserError(
                self.env._(
                    "The clinical data cannot be erased now:\n%(errors)s",
                    errors="\n".join(errors),
                )
            )
        sessions._spa_anonymise()
        consents._spa_anonymise_signatures()
        intakes._spa_anonymise_answers()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Clinical free text of %(count)s session(s) anonymised.",
                    count=len(sessions),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
