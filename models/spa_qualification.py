from odoo import fields, models

from .spa_write_policy_mixin import ROLE_MANAGER

QUALIFICATION_FIELDS = ("name", "description", "active")


class SpaQualification(models.Model):
    _name = "spa.qualification"
    _description = "Spa Qualification"
    _inherit = ["spa.write.policy.mixin"]
    _order = "name, id"

    # Default-deny (see spa.write.policy.mixin): managers configure them.
    _spa_create_policy = {ROLE_MANAGER: QUALIFICATION_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": QUALIFICATION_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}

    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True)
    active = fields.Boolean(default=True)
    certification_ids = fields.One2many(
        "spa.certification", "qualification_id", string="Certifications"
    )
    certification_count = fields.Integer(compute="_compute_certification_count")

    _sql_constraints = [
        ("name_uniq", "UNIQUE(name)", "A qualification with this name already exists."),
    ]

    def _compute_certification_count(self):
        # sudo: how many therapists hold a qualification is not personal
        # detail; the front desk reads qualifications but not certifications.
        counts = dict(
            self.env["spa.certification"]
            .sudo()
            ._read_group(
                [("qualification_id", "in", self.ids)],
                ["qualification_id"],
                ["__count"],
            )
        )
        for qualification in self:
            qualification.certification_count = counts.get(qualification, 0)
