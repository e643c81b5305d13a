from odoo import fields, models

from ..models.spa_write_policy_mixin import ROLE_MANAGER


class SpaKioskPinWizard(models.TransientModel):
    """A manager resets a therapist's kiosk PIN (they may not edit users
    otherwise): the PIN is cleared and the therapist sets a new one in their
    preferences. Nobody but its owner ever sets a PIN (see
    ``res.users._spa_set_pin``)."""

    _name = "spa.kiosk.pin.wizard"
    _description = "Reset a Kiosk PIN"
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

    def action_reset_pin(self):
        """Clear the PIN of the chosen user (refused for anyone but a spa
        manager, in ``res.users._spa_set_pin``)."""
        self.user_id.action_spa_reset_pin()
        return {"type": "ir.actions.act_window_close"}
