from odoo import api, fields, models
from odoo.exceptions import ValidationError


class SpaCertification(models.Model):
    _name = "spa.certification"
    _description = "Spa Therapist Certification"
    _inherit = ["mail.thread"]
    _order = "date_to desc, id desc"
    _rec_names_search = ["user_id", "qualification_id"]

    user_id = fields.Many2one(
        "res.users",
        string="Therapist",
        required=True,
        index=True,
        tracking=True,
        ondelete="cascade",
    )
    qualification_id = fields.Many2one(
        "spa.qualification",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
    )
    date_from = fields.Date(
        string="Valid From",
        required=True,
        default=fields.Date.context_today,
        tracking=True,
    )
    date_to = fields.Date(
        string="Valid Until",
        tracking=True,
        help="Leave empty for a certification without end.",
    )
    reference = fields.Char(help="Certificate number or issuing body.")
    is_valid_today = fields.Boolean(
        compute="_compute_is_valid_today", search="_search_is_valid_today"
    )

    _sql_constraints = [
        (
            "date_check",
            "CHECK(date_to IS NULL OR date_to >= date_from)",
            "A certification cannot end before it starts.",
        ),
    ]

    @api.depends("user_id", "qualification_id")
    def _compute_display_name(self):
        for cert in self:
            cert.display_name = (
                f"{cert.user_id.name or ''} – {cert.qualification_id.name or ''}"
            )

    @api.depends("date_from", "date_to")
    def _compute_is_valid_today(self):
        today = fields.Date.context_today(self)
        for cert in self:
            cert.is_valid_today = cert._is_valid_on(today)

    def _search_is_valid_today(self, operator, value):
        if operator not in ("=", "!="):
            raise ValidationError(self.env._("Unsupported search on validity."))
        today = fields.Date.context_today(self)
        domain = [
            ("date_from", "<=", today),
            "|",
            ("date_to", "=", False),
            ("date_to", ">=", today),
        ]
        positive = (operator == "=") == bool(value)
        return domain if positive else ["!", *domain]

    def _is_valid_on(self, day):
        self.ensure_one()
        return self.date_from <= day and (not self.date_to or self.date_to >= day)

    @api.model
    def _qualified_pairs(self, users, qualifications, day):
        """Set of ``(user_id, qualification_id)`` certified on ``day``, in one query."""
        if not users or not qualifications:
            return set()
        # A therapist may not read every certification; the check itself must
        # see them all to be right.
        certs_sudo = self.sudo().search(
            [
                ("user_id", "in", users.ids),
                ("qualification_id", "in", qualifications.ids),
                ("date_from", "<=", day),
                "|",
                ("date_to", "=", False),
                ("date_to", ">=", day),
            ]
        )
        return {(c.user_id.id, c.qualification_id.id) for c in certs_sudo}
