from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import session_rules

SPA_EVENT_FIELDS = ("spa_protocol_id", "spa_client_id", "spa_therapist_id")
SESSION_FIELD_OF = {
    "spa_protocol_id": "protocol_id",
    "spa_client_id": "partner_id",
    "spa_therapist_id": "therapist_id",
}


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    spa_protocol_id = fields.Many2one(
        "spa.protocol",
        string="Session Protocol",
        ondelete="restrict",
        index="btree_not_null",
    )
    spa_client_id = fields.Many2one(
        "res.partner", string="Client", ondelete="restrict", index="btree_not_null"
    )
    spa_therapist_id = fields.Many2one(
        "res.users",
        string="Therapist",
        ondelete="restrict",
        domain=lambda self: [
            (
                "groups_id",
                "in",
                self.env.ref("spa_session_protocol.group_spa_therapist").id,
            )
        ],
    )
    spa_session_ids = fields.One2many("spa.session", "event_id", string="Spa Sessions")
    spa_session_id = fields.Many2one("spa.session", compute="_compute_spa_session_id")
    spa_session_state = fields.Selection(
        selection=lambda self: self.env["spa.session"]._fields["state"].selection,
        string="Session State",
        compute="_compute_spa_session_id",
    )
    spa_consent_status = fields.Selection(
        [
            ("valid", "Consent valid"),
            ("missing", "No consent"),
            ("expired", "Consent expired"),
            ("withdrawn", "Consent withdrawn"),
            ("reconsent", "Re-consent needed"),
        ],
        string="Consent Status",
        compute="_compute_spa_consent_status",
    )

    @api.depends("spa_session_ids.state")
    def _compute_spa_session_id(self):
        for event in self:
            sessions = event.spa_session_ids.sorted("id")
            live = sessions.filtered(lambda s: s.state != "cancelled")
            event.spa_session_id = (live or sessions)[-1:]
            event.spa_session_state = event.spa_session_id.state

    @api.depends("spa_client_id", "spa_protocol_id", "start")
    def _compute_spa_consent_status(self):
        events = self.filtered(lambda e: e.spa_client_id and e.spa_protocol_id)
        (self - events).spa_consent_status = False
        if not events:
            return
        # sudo: the badge tells the front desk whether a consent covers the
        # appointment; reading the consents' validity is not clinical detail.
        consents_sudo = (
            self.env["spa.consent"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", events.spa_client_id.ids),
                    ("protocol_ids", "in", events.spa_protocol_id.ids),
                    ("state", "!=", "draft"),
                ]
            )
        )
        facts = consents_sudo._to_facts()
        by_partner = defaultdict(list)
        for consent in consents_sudo:
            by_partner[consent.partner_id.id].append(facts[consent.id])
        today = fields.Date.context_today(self)
        for event in events:
            session = event.spa_session_id
            if session.consent_id:
                # A started session relies on the consent it linked.
                candidates = list(session.consent_id.sudo()._to_facts().values())
            else:
                candidates = by_partner[event.spa_client_id.id]
            protocol = event.spa_protocol_id
            version = protocol._consent_text_version()
            usable = session_rules.best_consent(
                candidates, protocol.id, today, None, version
            )
            if usable:
                event.spa_consent_status = "valid"
                continue
            relevant = [
                c
                for c in candidates
                if protocol.id in c.protocol_ids and c.state != "draft"
            ]
            if not relevant:
                event.spa_consent_status = "missing"
                continue
            latest = max(relevant, key=lambda c: (c.given_at, c.id))
            problems = {
                code
                for code, __ in session_rules.consent_problems(
                    latest, protocol.id, today, None, version
                )
            }
            if session_rules.CONSENT_WITHDRAWN in problems:
                event.spa_consent_status = "withdrawn"
            elif session_rules.CONSENT_TEXT_CHANGED in problems:
                event.spa_consent_status = "reconsent"
            elif session_rules.CONSENT_EXPIRED in problems:
                event.spa_consent_status = "expired"
            else:
                event.spa_consent_status = "missing"

    # ------------------------------------------------------------------
    # Booking: one session per appointment
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        events = super().create(vals_list)
        events.filtered(
            lambda e: e.spa_protocol_id and e.spa_client_id
        )._spa_sync_sessions()
        return events

    def write(self, vals):
        spa_keys = set(SPA_EVENT_FIELDS) & set(vals)
        if spa_keys:
            self._spa_check_started_unchanged(vals, spa_keys)
        if "active" in vals and not vals["active"]:
            self._spa_cancel_sessions()
        res = super().write(vals)
        if spa_keys or vals.get("active"):
            self.filtered(
                lambda e: e.active and e.spa_protocol_id and e.spa_client_id
            )._spa_sync_sessions()
        return res

    def _spa_check_started_unchanged(self, vals, keys):
        # sudo: every session of the appointments counts, including those the
        # writing user cannot read.
        started = self.sudo().spa_session_ids.filtered(
            lambda s: s.state != "draft" and s.state != "cancelled"
        )
        if not started:
            return
        changed = started._spa_changed_fields(
            {SESSION_FIELD_OF[k]: vals[k] for k in keys},
            [SESSION_FIELD_OF[k] for k in keys],
        )
        if changed:
            raise UserError(
                self.env._(
                    "The client, therapist and protocol of an appointment cannot "
                    "change once its session has "
                    "started: %(sessions)s.",
                    sessions=", ".join(started.mapped("name")),
                )
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_cancel_sessions(self):
        self._spa_cancel_sessions()

    def _spa_cancel_sessions(self):
        # sudo: whoever may delete or archive the appointment cancels its
        # planned session with it; started sessions are refused inside.
        self.sudo().spa_session_ids._action_cancel_for_event()

    def _spa_sync_sessions(self):
        """Give each appointment with a protocol and a client exactly one
        live session, and let a planned one follow the appointment."""
        Session = self.env["spa.session"]
        to_create = []
        for event in self:
            # sudo: an appointment's session exists whether or not the writing
            # user may read it; never create a second one.
            live = event.sudo().spa_session_ids.filtered(
                lambda s: s.state != "cancelled"
            )
            vals = {
                "protocol_id": event.spa_protocol_id.id,
                "partner_id": event.spa_client_id.id,
                "therapist_id": event.spa_therapist_id.id,
            }
            if not live:
                to_create.append({**vals, "event_id": event.id})
                continue
            draft = live.filtered(lambda s: s.state == "draft").with_env(self.env)
            if draft and draft._spa_changed_fields(vals, list(vals)):
                draft.write(vals)
        if to_create:
            Session.create(to_create)

    def action_open_spa_session(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "spa.session",
            "res_id": self.spa_session_id.id,
            "view_mode": "form",
        }
