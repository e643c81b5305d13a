from odoo import Command, api, fields, models, tools

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
# What a session's checklist line copies of its protocol step: everything a
# manager configures on the step (STEP_FIELDS) but the protocol it belongs to.
STEP_COPY_FIELDS = [fname for fname in STEP_FIELDS if fname != "protocol_id"]


class SpaProtocolStep(models.Model):
    _name = "spa.protocol.step"
    _description = "Spa Protocol Step"
    _inherit = ["spa.write.policy.mixin", "spa.registry.cache.mixin"]
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

    # ------------------------------------------------------------------
    # The checklist a booking copies (issue 14, P1)
    # ------------------------------------------------------------------

    @api.model
    def _spa_line_copies(self, protocols):
        """``{protocol id: ((line values, body region ids), ...)}``, one per
        step in the steps' order: what ``spa.session._spa_sync_checklist``
        copies onto a checklist line, in the user's language. Kept in the
        registry's cache per protocol and language until a step, a body
        region or a qualification changes (their writes, creations,
        deletions and translations clear it: spa.registry.cache.mixin), so
        that booking does not search and read the same steps and their
        regions again for every appointment. Immutable: each line gets its
        own dict of them (``_spa_line_vals``)."""
        self.browse().check_access("read")
        lang = self.env.lang
        return {
            protocol.id: self._spa_line_copies_cached(protocol.id, lang)
            for protocol in protocols
        }

    @api.model
    def _spa_line_vals(self, copy):
        """The values of one new checklist line from one of the copies of
        ``_spa_line_copies`` (its body regions only when it touches some: a
        line created without them has none, and the ORM skips the relation)."""
        values, region_ids = copy
        vals = dict(values)
        if region_ids:
            vals["planned_region_ids"] = [Command.set(list(region_ids))]
            vals["touched_region_ids"] = [Command.set(list(region_ids))]
        return vals

    @tools.ormcache("protocol_id", "lang")
    def _spa_line_copies_cached(self, protocol_id, lang):
        # sudo: the steps of a protocol the booking user reads (its session
        # is tied to the protocol's company: check_company), which the
        # steps' multi-company rule (the protocol's company) lets them read.
        steps = (
            self.sudo()
            .with_context(lang=lang)
            .search_fetch([("protocol_id", "=", protocol_id)], STEP_COPY_FIELDS)
        )
        return tuple(
            (
                (
                    ("protocol_step_id", step.id),
                    ("sequence", step.sequence),
                    ("name", step.name),
                    ("instructions", step.instructions),
                    ("is_mandatory", step.is_mandatory),
                    ("requires_checkin", step.requires_checkin),
                    ("qualification_id", step.qualification_id.id),
                    ("record_kind", step.record_kind),
                ),
                tuple(step.body_region_ids.ids),
            )
            for step in steps
        )
