from odoo import fields, models

from .spa_write_policy_mixin import ROLE_MANAGER

CONTRAINDICATIONS = [
    ("caution", "Caution"),
    ("block", "Block"),
]


class SurveyQuestionAnswer(models.Model):
    _name = "survey.question.answer"
    _inherit = ["survey.question.answer", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin): the
    # spa's managers say which answers of a health intake matter.
    _spa_guard_own_fields_only = True
    _spa_create_policy = {ROLE_MANAGER: ("spa_contraindication",)}
    _spa_write_policy = {ROLE_MANAGER: {"*": ("spa_contraindication",)}}

    spa_contraindication = fields.Selection(
        CONTRAINDICATIONS,
        string="Contraindication",
        help="For a health intake: 'Caution' shows the answer to the therapist "
        "before the session; 'Block' stops the session from starting until a "
        "manager clears the intake (e.g. after a doctor's letter).",
    )
