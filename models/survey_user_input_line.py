from odoo import api, models

from .spa_write_policy_mixin import is_server_granted


class SurveyUserInputLine(models.Model):
    """The answers of an intake a session relied on are evidence: frozen,
    for every user (``survey.user_input._spa_check_not_relied_on``)."""

    _inherit = "survey.user_input.line"

    @api.model_create_multi
    def create(self, vals_list):
        inputs = self.env["survey.user_input"].browse(
            {vals["user_input_id"] for vals in vals_list if vals.get("user_input_id")}
        )
        inputs._spa_check_not_relied_on()
        return super().create(vals_list)

    def write(self, vals):
        # The retention's anonymisation of free-text answers is the one
        # server path that changes the answers of a relied-on intake
        # (``survey.user_input._spa_anonymise_answers``).
        if not is_server_granted(self, vals, "write"):
            self.user_input_id._spa_check_not_relied_on()
            if vals.get("user_input_id"):
                self.env["survey.user_input"].browse(
                    vals["user_input_id"]
                )._spa_check_not_relied_on()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_relied_on(self):
        self.user_input_id._spa_check_not_relied_on()
