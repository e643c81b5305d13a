from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from .spa_write_policy_mixin import ROLE_MANAGER

QUALIFICATION_FIELDS = ("name", "description", "active")


class SpaQualification(models.Model):
    _name = "spa.qualification"
    _description = "Spa Qualification"
    _inherit = ["spa.write.policy.mixin", "spa.registry.cache.mixin"]
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

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        # sudo: steps of every protocol and session count, readable or not.
        used = self.filtered(
            lambda q: (
                self.env["spa.session.step"]
                .sudo()
                .search_count([("qualification_id", "=", q.id)], limit=1)
            )
        )
        if used:
            raise UserError(
                self.env._(
                    "%(qualifications)s are required by recorded session steps: "
                    "archive them instead of deleting them.",
                    qualifications=", ".join(used.mapped("name")),
                )
            )

    # ------------------------------------------------------------------
    # Names, as every tablet request shows them: the registry's cache
    # ------------------------------------------------------------------

    @api.model
    def _spa_names(self):
        """``{id: display name}`` of every qualification, archived ones
        included (a line names one as it was), in the user's language: the
        tablet shows them on the lines. Kept in the registry's cache until a
        qualification changes: they are configuration, the same for every
        user who may read them (the model has no record rule)."""
        if self.env.su or self.env["ir.rule"]._compute_domain(self._name, "read"):
            # A record rule on qualifications (none today) decides per user.
            return {
                q.id: q.display_name
                for q in self.with_context(active_test=False).search_fetch([], ["name"])
            }
        self.browse().check_access("read")
        return dict(self._spa_names_cached(self.env.lang))

    @tools.ormcache("lang")
    def _spa_names_cached(self, lang):
        # sudo: the caller checked the user's read access to the model, which
        # has no record rule (``_spa_names``).
        qualifications = (
            self.sudo()
            .with_context(lang=lang, active_test=False)
            .search_fetch([], ["name"])
        )
        return tuple((q.id, q.display_name) for q in qualifications)

    # The registry's cache above is cleared by any change of a qualification,
    # its translations included (spa.registry.cache.mixin).
