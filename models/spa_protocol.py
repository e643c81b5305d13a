import hashlib
import json

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .spa_write_policy_mixin import ROLE_MANAGER

PROTOCOL_FIELDS = (
    "name",
    "code",
    "sequence",
    "active",
    "company_id",
    "description",
    "consent_text",
    "step_ids",
    "min_checkin_count",
    "pain_stop_threshold",
    "consent_validity_days",
    "responsible_id",
    "aftercare_template_id",
    "referral_template_id",
    "intake_survey_id",
    "intake_validity_days",
)


class SpaProtocol(models.Model):
    _name = "spa.protocol"
    _description = "Spa Session Protocol"
    _inherit = ["spa.write.policy.mixin", "mail.thread"]

    # Default-deny (see spa.write.policy.mixin): managers configure protocols.
    _spa_create_policy = {ROLE_MANAGER: PROTOCOL_FIELDS}
    _spa_write_policy = {ROLE_MANAGER: {"*": PROTOCOL_FIELDS}}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}
    _order = "sequence, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="Short unique code, used in imports and reports.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Leave empty to share the protocol between companies.",
    )
    description = fields.Html(translate=True)
    consent_text = fields.Html(
        translate=True,
        help="What the client reads and agrees to. Changing it requires new consents.",
    )
    # Stored: read with the protocol (no query of its own when a session
    # completes); recomputed whenever any translation of the text changes.
    consent_text_version = fields.Char(
        compute="_compute_consent_text_version",
        store=True,
        help="Fingerprint of the consent text in every language: a consent "
        "covers the protocol while it agreed to this version.",
    )
    step_ids = fields.One2many(
        "spa.protocol.step", "protocol_id", string="Steps", copy=True
    )
    step_count = fields.Integer(compute="_compute_step_count")
    sensitive_region_ids = fields.Many2many(
        "spa.body.region",
        string="Sensitive Regions",
        compute="_compute_sensitive_region_ids",
        help="The sensitive regions the protocol's steps touch: the client agrees "
        "to each of them separately, in writing or by signing.",
    )
    min_checkin_count = fields.Integer(
        string="Minimum Check-ins",
        default=2,
        tracking=True,
        help="Feedback check-ins a session must log at least before it can be "
        "completed.",
    )
    pain_stop_threshold = fields.Integer(
        default=7,
        tracking=True,
        help="A check-in with a pain level at or above this value (0-10) stops the "
        "session "
        "and a referral to a healthcare professional is recommended.",
    )
    consent_validity_days = fields.Integer(
        default=365,
        tracking=True,
        help="Days a consent stays valid when given without an explicit end date.",
    )
    intake_survey_id = fields.Many2one(
        "survey.survey",
        string="Health Intake",
        ondelete="restrict",
        tracking=True,
        help="The health questionnaire a client answers before a session of this "
        "protocol. Left empty: no intake is needed.",
    )
    intake_validity_days = fields.Integer(
        string="Intake Validity (Days)",
        default=30,
        tracking=True,
        help="A session starts only with an intake of its client finished no more "
        "than this many days before.",
    )
    session_ids = fields.One2many("spa.session", "protocol_id", string="Sessions")
    responsible_id = fields.Many2one(
        "res.users",
        string="Follow-up Responsible",
        ondelete="set null",
        domain=lambda self: [
            (
                "groups_id",
                "in",
                self.env.ref("spa_session_protocol.group_spa_manager").id,
            )
        ],
        help="Manager who follows up sessions stopped with a referral. "
        "Left empty: the first manager of the session's company.",
    )
    aftercare_template_id = fields.Many2one(
        "mail.template",
        string="Aftercare Email",
        domain=[("model", "=", "spa.session")],
        default=lambda self: self.env.ref(
            "spa_session_protocol.mail_template_aftercare", raise_if_not_found=False
        ),
        ondelete="set null",
        help="Sent to the client when a session of this protocol is done "
        "(aftercare instructions). Leave empty to send none.",
    )
    referral_template_id = fields.Many2one(
        "mail.template",
        string="Referral Email",
        domain=[("model", "=", "spa.session")],
        default=lambda self: self.env.ref(
            "spa_session_protocol.mail_template_referral", raise_if_not_found=False
        ),
        ondelete="set null",
        help="Sent to the client when a session of this protocol is stopped with a "
        "referral to a healthcare professional: what happened and whom to see. "
        "Leave empty to send none.",
    )

    _sql_constraints = [
        (
            "code_company_uniq",
            "UNIQUE(code, company_id)",
            "The protocol code must be unique per company.",
        ),
        (
            "min_checkin_count_check",
            "CHECK(min_checkin_count >= 0)",
            "The minimum check-in count cannot be negative.",
        ),
        (
            "pain_stop_threshold_check",
            "CHECK(pain_stop_threshold BETWEEN 0 AND 10)",
            "The pain stop threshold must be between 0 and 10.",
        ),
        (
            "consent_validity_days_check",
            "CHECK(consent_validity_days > 0)",
            "The consent validity must be at least one day.",
        ),
        (
            "intake_validity_days_check",
            "CHECK(intake_validity_days >= 0)",
            "The intake validity cannot be negative.",
        ),
    ]

    def _spa_intake_answer_for(self, partner):
        """The client's intake to fill in for this protocol's survey: their
        unfinished one, else a new one (``survey.user_input``, sudo: clients
        and the front desk have no right on answers; the caller checked the
        link or the role). The partner is set: the intake is theirs."""
        self.ensure_one()
        survey_sudo = self.sudo().intake_survey_id
        if not survey_sudo:
            raise UserError(
                self.env._(
                    "Protocol '%(protocol)s' has no health intake.",
                    protocol=self.name,
                )
            )
        UserInput = self.env["survey.user_input"].sudo()
        pending = UserInput.search(
            [
                ("survey_id", "=", survey_sudo.id),
                ("partner_id", "=", partner.id),
                ("state", "in", ("new", "in_progress")),
                ("test_entry", "=", False),
            ],
            order="id desc",
            limit=1,
        )
        if pending:
            return pending
        # The client's own answer even if they have a user account: the
        # answer is keyed on the partner, whoever fills it in.
        return survey_sudo._create_answer(partner=partner, check_attempts=False)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        # sudo: any session or consent that relies on the protocol counts.
        used = self.filtered(
            lambda p: (
                p.sudo().session_ids
                or self.env["spa.consent"]
                .sudo()
                .search_count([("protocol_ids", "in", p.ids)], limit=1)
            )
        )
        if used:
            raise UserError(
                self.env._(
                    "%(protocols)s have sessions or consents: archive them instead "
                    "of deleting them.",
                    protocols=", ".join(used.mapped("name")),
                )
            )

    @api.depends("step_ids.body_region_ids.is_sensitive")
    def _compute_sensitive_region_ids(self):
        for protocol in self:
            protocol.sensitive_region_ids = protocol.step_ids.body_region_ids.filtered(
                "is_sensitive"
            ).sorted()

    @api.depends("step_ids")
    def _compute_step_count(self):
        for protocol in self:
            protocol.step_count = len(protocol.step_ids)

    @api.depends("consent_text")
    def _compute_consent_text_version(self):
        """One query for the batch, from the stored value of every language
        (translations written through ``update_field_translations`` bypass
        ``write`` but mark the field modified, which recomputes this)."""
        origins = self._origin
        versions = dict.fromkeys(origins.ids)
        if origins.ids:
            origins.flush_recordset(["consent_text"])
            self.env.cr.execute(
                SQL(
                    "SELECT id, consent_text FROM spa_protocol WHERE id IN %s",
                    tuple(origins.ids),
                )
            )
            for protocol_id, stored in self.env.cr.fetchall():
                versions[protocol_id] = self._consent_text_digest(stored)
        for protocol in self:
            # A protocol in a form (a new record) is judged by its original.
            protocol.consent_text_version = versions.get(protocol._origin.id) or False

    def _consent_text_version(self):
        """Fingerprint of the current consent text in every language, or None
        when the protocol has no consent text.

        Changing any translation changes the version, as changing the source
        text does. A translation equal to the source text adds nothing:
        without translations, the version is the digest of the source text.
        """
        self.ensure_one()
        return self.consent_text_version or None

    @api.model
    def _consent_text_digest(self, stored):
        """The version of one stored translated value (``{lang: html}``)."""
        stored = stored or {}
        source = stored.get("en_US") or ""
        if not str(source).strip():
            # No text in the source language: fall back on any language.
            source = next((v for v in stored.values() if v and str(v).strip()), "")
        if not str(source).strip():
            return None
        translations = {
            lang: text
            for lang, text in stored.items()
            if lang != "en_US" and (text or "") != source
        }
        if not translations:
            return hashlib.sha256(str(source).encode()).hexdigest()
        payload = json.dumps(
            {"en_US": source, **translations}, sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def _spa_responsible(self, company):
        """The manager who follows up this protocol's stopped sessions in
        ``company``: the responsible when set and still a manager of that
        company, else the company's first manager."""
        self.ensure_one()
        responsible = self.responsible_id
        if (
            responsible.active
            and company in responsible.company_ids
            and responsible.has_group("spa_session_protocol.group_spa_manager")
        ):
            return responsible
        return self._spa_group_users(
            "spa_session_protocol.group_spa_manager", company
        ).get(company.id, self.env["res.users"])

    @api.model
    def _spa_group_users(self, group_xmlid, companies):
        """``{company_id: user}``: the first active internal user (by id) of
        the group in each of ``companies``, in one query. The spa's own staff
        come first: a system administrator (who holds every group, the spa
        ones included) is chosen only when the company has nobody else."""
        group = self.env.ref(group_xmlid)
        # sudo: choosing whom to assign needs every user of the group, not
        # only those the current user may read.
        users_sudo = (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("groups_id", "in", group.id),
                    ("share", "=", False),
                    ("company_ids", "in", companies.ids),
                ],
                order="id",
            )
        )
        administrators = self.env.ref("base.group_system").sudo().users
        result = {}
        for user in users_sudo.sorted(lambda u: (u in administrators, u.id)):
            for company in user.company_ids & companies:
                result.setdefault(company.id, user)
        return {cid: user.with_env(self.env) for cid, user in result.items()}

    def _spa_front_desk_assignees(self, records, preferred):
        """``{record: user}``: for each of ``records`` (which have a
        ``company_id``), the user ``preferred(record)`` when they are an active
        front-desk user, else the first front-desk user of the record's
        company; records with neither are left out. One query for the batch."""
        group = "spa_session_protocol.group_spa_front_desk"
        front_desk = self.env.ref(group).users
        defaults = self._spa_group_users(group, records.company_id)
        assignees = {}
        for record in records:
            user = preferred(record)
            if not (user.active and user in front_desk):
                user = defaults.get(record.company_id.id)
            if user:
                assignees[record] = user
        return assignees

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        for protocol, vals in zip(self, vals_list, strict=False):
            vals.setdefault("code", f"{protocol.code}-copy")
            vals.setdefault("name", self.env._("%(name)s (copy)", name=protocol.name))
        return vals_list
