from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import session_rules


class SpaConsent(models.Model):
    _name = "spa.consent"
    _description = "Spa Client Consent"
    _inherit = ["spa.evidence.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "given_at desc, id desc"
    _check_company_auto = True

    _spa_server_fields = (
        "state",
        "given_at",
        "recorded_by_id",
        "withdrawn_at",
        "withdrawn_by_id",
        "consent_text",
        "consent_text_versions",
    )
    _spa_server_defaults = {"state": "draft"}

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default="/"
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Client",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
    )
    protocol_ids = fields.Many2many(
        "spa.protocol",
        string="Protocols",
        required=True,
        check_company=True,
        tracking=True,
        help="The protocols the client consents to.",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    state = fields.Selection(
        [("draft", "Draft"), ("given", "Given"), ("withdrawn", "Withdrawn")],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        tracking=True,
    )
    method = fields.Selection(
        [
            ("verbal", "Verbal"),
            ("written", "Written"),
            ("signature", "Drawn signature"),
        ],
        required=True,
        default="verbal",
        tracking=True,
    )
    signature = fields.Binary(
        copy=False, attachment=True, help="The client's drawn signature."
    )
    signed_by = fields.Char(copy=False, help="Name of the person who signed.")
    given_at = fields.Datetime(readonly=True, copy=False, index=True, tracking=True)
    valid_until = fields.Date(
        copy=False,
        tracking=True,
        help="Left empty, it is set when the consent is given: the given date plus the "
        "shortest "
        "consent validity of its protocols.",
    )
    recorded_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    withdrawn_at = fields.Datetime(readonly=True, copy=False, tracking=True)
    withdrawn_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    withdraw_reason = fields.Text(string="Withdrawal Reason", copy=False)
    note = fields.Text()
    consent_text = fields.Html(
        string="Agreed Text",
        readonly=True,
        copy=False,
        sanitize=True,
        help="Copy of the text agreed to.",
    )
    consent_text_versions = fields.Json(readonly=True, copy=False)
    is_valid_today = fields.Boolean(compute="_compute_is_valid_today")
    session_ids = fields.One2many("spa.session", "consent_id", string="Sessions")

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------

    @api.depends("state", "valid_until")
    def _compute_is_valid_today(self):
        today = fields.Date.context_today(self)
        for consent in self:
            consent.is_valid_today = (
                consent.state == "given"
                and consent.valid_until
                and consent.valid_until >= today
            )

    @api.depends("name", "partner_id")
    def _compute_display_name(self):
        for consent in self:
            consent.display_name = (
                f"{consent.name} – {consent.partner_id.name}"
                if consent.partner_id
                else consent.name
            )

    # ------------------------------------------------------------------
    # CRUD guards
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        to_give = []
        for index, vals in enumerate(vals_list):
            # An import of consents "given" is a giving: it goes through
            # action_give() and its checks, and the server stamps who and when.
            if vals.get("state") == "given":
                vals.pop("state")
                to_give.append(index)
        self._spa_check_server_vals_create(vals_list)
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = (
                    self.env["ir.sequence"].next_by_code("spa.consent") or "/"
                )
        consents = super().create(vals_list)
        if to_give:
            consents.browse([consents[i].id for i in to_give]).action_give()
        return consents

    def write(self, vals):
        self._spa_check_server_vals_write(vals)
        frozen = self.filtered(lambda c: c.state != "draft")
        if frozen:
            changed = frozen._spa_changed_fields(
                vals, set(vals) - self._spa_technical_fields()
            )
            if changed:
                raise UserError(
                    self.env._(
                        "A given or withdrawn consent is evidence and cannot be edited "
                        "(only withdrawn): "
                        "%(consents)s. Fields: %(fields)s.",
                        consents=", ".join(frozen.mapped("display_name")),
                        fields=self._spa_field_labels(changed),
                    )
                )
        return super().write(vals)

    def _spa_technical_fields(self):
        """Fields the framework itself writes on any record (chatter,
        activities), which do not change what the consent proves, and the
        withdrawal reason while the consent is still given."""
        technical = set()
        for mixin in ("mail.thread", "mail.activity.mixin"):
            technical |= set(self.env[mixin]._fields)
        technical -= {"display_name"}
        if all(c.state == "given" for c in self):
            technical.add("withdraw_reason")
        return technical

    def _write_server(self, vals):
        """Write fields that only the consent's actions set."""
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_evidence(self):
        evidence = self.filtered(lambda c: c.state != "draft")
        if evidence:
            raise UserError(
                self.env._(
                    "Consents that were given are evidence and cannot be deleted: "
                    "%(consents)s. "
                    "Withdraw them instead.",
                    consents=", ".join(evidence.mapped("display_name")),
                )
            )

    @api.constrains("valid_until", "given_at")
    def _check_valid_until(self):
        for consent in self:
            if (
                consent.valid_until
                and consent.given_at
                and consent.valid_until < consent.given_at.date()
            ):
                raise ValidationError(
                    self.env._(
                        "Consent %(consent)s cannot end (%(until)s) before it was "
                        "given.",
                        consent=consent.display_name,
                        until=consent.valid_until,
                    )
                )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_give(self):
        """Give the consents: the server records who and when."""
        not_draft = self.filtered(lambda c: c.state != "draft")
        if not_draft:
            raise UserError(
                self.env._(
                    "Only draft consents can be given: %(consents)s.",
                    consents=", ".join(not_draft.mapped("display_name")),
                )
            )
        today = fields.Date.context_today(self)
        now = fields.Datetime.now()
        errors = []
        for consent in self:
            missing = []
            if not consent.partner_id:
                missing.append(self.env._("client"))
            if not consent.protocol_ids:
                missing.append(self.env._("protocols"))
            if not consent.method:
                missing.append(self.env._("method"))
            if consent.method == "signature" and not consent.signature:
                missing.append(self.env._("signature"))
            if missing:
                errors.append(
                    self.env._(
                        "%(consent)s: missing %(items)s",
                        consent=consent.display_name,
                        items=", ".join(missing),
                    )
                )
            elif consent.valid_until and consent.valid_until < today:
                errors.append(
                    self.env._(
                        "%(consent)s: its end date %(until)s is already past",
                        consent=consent.display_name,
                        until=consent.valid_until,
                    )
                )
        if errors:
            raise UserError(
                self.env._(
                    "The consent cannot be given:\n%(errors)s", errors="\n".join(errors)
                )
            )
        for consent in self:
            vals = {
                "state": "given",
                "given_at": now,
                "recorded_by_id": self.env.user.id,
                "consent_text": consent._agreed_text(),
                "consent_text_versions": {
                    str(protocol.id): protocol._consent_text_version()
                    for protocol in consent.protocol_ids
                },
            }
            if not consent.valid_until:
                days = min(consent.protocol_ids.mapped("consent_validity_days"))
                vals["valid_until"] = today + timedelta(days=days)
            consent._write_server(vals)
        return True

    def _agreed_text(self):
        self.ensure_one()
        texts = [
            f"<h3>{protocol.name}</h3>{protocol.consent_text}"
            for protocol in self.protocol_ids.with_context(
                lang=self.partner_id.lang or self.env.lang
            )
            if protocol.consent_text
        ]
        return "".join(texts) or False

    def action_withdraw(self):
        """Withdraw the consents at once."""
        not_given = self.filtered(lambda c: c.state != "given")
        if not_given:
            raise UserError(
                self.env._(
                    "Only given consents can be withdrawn: %(consents)s.",
                    consents=", ".join(not_given.mapped("display_name")),
                )
            )
        self._write_server(
            {
                "state": "withdrawn",
                "withdrawn_at": fields.Datetime.now(),
                "withdrawn_by_id": self.env.user.id,
            }
        )
        return True

    # ------------------------------------------------------------------
    # Rule facts
    # ------------------------------------------------------------------

    def _to_facts(self):
        """Plain facts of each consent, for the rule functions."""
        facts = {}
        for consent in self:
            versions = consent.consent_text_versions or {}
            facts[consent.id] = session_rules.ConsentFacts(
                id=consent.id,
                state=consent.state,
                given_at=consent.given_at or None,
                valid_until=consent.valid_until or None,
                protocol_ids=frozenset(consent.protocol_ids.ids),
                withdrawn_at=consent.withdrawn_at or None,
                text_versions={int(k): v for k, v in versions.items()},
            )
        return facts
