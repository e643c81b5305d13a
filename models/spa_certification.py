from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import session_rules
from .spa_write_policy_mixin import ROLE_MANAGER

CERTIFICATION_FIELDS = (
    "user_id",
    "qualification_id",
    "date_from",
    "date_to",
    "reference",
)


class SpaCertification(models.Model):
    _name = "spa.certification"
    _description = "Spa Therapist Certification"
    _inherit = ["spa.write.policy.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "date_to desc, id desc"

    # Default-deny (see spa.write.policy.mixin): managers record them.
    _spa_create_policy = {ROLE_MANAGER: CERTIFICATION_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": CERTIFICATION_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}
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
        default=lambda self: self.env.company._spa_today(),
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
        # Today is the company's day, never the caller's time zone.
        today = self.env.company._spa_today()
        for cert in self:
            cert.is_valid_today = cert._is_valid_on(today)

    def _search_is_valid_today(self, operator, value):
        if operator not in ("=", "!="):
            raise ValidationError(self.env._("Unsupported search on validity."))
        # The domain form of ``session_rules.is_valid_on`` (searching needs
        # SQL); ``_qualified_pairs``, which decides a tick, asks the rule.
        today = self.env.company._spa_today()
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
        return session_rules.is_valid_on(
            self.date_from or None, self.date_to or None, day
        )

    @api.model
    def _qualified_pairs(self, users, qualifications, day):
        """Set of ``(user_id, qualification_id)`` certified on ``day`` (the
        company's day of the tick), in one query."""
        if not users or not qualifications:
            return set()
        # sudo: a therapist may not read every certification; the check
        # itself must see them all to be right.
        certs_sudo = self.sudo().search(
            [
                ("user_id", "in", users.ids),
                ("qualification_id", "in", qualifications.ids),
            ]
        )
        return {
            (c.user_id.id, c.qualification_id.id)
            for c in certs_sudo
            if c._is_valid_on(day)
        }

    @api.model
    def _cron_remind_expiring(self, days=30):
        """Certifications ending within ``days`` and not renewed: a to-do for
        the therapist and one for a manager of their company, once."""
        today = fields.Date.context_today(self)
        expiring = self.search(
            [
                ("date_to", ">=", today),
                ("date_to", "<=", today + timedelta(days=days)),
                ("user_id.active", "=", True),
            ]
        )
        if not expiring:
            return
        # Renewed: another certification of the same therapist and
        # qualification still valid the day after this one ends.
        renewals = self.search(
            [
                ("id", "not in", expiring.ids),
                ("user_id", "in", expiring.user_id.ids),
                ("qualification_id", "in", expiring.qualification_id.ids),
                "|",
                ("date_to", "=", False),
                ("date_to", ">", today),
            ]
        )

        def renewed(cert):
            return any(
                r.user_id == cert.user_id
                and r.qualification_id == cert.qualification_id
                and r._is_valid_on(cert.date_to + timedelta(days=1))
                for r in renewals
            )

        expiring = expiring.filtered(lambda c: not renewed(c))
        managers = self.env["spa.protocol"]._spa_group_users(
            "spa_session_protocol.group_spa_manager", expiring.user_id.company_id
        )
        activity_type = self.env.ref(
            "spa_session_protocol.mail_activity_type_spa_certification_expiring"
        )
        vals_list = []
        for cert in expiring:
            manager = managers.get(cert.user_id.company_id.id)
            for user in (cert.user_id | manager) if manager else cert.user_id:
                vals_list.append(
                    {
                        "res_id": cert.id,
                        "activity_type_id": activity_type.id,
                        "user_id": user.id,
                        "date_deadline": cert.date_to,
                        "summary": self.env._(
                            "Certification %(qualification)s of %(therapist)s "
                            "ends on %(date)s",
                            qualification=cert.qualification_id.name,
                            therapist=cert.user_id.name,
                            date=cert.date_to,
                        ),
                        "note": self.env._(
                            "Renew the certification, or the therapist can no "
                            "longer perform the steps that need it."
                        ),
                    }
                )
        self.env["mail.activity"]._spa_create_once(self._name, vals_list)
