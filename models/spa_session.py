import contextvars
import logging
from collections import defaultdict
from contextlib import contextmanager

from odoo import Command, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, email_normalize

from ..tools import evidence, session_rules
from .spa_write_policy_mixin import (
    MANAGER_GROUP,
    ROLE_FRONT_DESK,
    ROLE_MANAGER,
    ROLE_OWN_THERAPIST,
    THERAPIST_GROUP,
)

_logger = logging.getLogger(__name__)

# Appointments the server's booking path has just found without a live
# session (calendar.event._spa_sync_sessions reads them): spa.session.create
# does not count their sessions a second time. A Python context variable, not
# an ORM context key, so no RPC caller can set it; the unique index on live
# sessions still holds under races.
_EVENTS_KNOWN_FREE = contextvars.ContextVar("spa_events_known_free", default=())


@contextmanager
def events_known_free(event_ids):
    """Within the block, ``spa.session.create`` takes ``event_ids`` as free."""
    token = _EVENTS_KNOWN_FREE.set((*_EVENTS_KNOWN_FREE.get(), *event_ids))
    try:
        yield
    finally:
        _EVENTS_KNOWN_FREE.reset(token)


# What ir.sequence's next_by_id reads of a sequence to draw a reference.
SEQUENCE_DRAW_FIELDS = [
    "implementation",
    "use_date_range",
    "prefix",
    "suffix",
    "padding",
    "number_increment",
]

POSITIONINGS = [
    ("prone_table", "Prone on a massage table"),
    ("prone_bed", "Prone on a bed"),
    ("seated", "Seated upright on a chair"),
]

STOP_REASONS = [
    ("pain", "Severe pain"),
    ("client_request", "Client asked to stop"),
    ("client_late", "Client late or absent"),
    ("therapist_unavailable", "Therapist unavailable"),
    ("other", "Other"),
]

# What the therapist records while running a session (the tablet's chips).
THERAPIST_RECORD_FIELDS = (
    "positioning",
    "adjust_angle",
    "adjust_direction",
    "adjust_lighter_pressure",
    "adjustment_note",
    "screening_has_pain",
    "screening_note",
)

# What the session's therapist (or a manager) writes while it runs.
RUNNING_FIELDS = (*THERAPIST_RECORD_FIELDS, "stop_reason", "stop_note")
RUNNING_FORM_FIELDS = (*RUNNING_FIELDS, "step_ids", "checkin_ids")

# Reassigning: only while planned, only by the front desk or a manager, and
# for a booked session only through its appointment (which it follows).
ASSIGNMENT_FIELDS = (
    "partner_id",
    "therapist_id",
    "protocol_id",
    "date_planned",
    "date_planned_end",
)
# Given when the session is created, never changed by a caller afterwards: a
# session does not move to another company or appointment.
CREATION_FIELDS = (*ASSIGNMENT_FIELDS, "event_id", "company_id")


class SpaSession(models.Model):
    _name = "spa.session"
    _description = "Spa Treatment Session"
    _inherit = [
        "spa.write.policy.mixin",
        "spa.evidence.chain.mixin",
        "spa.retention.mixin",
        "spa.session.tablet.mixin",
        "spa.session.evidence.mixin",
        "mail.thread",
        "mail.activity.mixin",
    ]
    _order = "date_planned desc, id desc"
    # Its chain is anchored daily (spa.evidence.anchor).
    _evidence_anchored = True
    _check_company_auto = True

    # Default-deny (see spa.write.policy.mixin): everything not listed here is
    # the server's (state, dates of the actions, consent link, snapshots,
    # counters, evidence, the checklist lines, a booked session's assignment,
    # which follows its appointment). Policy states: the session's state, and
    # "draft:booked" for a planned session of an appointment, "draft:past" for
    # one whose planned end has passed (undocumented: it stays as it is).
    _spa_create_policy = {
        ROLE_FRONT_DESK: CREATION_FIELDS,
        ROLE_MANAGER: CREATION_FIELDS,
    }
    _spa_create_constants = {"state": "draft", "name": "/"}
    _spa_write_policy = {
        ROLE_FRONT_DESK: {"draft": ASSIGNMENT_FIELDS},
        ROLE_MANAGER: {"draft": ASSIGNMENT_FIELDS, "in_progress": RUNNING_FORM_FIELDS},
        ROLE_OWN_THERAPIST: {"in_progress": RUNNING_FORM_FIELDS},
    }
    # Through the session's form: the lines' notes and reasons (each line's
    # own policy judges the change) and new check-ins (the check-in's create
    # rules judge them); never a line created, removed or re-linked.
    _spa_x2many_commands = {
        "step_ids": (Command.UPDATE,),
        "checkin_ids": (Command.CREATE, Command.UPDATE),
    }
    # A planned session is deleted with its appointment; started ones are evidence.
    _spa_unlink_policy = {
        ROLE_FRONT_DESK: ("draft", "draft:booked", "cancelled"),
        ROLE_MANAGER: ("draft", "draft:booked", "cancelled"),
    }

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default="/"
    )
    event_id = fields.Many2one(
        "calendar.event",
        string="Appointment",
        index=True,
        ondelete="set null",
        copy=False,
        tracking=True,
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Client",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
    )
    therapist_id = fields.Many2one(
        "res.users",
        index=True,
        tracking=True,
        ondelete="restrict",
        domain=lambda self: [("groups_id", "in", self.env.ref(THERAPIST_GROUP).id)],
    )
    protocol_id = fields.Many2one(
        "spa.protocol",
        required=True,
        index=True,
        tracking=True,
        ondelete="restrict",
        check_company=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    consent_id = fields.Many2one(
        "spa.consent",
        readonly=True,
        copy=False,
        tracking=True,
        ondelete="restrict",
    )
    # Rule 7: the health intake the start relied on (set by action_start).
    intake_id = fields.Many2one(
        "survey.user_input",
        string="Health Intake",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        groups=THERAPIST_GROUP,
    )
    state = fields.Selection(
        [
            ("draft", "Planned"),
            ("in_progress", "In Progress"),
            ("done", "Done"),
            ("stopped", "Stopped"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        tracking=True,
    )
    # The appointment's times, copied while the session is planned (see
    # calendar.event._spa_sync_sessions); once it started they stay as they were.
    date_planned = fields.Datetime(string="Planned Start", index=True, copy=False)
    date_planned_end = fields.Datetime(string="Planned End", copy=False)
    # The date the compliance analysis files the session under (its planned
    # start, else its start, else its creation), stored so that a period
    # filter of the analysis is served by the (company_id, report_date) index.
    report_date = fields.Datetime(
        compute="_compute_report_date",
        store=True,
        readonly=True,
        copy=False,
        precompute=True,
    )
    date_start = fields.Datetime(string="Started At", readonly=True, copy=False)
    date_done = fields.Datetime(string="Finished At", readonly=True, copy=False)
    started_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    finished_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    referral_recommended = fields.Boolean(
        readonly=True,
        copy=False,
        tracking=True,
        help="The session was stopped by the stop rule: a referral to a healthcare "
        "professional "
        "(chiropractor, physiotherapist) was recommended to the client.",
    )
    # Snapshot of the protocol's settings, taken while the session is planned.
    # The stored computes of a session are precomputed: they are in the
    # INSERT of a booking rather than in an UPDATE after it (issue 14, P1).
    min_checkin_count = fields.Integer(
        string="Minimum Check-ins",
        compute="_compute_protocol_snapshot",
        store=True,
        readonly=True,
        precompute=True,
    )
    pain_stop_threshold = fields.Integer(
        compute="_compute_protocol_snapshot",
        store=True,
        readonly=True,
        precompute=True,
    )
    # The server's copy of the protocol's steps (see _spa_sync_checklist):
    # nobody creates, deletes or re-links lines; only the step actions change them.
    step_ids = fields.One2many(
        "spa.session.step", "session_id", string="Checklist", copy=False
    )
    checkin_ids = fields.One2many(
        "spa.checkin",
        "session_id",
        string="Check-ins",
        copy=False,
        groups=THERAPIST_GROUP,
    )
    checkin_count = fields.Integer(
        compute="_compute_checkin_count", store=True, precompute=True
    )
    # Stored for the compliance analysis (see _compute_checkin_requirements).
    checkin_required_count = fields.Integer(
        string="Check-ins Required",
        compute="_compute_checkin_requirements",
        store=True,
        precompute=True,
    )
    checkin_missing_count = fields.Integer(
        string="Check-ins Missing",
        compute="_compute_checkin_requirements",
        store=True,
        precompute=True,
    )
    step_done_count = fields.Integer(compute="_compute_step_progress")
    step_total_count = fields.Integer(compute="_compute_step_progress")

    # What the therapist records (clinical detail: therapists and managers only).
    positioning = fields.Selection(POSITIONINGS, tracking=True, groups=THERAPIST_GROUP)
    adjust_angle = fields.Boolean(string="Changed Angle", groups=THERAPIST_GROUP)
    adjust_direction = fields.Boolean(
        string="Changed Direction", groups=THERAPIST_GROUP
    )
    adjust_lighter_pressure = fields.Boolean(
        string="Lighter Pressure", groups=THERAPIST_GROUP
    )
    adjustment_note = fields.Text(groups=THERAPIST_GROUP)
    screening_has_pain = fields.Boolean(
        string="Pain or Discomfort Reported",
        groups=THERAPIST_GROUP,
        help="At preparation, the client reported pain or discomfort in the area.",
    )
    screening_note = fields.Text(
        string="Screening Answers",
        groups=THERAPIST_GROUP,
        help="What the client said about the area.",
    )
    stop_reason = fields.Selection(
        STOP_REASONS, copy=False, tracking=True, groups=THERAPIST_GROUP
    )
    stop_note = fields.Text(copy=False, groups=THERAPIST_GROUP)
    completion_blockers = fields.Text(
        compute="_compute_completion_blockers",
        groups=THERAPIST_GROUP,
        help="What still blocks completing the session, from the server's rules.",
    )
    completion_blocker_lines = fields.Json(
        compute="_compute_completion_blockers",
        groups=THERAPIST_GROUP,
        help="The completion blockers, one line per problem (the tablet lists them).",
    )
    can_complete = fields.Boolean(
        compute="_compute_completion_blockers", groups=THERAPIST_GROUP
    )
    is_stop_triggered = fields.Boolean(
        compute="_compute_completion_blockers", groups=THERAPIST_GROUP
    )

    _sql_constraints = [
        (
            "name_company_uniq",
            "UNIQUE(name, company_id)",
            "The session reference must be unique.",
        ),
        (
            "evidence_sequence_company_uniq",
            "UNIQUE(company_id, evidence_sequence)",
            "Two finished sessions cannot share a place in the evidence chain.",
        ),
    ]

    def init(self):
        res = super().init()
        # The compliance analysis of one company over a period (see
        # spa.compliance.report) reads this index, not the whole company.
        tools.create_index(
            self.env.cr,
            "spa_session_company_report_date_index",
            self._table,
            ["company_id", "report_date"],
        )
        # An appointment never holds two live sessions, whatever the path
        # (the constraint below names them; the index holds under races).
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS spa_session_event_live_uniq "
                "ON %s (event_id) WHERE event_id IS NOT NULL AND state != 'cancelled'",
                SQL.identifier(self._table),
            )
        )
        return res

    @api.constrains("therapist_id")
    def _check_therapist_is_a_therapist(self):
        # sudo: the therapist's groups decide, whoever assigns them. Asked
        # through res.users._has_group (its groups cached per user), not by
        # reading groups_id for every booking.
        wrong = self.sudo().filtered(
            lambda s: s.therapist_id and not s.therapist_id._has_group(THERAPIST_GROUP)
        )
        if wrong:
            raise ValidationError(
                self.env._(
                    "%(users)s cannot run sessions: only therapists can be assigned "
                    "(%(sessions)s).",
                    users=", ".join(wrong.therapist_id.mapped("name")),
                    sessions=", ".join(wrong.mapped("name")),
                )
            )

    # A cancelled session never comes back to life: only a new link to an
    # appointment can give it a second live session. Checked by ``write``
    # when the link changes; ``create`` checks the appointments before its
    # INSERT (the unique index would refuse it less clearly), so a booking
    # counts its appointments' sessions once, not again after the INSERT.
    def _check_one_live_session_per_event(self):
        events = self.filtered(lambda s: s.event_id and s.state != "cancelled").event_id
        self._spa_check_events_free(events, 1)

    @api.model
    def _spa_check_events_free(self, events, allowed):
        """Refuse when one of ``events`` would hold more than ``allowed`` live
        sessions (the unique index would refuse it less clearly)."""
        if not events:
            return
        # sudo: every session of the appointments counts, readable or not.
        counts = self.sudo()._read_group(
            [("event_id", "in", events.ids), ("state", "!=", "cancelled")],
            ["event_id"],
            ["__count"],
        )
        doubled = [event for event, count in counts if count > allowed]
        if doubled:
            raise ValidationError(
                self.env._(
                    "An appointment holds one live session: "
                    "%(events)s already has one.",
                    events=", ".join(e.sudo().display_name for e in doubled),
                )
            )

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------

    @api.depends("protocol_id")
    def _compute_protocol_snapshot(self):
        for session in self:
            source = session.protocol_id if session.state == "draft" else session
            session.min_checkin_count = source.min_checkin_count
            session.pain_stop_threshold = source.pain_stop_threshold

    def _spa_sync_checklist(self):
        """Give the planned sessions of ``self`` the checklist of their
        protocol: the server's copy of its steps, replacing any earlier copy
        (the protocol changed). One batched create for the whole set (booking
        500 appointments creates their 4,500 lines at once)."""
        planned = self.filtered(lambda s: s.state == "draft")
        if not planned:
            return
        Line = self.env["spa.session.step"]
        # sudo: the lines are the server's copy; whoever books or reassigns a
        # planned session may not create or delete lines themselves.
        planned.sudo().step_ids._unlink_server()
        # Each protocol's steps as the registry's cache keeps them (read once
        # per protocol and language until a step changes), not searched and
        # read again for every booking.
        Step = self.env["spa.protocol.step"]
        copies = Step._spa_line_copies(planned.protocol_id)
        vals_list = [
            {
                "session_id": session.id,
                "company_id": session.company_id.id,
                **Step._spa_line_vals(copy),
            }
            for session in planned
            for copy in copies[session.protocol_id.id]
        ]
        Line.sudo()._create_server(vals_list)

    @api.depends("checkin_ids")
    def _compute_checkin_count(self):
        # sudo: the count is not clinical detail; everyone who reads the
        # session may read how many check-ins it has. The check-ins as the
        # rules' facts read them: one query for this count and the check-in
        # requirements computed with it.
        __, checkins = self.sudo()._rule_lines_and_checkins()
        for session in self:
            session.checkin_count = len(checkins[session.id])

    @api.depends("date_planned", "date_start")
    def _compute_report_date(self):
        for session in self:
            session.report_date = (
                session.date_planned
                or session.date_start
                or session.create_date
                or fields.Datetime.now()
            )

    @api.depends("step_ids.state")
    def _compute_step_progress(self):
        for session in self:
            session.step_total_count = len(session.step_ids)
            session.step_done_count = len(
                session.step_ids.filtered(lambda s: s.state == "done")
            )

    # ------------------------------------------------------------------
    # CRUD guards
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        event_ids = [vals["event_id"] for vals in vals_list if vals.get("event_id")]
        if len(event_ids) != len(set(event_ids)):
            raise ValidationError(
                self.env._("An appointment holds one live session: one per booking.")
            )
        known_free = set(_EVENTS_KNOWN_FREE.get())
        self._spa_check_events_free(
            self.env["calendar.event"].browse(
                [eid for eid in event_ids if eid not in known_free]
            ),
            0,
        )
        sessions = super().create(vals_list)
        sessions._spa_sync_checklist()
        return sessions

    @api.model
    def _spa_prepare_create_vals(self, vals_list):
        vals_list = super()._spa_prepare_create_vals(vals_list)
        unnamed = [vals for vals in vals_list if vals.get("name", "/") == "/"]
        for vals, name in zip(unnamed, self._spa_next_names(len(unnamed)), strict=True):
            vals["name"] = name
        return vals_list

    @api.model
    def _spa_next_names(self, count):
        """``count`` references from the ``spa.session`` sequence.

        The sequence is looked up once for the batch (as ``next_by_code``
        finds it: the current company's, else the shared one) and the first
        reference is drawn through ``ir.sequence``'s public ``next_by_id``
        (any implementation, standard or no-gap; it creates the year's date
        range when there is none yet). The rest of a batch comes from that
        same date range, through ``ir.sequence.date_range._next`` as
        ``ir.sequence._next`` itself draws it: one query per reference
        instead of a date-range search and a draw for each booking."""
        if count < 1:
            return []
        # Today's references, whatever date a caller's context asks for.
        Sequence = self._spa_sequence()
        # What drawing a reference reads of the sequence (next_by_id), in the
        # query that finds it.
        sequence = Sequence.search_fetch(
            [
                ("code", "=", "spa.session"),
                ("company_id", "in", [self.env.company.id, False]),
            ],
            SEQUENCE_DRAW_FIELDS,
            order="company_id",
            limit=1,
        )
        if not sequence:
            return ["/"] * count
        names = [sequence.next_by_id()]
        if count == 1:
            return names
        if not sequence.use_date_range:
            return names + [sequence.next_by_id() for __ in range(count - 1)]
        today = fields.Date.today()
        date_range = Sequence.env["ir.sequence.date_range"].search(
            [
                ("sequence_id", "=", sequence.id),
                ("date_from", "<=", today),
                ("date_to", ">=", today),
            ],
            limit=1,
        )
        if not date_range:
            return names + [sequence.next_by_id() for __ in range(count - 1)]
        # The context ir.sequence._next gives the range (its prefix's year).
        date_range = date_range.with_context(
            ir_sequence_date_range=date_range.date_from
        )
        return names + [date_range._next() for __ in range(count - 1)]

    def write(self, vals):
        res = super().write(vals)
        if "event_id" in vals:
            self._check_one_live_session_per_event()
        if "protocol_id" in vals:
            self._spa_sync_checklist()
        return res

    def _spa_policy_state(self):
        now = fields.Datetime.now()
        states = {}
        for session in self:
            state = session.state
            if (
                state == "draft"
                and session.date_planned_end
                and session.date_planned_end < now
            ):
                state = "draft:past"
            elif state == "draft" and session.event_id:
                state = "draft:booked"
            states[session.id] = state
        return states

    def _spa_policy_therapist(self):
        return {session.id: session.therapist_id for session in self}

    def _spa_check_write_policy(self, vals):
        # The declaration refuses it too; say plainly why for the assignment.
        changed = self._spa_changed_fields(vals, ASSIGNMENT_FIELDS)
        booked = self.filtered(lambda s: s.state == "draft" and s.event_id)
        may_book = self._spa_user_roles() & {ROLE_FRONT_DESK, ROLE_MANAGER}
        if (
            may_book
            and changed
            and booked
            and booked._spa_changed_fields(vals, changed)
        ):
            raise UserError(
                self.env._(
                    "%(sessions)s follow their appointments: change the client, "
                    "therapist, protocol or time on the appointment (%(fields)s).",
                    sessions=", ".join(booked.mapped("name")),
                    fields=self._spa_field_labels(changed),
                )
            )
        started = self.filtered(lambda s: s.state != "draft")
        if changed and started and started._spa_changed_fields(vals, changed):
            raise UserError(
                self.env._(
                    "The client, therapist, protocol, appointment, company and planned "
                    "times of a session cannot change once it has started or ended: "
                    "%(sessions)s (%(fields)s).",
                    sessions=", ".join(started.mapped("name")),
                    fields=self._spa_field_labels(changed),
                )
            )
        return super()._spa_check_write_policy(vals)

    def _raise_problems(self, problems_by_session, header):
        lines = [
            self.env._(
                "%(session)s: %(problems)s",
                session=session.name,
                problems=session._format_problems(problems),
            )
            for session in self
            if (problems := problems_by_session.get(session.id))
        ]
        if lines:
            # The refusal rolls back; its log is kept (separate cursor).
            self.env["spa.session.refusal"]._log_refusals(self, problems_by_session)
            raise UserError(
                self.env._(
                    "%(header)s\n%(problems)s", header=header, problems="\n".join(lines)
                )
            )

    # ------------------------------------------------------------------
    # Guards shared by the actions
    # ------------------------------------------------------------------

    def _check_state(self, allowed, action_label):
        wrong = self.filtered(lambda s: s.state not in allowed)
        if wrong:
            labels = dict(self._fields["state"]._description_selection(self.env))
            raise UserError(
                self.env._(
                    "%(action)s is not possible for %(sessions)s.",
                    action=action_label,
                    sessions=", ".join(f"{s.name} ({labels[s.state]})" for s in wrong),
                )
            )

    def _check_clinical_user(self, action_label):
        """Starting, completing and stopping are for therapists (their own
        sessions) and managers; the front desk never runs a session."""
        if self.env.su:
            return
        user = self.env.user
        if not user.has_group(THERAPIST_GROUP):
            raise AccessError(
                self.env._(
                    "Only therapists and managers can do this: %(action)s.",
                    action=action_label,
                )
            )
        if not user.has_group(MANAGER_GROUP):
            others = self.filtered(lambda s: s.therapist_id != user)
            if others:
                raise AccessError(
                    self.env._(
                        "%(action)s: you are not the therapist of %(sessions)s.",
                        action=action_label,
                        sessions=", ".join(others.mapped("name")),
                    )
                )

    def _lock_for_update(self):
        """Lock the sessions' rows: a concurrent tick, check-in or state change
        of the same sessions waits or fails instead of racing this one.

        An UPDATE (that changes nothing), not a SELECT ... FOR UPDATE: under
        REPEATABLE READ, a transaction that merely waited for a row lock goes
        on with the snapshot it took before waiting, and would decide on stale
        steps and check-ins (a tick committed meanwhile, unseen by a stop or a
        completion). A row *updated* by a concurrent transaction makes it fail
        with a serialization error instead, retried with fresh data. The lock
        an UPDATE takes (NO KEY UPDATE) lets rows that merely reference the
        session be inserted from another transaction (the refusal log's own
        cursor): a plain FOR UPDATE would block their foreign-key check."""
        if self.ids:
            self.env.cr.execute(
                "UPDATE spa_session SET write_date = write_date WHERE id IN %s",
                [tuple(self.ids)],
            )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_start(self):
        label = self.env._("Starting")
        self._check_state(["draft"], label)
        self._check_clinical_user(label)
        self.flush_recordset()
        self._lock_for_update()
        now = fields.Datetime.now()
        today = self._spa_today_by_session()
        facts = self._rule_facts()
        # sudo: any consent of the client counts, whoever recorded it; the
        # search is narrowed to the clients and protocols of these sessions.
        consents_sudo = (
            self.env["spa.consent"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.partner_id.ids),
                    ("protocol_ids", "in", self.protocol_id.ids),
                    ("company_id", "in", self.company_id.ids),
                    ("state", "!=", "draft"),
                ]
            )
        )
        consent_facts = consents_sudo._to_facts()
        by_partner = defaultdict(list)
        for consent in consents_sudo:
            by_partner[(consent.partner_id.id, consent.company_id.id)].append(
                consent_facts[consent.id]
            )
        intakes = self._spa_candidate_intakes()
        problems_by_session = {}
        chosen = {}
        chosen_intake = {}
        for session in self:
            problems, consent = session_rules.start_problems(
                facts[session.id],
                by_partner[(session.partner_id.id, session.company_id.id)],
                today[session.id],
                now,
                intakes=intakes[session.id],
            )
            if problems:
                problems_by_session[session.id] = problems
            else:
                chosen[session.id] = consent.id
                intake = session_rules.start_intake(
                    facts[session.id], intakes[session.id], today[session.id]
                )[1]
                chosen_intake[session.id] = intake.id if intake else False
        if problems_by_session:
            self._raise_problems(
                problems_by_session, self.env._("The session cannot start:")
            )
        # Lock the consents relied on: a concurrent withdrawal waits or fails.
        self.env["spa.consent"].browse(set(chosen.values())).flush_recordset()
        self.env.cr.execute(
            "SELECT id FROM spa_consent WHERE id IN %s FOR UPDATE",
            [tuple(set(chosen.values()))],
        )
        for session in self:
            session._write_server(
                {
                    "state": "in_progress",
                    "date_start": now,
                    "started_by_id": self.env.user.id,
                    "consent_id": chosen[session.id],
                    "intake_id": chosen_intake[session.id],
                }
            )
        return True

    def action_done(self):
        label = self.env._("Completing")
        self._check_state(["in_progress"], label)
        self._check_clinical_user(label)
        self.flush_recordset()
        self._lock_for_update()
        consents = self.consent_id
        if consents:
            consents.flush_recordset()
            self.env.cr.execute(
                "SELECT id FROM spa_consent WHERE id IN %s FOR UPDATE",
                [tuple(consents.ids)],
            )
        problems_by_session = {
            sid: p for sid, p in self._completion_problems().items() if p
        }
        if problems_by_session:
            self._raise_problems(
                problems_by_session, self.env._("The session cannot be completed:")
            )
        self._write_server(
            {
                "state": "done",
                "date_done": fields.Datetime.now(),
                "finished_by_id": self.env.user.id,
            }
        )
        self._secure_evidence()
        self._spa_send_aftercare()
        return True

    def action_stop(self, reason=None, note=None):
        """End in-progress sessions early as stopped.

        When a check-in triggered the stop rule (severe pain or the client's
        request), a referral to a healthcare professional is recommended.
        """
        label = self.env._("Stopping")
        self._check_state(["in_progress"], label)
        self._check_clinical_user(label)
        for value, what in ((reason, self.env._("reason")), (note, self.env._("note"))):
            if value and not isinstance(value, str):
                raise UserError(
                    self.env._("The stop %(what)s must be text.", what=what)
                )
        if reason and reason not in dict(STOP_REASONS):
            raise UserError(
                self.env._(
                    "Unknown stop reason %(reason)s; use one of: %(reasons)s.",
                    reason=reason,
                    reasons=", ".join(dict(STOP_REASONS)),
                )
            )
        self.flush_recordset()
        self._lock_for_update()
        facts = self._rule_facts()
        now = fields.Datetime.now()
        for session in self:
            # The check-ins that trigger the stop rule (its one source).
            triggers = session_rules.stop_triggers(facts[session.id])
            triggered = bool(triggers)
            vals = {
                "state": "stopped",
                "date_done": now,
                "finished_by_id": self.env.user.id,
                "referral_recommended": triggered,
            }
            stop_reason = reason or session.stop_reason
            if triggered:
                # The stop rule says why: severe pain or the client's request,
                # whatever reason was picked before the check-in came.
                rule_reason = (
                    "client_request"
                    if any(c.stop_requested for c in triggers)
                    else "pain"
                )
                if reason and reason not in ("pain", "client_request"):
                    raise UserError(
                        self.env._(
                            "%(session)s is stopped by the stop rule: its reason is "
                            "%(rule)s, not %(reason)s.",
                            session=session.name,
                            rule=dict(STOP_REASONS)[rule_reason],
                            reason=dict(STOP_REASONS)[reason],
                        )
                    )
                if stop_reason not in ("pain", "client_request"):
                    stop_reason = rule_reason
            elif stop_reason in ("pain", "client_request"):
                # Severe pain or the client's wish is logged as a check-in,
                # which triggers the stop rule (and the referral).
                raise UserError(
                    self.env._(
                        "%(session)s: log the check-in (the pain level or the "
                        "client's request to stop) first; the stop rule then stops "
                        "the session with its referral.",
                        session=session.name,
                    )
                )
            elif not stop_reason:
                stop_reason = "other"
            vals["stop_reason"] = stop_reason
            if note:
                vals["stop_note"] = note
            session._write_server(vals)
            if triggered:
                session.message_post(
                    body=self.env._(
                        "Session stopped by the stop rule. A referral to a healthcare "
                        "professional (chiropractor, physiotherapist) was recommended "
                        "to the client."
                    )
                )
        self._secure_evidence()
        referred = self.filtered("referral_recommended")
        referred._schedule_referral_followup()
        referred._spa_send_aftercare()
        return True

    def _get_report_base_filename(self):
        """The file name of a session's printed record (portal downloads)."""
        self.ensure_one()
        return self.env._("Session Record %(name)s", name=self.name)

    # ------------------------------------------------------------------
    # Aftercare: the client's email when the session ends
    # ------------------------------------------------------------------

    def _spa_aftercare_template(self):
        """The email a finished session sends its client: the protocol's
        aftercare when done, its referral letter when stopped with a
        referral; none otherwise, or when the company switched them off."""
        self.ensure_one()
        # sudo: the company's setting decides, whatever the finishing user
        # may read of the company record.
        if not self.company_id.sudo().spa_aftercare_enabled:
            return self.env["mail.template"]
        if self.state == "done":
            return self.protocol_id.aftercare_template_id
        if self.state == "stopped" and self.referral_recommended:
            return self.protocol_id.referral_template_id
        return self.env["mail.template"]

    def _spa_send_aftercare(self):
        """Email each finished session's client its aftercare (or referral)
        and log it in the session's chatter.

        Finishing the session never depends on the email: the message is
        queued (sent by the mail queue, whose failures show on the message),
        a client without a valid address is noted in the chatter, and a
        template that cannot be rendered is logged, not raised."""
        for session in self:
            template = session._spa_aftercare_template()
            if not template:
                continue
            partner = session.partner_id
            problem = False
            if not partner.email:
                problem = self.env._(
                    "No email was sent (%(template)s): %(client)s has no email "
                    "address.",
                    template=template.name,
                    client=partner.name,
                )
            elif not email_normalize(partner.email):
                problem = self.env._(
                    "No email was sent (%(template)s): the email address of "
                    "%(client)s (%(email)s) is not valid.",
                    template=template.name,
                    client=partner.name,
                    email=partner.email,
                )
            else:
                try:
                    with self.env.cr.savepoint():
                        session.with_context(
                            mail_notify_force_send=False
                        ).message_post_with_source(
                            template,
                            message_type="comment",
                            subtype_xmlid="mail.mt_comment",
                        )
                except (UserError, ValueError) as error:
                    _logger.warning(
                        "Aftercare email of session %s not sent: %s",
                        session.id,
                        error,
                    )
                    problem = self.env._(
                        "The email %(template)s could not be prepared: %(error)s",
                        template=template.name,
                        error=str(error),
                    )
            if problem:
                session._message_log(body=problem)

    def _schedule_referral_followup(self):
        """A to-do for a manager on each session stopped with a referral:
        the protocol's responsible, else the first manager of the company.
        Never twice for the same session and manager."""
        if not self:
            return
        todo = self.env.ref("mail.mail_activity_data_todo")
        # sudo: the follow-up is the system's duty, assigned to a manager,
        # whatever the stopping therapist may do on activities and users.
        sessions_sudo = self.sudo()
        existing = {
            (a.res_id, a.user_id.id)
            for a in self.env["mail.activity"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("activity_type_id", "=", todo.id),
                ]
            )
        }
        vals_list = []
        for session in sessions_sudo:
            responsible = session.protocol_id._spa_responsible(session.company_id)
            if not responsible or (session.id, responsible.id) in existing:
                continue
            vals_list.append(
                {
                    "res_model_id": self.env["ir.model"]._get_id(self._name),
                    "res_id": session.id,
                    "activity_type_id": todo.id,
                    "user_id": responsible.id,
                    "automated": True,
                    "date_deadline": fields.Date.context_today(self),
                    "summary": self.env._(
                        "Referral follow-up: %(session)s", session=session.name
                    ),
                    "note": self.env._(
                        "Session %(session)s of %(client)s was stopped by the stop "
                        "rule; a referral to a healthcare professional was "
                        "recommended. Follow up with the client.",
                        session=session.name,
                        client=session.partner_id.name,
                    ),
                }
            )
        if vals_list:
            self.env["mail.activity"].sudo().create(vals_list)

    def action_cancel(self):
        label = self.env._("Cancelling")
        self._check_state(["draft"], label)
        self._check_cancel_rights()
        self._write_server({"state": "cancelled"})
        return True

    def _spa_not_handled_by_caller(self):
        """The sessions of ``self`` that the current user does not handle: they
        are neither the front desk, a manager, nor the session's therapist
        (who cancels it, moves its appointment)."""
        roles = self._spa_record_roles()
        allowed = {ROLE_FRONT_DESK, ROLE_MANAGER, ROLE_OWN_THERAPIST}
        return self.filtered(lambda s: not roles[s.id] & allowed)

    def _check_cancel_rights(self):
        """A planned session is cancelled by the front desk, a manager or its
        own therapist (not a colleague), whatever path (the appointment too)."""
        roles = self._spa_record_roles()
        now = fields.Datetime.now()
        # A session whose planned end passed undocumented is a finding of the
        # compliance analysis: only a manager cancels it (e.g. a no-show).
        past = self.filtered(
            lambda s: (
                s.date_planned_end
                and s.date_planned_end < now
                and ROLE_MANAGER not in roles[s.id]
            )
        )
        if past:
            raise AccessError(
                self.env._(
                    "%(sessions)s were planned to end before now and were never "
                    "documented: only a manager can cancel them.",
                    sessions=", ".join(past.sudo().mapped("name")),
                )
            )
        refused = self._spa_not_handled_by_caller()
        if refused:
            raise AccessError(
                self.env._(
                    "Only the front desk, a manager or the session's own therapist can "
                    "cancel %(sessions)s.",
                    sessions=", ".join(refused.sudo().mapped("name")),
                )
            )

    def _action_cancel_for_event(self):
        """Cancel the planned sessions of deleted or archived appointments;
        started or finished ones are evidence: refused."""
        started = self.filtered(lambda s: s.state not in ("draft", "cancelled"))
        if started:
            raise UserError(
                self.env._(
                    "The appointment cannot be deleted or archived: its session "
                    "%(sessions)s has started "
                    "and is evidence. Stop or complete the session instead.",
                    sessions=", ".join(started.mapped("name")),
                )
            )
        planned = self.filtered(lambda s: s.state == "draft")
        planned._check_cancel_rights()
        planned._write_server({"state": "cancelled"})

    def action_open_event(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "calendar.event",
            "res_id": self.event_id.id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------
    # Evidence that lasts: what a session proves (spa.evidence.chain.mixin)
    # and its clinical free text (spa.retention.mixin)
    # ------------------------------------------------------------------

    # The clinical free text: covered by the evidence through its digest
    # only, so that anonymising it after the retention period keeps the
    # chain verifying.
    _spa_free_text_fields = ("screening_note", "adjustment_note", "stop_note")
    _spa_free_text_line_fields = {"checkin_ids": ("note",)}

    @api.model
    def _get_evidence_hash_fields(self, version):
        """What a finished session proves, by version of the hash scheme
        (see ``spa.evidence.chain.mixin``); a version is never changed once
        released, a new one adds to the last.

        2 adds the consent as agreed (its text, protocols, state and
        withdrawal as of the session's end), the steps as copied
        (instructions, what they ask to record), the planned times and the
        company of every line.

        3 adds the body regions (rule 8): the regions each step was copied
        with and touched (the technique as adapted), the sensitive regions
        the consent names and where each check-in was felt.

        4 covers the same as 3, with the steps and check-ins hashed as
        columns rather than one object per line (the field names are not
        repeated per line: a link's text is a third shorter, and the check
        hashes it in about half the time).
        """
        if version == 1:
            return {
                "session": (
                    None,
                    (
                        "name",
                        "company_id",
                        "partner_id",
                        "therapist_id",
                        "protocol_id",
                        "consent_id",
                        "state",
                        "date_start",
                        "date_done",
                        "started_by_id",
                        "finished_by_id",
                        "referral_recommended",
                        "stop_reason",
                        "min_checkin_count",
                        "pain_stop_threshold",
                        "positioning",
                        "adjust_angle",
                        "adjust_direction",
                        "adjust_lighter_pressure",
                        "screening_has_pain",
                    ),
                ),
                "consent": (
                    "consent_id",
                    (
                        "partner_id",
                        "method",
                        "given_at",
                        "valid_until",
                        "recorded_by_id",
                    ),
                ),
                "steps": (
                    "step_ids",
                    (
                        "sequence",
                        "name",
                        "is_mandatory",
                        "requires_checkin",
                        "qualification_id",
                        "state",
                        "done_by_id",
                        "done_at",
                        "skip_reason",
                    ),
                ),
                "checkins": (
                    "checkin_ids",
                    (
                        "session_step_id",
                        "pain_level",
                        "stop_requested",
                        "logged_by_id",
                        "create_date",
                        "device_at",
                        "uuid",
                    ),
                ),
            }
        if version == 2:
            spec = self._get_evidence_hash_fields(1)
            extra = {
                "session": ("date_planned", "date_planned_end"),
                "consent": (
                    "company_id",
                    "protocol_ids",
                    "consent_text",
                    "consent_text_versions",
                    "state",
                    "withdrawn_at",
                ),
                "steps": ("company_id", "instructions", "record_kind"),
                "checkins": ("company_id",),
            }
            return {
                section: (relation, (*fnames, *extra[section]))
                for section, (relation, fnames) in spec.items()
            }
        if version == 3:
            # 3 adds the body regions (rule 8) and the health intake the start
            # relied on (rule 7): whose answers, to which questionnaire,
            # finished when, and the manager's clearance of its blocking answers.
            spec = self._get_evidence_hash_fields(2)
            extra = {
                # Body regions (rule 8).
                "steps": ("planned_region_ids", "touched_region_ids"),
                "consent": ("body_region_ids",),
                "checkins": ("body_region_id",),
                # Health intake (rule 7).
                "session": ("intake_id",),
            }
            spec = {
                section: (relation, (*fnames, *extra.get(section, ())))
                for section, (relation, fnames) in spec.items()
            }
            spec["intake"] = (
                "intake_id",
                (
                    "partner_id",
                    "survey_id",
                    "state",
                    "end_datetime",
                    "spa_cleared_by_id",
                    "spa_cleared_at",
                    "spa_clearance_note",
                ),
            )
            return spec
        if version == 4:
            # 4 covers what 3 covers; the steps and check-ins are hashed as
            # columns (see tools/evidence).
            return self._get_evidence_hash_fields(3)
        raise NotImplementedError(f"evidence hash version {version} does not exist")

    @api.model
    def _evidence_normalise_facts(self, version, facts):
        # The consent as it was when the session ended: a withdrawal after
        # the end is the client's right and does not change the session's
        # record; one stamped before the end (an SQL change) does.
        consent = facts.get("consent")
        if version >= 2 and consent:
            consent["state"], consent["withdrawn_at"] = evidence.consent_as_of(
                consent["state"], consent["withdrawn_at"], facts["session"]["date_done"]
            )
        return facts

    @api.model
    def _spa_retention_anonymise_related(self, batch_size):
        # The drawn signatures of consents that ended as long ago, and the
        # typed answers of the health intakes the anonymised sessions relied on.
        signatures = self.env["spa.consent"]._spa_cron_anonymise_signatures(
            limit=batch_size
        )
        intakes = self.env["survey.user_input"]._spa_cron_anonymise_answers(
            limit=batch_size
        )
        return len(signatures) + len(intakes)
