from odoo import fields, models

from ..models.spa_write_policy_mixin import ROLE_MANAGER


class SpaKioskPinWizard(models.TransientModel):
    """A manager sets a therapist's kiosk PIN (they may not edit users
    otherwise). The PIN is never stored here: it goes straight to the user's
    hash when the wizard is saved."""

    _name = "spa.kiosk.pin.wizard"
    _description = "Set a Kiosk PIN"
    # Default-deny (see spa.write.policy.mixin): the manager picks the user.
    _inherit = ["spa.write.policy.mixin"]
    _spa_create_policy = {ROLE_MANAGER: ("user_id",)}
    _spa_write_policy = {ROLE_MANAGER: {"*": ("user_id",)}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}

    user_id = fields.Many2one(
        "res.users",
        string="Therapist",
        required=True,
        ondelete="cascade",
        domain=lambda self: [
            (
                "groups_id",
                "in",
                self.env.ref("spa_session_protocol.group_spa_therapist").id,
            )
        ],
    )
    has_pin = fields.Boolean(related="user_id.spa_has_pin", string="Has a PIN")
    pin = fields.Char(
        string="New PIN",
        compute="_compute_pin",
        inverse="_inverse_pin",
        help="4 to 8 digits. Stored hashed on the user: nobody can read it.",
    )

    def _compute_pin(self):
        self.pin = False

    def _inverse_pin(self):
        for wizard in self:
            if wizard.pin:
                wizard.user_id._spa_set_pin(wizard.pin)
        self.invalidate_recordset(["pin"])

    def action_done(self):
        return {"type": "ir.actions.act_window_close"}
