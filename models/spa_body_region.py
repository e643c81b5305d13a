from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from .spa_write_policy_mixin import ROLE_MANAGER

BODY_REGION_FIELDS = (
    "name",
    "code",
    "side",
    "is_sensitive",
    "consent_line",
    "sequence",
    "active",
    "chart_x",
    "chart_y",
    "chart_rx",
    "chart_ry",
    "active",
    "sequence",
)


# What the body chart draws of each region.
CHART_FIELDS = (
    "code",
    "name",
    "side",
    "is_sensitive",
    "chart_x",
    "chart_y",
    "chart_rx",
    "chart_ry",
    "active",
    "sequence",
)


class SpaBodyRegion(models.Model):
    """A region of the body a step touches, a client feels pain in or agrees
    to have treated. Sensitive regions (rule 8) are treated only with a
    written or signed consent naming them."""

    _name = "spa.body.region"
    _description = "Spa Body Region"
    _inherit = ["spa.write.policy.mixin", "spa.registry.cache.mixin"]
    _order = "sequence, id"

    # Default-deny (see spa.write.policy.mixin): managers configure them.
    _spa_create_policy = {ROLE_MANAGER: BODY_REGION_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": BODY_REGION_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, help="Stable technical name of the region.")
    side = fields.Selection(
        [("front", "Front"), ("back", "Back")],
        required=True,
        default="back",
        help="The side of the body chart the region is drawn on.",
    )
    is_sensitive = fields.Boolean(
        string="Sensitive",
        help="Treating this region needs a written or signed consent naming it.",
    )
    consent_line = fields.Char(
        translate=True,
        help="What the client reads and agrees to for this region, in plain language.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    # Where the region sits on its side of the body chart (a 200 x 420
    # drawing): an ellipse, large enough to be a touch target.
    chart_x = fields.Integer(default=100, help="Centre, from the left (0-200).")
    chart_y = fields.Integer(default=200, help="Centre, from the top (0-420).")
    chart_rx = fields.Integer(string="Chart Width", default=24)
    chart_ry = fields.Integer(string="Chart Height", default=16)

    _sql_constraints = [
        ("code_uniq", "UNIQUE(code)", "A body region with this code already exists."),
        (
            "chart_size_positive",
            "CHECK(chart_rx > 0 AND chart_ry > 0)",
            "A region's shape on the body chart must have a size.",
        ),
    ]

    def _spa_regions_in_use(self):
        """The regions of ``self`` a session line, a consent or a check-in
        names: they are part of what those records prove."""
        # sudo: whether a region is used anywhere decides, readable or not.
        # One grouped query per field for the whole recordset (not three counts
        # per region): grouping by a many2many gives one group per region.
        used = self.browse()
        for model, fname in (
            ("spa.session.step", "planned_region_ids"),
            ("spa.session.step", "touched_region_ids"),
            ("spa.consent", "body_region_ids"),
            ("spa.checkin", "body_region_id"),
        ):
            remaining = self - used
            if not remaining:
                break
            Model = self.env[model].sudo().with_context(active_test=False)
            groups = Model._read_group([(fname, "in", remaining.ids)], [fname])
            used |= remaining & self.browse(region.id for (region,) in groups)
        return used

    def write(self, vals):
        if "is_sensitive" in vals:
            changed = self.filtered(
                lambda r: r.is_sensitive != bool(vals["is_sensitive"])
            )
            used = changed._spa_regions_in_use()
            if used:
                raise UserError(
                    self.env._(
                        "Whether %(regions)s is sensitive cannot change: sessions or "
                        "consents already name it (rule 8 judged them by it). Create "
                        "another region instead.",
                        regions=", ".join(used.mapped("name")),
                    )
                )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_in_use(self):
        used = self._spa_regions_in_use()
        if used:
            raise UserError(
                self.env._(
                    "%(regions)s cannot be deleted: sessions, consents or check-ins "
                    "name it, and their records must stay as they were. Archive it "
                    "instead.",
                    regions=", ".join(used.mapped("name")),
                )
            )

    @api.model
    def _spa_chart_payload(self, regions=None):
        """The regions as the body chart draws them (tablet, session record):
        ``regions``, else the active ones (the caller's context decides)."""
        if regions is not None:
            return self._spa_chart_rows(regions)
        if self.env.su or self.env["ir.rule"]._compute_domain(self._name, "read"):
            # A record rule on regions (none today) decides per user: searched.
            return self._spa_chart_rows(self.search_fetch([], CHART_FIELDS))
        # The same for every user who may read regions at all (no record
        # rule): kept in the registry's cache, per language, until a region
        # changes. Copies: the caller owns what it gets.
        self.browse().check_access("read")
        active_test = self.env.context.get("active_test", True)
        return [dict(row) for row in self._spa_chart_cached(self.env.lang, active_test)]

    @tools.ormcache("lang", "active_test")
    def _spa_chart_cached(self, lang, active_test):
        # sudo: the caller checked the user's read access to the model, which
        # has no record rule (``_spa_chart_payload``).
        regions = (
            self.sudo()
            .with_context(lang=lang, active_test=active_test)
            .search_fetch([], CHART_FIELDS)
        )
        return tuple(self._spa_chart_rows(regions))

    @api.model
    def _spa_chart_rows(self, regions):
        return [
            {
                "id": region.id,
                "code": region.code,
                "name": region.name,
                "side": region.side,
                "is_sensitive": region.is_sensitive,
                "x": region.chart_x,
                "y": region.chart_y,
                "rx": region.chart_rx,
                "ry": region.chart_ry,
            }
            for region in regions
        ]

    @api.model
    @tools.ormcache()
    def _spa_sensitive_ids(self):
        """The ids of the sensitive regions, archived ones included (a line
        or a consent names a region as it was): rule 8's facts, read by every
        tick. Kept in the registry's cache until a region changes."""
        # sudo: which regions are sensitive is configuration, the same for
        # every user (regions have no record rule); only ids are returned.
        regions = (
            self.sudo()
            .with_context(active_test=False)
            .search([("is_sensitive", "=", True)])
        )
        return frozenset(regions.ids)

    # The registry's cache above (every worker's) is cleared by any change
    # of a region, its translations included (spa.registry.cache.mixin).
