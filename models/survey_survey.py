from odoo import fields, models


class SurveySurvey(models.Model):
    _name = "survey.survey"
    _inherit = ["survey.survey", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin): which
    # protocols use a survey as their intake is set on the protocols.
    _spa_guard_own_fields_only = True

    spa_protocol_ids = fields.One2many(
        "spa.protocol",
        "intake_survey_id",
        string="Spa Protocols",
        help="The session protocols whose clients answer this survey as their "
        "health intake.",
    )
