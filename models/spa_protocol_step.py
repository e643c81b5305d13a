from odoo import fields, models

from .spa_write_policy_mixin import ROLE_MANAGER

RECORD_KINDS = [
    ("none", "Nothing"),
    ("positioning", "Client positioning"),
    ("adjustment", "Technique adjustment"),
]

STEP_FIELDS = (
    "protocol_id",
    "sequence",
    "name",
    "instructions",
    "is_mandatory",
    "requires_checkin",
    "qualification_id",
    "record_kind",
    "body_region_ids",
)


class SpaProtocolStep(models.Model):
    _name = "spa.protocol.step"
    _description = "Spa Protocol Step"
    _inherit = ["spa.write.policy.mixin"]
    _order = "sequence, id"

    # Default-deny (see spa.write.policy.mixin): managers configure the steps;
    # sessions keep their own copy, so editing a step never changes a record.
    _spa_create_policy = {ROLE_MANAGER: STEP_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": STEP_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}

    protocol_id = fields.Many2one(
        "spa.protocol", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="protocol_id.company_id", store=True, index=True
    )
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, translate=True)
    instructions = fields.Text(
        translate=True, help="Short practical instructions for the therapist."
    )
    is_mandatory = fields.Boolean(
        string="Mandatory",
        default=True,
        help="A session cannot be completed before this step is done.",
    )
    requires_checkin = fields.Boolean(
        string="Requires Check-in",
        help="A feedback check-in must be logged after this step is done.",
    )
    qualification_id = fields.Many2one(
        "spa.qualification",
        ondelete="restrict",
        help="Only a therapist holding a valid certification for this qualification "
        "may perform this step.",
    )
    record_kind = fields.Selection(
        RECORD_KINDS,
        string="Therapist Records",
        default="none",
        required=True,
        help="What the therapist must record on the session before ticking this step.",
    )
    body_region_ids = fields.Many2many(
        "spa.body.region",
        # An archived region stays what the record names (rule 8, evidence).
        context={"active_test": False},
        string="Body Regions",
        help="The regions of the body this step touches. A sensitive one needs a "
        "written or signed consent naming it before the step is ticked.",
    )
