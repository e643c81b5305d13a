from dataclasses import replace
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..tools import session_rules
from .spa_checkin import DEVICE_DRIFT_MINUTES
from .spa_protocol_step import RECORD_KINDS
from .spa_session_fields import RULE_COUNTER_FIELDS, RULE_SESSION_FIELDS
from .spa_session_refusal import LOGGED_TICK_CODES
from .spa_write_policy_mixin import (
    ROLE_MANAGER,
    ROLE_OWN_THERAPIST,
    ROLE_THERAPIST,
    THERAPIST_GROUP,
)

# What ticking or skipping reads of the sessions: the rules' facts, the
# counters recomputed after it, and what a tick asks to have been recorded
# (the positioning and adjustment of the steps that record them).
STEP_SESSION_FIELDS = [
    *RULE_SESSION_FIELDS,
    *RULE_COUNTER_FIELDS,
    "positioning",
    "adjust_angle",
    "adjust_direction",
    "adjust_lighter_pressure",
    "adjustment_note",
]


class SpaSessionStep(models.Model):
    _name = "spa.session.step"
    _description = "Spa Session Checklist Step"
    _inherit = ["spa.write.policy.mixin"]
    _order = "sequence, id"

    # Default-deny (see spa.write.policy.mixin). The lines are the server's
    # copy of the protocol (spa.session._spa_sync_checklist): nobody creates,
    # deletes or re-links them; the step actions tick and skip them. The policy
    # state is "<session state>/<line state>".
    _spa_create_policy = {}
    # The regions a line touches are the technique as performed: the
    # session's therapist (or a manager) adapts them until the line is ticked
    # (e.g. stabilise on the sacrum rather than the buttocks); then frozen.
    _spa_write_policy = {
        ROLE_OWN_THERAPIST: {
            "in_progress/todo": ("skip_reason", "touched_region_ids"),
            "draft/todo": ("touched_region_ids",),
        },
        ROLE_MANAGER: {
            "in_progress/todo": ("skip_reason", "touched_region_ids"),
            "draft/todo": ("touched_region_ids",),
        },
    }
    _spa_x2many_commands = {
        "touched_region_ids": (Command.SET, Command.LINK, Command.UNLINK),
    }
    _spa_unlink_policy = {}

    session_id = fields.Many2one(
        "spa.session", required=True, index=True, ondelete="cascade"
    )
    # The session's company, copied with the line (a session never changes
    # company), stored for the multi-company rule. A plain field given by
    # spa.session._step_line_vals rather than a stored related one: booking
    # 500 appointments creates 4,500 lines, and a related field would either
    # be precomputed (the ORM builds a new record per line before the
    # INSERT) or written back by an UPDATE after it.
    company_id = fields.Many2one("res.company", index=True, readonly=True)
    session_state = fields.Selection(related="session_id.state", string="Session State")
    protocol_step_id = fields.Many2one("spa.protocol.step", ondelete="set null")
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True)
    instructions = fields.Text()
    is_mandatory = fields.Boolean(string="Mandatory")
    requires_checkin = fields.Boolean(string="Requires Check-in")
    qualification_id = fields.Many2one("spa.qualification", ondelete="restrict")
    record_kind = fields.Selection(RECORD_KINDS, default="none", required=True)
    state = fields.Selection(
        [("todo", "To Do"), ("done", "Done"), ("skipped", "Skipped")],
        default="todo",
        required=True,
        readonly=True,
        copy=False,
    )
    done_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    done_at = fields.Datetime(readonly=True, copy=False)
    # The tablet's clock when it recorded the tick or skip, kept beside the
    # server's ``done_at`` as a check-in keeps ``device_at``: server-set from
    # the tablet's operation, never written by a caller.
    device_done_at = fields.Datetime(
        string="Done on Device At",
        readonly=True,
        copy=False,
        help="When the tablet recorded the tick or skip (its own clock), beside "
        "the server's time.",
    )
    skip_reason = fields.Text(copy=False, groups=THERAPIST_GROUP)
    checkin_ids = fields.One2many(
        "spa.checkin", "session_step_id", string="Check-ins", groups=THERAPIST_GROUP
    )
    # The regions of the protocol's step when the line was copied (server's),
    # and the regions the step actually touches (the technique as adapted).
    planned_region_ids = fields.Many2many(
        "spa.body.region",
        "spa_session_step_planned_region_rel",
        "step_id",
        "region_id",
        string="Planned Regions",
        # An archived region stays what the record names (rule 8, evidence).
        context={"active_test": False},
        readonly=True,
        copy=False,
        groups=THERAPIST_GROUP,
    )
    touched_region_ids = fields.Many2many(
        "spa.body.region",
        "spa_session_step_touched_region_rel",
        "step_id",
        "region_id",
        string="Touched Regions",
        # An archived region stays what the record names (rule 8, evidence).
        context={"active_test": False},
        copy=False,
        groups=THERAPIST_GROUP,
        help="The regions this step touches, copied from the protocol; the "
        "therapist can adapt the technique (remove or add regions) until the step "
        "is ticked.",
    )
    is_region_adapted = fields.Boolean(
        string="Technique Adapted",
        compute="_compute_is_region_adapted",
        groups=THERAPIST_GROUP,
    )

    @api.depends("planned_region_ids", "touched_region_ids")
    def _compute_is_region_adapted(self):
        for line in self:
            line.is_region_adapted = line.planned_region_ids != line.touched_region_ids

    # ------------------------------------------------------------------
    # CRUD guards
    # ------------------------------------------------------------------

    def _spa_policy_state(self):
        return {line.id: f"{line.session_id.state}/{line.state}" for line in self}

    def _spa_policy_therapist(self):
        return {line.id: line.session_id.therapist_id for line in self}

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def _spa_fetch_sessions(self):
        """Read what a tick or skip weighs of the lines' sessions, in one
        query (sudo: the rules and the therapist check read them as the
        server, as ``_rule_facts`` does; the lines were found as the user),
        rather than every stored field of the sessions."""
        self.session_id.sudo().fetch(STEP_SESSION_FIELDS)

    def _check_therapist(self):
        if self.env.su:
            return
        user = self.env.user
        # The user's roles by their groups (has_group's answers, looked up once).
        roles = self._spa_user_roles()
        if ROLE_THERAPIST not in roles:
            raise AccessError(
                self.env._(
                    "Only therapists and managers can tick or skip checklist steps."
                )
            )
        if ROLE_MANAGER not in roles:
            # sudo: whose session it is decides, whatever the user may read;
            # (read as the user, the therapist would load every field of the
            # sessions, each checked against the user's groups: the tablet's
            # costliest part of a tick). The refusal names them as the user.
            theirs = self.session_id.sudo().filtered(lambda s: s.therapist_id == user)
            others = self.session_id - theirs.sudo(False)
            if others:
                raise AccessError(
                    self.env._(
                        "You are not the therapist of %(sessions)s.",
                        sessions=", ".join(others.mapped("name")),
                    )
                )

    def action_done(self):
        """Tick the steps (in their order) as done by the current user, now."""
        return self._spa_tick()

    def _spa_tick(self, device_at=None):
        """Tick the steps; ``device_at``: when the tablet recorded the tick
        (naive UTC, its own clock), kept beside the server's time."""
        self._spa_fetch_sessions()
        self._check_therapist()
        sessions = self.session_id
        sessions.flush_recordset()
        sessions._lock_for_update()
        user = self.env.user
        now = fields.Datetime.now()
        # Rule 8 is the only rule of a tick that weighs the consent and the
        # lines' regions (no rule of a tick weighs the protocol's consent
        # text or intake): the consent is read only when a line ticked
        # touches a sensitive region (sudo: the regions decide, as the facts
        # read them). The lines of the sessions first, then the regions of
        # all of them in one query: the facts find both in cache.
        sensitive = self.env["spa.body.region"]._spa_sensitive_ids()
        sessions_sudo = sessions.sudo()
        sessions_sudo._rule_lines_and_checkins()
        sessions_sudo.step_ids.fetch(["touched_region_ids"])
        facts = sessions._rule_facts(
            with_consent=bool(set(self.sudo().touched_region_ids.ids) & sensitive)
        )
        # A qualification is checked on the company's day of the tick.
        today = sessions._spa_today_by_session()
        qualified = {
            day: self.env["spa.certification"]._qualified_pairs(
                user,
                self.filtered(
                    lambda s, d=day: today[s.session_id.id] == d
                ).qualification_id,
                day,
            )
            for day in set(today.values())
        }
        # sudo: the clinical fields are read to check a rule, not shown.
        errors = []
        # Ticks a protocol rule refused (out of order, ...): blocked attempts.
        blocked, blocked_texts = {}, {}
        for step in self.sorted(lambda s: (s.session_id.id, s.sequence, s.id)):
            session_facts = facts[step.session_id.id]
            step_facts = next(s for s in session_facts.steps if s.id == step.id)
            session_sudo = sessions_sudo.filtered(
                lambda s, sid=step.session_id.id: s.id == sid
            )
            problems = session_rules.tick_problems(
                session_facts,
                step_facts,
                qualified=(user.id, step.qualification_id.id)
                in qualified[today[step.session_id.id]],
                positioning=session_sudo.positioning,
                has_adjustment=bool(
                    session_sudo.adjust_angle
                    or session_sudo.adjust_direction
                    or session_sudo.adjust_lighter_pressure
                    or (session_sudo.adjustment_note or "").strip()
                ),
            )
            if problems:
                text = step._format_tick_problems(problems)
                errors.append(text)
                if any(code in LOGGED_TICK_CODES for code, __ in problems):
                    blocked.setdefault(step.session_id.id, []).extend(problems)
                    blocked_texts.setdefault(step.session_id.id, []).append(text)
                continue
            # Later steps of the same call see this one done.
            facts[step.session_id.id] = _replace_step(session_facts, step.id, "done")
        if errors:
            if blocked:
                # The refusal rolls back; its log is kept (separate cursor).
                self.env["spa.session.refusal"]._log_refusals(
                    sessions.filtered(lambda s: s.id in blocked),
                    blocked,
                    action="tick",
                    reasons={sid: "\n".join(t) for sid, t in blocked_texts.items()},
                )
            raise UserError(
                self.env._(
                    "The step cannot be ticked:\n%(errors)s", errors="\n".join(errors)
                )
            )
        vals = {"state": "done", "done_by_id": user.id, "done_at": now}
        if device_at:
            self._spa_check_device_time(device_at, now)
            vals["device_done_at"] = device_at
        self._write_server(vals)
        return True

    def _spa_check_device_time(self, device_at, now):
        """The tablet's clock is kept beside the server's, never trusted for
        the rules: refused as a check-in's is, outside the session's start
        and now, give or take the allowed drift."""
        drift = timedelta(minutes=DEVICE_DRIFT_MINUTES)
        for session in self.session_id:
            if not session_rules.device_time_plausible(
                device_at, session.date_start, now, drift
            ):
                raise ValidationError(
                    self.env._(
                        "The step cannot be ticked or skipped: the device time "
                        "%(device_at)s "
                        "is not between the session's start (%(start)s) and now "
                        "(%(now)s), give or take %(minutes)s minutes: check the "
                        "tablet's clock.",
                        device_at=fields.Datetime.to_string(device_at),
                        start=fields.Datetime.to_string(session.date_start or now),
                        now=fields.Datetime.to_string(now),
                        minutes=DEVICE_DRIFT_MINUTES,
                    )
                )

    def action_skip(self, reason=None):
        """Skip optional steps, with a reason."""
        return self._spa_skip(reason)

    def _spa_skip(self, reason=None, device_at=None):
        """Skip the steps; ``device_at`` as for ``_spa_tick``."""
        self._spa_fetch_sessions()
        self._check_therapist()
        if reason and not isinstance(reason, str):
            raise UserError(self.env._("The reason for skipping must be text."))
        sessions = self.session_id
        sessions.flush_recordset()
        sessions._lock_for_update()
        # No rule of a skip weighs the consent, the protocol's text or intake.
        facts = sessions._rule_facts(with_consent=False)
        errors = []
        for step in self:
            session_facts = facts[step.session_id.id]
            step_facts = next(s for s in session_facts.steps if s.id == step.id)
            problems = session_rules.skip_problems(
                session_facts, step_facts, reason or step.skip_reason
            )
            if problems:
                errors.append(step._format_skip_problems(problems))
        if errors:
            raise UserError(
                self.env._(
                    "The step cannot be skipped:\n%(errors)s", errors="\n".join(errors)
                )
            )
        now = fields.Datetime.now()
        vals = {"state": "skipped", "done_by_id": self.env.user.id, "done_at": now}
        if device_at:
            self._spa_check_device_time(device_at, now)
            vals["device_done_at"] = device_at
        if reason:
            vals["skip_reason"] = reason
        self._write_server(vals)
        return True

    def _format_skip_problems(self, problems):
        self.ensure_one()
        texts = {
            session_rules.STEP_NOT_IN_PROGRESS: self.env._(
                "the session is not in progress"
            ),
            session_rules.STEP_NOT_TODO: self.env._("it is not to do"),
            session_rules.STEP_MANDATORY: self.env._("it is mandatory"),
            session_rules.STEP_NEEDS_REASON: self.env._("a reason is required"),
        }
        return self.env._(
            "'%(step)s': %(why)s",
            step=self.name,
            why=", ".join(texts.get(code, code) for code, __ in problems),
        )

    def _format_tick_problems(self, problems):
        self.ensure_one()
        labels = dict(
            self.env["spa.session"]._fields["state"]._description_selection(self.env)
        )
        parts = []
        for code, params in problems:
            if code == session_rules.STEP_NOT_IN_PROGRESS:
                parts.append(
                    self.env._(
                        "the session is not in progress (%(state)s)",
                        state=labels.get(params["state"]),
                    )
                )
            elif code == session_rules.STEP_NOT_TODO:
                parts.append(self.env._("the step is already done or skipped"))
            elif code == session_rules.STEP_OUT_OF_ORDER:
                parts.append(
                    self.env._(
                        "do the earlier mandatory steps first: %(steps)s",
                        steps=", ".join(f"'{n}'" for n in params["names"]),
                    )
                )
            elif code == session_rules.STEP_NOT_QUALIFIED:
                parts.append(
                    self.env._(
                        "it requires a valid certification for '%(qualification)s', "
                        "which you do not hold today",
                        qualification=self.qualification_id.name,
                    )
                )
            elif code == session_rules.STEP_NEEDS_POSITIONING:
                parts.append(self.env._("record the client's positioning first"))
            elif code == session_rules.STEP_NEEDS_ADJUSTMENT:
                parts.append(
                    self.env._(
                        "record the technique adjustment first (angle, direction or "
                        "lighter pressure)"
                    )
                )
            elif code == session_rules.STEP_SENSITIVE_REGION:
                parts.append(self._format_sensitive_region_problem(params))
            elif code == session_rules.STOP_RULE:
                parts.append(
                    self.env._(
                        "a check-in triggered the stop rule: "
                        "the session must be stopped"
                    )
                )
            else:
                parts.append(code)
        return self.env._(
            "'%(step)s': %(problems)s", step=self.name, problems="; ".join(parts)
        )

    def _format_sensitive_region_problem(self, params):
        """Rule 8's refusal, naming each region."""
        # sudo: the region names are read to name them, whatever the caller reads.
        regions = ", ".join(
            f"'{name}'"
            for name in self.env["spa.body.region"]
            .sudo()
            .browse(params["region_ids"])
            .mapped("name")
        )
        if params["written"]:
            return self.env._(
                "it touches the sensitive region(s) %(regions)s, which the client's "
                "written consent does not name: record a written or signed consent "
                "naming them, or adapt the technique (remove the region from the "
                "step)",
                regions=regions,
            )
        return self.env._(
            "it touches the sensitive region(s) %(regions)s: a verbal consent is not "
            "enough, a written or signed consent naming them is needed (or adapt the "
            "technique: remove the region from the step)",
            regions=regions,
        )


def _replace_step(session_facts, step_id, state):
    steps = tuple(
        replace(s, state=state) if s.id == step_id else s for s in session_facts.steps
    )
    return replace(session_facts, steps=steps)
