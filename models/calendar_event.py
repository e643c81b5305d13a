import logging
from collections import defaultdict
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..tools import session_rules
from .spa_consent import LINK_STATES
from .spa_session import events_known_free
from .spa_write_policy_mixin import ROLE_FRONT_DESK, ROLE_MANAGER

_logger = logging.getLogger(__name__)

CONSENT_LINK_TEMPLATE = "spa_session_protocol.mail_template_spa_consent_link"

SPA_EVENT_FIELDS = ("spa_protocol_id", "spa_client_id", "spa_therapist_id")
SESSION_FIELD_OF = {
    "spa_protocol_id": "protocol_id",
    "spa_client_id": "partner_id",
    "spa_therapist_id": "therapist_id",
}
# What the front desk and managers give when booking (the room included).
SPA_BOOKING_FIELDS = (*SPA_EVENT_FIELDS, "spa_room_id")
# A session that is not cancelled holds its room for its appointment's time.
LIVE_SESSION_STATES = ("draft", "in_progress", "done", "stopped")
# The consent badges of an appointment, computed together
# (_compute_spa_consent_badges).
SPA_CONSENT_BADGE_FIELDS = [
    "spa_consent_status",
    "spa_consent_link_state",
    "spa_consent_link_failure",
]
# Between the protocol and the client in an appointment's title.
TITLE_SEPARATOR = " – "


class CalendarEvent(models.Model):
    _name = "calendar.event"
    _inherit = ["calendar.event", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin): the
    # front desk and managers book (protocol, client, therapist) while the
    # appointment's session is planned or there is none; the sessions are the
    # server's (one live session per appointment, _spa_sync_sessions). The
    # policy state is the live session's state, "none" without one.
    _spa_guard_own_fields_only = True
    _spa_create_policy = {
        ROLE_FRONT_DESK: SPA_BOOKING_FIELDS,
        ROLE_MANAGER: SPA_BOOKING_FIELDS,
    }
    _spa_write_policy = {
        ROLE_FRONT_DESK: {
            "none": SPA_BOOKING_FIELDS,
            "draft:booked": SPA_BOOKING_FIELDS,
        },
        ROLE_MANAGER: {"none": SPA_BOOKING_FIELDS, "draft:booked": SPA_BOOKING_FIELDS},
    }

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
    # Who the booking made attend (the client, the therapist's partner), as
    # the form carries it from one change to the next: a client or therapist
    # replaced on the form no longer attends, even before the first save
    # (a new record's onchange knows no previous value of its own).
    spa_booking_partner_ids = fields.Many2many(
        "res.partner",
        string="Attending by the Booking",
        compute="_compute_spa_booking_partner_ids",
        readonly=False,
    )
    spa_room_id = fields.Many2one(
        "spa.room",
        string="Treatment Room",
        ondelete="restrict",
        index="btree_not_null",
        domain="[('id', 'in', spa_free_room_ids)]",
        help="Two live sessions in one room never overlap in time.",
    )
    spa_free_room_ids = fields.Many2many(
        "spa.room",
        string="Free Rooms",
        compute="_compute_spa_free_room_ids",
        help="The rooms with no other live session over this appointment's time.",
    )
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
        compute="_compute_spa_consent_badges",
    )

    spa_consent_link_state = fields.Selection(
        LINK_STATES,
        string="Consent Link",
        compute="_compute_spa_consent_badges",
        help="Where the latest signing link sent to the client for this "
        "appointment's protocol stands.",
    )
    spa_consent_link_failure = fields.Char(
        string="Consent Link Failure", compute="_compute_spa_consent_badges"
    )
    spa_calendar_label = fields.Char(
        string="Appointment Label",
        compute="_compute_spa_calendar_label",
        help="What the spa calendar shows on the appointment: the client first, "
        "then the protocol, and the consent when it is not valid.",
    )

    spa_intake_status = fields.Selection(
        [
            ("valid", "Intake valid"),
            ("caution", "Intake: caution"),
            ("missing", "No intake"),
            ("expired", "Intake too old"),
            ("blocked", "Intake blocks"),
        ],
        string="Intake Status",
        compute="_compute_spa_intake_status",
        help="Whether the client's health intake lets the session start now "
        "(rule 7, what the start would decide); 'caution': it does, and the "
        "therapist has answers to take care of.",
    )
    spa_intake_cautions = fields.Text(
        string="Intake Cautions",
        compute="_compute_spa_intake_status",
        groups="spa_session_protocol.group_spa_therapist",
    )

    # No dependency: computed when the form opens (the saved client and
    # therapist), then what the form's last change left (the onchange).
    @api.depends()
    def _compute_spa_booking_partner_ids(self):
        for event in self:
            event.spa_booking_partner_ids = (
                event.spa_client_id | event.spa_therapist_id.partner_id
            )

    @api.depends("spa_session_ids.state")
    def _compute_spa_session_id(self):
        for event in self:
            sessions = event.spa_session_ids.sorted("id")
            live = sessions.filtered(lambda s: s.state != "cancelled")
            event.spa_session_id = (live or sessions)[-1:]
            event.spa_session_state = event.spa_session_id.state

    @api.depends("start", "stop", "spa_room_id")
    def _compute_spa_free_room_ids(self):
        """Rooms free over each appointment's time: the rooms of the
        company that no other live session holds then."""
        # sudo: which rooms are taken is no secret, whoever booked them.
        rooms_sudo = (
            self.env["spa.room"]
            .sudo()
            .search([("company_id", "in", self.env.companies.ids)])
        )
        timed = self.filtered(lambda e: e.start and e.stop)
        (self - timed).spa_free_room_ids = rooms_sudo
        if not timed:
            return
        busy = self._spa_room_bookings(
            rooms_sudo,
            min(timed.mapped("start")),
            max(timed.mapped("stop")),
        )
        for event in timed:
            taken = busy.filtered(
                lambda b, e=event: (
                    b.id != e._origin.id and b.start < e.stop and b.stop > e.start
                )
            ).spa_room_id
            event.spa_free_room_ids = rooms_sudo - taken

    @api.model
    def _spa_room_bookings(self, rooms, start, stop):
        """The active appointments with a live session in ``rooms`` that
        overlap ``[start, stop)`` (superuser: every booking counts)."""
        return (
            self.sudo()
            .with_context(active_test=True)
            .search(
                [
                    ("spa_room_id", "in", rooms.ids),
                    ("start", "<", stop),
                    ("stop", ">", start),
                    ("spa_session_ids.state", "in", LIVE_SESSION_STATES),
                ]
            )
        )

    def _spa_check_room_overlap(self):
        """Two live sessions in one room cannot overlap in time: refused,
        naming the other appointment and its session."""
        # sudo: every booking of the room counts, readable or not.
        events = self.sudo().filtered(
            lambda e: (
                e.active
                and e.spa_room_id
                and e.start
                and e.stop
                and e.spa_session_ids.filtered(lambda s: s.state in LIVE_SESSION_STATES)
            )
        )
        if not events:
            return
        busy = self._spa_room_bookings(
            events.spa_room_id,
            min(events.mapped("start")),
            max(events.mapped("stop")),
        )
        clashes = []
        for event in events:
            others = busy.filtered(
                lambda b, e=event: (
                    b != e
                    and b.spa_room_id == e.spa_room_id
                    and b.start < e.stop
                    and b.stop > e.start
                )
            )
            for other in others:
                live = other.spa_session_ids.filtered(
                    lambda s: s.state in LIVE_SESSION_STATES
                )
                clashes.append(
                    self.env._(
                        "%(room)s is taken by %(session)s (%(event)s, %(start)s to "
                        "%(stop)s)",
                        room=event.spa_room_id.display_name,
                        session=", ".join(live.mapped("name")),
                        event=other.name,
                        start=fields.Datetime.to_string(other.start),
                        stop=fields.Datetime.to_string(other.stop),
                    )
                )
        if clashes:
            raise ValidationError(
                self.env._(
                    "Two sessions cannot take one room at the same time: %(clashes)s.",
                    clashes="; ".join(dict.fromkeys(clashes)),
                )
            )

    @api.depends(
        "spa_client_id",
        "spa_protocol_id",
        "spa_session_ids.state",
        "spa_session_ids.consent_id",
        "spa_session_ids.company_id",
    )
    def _compute_spa_consent_badges(self):
        """The consent badge: what the server would decide now
        (``session_rules.badge_status``): for a session not started yet,
        whether ``action_start`` finds a consent of the client (same company,
        same rule); for a started one, whether the consent it relied on
        still lets it complete. And the state of the latest signing link of
        the client for the protocol (``spa.consent.link_state``). The form
        shows them side by side: the consents both weigh are found in one
        search."""
        self.spa_consent_link_state = False
        self.spa_consent_link_failure = False
        events = self.filtered(lambda e: e.spa_client_id and e.spa_protocol_id)
        (self - events).spa_consent_status = False
        if not events:
            return
        by_partner, links_sudo = self.env["spa.consent"]._spa_badge_facts(
            events.spa_client_id, events.spa_protocol_id, with_links=True
        )
        # (an appointment edited in a form is a new record: its session is
        # the stored one)
        session_facts = events.spa_session_id._origin._rule_facts()
        companies = events.mapped(lambda e: e._spa_consent_company())
        today = companies._spa_today_by_company()
        now = fields.Datetime.now()
        for event in events:
            session = event.spa_session_id._origin
            company = event._spa_consent_company()
            protocol = event.spa_protocol_id
            if session.id in session_facts and session.protocol_id == protocol:
                situation = session_facts[session.id]
            else:
                # No session yet (a new appointment): the one it would get.
                situation = session_rules.SessionFacts(
                    id=0,
                    protocol_id=protocol.id,
                    state="draft",
                    min_checkin_count=protocol.min_checkin_count,
                    pain_stop_threshold=protocol.pain_stop_threshold,
                    protocol_text_version=protocol._consent_text_version(),
                    company_id=company.id,
                )
            event.spa_consent_status = session_rules.badge_status(
                situation, by_partner[event.spa_client_id.id], today[company.id], now
            )
            # sudo (the links): the front desk follows the link it sent; its
            # state (sent, signed, failed) is no clinical detail.
            link = links_sudo.filtered(
                lambda c, e=event, co=company: (
                    c.partner_id == e.spa_client_id
                    and e.spa_protocol_id in c.protocol_ids
                    and c.company_id == co
                )
            )[:1]
            event.spa_consent_link_state = link.link_state
            event.spa_consent_link_failure = link.link_failure

    @api.depends(
        "name",
        "spa_client_id",
        "spa_protocol_id",
        "spa_room_id",
        "spa_consent_status",
    )
    def _compute_spa_calendar_label(self):
        """The client's name first (a narrow calendar column cuts the end),
        then the protocol, the room, and what the consent lacks."""
        statuses = dict(
            self._fields["spa_consent_status"]._description_selection(self.env)
        )
        for event in self:
            # (a private event of others stays "Busy", as Odoo shows it)
            if not event.spa_client_id or event._check_private_event_conditions():
                event.spa_calendar_label = event.display_name
                continue
            parts = [event.spa_client_id.name, event.spa_protocol_id.name]
            if event.spa_room_id:
                parts.append(event.spa_room_id.name)
            if event.spa_consent_status and event.spa_consent_status != "valid":
                parts.append(statuses[event.spa_consent_status])
            event.spa_calendar_label = " · ".join(p for p in parts if p)

    @api.depends(
        "spa_client_id",
        "spa_protocol_id",
        "spa_session_ids.state",
        "spa_session_ids.company_id",
    )
    # Whose appointment it is decides who reads the cautions.
    @api.depends_context("uid")
    def _compute_spa_intake_status(self):
        """Rule 7 as the start would decide it now, asked of the same
        implementation (``spa.session._spa_intake_statuses``)."""
        self.spa_intake_status = False
        self.spa_intake_cautions = False
        events = self.filtered(
            lambda e: e.spa_client_id and e.spa_protocol_id.intake_survey_id
        )
        if not events:
            return
        Session = self.env["spa.session"]
        # sudo: the badge tells whether an intake lets the session start;
        # which answers need care is shown to therapists only (field groups).
        sessions_sudo = Session.sudo()
        situation = {}
        for event in events:
            session = event.spa_session_id._origin.sudo()
            if not (session and session.protocol_id == event.spa_protocol_id):
                # No session yet (a new appointment): the one it would get.
                session = Session.sudo().new(
                    {
                        "partner_id": event.spa_client_id.id,
                        "protocol_id": event.spa_protocol_id.id,
                        "company_id": event._spa_consent_company().id,
                    }
                )
            situation[event] = session
            sessions_sudo |= session
        statuses = sessions_sudo._spa_intake_statuses()
        # The answers that need care are clinical: the appointment's own
        # therapist and the managers read them, as they read the intakes
        # (another therapist reads the badge only).
        all_cautions = self.env.su or ROLE_MANAGER in self._spa_user_roles()
        for event in events:
            status, intake = statuses[situation[event].id]
            event.spa_intake_status = status
            if not (all_cautions or event.spa_therapist_id == self.env.user):
                continue
            event.spa_intake_cautions = (
                "\n".join(
                    self.env._("'%(question)s': %(answer)s", question=q, answer=a)
                    for q, a in session_rules.intake_cautions(intake)
                )
                or False
            )

    def action_spa_fill_intake(self):
        """Open the protocol's health intake for the appointment's client (at
        check-in, on the front desk's screen or the therapist's tablet)."""
        self.ensure_one()
        if not (self.spa_client_id and self.spa_protocol_id.intake_survey_id):
            raise UserError(
                self.env._("This appointment's protocol has no health intake.")
            )
        # sudo: the appointment's session, readable or not; the caller's
        # role on it is checked by _spa_intake_answer.
        session = self.sudo().spa_session_id.with_env(self.env)
        if not session or session.sudo().state != "draft":
            raise UserError(
                self.env._("The health intake is filled in before the session starts.")
            )
        user_input_sudo = session._spa_intake_answer()
        return {
            "type": "ir.actions.act_url",
            "target": "self",
            "url": user_input_sudo._spa_answer_url(),
        }

    # ------------------------------------------------------------------
    # Booking: one session per appointment
    # ------------------------------------------------------------------

    # ------------------------------------------------------------------
    # Booking: the title and the attendees follow the protocol and client
    # ------------------------------------------------------------------

    def _spa_title(self):
        """``Protocol – Client``: the title an appointment gets when its
        booker leaves it empty."""
        self.ensure_one()
        if not (self.spa_protocol_id and self.spa_client_id):
            return False
        return f"{self.spa_protocol_id.name}{TITLE_SEPARATOR}{self.spa_client_id.name}"

    def _spa_title_is_automatic(self):
        """Whether the title is empty or one given from the protocol and the
        client (so that changing either changes it; a typed title stays)."""
        self.ensure_one()
        name = self.name or ""
        if not name.strip():
            return True
        if TITLE_SEPARATOR not in name:
            return False
        old = self._origin
        return (
            name == (old._spa_title() if old else None)
            or bool(self.spa_protocol_id)
            and name.startswith(f"{self.spa_protocol_id.name}{TITLE_SEPARATOR}")
            or bool(self.spa_client_id)
            and name.endswith(f"{TITLE_SEPARATOR}{self.spa_client_id.name}")
        )

    @api.onchange("spa_protocol_id", "spa_client_id", "spa_therapist_id")
    def _onchange_spa_booking(self):
        """On the booking form: the title from the protocol and the client
        when the front desk typed none, the client and the therapist as
        attendees (``create``/``write`` do the same for every other path)."""
        title = self._spa_title()
        if title and self._spa_title_is_automatic():
            self.name = title
        booked = (self.spa_client_id | self.spa_therapist_id.partner_id)._origin
        # The client or therapist the form's last change booked and this one
        # replaced no longer attends (``write`` does the same for a saved
        # appointment); the organiser and attendees added by hand stay. The
        # form's attendees are new records of the partners (their origin).
        replaced = (
            self.spa_booking_partner_ids._origin
            - booked
            - self.user_id.partner_id._origin
        )
        if replaced:
            self.partner_ids = self.partner_ids.filtered(
                lambda p: p._origin not in replaced
            )
        missing = booked - self.partner_ids._origin
        if missing:
            self.partner_ids |= missing
        # Who attends by this booking: whom it added, and whom it had booked
        # and still does (one attending before being picked stays if replaced).
        self.spa_booking_partner_ids = (
            self.spa_booking_partner_ids._origin & booked
        ) | missing

    @api.model
    def _spa_prepare_booking_vals(self, vals_list):
        """Fill, in the values of each booking, the title left empty and the
        client and therapist as attendees (names read in one batch)."""
        booking = [
            vals
            for vals in vals_list
            if vals.get("spa_protocol_id") and vals.get("spa_client_id")
        ]
        if not booking:
            return vals_list
        protocols = self.env["spa.protocol"].browse(
            {vals["spa_protocol_id"] for vals in booking}
        )
        clients = self.env["res.partner"].browse(
            {vals["spa_client_id"] for vals in booking}
        )
        therapists = self.env["res.users"].browse(
            {
                vals["spa_therapist_id"]
                for vals in booking
                if vals.get("spa_therapist_id")
            }
        )
        # One read each: the protocols' names; the therapists' partners, with
        # the booking user's (calendar's default attendee, the chatter's
        # author); then every attendee's partner (names, whether active and
        # external: what subscribing them as followers weighs).
        protocols.mapped("name")
        users = therapists | self.env.user
        users.mapped("partner_id")
        (clients | users.partner_id).mapped("name")
        default_partners = None
        for vals in booking:
            protocol = protocols.browse(vals["spa_protocol_id"])
            client = clients.browse(vals["spa_client_id"])
            if not (vals.get("name") or "").strip():
                vals["name"] = f"{protocol.name}{TITLE_SEPARATOR}{client.name}"
            if vals.get("attendee_ids"):
                continue  # attendees given as such (a synchronisation)
            partners = (
                client
                | therapists.browse(vals.get("spa_therapist_id") or []).partner_id
            )
            if "partner_ids" not in vals:
                if default_partners is None:
                    default_partners = self.default_get(["partner_ids"]).get(
                        "partner_ids"
                    ) or [Command.link(self.env.user.partner_id.id)]
                vals["partner_ids"] = list(default_partners)
            vals["partner_ids"] = [
                *vals["partner_ids"],
                *(Command.link(partner.id) for partner in partners),
            ]
        return vals_list

    def _spa_link_booked_attendees(self):
        """The client and the therapist of each appointment of ``self``
        attend it, after a write or create that gave its attendees as such
        (``attendee_ids``), which the values' own links do not reach."""
        by_missing = {}
        for event in self.filtered("spa_protocol_id"):
            missing = (
                event.spa_client_id | event.spa_therapist_id.partner_id
            ) - event.partner_ids
            if missing:
                by_missing.setdefault(missing, []).append(event.id)
        for missing, event_ids in by_missing.items():
            self.browse(event_ids).write(
                {"partner_ids": [Command.link(p.id) for p in missing]}
            )

    def _spa_attendee_commands(self, vals):
        """Writing a client or a therapist: the ones not yet attending join."""
        partners = self.env["res.partner"]
        if vals.get("spa_client_id"):
            partners |= partners.browse(vals["spa_client_id"])
        if vals.get("spa_therapist_id"):
            partners |= (
                self.env["res.users"].browse(vals["spa_therapist_id"]).partner_id
            )
        missing = partners.filtered(
            lambda p: any(p not in event.partner_ids for event in self)
        )
        return [Command.link(partner.id) for partner in missing]

    def _spa_replaced_partners(self, client, therapist):
        """``{event id: partners}``: the client and the therapist's partner
        that giving each appointment of ``self`` ``client`` and ``therapist``
        (``None``: unchanged) replaces, so that they no longer attend it.
        Who organises the appointment, and whoever is still its client or
        therapist, stays."""
        replaced = {}
        for event in self:
            old = self.env["res.partner"]
            if client is not None and event.spa_client_id != client:
                old |= event.spa_client_id
            if therapist is not None and event.spa_therapist_id != therapist:
                old |= event.spa_therapist_id.partner_id
            new_client = event.spa_client_id if client is None else client
            new_therapist = event.spa_therapist_id if therapist is None else therapist
            old -= new_client | new_therapist.partner_id | event.user_id.partner_id
            old &= event.partner_ids
            if old:
                replaced[event.id] = old
        return replaced

    def _skip_send_mail_status_update(self):
        # Calendar's own invitation and update emails are not sent for spa
        # appointments: the client hears from the spa (the consent link, the
        # reminders, the aftercare) and the therapist works from the
        # calendar and the tablet.
        return bool(self.spa_protocol_id) or super()._skip_send_mail_status_update()

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = self._spa_prepare_booking_vals(vals_list)
        events = super().create(vals_list)
        booked = events.filtered(lambda e: e.spa_protocol_id and e.spa_client_id)
        if any(vals.get("attendee_ids") for vals in vals_list):
            # Attendees given as such (a synchronisation) are kept as given:
            # the client and the therapist join them.
            booked._spa_link_booked_attendees()
        booked._spa_sync_sessions()
        booked._spa_check_room_overlap()
        booked._spa_send_consent_links_on_booking()
        return events

    def _spa_policy_state(self):
        # sudo: the appointment's session decides, readable or not.
        states = {}
        for event in self.sudo():
            live = event.spa_session_ids.filtered(lambda s: s.state != "cancelled")[-1:]
            # The session's own policy state: "draft:booked", or "draft:past"
            # once its planned end passed undocumented (nobody reassigns it).
            states[event.id] = live._spa_policy_state()[live.id] if live else "none"
        return states

    def _spa_check_write_policy(self, vals):
        spa_keys = set(SPA_EVENT_FIELDS) & set(vals)
        if spa_keys:
            self._spa_check_started_unchanged(vals, spa_keys)
        return super()._spa_check_write_policy(vals)

    def _spa_check_moving(self, vals):
        """Moving an appointment moves its planned session: the front desk, a
        manager or the session's own therapist may, never into the past."""
        if not {"start", "stop"} & set(vals):
            return
        # sudo: the appointment's session decides, readable or not.
        planned = self.sudo().spa_session_ids.filtered(lambda s: s.state == "draft")
        if not planned:
            return
        refused = planned.with_env(self.env)._spa_not_handled_by_caller()
        if refused:
            raise AccessError(
                self.env._(
                    "Only the front desk, a manager or the session's own therapist "
                    "can move the appointment of %(sessions)s.",
                    sessions=", ".join(refused.mapped("name")),
                )
            )

    def _spa_check_not_moved_into_the_past(self):
        """After a move (``stop`` given or recomputed from ``start``): a planned
        session's appointment never ends in the past."""
        now = fields.Datetime.now()
        # sudo: the appointment's session decides, readable or not.
        moved = self.sudo().filtered(
            lambda e: (
                e.stop
                and e.stop < now
                and e.spa_session_ids.filtered(lambda s: s.state == "draft")
            )
        )
        if moved:
            raise UserError(
                self.env._(
                    "The appointment of %(sessions)s cannot be moved into the past: "
                    "a planned session that did not happen is cancelled instead.",
                    sessions=", ".join(
                        moved.spa_session_ids.filtered(
                            lambda s: s.state == "draft"
                        ).mapped("name")
                    ),
                )
            )

    def write(self, vals):
        replaced = {}
        booking_keys = {"spa_client_id", "spa_therapist_id"} & set(vals)
        if booking_keys:
            if "attendee_ids" not in vals:
                links = self._spa_attendee_commands(vals)
                if links:
                    vals = {
                        **vals,
                        "partner_ids": [*vals.get("partner_ids", []), *links],
                    }
            # The client or therapist replaced, or cleared, no longer attends
            # (whatever the values say of the attendees).
            replaced = self._spa_replaced_partners(
                self.env["res.partner"].browse(vals["spa_client_id"] or [])
                if "spa_client_id" in vals
                else None,
                self.env["res.users"].browse(vals["spa_therapist_id"] or [])
                if "spa_therapist_id" in vals
                else None,
            )
        self._spa_check_moving(vals)
        moving = bool({"start", "stop", "duration", "allday"} & set(vals))
        # Planned sessions whose appointment had not ended before the move.
        if moving:
            now = fields.Datetime.now()
            not_past = self.filtered(lambda e: e.stop and e.stop >= now)
        spa_keys = set(SPA_EVENT_FIELDS) & set(vals)
        if "active" in vals and not vals["active"]:
            self._spa_cancel_sessions()
        res = super().write(vals)
        by_partners = {}
        for event_id, partners in replaced.items():
            by_partners.setdefault(partners, []).append(event_id)
        for partners, event_ids in by_partners.items():
            self.browse(event_ids).write(
                {"partner_ids": [Command.unlink(p.id) for p in partners]}
            )
        if booking_keys and "attendee_ids" in vals:
            # Attendees given as such: the client and the therapist booked
            # join them.
            self._spa_link_booked_attendees()
        if moving:
            not_past._spa_check_not_moved_into_the_past()
        if {"start", "stop"} & set(vals):
            self._spa_sync_times()
        if spa_keys or vals.get("active"):
            self.filtered(
                lambda e: e.active and e.spa_protocol_id and e.spa_client_id
            )._spa_sync_sessions()
        if {"spa_room_id", "start", "stop", "duration", "allday", "active"} & set(
            vals
        ) or spa_keys:
            self._spa_check_room_overlap()
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
                    "change once its session has started: %(sessions)s.",
                    sessions=", ".join(started.mapped("name")),
                )
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_cancel_sessions(self):
        self._spa_cancel_sessions()

    def _spa_cancel_sessions(self):
        # sudo: every session of the appointments, readable or not; inside,
        # started sessions are refused and the caller's own right to cancel
        # each planned one is checked (_check_cancel_rights).
        self.sudo().spa_session_ids._action_cancel_for_event()

    def _spa_sync_times(self):
        """A planned session follows its appointment's times, whoever moved it
        (the server's copy); started sessions keep theirs, and so does one whose
        planned end has passed undocumented (moving the appointment afterwards
        does not take it out of the compliance figures)."""
        now = fields.Datetime.now()
        # sudo: the appointment's session follows whether or not the user who
        # moved the appointment may read it.
        for event in self.sudo():
            planned = event.spa_session_ids.filtered(
                lambda s: (
                    s.state == "draft"
                    and not (s.date_planned_end and s.date_planned_end < now)
                )
            )
            times = {"date_planned": event.start, "date_planned_end": event.stop}
            if planned and planned._spa_changed_fields(times, list(times)):
                planned._write_server(times)

    def _spa_sync_sessions(self):
        """Give each appointment with a protocol and a client exactly one
        live session, and let a planned one follow the appointment."""
        Session = self.env["spa.session"]
        now = fields.Datetime.now()
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
            times = {"date_planned": event.start, "date_planned_end": event.stop}
            if not live:
                to_create.append({**vals, **times, "event_id": event.id})
                continue
            draft = live.filtered(lambda s: s.state == "draft").with_env(self.env)
            if draft and draft._spa_changed_fields(vals, list(vals)):
                draft._write_server(vals)
            draft = draft.filtered(
                lambda s: not (s.date_planned_end and s.date_planned_end < now)
            )
            if draft and draft._spa_changed_fields(times, list(times)):
                draft._write_server(times)
        if to_create:
            # The appointment's own chatter logs the booking and its attendees
            # follow it; the planned session needs no chatter of its own at
            # creation: no "created" message, no follower (the booking user),
            # no creation tracking (issue 14, P1: one mail.message, two
            # follower rows and a tracking pass per booking otherwise). Its
            # later changes (reassigning, start, end) are tracked as usual.
            # The appointments were just read without a live session (above,
            # as superuser): the session's create does not count them again.
            with events_known_free([vals["event_id"] for vals in to_create]):
                Session.with_context(tracking_disable=True).create(to_create)

    def action_open_spa_session(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "spa.session",
            "res_id": self.spa_session_id.id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------
    # Consent before the visit: a link the client signs on their phone
    # ------------------------------------------------------------------

    def _spa_consent_company(self):
        self.ensure_one()
        return (
            self.spa_session_id.company_id
            or self.spa_protocol_id.company_id
            or self.env.company
        )

    def _spa_prepare_consent_links(self):
        """``{event: consent}``: the draft signature consent of each
        appointment's client for its protocol, created or, when one is still
        pending, reused (its link is extended)."""
        Consent = self.env["spa.consent"]
        today = fields.Date.context_today(self)
        consents = {}
        if not self:
            return consents
        companies = {event: event._spa_consent_company() for event in self}
        # The pending signing links of every client of the batch, in one
        # search (as the user, as each appointment's own search was); each
        # appointment then takes the latest of its client, protocol and
        # company.
        pending = Consent.search(
            [
                ("partner_id", "in", self.spa_client_id.ids),
                ("protocol_ids", "in", self.spa_protocol_id.ids),
                ("company_id", "in", list({c.id for c in companies.values()})),
                ("state", "=", "draft"),
                ("method", "=", "signature"),
                ("link_voided_at", "=", False),
            ],
            order="id desc",
        )
        for event in self:
            company = companies[event]
            expires = today + timedelta(days=company.spa_consent_link_days)
            consent = pending.filtered(
                lambda c, e=event, co=company: (
                    c.partner_id == e.spa_client_id
                    and c.company_id == co
                    and e.spa_protocol_id in c.protocol_ids
                )
            )[:1]
            if consent:
                if not consent.link_expires_on or consent.link_expires_on < expires:
                    consent.link_expires_on = expires
            else:
                consent = Consent.create(
                    {
                        "partner_id": event.spa_client_id.id,
                        "protocol_ids": [Command.set(event.spa_protocol_id.ids)],
                        "company_id": company.id,
                        "method": "signature",
                        "link_expires_on": expires,
                    }
                )
                # A later appointment of the batch for the same client and
                # protocol reuses it, as a search would find it.
                pending = consent | pending
            consent._portal_ensure_token()
            consents[event] = consent
        return consents

    def action_spa_send_consent_link(self):
        """Email the client the link to read and sign the consent on their
        phone, now: the appointment's chatter says so, a notification
        confirms it, and the appointment then shows the link's state (queued,
        sent and awaiting signature, failed, signed)."""
        self.ensure_one()
        if not (self.spa_client_id and self.spa_protocol_id):
            raise UserError(
                self.env._(
                    "Choose the client and the protocol of the appointment before "
                    "sending a consent link."
                )
            )
        if not self.spa_client_id.email:
            raise UserError(
                self.env._(
                    "%(client)s has no email address: add one to the client, or "
                    "record the consent at the desk with the client.",
                    client=self.spa_client_id.display_name,
                )
            )
        if self.spa_consent_status == "valid":
            raise UserError(
                self.env._(
                    "%(client)s already has a valid consent for %(protocol)s: there "
                    "is nothing to sign.",
                    client=self.spa_client_id.display_name,
                    protocol=self.spa_protocol_id.display_name,
                )
            )
        template = self.env.ref(CONSENT_LINK_TEMPLATE)
        consent = self._spa_prepare_consent_links()[self]
        consent.message_post_with_source(
            template,
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid="mail.mail_notification_light",
        )
        message = self.env._(
            "Consent link %(consent)s emailed to %(client)s (%(email)s).",
            consent=consent.name,
            client=self.spa_client_id.name,
            email=self.spa_client_id.email,
        )
        self.message_post(body=message, subtype_xmlid="mail.mt_note")
        # The badges were computed before the link went out: read anew.
        self.invalidate_recordset(SPA_CONSENT_BADGE_FIELDS)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Consent link sent"),
                "message": message,
                # closing reloads the appointment: its banner and chatter
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_spa_record_consent(self):
        """Record the client's consent from the appointment: the consent form
        in a dialog, filled with the client and the protocol, that shows the
        text to read to the client before they agree (``action_give`` then
        decides, as for every consent)."""
        self.ensure_one()
        if not (self.spa_client_id and self.spa_protocol_id):
            raise UserError(
                self.env._(
                    "Choose the client and the protocol of the appointment before "
                    "recording a consent."
                )
            )
        # Sensitive areas need a written or signed consent (rule 8).
        method = "written" if self.spa_protocol_id.sensitive_region_ids else "verbal"
        return {
            "type": "ir.actions.act_window",
            "name": self.env._(
                "Consent of %(client)s", client=self.spa_client_id.display_name
            ),
            "res_model": "spa.consent",
            "view_mode": "form",
            "views": [
                (
                    self.env.ref(
                        "spa_session_protocol.spa_consent_view_form_record"
                    ).id,
                    "form",
                )
            ],
            "target": "new",
            "context": {
                "default_partner_id": self.spa_client_id.id,
                "default_protocol_ids": [Command.set(self.spa_protocol_id.ids)],
                "default_company_id": self._spa_consent_company().id,
                "default_method": method,
                "default_signed_by": self.spa_client_id.name,
                "spa_event_id": self.id,
            },
        }

    def _spa_send_consent_links_on_booking(self):
        """Email the consent link to newly booked clients who have an email
        address and no valid consent, when their company asks for it."""
        # The company's switch and the client's email first: the consent
        # badge and the template are looked up only for appointments that
        # may get a link.
        to_send = self.filtered(
            lambda e: (
                e.spa_client_id.email
                and e._spa_consent_company().spa_consent_link_on_booking
            )
        ).filtered(lambda e: e.spa_consent_status != "valid")
        if not to_send:
            return
        template = self.env.ref(CONSENT_LINK_TEMPLATE, raise_if_not_found=False)
        if not template:
            return
        for event, consent in to_send._spa_prepare_consent_links().items():
            try:
                with self.env.cr.savepoint():
                    consent.message_post_with_source(
                        template,
                        subtype_xmlid="mail.mt_comment",
                        email_layout_xmlid="mail.mail_notification_light",
                    )
                    event._message_log(
                        body=self.env._(
                            "Booked without a valid consent: consent link %(consent)s "
                            "emailed to %(client)s (%(email)s).",
                            consent=consent.name,
                            client=event.spa_client_id.name,
                            email=event.spa_client_id.email,
                        )
                    )
            except Exception:
                # The booking stands even if the email cannot be prepared;
                # the front desk can still send the link from the appointment.
                _logger.exception(
                    "Consent link of appointment %s could not be sent", event.id
                )
        # The badges were computed before the links went out (to choose whom
        # to send one): read anew, they show the links' state.
        to_send.invalidate_recordset(SPA_CONSENT_BADGE_FIELDS)

    @api.model
    def _cron_spa_remind_missing_consent(self, hours=24):
        """Appointments starting within ``hours`` whose client has no consent
        valid on the appointment's day for its protocol: a to-do for the
        front desk on the appointment (its organizer when front desk, else
        the company's first front-desk user), once per appointment."""
        now = fields.Datetime.now()
        events = self.search(
            [
                ("start", ">=", now),
                ("start", "<", now + timedelta(hours=hours)),
                ("spa_protocol_id", "!=", False),
                ("spa_client_id", "!=", False),
            ]
        )
        sessions = events.spa_session_ids.filtered(lambda s: s.state == "draft")
        if not sessions:
            return
        consents = self.env["spa.consent"].search(
            [
                ("state", "=", "given"),
                ("partner_id", "in", sessions.partner_id.ids),
                ("protocol_ids", "in", sessions.protocol_id.ids),
                ("company_id", "in", sessions.company_id.ids),
            ]
        )
        facts = consents._to_facts()
        by_client = defaultdict(list)
        for consent in consents:
            by_client[(consent.partner_id.id, consent.company_id.id)].append(
                facts[consent.id]
            )
        versions = {p.id: p._consent_text_version() for p in sessions.protocol_id}

        def covered(session):
            # valid on the appointment's day, given before it
            return session_rules.best_consent(
                by_client[(session.partner_id.id, session.company_id.id)],
                session.protocol_id.id,
                session.company_id._spa_date_of(session.event_id.start),
                None,
                versions[session.protocol_id.id],
            )

        missing = sessions.filtered(lambda s: not covered(s))
        assignees = self.env["spa.protocol"]._spa_front_desk_assignees(
            missing, lambda s: s.event_id.user_id
        )
        activity_type = self.env.ref(
            "spa_session_protocol.mail_activity_type_spa_consent_missing"
        )
        vals_list = []
        for session, user in assignees.items():
            event = session.event_id
            vals_list.append(
                {
                    "res_id": event.id,
                    "activity_type_id": activity_type.id,
                    "user_id": user.id,
                    "date_deadline": fields.Date.context_today(self, event.start),
                    "summary": self.env._(
                        "No valid consent: %(client)s (%(protocol)s)",
                        client=session.partner_id.name,
                        protocol=session.protocol_id.name,
                    ),
                    "note": self.env._(
                        "Record the client's consent before the session starts."
                    ),
                }
            )
        self.env["mail.activity"]._spa_create_once(self._name, vals_list)
