from odoo import fields, models

from ..models.spa_write_policy_mixin import ROLE_MANAGER

CLEAR_FIELDS = ("user_input_id", "note")


class SpaIntakeClearWizard(models.TransientModel):
    _name = "spa.intake.clear.wizard"
    _description = "Clear a Spa Health Intake"
    _inherit = ["spa.write.policy.mixin"]

    # Default-deny (see spa.write.policy.mixin): a manager's clearance, given
    # through survey.user_input.action_spa_clear.
    _spa_create_policy = {ROLE_MANAGER: CLEAR_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": CLEAR_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}

    user_input_id = fields.Many2one(
        "survey.user_input", string="Health Intake", required=True, ondelete="cascade"
    )
    contraindications = fields.Text(
        related="user_input_id.spa_contraindication_summary"
    )
    note = fields.Text(
        required=True,
        help="Why sessions may start despite the blocking answers "
        "(e.g. a doctor's letter of a given date).",
    )

    def action_clear(self):
        self.ensure_one()
        self.user_input_id.action_spa_clear(self.note)
        return {"type": "ir.actions.act_window_close"}
