from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..models.spa_write_policy_mixin import ROLE_MANAGER

EXPORT_FIELDS = ("session_ids", "partner_id", "date_from", "date_to", "pseudonymous")


class SpaEvidenceExportWizard(models.TransientModel):
    """The manager's export of finished sessions' evidence as a bundle an
    inspector checks without Odoo: chosen sessions, a client's, or a
    period's."""

    _name = "spa.evidence.export.wizard"
    _description = "Spa Evidence Export"
    # Default-deny (see spa.write.policy.mixin): what to export is the
    # manager's choice; the bundle itself is computed when downloaded.
    _inherit = ["spa.write.policy.mixin"]
    _spa_create_policy = {ROLE_MANAGER: EXPORT_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": EXPORT_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}
    _spa_x2many_commands = {
        "session_ids": (Command.SET, Command.LINK, Command.UNLINK, Command.CLEAR)
    }

    session_ids = fields.Many2many(
        "spa.session",
        string="Sessions",
        domain=[("state", "in", ("done", "stopped"))],
        help="Leave empty to export a client's or a period's finished sessions.",
    )
    partner_id = fields.Many2one("res.partner", string="Client")
    date_from = fields.Date(string="Finished From")
    date_to = fields.Date(string="Finished To")
    pseudonymous = fields.Boolean(
        default=True,
        help="Name the client by a pseudonym only (stable in this database), "
        "not by name and contact details.",
    )
    session_count = fields.Integer(
        string="Finished Sessions", compute="_compute_session_count"
    )

    @api.depends("session_ids", "partner_id", "date_from", "date_to")
    def _compute_session_count(self):
        Session = self.env["spa.session"]
        for wizard in self:
            if not (
                wizard.session_ids
                or wizard.partner_id
                or wizard.date_from
                or wizard.date_to
            ):
                wizard.session_count = 0
                continue
            wizard.session_count = len(wizard._sessions(Session))

    def _sessions(self, Session=None):
        self.ensure_one()
        Session = Session if Session is not None else self.env["spa.session"]
        return Session._evidence_export_sessions(
            self.session_ids.ids,
            self.partner_id.id,
            self.date_from,
            self.date_to,
        )

    def _bundle(self):
        """The bundle of the sessions chosen (as the manager who asks)."""
        self.ensure_one()
        sessions = self._sessions()
        if not sessions:
            raise UserError(
                self.env._("No finished session matches: there is nothing to export.")
            )
        return sessions._evidence_bundle(pseudonymous=self.pseudonymous)

    def action_export(self):
        """Download the bundle (a .json file)."""
        self.ensure_one()
        # Refuse at once, before the browser asks for the file.
        if not self._sessions():
            raise UserError(
                self.env._("No finished session matches: there is nothing to export.")
            )
        return {
            "type": "ir.actions.act_url",
            "url": f"/spa/evidence/bundle/{self.id}",
            "target": "download",
        }
