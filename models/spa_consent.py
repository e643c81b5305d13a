import base64
import binascii
import hashlib
import io
import json
import uuid
from collections import defaultdict
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from markupsafe import Markup
from PIL import Image

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression

from ..tools import session_rules, signature_ink
from .spa_write_policy_mixin import ROLE_FRONT_DESK, ROLE_MANAGER, ROLE_THERAPIST

# What the front desk, a therapist or a manager fills in on a draft consent.
CONSENT_INPUT_FIELDS = (
    "partner_id",
    "protocol_ids",
    "company_id",
    "method",
    "signature",
    "signed_by",
    "valid_until",
    "note",
    "link_expires_on",
    "body_region_ids",
)

# DESIGN "Signatures": PNG or JPEG images of at most 1 MiB.
SIGNATURE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
SIGNATURE_MAX_BYTES = 1024 * 1024

# Where the signing link sent to the client stands (spa.consent.link_state and
# the appointment's calendar.event.spa_consent_link_state).
LINK_STATES = [
    ("ready", "Link ready, not sent"),
    ("queued", "Link email queued"),
    ("sent", "Link sent: awaiting signature"),
    ("failed", "Link email failed"),
    ("signed", "Signed from the link"),
    ("void", "Link void: consent recorded another way"),
    ("expired", "Link expired"),
]
# mail.notification states of an email not delivered (yet, or ever).
MAIL_FAILED = ("exception", "bounce")
MAIL_QUEUED = ("ready", "process", "pending")


# What the rules weigh of a consent (``_to_facts``), read at once.
SPA_CONSENT_FACT_FIELDS = [
    "name",
    "partner_id",
    "state",
    "given_at",
    "valid_until",
    "protocol_ids",
    "withdrawn_at",
    "consent_text_versions",
    "company_id",
    "method",
    "body_region_ids",
]


def _signature_bytes(signature):
    """The picture of a base64 ``signature`` (empty when it is not base64)."""
    try:
        return base64.b64decode(signature or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return b""


class SpaConsent(models.Model):
    _name = "spa.consent"
    _description = "Spa Client Consent"
    _inherit = [
        "spa.write.policy.mixin",
        "portal.mixin",
        "mail.thread",
        "mail.activity.mixin",
    ]
    _order = "given_at desc, id desc"
    _check_company_auto = True

    # Default-deny (see spa.write.policy.mixin): a draft consent is filled in
    # by the front desk, a therapist or a manager; giving and withdrawing are
    # the actions'; a given consent is evidence: only the reason of a coming
    # withdrawal may still be noted. Its signature attachment follows (see
    # ir.attachment).
    _spa_create_policy = {
        ROLE_FRONT_DESK: CONSENT_INPUT_FIELDS,
        ROLE_THERAPIST: CONSENT_INPUT_FIELDS,
        ROLE_MANAGER: CONSENT_INPUT_FIELDS,
    }
    _spa_create_constants = {"state": "draft", "name": "/"}
    _spa_write_policy = {
        role: {
            "draft": CONSENT_INPUT_FIELDS,
            "given": ("withdraw_reason",),
        }
        for role in (ROLE_FRONT_DESK, ROLE_THERAPIST, ROLE_MANAGER)
    }
    _spa_unlink_policy = {
        ROLE_FRONT_DESK: ("draft",),
        ROLE_MANAGER: ("draft",),
    }

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
    body_region_ids = fields.Many2many(
        "spa.body.region",
        # An archived region stays what the record names (rule 8, evidence).
        context={"active_test": False},
        string="Sensitive Regions Agreed",
        domain=[("is_sensitive", "=", True)],
        copy=False,
        tracking=True,
        help="The sensitive regions the client agreed to, each separately. A step "
        "touching a sensitive region needs a written or signed consent naming it.",
    )
    available_region_ids = fields.Many2many(
        "spa.body.region",
        string="Sensitive Regions of the Protocols",
        compute="_compute_available_region_ids",
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
    withdrawn_via = fields.Selection(
        [("staff", "By the staff"), ("portal", "By the client on the portal")],
        string="Withdrawn Through",
        readonly=True,
        copy=False,
        help="Who recorded the withdrawal: a member of staff, or the client "
        "themselves from their portal.",
    )
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
    link_expires_on = fields.Date(
        string="Link Valid Until",
        copy=False,
        help="Last day the client can sign this consent from the link sent to them.",
    )
    link_voided_at = fields.Datetime(
        string="Link Voided On",
        readonly=True,
        copy=False,
        help="When the link sent to the client stopped offering to sign: a "
        "consent covering the same protocols was given another way (at the desk, "
        "on the tablet).",
    )
    link_state = fields.Selection(
        LINK_STATES,
        string="Signing Link",
        compute="_compute_link_state",
        help="Where the link sent to the client to sign this consent stands: "
        "ready, queued, sent and awaiting signature, failed (the email could not "
        "be delivered), signed, void or expired.",
    )
    link_failure = fields.Char(
        string="Link Email Failure",
        compute="_compute_link_state",
        help="Why the last email of the link could not be delivered.",
    )
    agreement_text = fields.Html(
        string="Text to Read",
        compute="_compute_agreement_text",
        sanitize=False,
        help="What the client agrees to: the consent text of the protocols and "
        "the sensitive areas ticked, read to the client before the consent is "
        "recorded (once given, the copy kept).",
    )
    signature_anonymised_at = fields.Datetime(
        readonly=True,
        copy=False,
        help="When the drawn signature was removed after the retention period.",
    )

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------

    @api.depends("state", "valid_until", "company_id")
    def _compute_is_valid_today(self):
        """Given and still valid on the company's day (``session_rules``)."""
        facts = self._to_facts()
        today = (self.company_id | self.env.company)._spa_today_by_company()
        for consent in self:
            company = consent.company_id or self.env.company
            consent.is_valid_today = session_rules.consent_valid_on(
                facts[consent.id], today[company.id]
            )

    @api.depends(
        "state",
        "access_token",
        "link_voided_at",
        "link_expires_on",
        "valid_until",
        "recorded_by_id",
        "message_ids",
    )
    def _compute_link_state(self):
        """The signing link's state, in one read of the link emails'
        delivery (``mail.notification``) for the whole set."""
        self.link_state = False
        self.link_failure = False
        linked = self.filtered(lambda c: c.access_token or c.link_voided_at)
        if not linked:
            return
        # sudo: whether the link's email reached the client is no clinical
        # detail, and the staff may not read other people's notifications.
        notifications_sudo = (
            self.env["mail.notification"]
            .sudo()
            .search(
                [
                    ("mail_message_id.model", "=", self._name),
                    ("mail_message_id.res_id", "in", linked.ids),
                    ("notification_type", "=", "email"),
                ],
                order="id desc",
            )
        )
        client_of = {consent.id: consent.partner_id for consent in linked}
        last_email = {}
        for notification in notifications_sudo:
            res_id = notification.mail_message_id.res_id
            if notification.res_partner_id == client_of.get(res_id):
                last_email.setdefault(res_id, notification)
        for consent in linked:
            email = last_email.get(consent.id)
            if consent.state == "given":
                # Signed online: recorded by the visitor, never by the staff.
                signed_online = consent.method == "signature" and not (
                    consent.recorded_by_id and consent.recorded_by_id._is_internal()
                )
                consent.link_state = "signed" if signed_online else False
            elif consent.state == "withdrawn":
                consent.link_state = False
            elif consent.link_voided_at:
                consent.link_state = "void"
            elif consent._portal_status() == "expired":
                consent.link_state = "expired"
            elif not email:
                consent.link_state = "ready"
            elif email.notification_status in MAIL_FAILED:
                consent.link_state = "failed"
                consent.link_failure = email.failure_reason or dict(
                    email._fields["failure_type"]._description_selection(self.env)
                ).get(email.failure_type, False)
            elif email.notification_status in MAIL_QUEUED:
                consent.link_state = "queued"
            else:
                consent.link_state = "sent"

    @api.depends(
        "state", "consent_text", "partner_id", "protocol_ids", "body_region_ids"
    )
    def _compute_agreement_text(self):
        for consent in self:
            if consent.state != "draft":
                consent.agreement_text = consent.consent_text
            elif consent.protocol_ids:
                consent.agreement_text = consent._agreed_text()
            else:
                consent.agreement_text = False

    @api.depends("protocol_ids")
    def _compute_available_region_ids(self):
        for consent in self:
            consent.available_region_ids = consent.protocol_ids.sensitive_region_ids

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
            self._spa_check_signature(vals.get("signature"))
            # An import of consents "given" is a giving: it goes through
            # action_give() and its checks, and the server stamps who and when.
            if vals.get("state") == "given":
                vals.pop("state")
                to_give.append(index)
        consents = super().create(vals_list)
        if to_give:
            consents.browse([consents[i].id for i in to_give]).action_give()
        return consents

    @api.model
    def _spa_prepare_create_vals(self, vals_list):
        vals_list = super()._spa_prepare_create_vals(vals_list)
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self._spa_sequence().next_by_code("spa.consent") or "/"
        return vals_list

    def write(self, vals):
        # Before the attachment layer decodes it (an unreadable value would
        # fail there without a clear message).
        self._spa_check_signature(vals.get("signature"))
        return super().write(vals)

    def _spa_policy_state(self):
        return {consent.id: consent.state for consent in self}

    @api.ondelete(at_uninstall=False)
    def _unlink_except_evidence(self):
        evidence = self.filtered(lambda c: c.state != "draft")
        if evidence:
            raise UserError(
                self.env._(
                    "Consents that were given are evidence and cannot be deleted: "
                    "%(consents)s. Withdraw them instead.",
                    consents=", ".join(evidence.mapped("display_name")),
                )
            )

    @api.constrains("signature")
    def _check_signature_image(self):
        """A drawn signature is a PNG or JPEG image of at most 1 MiB."""
        for consent in self:
            # bin_size off: the constraint reads the image, not its size label.
            consent._spa_check_signature(consent.with_context(bin_size=False).signature)

    @api.model
    def _spa_is_image(self, image):
        """Whether ``image`` decodes as a whole PNG or JPEG picture (not just
        its first bytes: markup after a JPEG marker is no image)."""
        try:
            with Image.open(io.BytesIO(image)) as picture:
                if picture.format not in ("PNG", "JPEG"):
                    return False
                picture.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return False
        return True

    def _spa_check_signature(self, data):
        """Refuse ``data`` (base64) unless it is a PNG or JPEG image of at
        most 1 MiB. Checked on the values too, before the attachment layer
        tries to decode them."""
        if not data:
            return
        try:
            image = base64.b64decode(data, validate=True)
        except (binascii.Error, TypeError, ValueError):
            image = b""
        name = self.display_name if len(self) == 1 else self.env._("new")
        not_an_image = ValidationError(
            self.env._(
                "The signature of consent %(consent)s is not a PNG or JPEG image.",
                consent=name,
            )
        )
        if not image.startswith(SIGNATURE_MAGIC):
            raise not_an_image
        if len(image) > SIGNATURE_MAX_BYTES:
            raise ValidationError(
                self.env._(
                    "The signature of consent %(consent)s is too large "
                    "(%(size)s KiB; at most %(max)s KiB).",
                    consent=name,
                    size=len(image) // 1024,
                    max=SIGNATURE_MAX_BYTES // 1024,
                )
            )
        if not self._spa_is_image(image):
            raise not_an_image

    @api.constrains("body_region_ids")
    def _check_body_regions_sensitive(self):
        """A consent names the sensitive regions the client agreed to: the
        other regions need no consent of their own."""
        for consent in self:
            plain = consent.body_region_ids.filtered(lambda r: not r.is_sensitive)
            if plain:
                raise ValidationError(
                    self.env._(
                        "Consent %(consent)s can only name sensitive regions; "
                        "%(regions)s need no consent of their own.",
                        consent=consent.display_name,
                        regions=", ".join(plain.mapped("name")),
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
        # Today is the company's day, never the caller's.
        today_by_company = self.company_id._spa_today_by_company()
        now = fields.Datetime.now()
        errors = []
        for consent in self:
            today = today_by_company[consent.company_id.id]
            missing = []
            if not consent.partner_id:
                missing.append(self.env._("client"))
            if not consent.protocol_ids:
                missing.append(self.env._("protocols"))
            if not consent.method:
                missing.append(self.env._("method"))
            signature = (
                consent.with_context(bin_size=False).signature
                if consent.method == "signature"
                else False
            )
            if consent.method == "signature" and not signature:
                missing.append(self.env._("signature"))
            if missing:
                errors.append(
                    self.env._(
                        "%(consent)s: missing %(items)s",
                        consent=consent.display_name,
                        items=", ".join(missing),
                    )
                )
            elif signature and (
                problem := consent._spa_signature_ink_problem(signature)
            ):
                errors.append(
                    self.env._(
                        "%(consent)s: %(problem)s",
                        consent=consent.display_name,
                        problem=problem,
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
                today = today_by_company[consent.company_id.id]
                vals["valid_until"] = today + timedelta(days=days)
            consent._write_server(vals)
        self._spa_void_open_links()
        return True

    def _spa_void_open_links(self):
        """The client's open signing links that these given consents make
        pointless (same client and company, protocols covered) stop offering
        to sign: their page then says the consent is recorded."""
        given = self.filtered(lambda c: c.state == "given")
        if not given:
            return
        # sudo: every open link of the client is voided, whoever sent it.
        links_sudo = self.sudo().search(
            [
                ("partner_id", "in", given.partner_id.ids),
                ("company_id", "in", given.company_id.ids),
                ("state", "=", "draft"),
                ("access_token", "!=", False),
                ("link_voided_at", "=", False),
                ("id", "not in", given.ids),
            ]
        )
        now = fields.Datetime.now()
        for link_sudo in links_sudo:
            covering = given.filtered(
                lambda g, link=link_sudo: (
                    g.partner_id == link.partner_id
                    and g.company_id == link.company_id
                    and link.protocol_ids <= g.protocol_ids
                )
            )[:1]
            if not covering:
                continue
            link_sudo._write_server({"link_voided_at": now})
            link_sudo._message_log(
                body=self.env._(
                    "Signing link void: consent %(consent)s was recorded "
                    "(%(method)s) by %(user)s.",
                    consent=covering.name,
                    method=covering._spa_method_label(),
                    user=self.env.user.name,
                )
            )

    def _spa_method_label(self):
        """How the consent was recorded, as the user reads it."""
        self.ensure_one()
        return dict(self._fields["method"]._description_selection(self.env))[
            self.method
        ]

    def action_spa_give_at_desk(self):
        """The client read the text and agrees: the consent is given (the
        same ``action_give``, every check included) and the appointment it
        was recorded from says so in its chatter."""
        self.ensure_one()
        self.action_give()
        event_id = self.env.context.get("spa_event_id")
        if isinstance(event_id, int):
            event = self.env["calendar.event"].browse(event_id).exists()
            # Only the client's own appointment takes the line.
            if event and event.spa_client_id == self.partner_id:
                event.message_post(
                    body=self.env._(
                        "Consent %(consent)s recorded at the desk (%(method)s) by "
                        "%(user)s.",
                        consent=self.name,
                        method=self._spa_method_label(),
                        user=self.env.user.name,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        return {"type": "ir.actions.act_window_close"}

    def _agreed_text(self):
        """The consent text of the protocols, in the client's language (the
        copy kept at giving is what the client read)."""
        self.ensure_one()
        lang = self.partner_id.lang or self.env.lang
        texts = [
            Markup("<h3>%s</h3>%s") % (protocol.name, protocol.consent_text)
            for protocol in self.protocol_ids.with_context(lang=lang)
            if protocol.consent_text
        ]
        regions = self.body_region_ids.with_context(lang=lang)
        if regions:
            # Each sensitive region was agreed separately: the lines read.
            items = Markup().join(
                Markup("<li>%s: %s</li>") % (region.name, region.consent_line or "")
                for region in regions
            )
            heading = self.with_context(lang=lang).env._(
                "Sensitive areas I agree to have treated"
            )
            texts.append(Markup("<h4>%s</h4><ul>%s</ul>") % (heading, items))
        return Markup().join(texts) or False

    def action_withdraw(self):
        """Withdraw the consents at once."""
        return self._spa_withdraw("staff")

    def _action_withdraw_from_portal(self):
        """The client withdrew their consent from their portal: at once, as
        themselves (``withdrawn_by_id`` is their portal user), recorded as
        done on the portal. The portal route checked, as the client, that
        the consent is theirs (record rules) before calling this."""
        self.ensure_one()
        if self.env.user._is_internal():
            raise UserError(
                self.env._(
                    "Staff withdraw a consent from the consent form, not from the "
                    "client's portal."
                )
            )
        self._spa_withdraw("portal")
        self.message_post(
            body=self.env._(
                "Consent withdrawn by the client on their portal (%(user)s).",
                user=self.env.user.name,
            ),
            author_id=self.partner_id.id,
        )
        return True

    def _spa_withdraw(self, via):
        not_given = self.filtered(lambda c: c.state != "given")
        if not_given:
            raise UserError(
                self.env._(
                    "Only given consents can be withdrawn: %(consents)s.",
                    consents=", ".join(not_given.mapped("display_name")),
                )
            )
        # Wait for a start or completion holding these consents, then take
        # the time: the withdrawal is never stamped before what it followed.
        self.flush_recordset()
        self.env.cr.execute(
            "SELECT id FROM spa_consent WHERE id IN %s FOR UPDATE", [tuple(self.ids)]
        )
        self._write_server(
            {
                "state": "withdrawn",
                "withdrawn_at": fields.Datetime.now(),
                "withdrawn_by_id": self.env.user.id,
                "withdrawn_via": via,
            }
        )
        return True

    # ------------------------------------------------------------------
    # Rule facts
    # ------------------------------------------------------------------

    @api.model
    def _spa_badge_facts(self, partners, protocols, with_links=False):
        """``{partner id: [ConsentFacts]}``: the consents the consent badge
        weighs for these clients and protocols (``session_rules.badge_status``
        over them: the appointment's badge and the tablet's), read in one
        batch. ``with_links``: ``(facts, links)``, with the consents of these
        clients and protocols that hold a signing link (superuser, latest
        first), found by the same query (the appointment reads both
        badges)."""
        domain = [
            ("partner_id", "in", partners.ids),
            ("protocol_ids", "in", protocols.ids),
        ]
        fnames = SPA_CONSENT_FACT_FIELDS
        if with_links:
            domain += ["|", ("state", "!=", "draft"), ("access_token", "!=", False)]
            fnames = [*fnames, "access_token"]
        else:
            domain.append(("state", "!=", "draft"))
        # sudo: the badge tells the front desk whether a consent covers the
        # appointment; reading the consents' validity is not clinical detail.
        consents_sudo = self.sudo().search_fetch(domain, fnames)
        weighed_sudo = consents_sudo.filtered(lambda c: c.state != "draft")
        facts = weighed_sudo._to_facts()
        by_partner = defaultdict(list)
        for consent in weighed_sudo:
            by_partner[consent.partner_id.id].append(facts[consent.id])
        if not with_links:
            return by_partner
        links_sudo = consents_sudo.filtered("access_token").sorted("id", reverse=True)
        return by_partner, links_sudo

    def _to_facts(self):
        """Plain facts of each consent, for the rule functions."""
        # What the rules weigh, at once (nothing when already in cache; a
        # consent in a form is read from its values).
        if all(isinstance(cid, int) for cid in self._ids):
            self.fetch(SPA_CONSENT_FACT_FIELDS)
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
                company_id=consent.company_id.id or None,
                method=consent.method or None,
                region_ids=frozenset(consent.body_region_ids.ids),
            )
        return facts

    # ------------------------------------------------------------------
    # Portal: the client reads and signs before the visit
    # ------------------------------------------------------------------

    def _compute_access_url(self):
        # Every consent has its page: the mixin's default ('#') is replaced.
        for consent in self:
            consent.access_url = f"/my/spa/consent/{consent.id}"

    def _get_portal_return_action(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "spa_session_protocol.spa_consent_action"
        )

    def _portal_status(self):
        """What the client's link can do: ``sign``, or why not (``given``,
        ``withdrawn``, ``recorded``: a consent was given another way and the
        link is void, ``expired``)."""
        self.ensure_one()
        if self.state == "given":
            return "given"
        if self.state == "withdrawn":
            return "withdrawn"
        if self.link_voided_at:
            return "recorded"
        today = (self.company_id or self.env.company)._spa_today()
        if (self.link_expires_on and self.link_expires_on < today) or (
            self.valid_until and self.valid_until < today
        ):
            return "expired"
        return "sign"

    def _portal_ensure_token(self):
        # The link's token is the server's (nobody sets a token of their own
        # choosing to sign with it).
        if not self.access_token:
            self.sudo()._write_server({"access_token": str(uuid.uuid4())})
        return self.access_token

    def _spa_shown_version(self):
        """What the consent page shows, as one fingerprint: the client, the
        protocols and their consent texts in every language."""
        self.ensure_one()
        protocols = self.protocol_ids.sorted("id")
        regions = protocols.sensitive_region_ids
        payload = json.dumps(
            {
                "partner": self.partner_id.id,
                "protocols": protocols.ids,
                "texts": [p._consent_text_version() for p in protocols],
                # the sensitive areas listed (with their lines) and agreed
                "regions": [[r.id, r.consent_line or ""] for r in regions],
                "agreed": sorted(self.body_region_ids.ids),
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def _action_agree_regions_from_portal(self, region_ids):
        """The client ticked, one by one, the sensitive regions they agree
        to on the consent page (only the regions of its protocols)."""
        self.ensure_one()
        if self._portal_status() != "sign":
            raise UserError(self.env._("This consent can no longer be changed."))
        listed = self.protocol_ids.sensitive_region_ids
        unknown = set(region_ids) - set(listed.ids)
        if unknown:
            raise UserError(
                self.env._("Only the sensitive areas listed can be agreed to.")
            )
        self._write_server({"body_region_ids": [Command.set(sorted(set(region_ids)))]})

    @api.model
    def _spa_signature_ink_problem(self, signature):
        """What is wrong with ``signature`` (base64 PNG or JPEG) as any
        signature, however it was made (``signature_ink.ink_problem``): it
        cannot be read, it is blank, or it is a dot; ``None`` when it holds
        ink. The desk's pad sends no strokes: what it draws is checked this
        far (``_spa_check_drawn_signature`` checks the client's pads)."""
        problem = signature_ink.ink_problem(_signature_bytes(signature))
        return {
            None: None,
            signature_ink.UNREADABLE: self.env._(
                "its signature is not a picture that can be read (PNG or JPEG)"
            ),
            signature_ink.BLANK: self.env._(
                "its signature is empty: the client signs in the box"
            ),
            signature_ink.TOO_SMALL: self.env._(
                "its signature is too small: the client signs across the box"
            ),
        }[problem]

    def _spa_check_drawn_signature(self, signature, strokes):
        """Refuse ``signature`` (base64 PNG or JPEG) unless it is the drawing
        of ``strokes`` (the points the finger drew on the pad): a blank pad,
        a typed name drawn in a font or a loaded picture is no signature
        (see ``tools/signature_ink.py``). One check for every pad a client
        signs a consent on: their consent page and the tablet."""
        problem = signature_ink.drawn_signature_problem(
            _signature_bytes(signature), strokes
        )
        if not problem:
            return
        messages = {
            signature_ink.UNREADABLE: self.env._("The signature could not be read."),
            signature_ink.BLANK: self.env._(
                "The signature box is empty: please sign with your finger."
            ),
            signature_ink.TOO_SMALL: self.env._(
                "The signature is too small: please sign across the box."
            ),
            signature_ink.NOT_DRAWN: self.env._(
                "Please draw your signature with your finger: a typed name or a "
                "loaded picture is not accepted for a consent."
            ),
            signature_ink.NOT_THE_DRAWING: self.env._(
                "The signature sent is not the one drawn on the pad: please clear "
                "the box and sign again with your finger."
            ),
        }
        raise UserError(messages[problem])

    def _action_sign_from_portal(self, name, signature, shown=None, strokes=None):
        """The client signed on the consent page: record the drawn signature
        and give the consent, as the visitor (the public user when not
        logged in; ``recorded_by_id`` says who recorded it).

        ``strokes`` are the points the finger drew: the signature must be
        their drawing (``_spa_check_drawn_signature``)."""
        self.ensure_one()
        if self._portal_status() != "sign":
            raise UserError(self.env._("This consent can no longer be signed."))
        if shown != self._spa_shown_version():
            raise UserError(
                self.env._(
                    "This consent changed since the page was opened: please read "
                    "it again before signing."
                )
            )
        if self.env.user._is_internal():
            # Staff record a consent at the desk or on the tablet, in their
            # own name; the link is the client's, signed "online" by them.
            raise UserError(
                self.env._(
                    "This link is for the client to sign. Staff record the consent "
                    "from the appointment or the tablet instead."
                )
            )
        self._spa_check_drawn_signature(signature, strokes)
        # The visitor holds the link's token (checked by the portal route):
        # the server records what they drew, as the public user or whoever
        # opened the link.
        self._write_server(
            {"method": "signature", "signature": signature, "signed_by": name}
        )
        self.action_give()
        self.message_post(
            body=self.env._(
                "Consent signed online by %(name)s.", name=name or self.partner_id.name
            ),
            author_id=self.partner_id.id,
        )

    # ------------------------------------------------------------------
    # Retention
    # ------------------------------------------------------------------

    def _spa_retention_end(self):
        """``{consent: date}``: until when each consent (and its signature)
        must be kept: its end (withdrawal or end of validity) plus the
        company's retention, and no earlier than the sessions relying on it."""
        ends = {}
        for consent in self.filtered(lambda c: c.state != "draft"):
            dates = [consent.valid_until or consent.given_at.date()]
            if consent.withdrawn_at:
                dates.append(consent.withdrawn_at.date())
            years = relativedelta(years=consent.company_id.spa_retention_years)
            end = min(dates) + years
            sessions = consent.sudo().session_ids
            if sessions.filtered(lambda s: s.state in ("draft", "in_progress")):
                end = date.max
            for until in sessions._spa_retention_end().values():
                end = max(end, until)
            ends[consent] = end
        return ends

    def _spa_anonymise_signatures(self):
        """Remove the drawn signature of consents whose retention ended.
        Idempotent; the consent's dates, state and text stay."""
        today = self.company_id._spa_today_by_company()
        consents = self.with_context(bin_size=True).filtered(
            lambda c: (
                c.signature
                and not c.signature_anonymised_at
                and not c.partner_id.sudo().spa_legal_hold
            )
        )
        ends = consents._spa_retention_end()
        due = self.browse(
            [c.id for c, until in ends.items() if until <= today[c.company_id.id]]
        )
        if due:
            # sudo: removing the signature is the server's retention duty.
            due.sudo()._write_server(
                {"signature": False, "signature_anonymised_at": fields.Datetime.now()}
            )
        return due

    @api.model
    def _spa_cron_anonymise_signatures(self, limit=None):
        # sudo: the retention runs for every company and client.
        Consent = self.sudo()
        domains = []
        for company in self.env["res.company"].sudo().search([]):
            today = company._spa_today()
            cutoff = today - relativedelta(years=company.spa_retention_years)
            domains.append(
                [
                    ("company_id", "=", company.id),
                    "|",
                    ("valid_until", "<", cutoff),
                    ("withdrawn_at", "<", cutoff),
                ]
            )
        if not domains:
            return Consent
        candidates = Consent.search(
            expression.AND(
                [
                    [
                        ("state", "!=", "draft"),
                        ("signature_anonymised_at", "=", False),
                        ("partner_id.spa_legal_hold", "=", False),
                    ],
                    expression.OR(domains),
                ]
            ),
            limit=limit,
            order="id",
        )
        return candidates._spa_anonymise_signatures()

    @api.model
    def _cron_remind_expiring(self, days=30):
        """Given consents ending within ``days`` and not renewed: a to-do for
        the front desk (who recorded it, else the company's first front-desk
        user), once per consent."""
        today = fields.Date.context_today(self)
        expiring = self.search(
            [
                ("state", "=", "given"),
                ("valid_until", ">=", today),
                ("valid_until", "<=", today + timedelta(days=days)),
            ]
        )
        if not expiring:
            return
        # Renewed: a later given consent of the same client covering the
        # same protocols beyond this one's end.
        renewals = self.search(
            [
                ("id", "not in", expiring.ids),
                ("state", "=", "given"),
                ("partner_id", "in", expiring.partner_id.ids),
                ("valid_until", ">", today),
            ]
        )

        def renewed(consent):
            return any(
                r.partner_id == consent.partner_id
                and r.company_id == consent.company_id
                and r.valid_until > consent.valid_until
                and consent.protocol_ids <= r.protocol_ids
                for r in renewals
            )

        expiring = expiring.filtered(lambda c: not renewed(c))
        assignees = self.env["spa.protocol"]._spa_front_desk_assignees(
            expiring, lambda c: c.recorded_by_id
        )
        activity_type = self.env.ref(
            "spa_session_protocol.mail_activity_type_spa_consent_expiring"
        )
        vals_list = []
        for consent, user in assignees.items():
            vals_list.append(
                {
                    "res_id": consent.id,
                    "activity_type_id": activity_type.id,
                    "user_id": user.id,
                    "date_deadline": consent.valid_until,
                    "summary": self.env._(
                        "Consent of %(client)s ends on %(date)s",
                        client=consent.partner_id.name,
                        date=consent.valid_until,
                    ),
                    "note": self.env._(
                        "Ask the client to renew their consent (%(protocols)s) "
                        "at their next visit.",
                        protocols=", ".join(consent.protocol_ids.mapped("name")),
                    ),
                }
            )
        self.env["mail.activity"]._spa_create_once(self._name, vals_list)
