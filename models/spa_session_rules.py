from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..tools import session_rules
from .survey_user_input import SPA_INTAKE_FACT_FIELDS

# What the rules weigh of a line, and what the tablet shows of it: read in the
# query that finds the lines (see ``_rule_lines_and_checkins``).
RULE_LINE_FIELDS = [
    "session_id",
    "company_id",
    "sequence",
    "name",
    "instructions",
    "is_mandatory",
    "requires_checkin",
    "state",
    "qualification_id",
    "record_kind",
    "done_by_id",
    "done_at",
    # the tablet's clock of the tick, shown beside the server's
    "device_done_at",
    "skip_reason",
]
# The same for a check-in.
RULE_CHECKIN_FIELDS = [
    "session_id",
    "company_id",
    "session_step_id",
    "pain_level",
    "stop_requested",
    "triggers_stop",
    "uuid",
    "body_region_id",
    "create_date",
    "device_at",
]


class SpaSession(models.Model):
    """The rules adapter: builds the plain facts of a batch of sessions once
    and asks ``tools/session_rules.py``, the only implementation of the
    rules, for every decision and every figure derived from them (the
    completion blockers, the check-in counts, the consent column of the
    compliance analysis). The models never re-implement a rule."""

    _inherit = "spa.session"

    # Stored for the compliance analysis (an SQL view cannot call Python):
    # the rules' verdict on the consent the session relied on, at its start
    # and (done) at its completion, on the company's day. Server-only.
    has_valid_consent = fields.Boolean(
        string="Valid Consent",
        compute="_compute_has_valid_consent",
        store=True,
        readonly=True,
        copy=False,
        precompute=True,
        help="The session rested on a consent valid when it started (and, when "
        "done, at completion).",
    )
    intake_cautions = fields.Text(
        compute="_compute_intake_cautions",
        groups="spa_session_protocol.group_spa_therapist",
        help="What the client's health intake asks the therapist to take care of: "
        "the intake the session relied on, or the one it would start with.",
    )
    stop_pain_levels = fields.Json(
        compute="_compute_stop_pain_levels",
        help="The pain levels whose check-in triggers the stop rule: the tablet "
        "asks for confirmation before logging one.",
    )

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------

    @api.depends(
        "state",
        "min_checkin_count",
        "step_ids.state",
        "step_ids.requires_checkin",
        "checkin_ids.session_step_id",
    )
    def _compute_checkin_requirements(self):
        """Check-ins the protocol required for what was done, and how many of
        them are missing (``session_rules.required_checkins``)."""
        # Lines and check-ins are all this rule weighs: the consent is not
        # read on every check-in.
        facts = self._spa_compliance_facts(with_consent=False)
        for session in self:
            required, missing = session_rules.required_checkins(facts[session.id])
            session.checkin_required_count = required
            session.checkin_missing_count = missing

    @api.depends(
        "state",
        "date_start",
        "date_done",
        "protocol_id",
        "company_id",
        "consent_id.state",
        "consent_id.given_at",
        "consent_id.valid_until",
        "consent_id.withdrawn_at",
        "consent_id.protocol_ids",
    )
    def _compute_has_valid_consent(self):
        facts = self._spa_compliance_facts()
        for session in self:
            company = session.company_id
            session.has_valid_consent = session_rules.relied_consent_valid(
                facts[session.id],
                company._spa_date_of(session.date_start),
                company._spa_date_of(session.date_done),
            )

    @api.depends("state", "partner_id", "protocol_id", "intake_id")
    def _compute_intake_cautions(self):
        statuses = self._spa_intake_statuses()
        for session in self:
            __, intake = statuses.get(session.id, (False, None))
            session.intake_cautions = (
                "\n".join(
                    self.env._("'%(question)s': %(answer)s", question=q, answer=a)
                    for q, a in session_rules.intake_cautions(intake)
                )
                or False
            )

    @api.depends("pain_stop_threshold")
    def _compute_stop_pain_levels(self):
        for session in self:
            session.stop_pain_levels = session_rules.stop_pain_levels(
                session.pain_stop_threshold
            )

    @api.depends(
        "state",
        "step_ids.state",
        "checkin_ids",
        "consent_id.state",
        "consent_id.valid_until",
    )
    def _compute_completion_blockers(self):
        problems_by_session = self._completion_problems()
        for session in self:
            values = session._spa_completion_values(
                problems_by_session.get(session.id, [])
            )
            for fname, value in values.items():
                session[fname] = value

    def _spa_completion_values(self, problems):
        """The completion columns of the session (``is_stop_triggered``,
        ``completion_blockers``, ``completion_blocker_lines``,
        ``can_complete``) from its ``problems`` (``_completion_problems``):
        the compute and the tablet's answer, which has the facts at hand,
        both ask this."""
        self.ensure_one()
        values = {
            "is_stop_triggered": any(
                code == session_rules.STOP_RULE for code, __ in problems
            ),
            "completion_blockers": False,
            "completion_blocker_lines": [],
            "can_complete": False,
        }
        if self.state == "in_progress":
            lines = self._format_problem_lines(problems)
            values.update(
                completion_blockers="; ".join(lines) or False,
                completion_blocker_lines=lines,
                can_complete=not problems,
            )
        return values

    # ------------------------------------------------------------------
    # Rule facts (gathered in batch)
    # ------------------------------------------------------------------

    def _rule_facts(self, with_intake=False, with_consent=True):
        """Plain facts of each session for ``session_rules``, in a few queries
        (``with_intake``: also the answers of the intake a started session
        relied on, for rule 7's badge and cautions; ``with_consent=False``:
        without what only the consent rules and rule 8 weigh (the consent it
        relies on, the protocol's consent text version, intake survey and
        validity, the lines' sensitive regions, left empty), for a rule that
        weighs none of them, such as ``required_checkins``, ``skip_problems``
        or ``tick_problems`` of lines that touch no sensitive region).

        One query per model (the sessions, their lines with a second one for
        the regions they touch, their check-ins, the consents with their
        protocols and regions, the protocols, the intakes): the lines and
        check-ins read here stay in the transaction's cache for the caller
        (the tablet shows them)."""
        # sudo: the rules must see every check-in and step of the session,
        # whatever the reading user may browse; nothing is returned to them.
        # with_prefetch(): every session of ``self`` in one query, even when
        # ``self`` came through a one2many no longer in cache.
        sessions_sudo = self.sudo().with_prefetch()
        lines_by_session, checkins_by_session = sessions_sudo._rule_lines_and_checkins()
        # Configuration read by every tick: kept in the registry's cache.
        sensitive = self.env["spa.body.region"]._spa_sensitive_ids()
        steps_by_session = defaultdict(list)
        for session_id, lines in lines_by_session.items():
            steps_by_session[session_id] = [
                session_rules.StepFacts(
                    id=step.id,
                    name=step.name,
                    sequence=step.sequence,
                    is_mandatory=step.is_mandatory,
                    requires_checkin=step.requires_checkin,
                    state=step.state,
                    qualification_id=step.qualification_id.id or None,
                    record_kind=step.record_kind,
                    sensitive_region_ids=(
                        frozenset(step.touched_region_ids.ids) & sensitive
                        if with_consent
                        else frozenset()
                    ),
                )
                for step in lines
            ]
        facts_by_checkin = {
            session_id: [checkin._to_facts() for checkin in checkins]
            for session_id, checkins in checkins_by_session.items()
        }
        consent_facts = sessions_sudo.consent_id._to_facts() if with_consent else {}
        intake_facts = {}
        for company in sessions_sudo.company_id if with_intake else ():
            relied = sessions_sudo.filtered(lambda s, c=company: s.company_id == c)
            intake_facts.update(relied.intake_id._spa_intake_facts(company))
        # The protocol's facts (its consent text's version, its intake) are
        # the consent's and intake's rules' only: not read without them.
        with_protocol = with_consent or with_intake
        text_versions = {
            protocol.id: protocol._consent_text_version()
            for protocol in (sessions_sudo.protocol_id if with_protocol else ())
        }
        facts = {}
        for session in sessions_sudo:
            protocol = session.protocol_id if with_protocol else None
            facts[session.id] = session_rules.SessionFacts(
                id=session.id,
                protocol_id=session.protocol_id.id,
                state=session.state,
                min_checkin_count=session.min_checkin_count,
                pain_stop_threshold=session.pain_stop_threshold,
                date_start=session.date_start or None,
                steps=tuple(steps_by_session[session.id]),
                checkins=tuple(facts_by_checkin.get(session.id, ())),
                consent=consent_facts.get(session.consent_id.id),
                protocol_text_version=text_versions.get(session.protocol_id.id),
                has_therapist=bool(session.therapist_id),
                company_id=session.company_id.id or None,
                date_done=session.date_done or None,
                partner_id=session.partner_id.id or None,
                intake_survey_id=(
                    protocol.intake_survey_id.id or None if protocol else None
                ),
                intake_validity_days=(
                    protocol.intake_validity_days if protocol else 30
                ),
                intake=intake_facts.get(session.intake_id.id),
            )
        return facts

    def _spa_compliance_facts(self, with_consent=True):
        """``_rule_facts`` for the compliance columns
        (``session_rules.required_checkins``, ``relied_consent_valid``):
        what a session recorded (lines, check-ins, consent) is read only for
        the sessions those rules weigh it for (``session_rules.weighs_record``:
        once started); for the others their state decides, so booking does
        not read back the checklists it has just written."""
        weighed = self.filtered(lambda s: session_rules.weighs_record(s.state))
        facts = weighed._rule_facts(with_consent=with_consent) if weighed else {}
        for session in self - weighed:
            facts[session.id] = session_rules.SessionFacts(
                id=session.id,
                protocol_id=session.protocol_id.id,
                state=session.state,
                min_checkin_count=session.min_checkin_count,
                pain_stop_threshold=session.pain_stop_threshold,
                company_id=session.company_id.id or None,
            )
        return facts

    def _rule_lines_and_checkins(self):
        """``({session id: lines}, {session id: check-ins})`` of ``self`` (as
        given: the caller decides sudo), each in its model's order.

        Saved sessions whose one2many is not in cache yet: one
        ``search_fetch`` per model, which reads the records' fields in the
        query that finds them (the one2many would find them, then read them
        in a second query; the lines' touched regions, when read, in one
        more for all of them); what it
        found is then the sessions' one2many value in cache, as the ORM's own
        read stores it, so that a later look in the same transaction (a
        compute over the same facts) reads nothing again. Otherwise (in
        cache, or sessions in a form): the one2many values."""
        result = []
        for fname, model, field_names in (
            ("step_ids", "spa.session.step", RULE_LINE_FIELDS),
            ("checkin_ids", "spa.checkin", RULE_CHECKIN_FIELDS),
        ):
            field = self._fields[fname]
            if not all(isinstance(sid, int) for sid in self._ids) or all(
                self.env.cache.contains(session, field) for session in self
            ):
                result.append({session.id: session[fname] for session in self})
                continue
            records = self.env[model].search_fetch(
                [("session_id", "in", self.ids)], field_names
            )
            by_session = _by_session(self, records)
            self.env.cache.insert_missing(
                self, field, [tuple(by_session[sid].ids) for sid in self._ids]
            )
            result.append(by_session)
        return tuple(result)

    @api.model
    def _rule_lines_of_line(self, line_id):
        """Every line of the session of line ``line_id`` (``self`` as given:
        the caller decides sudo), read as ``_rule_lines_and_checkins`` reads
        them, in one query that finds the session by its line: ticking a
        line weighs all the lines of its session. They are then the
        session's one2many value in cache, for the rules' facts."""
        Line = self.env["spa.session.step"]
        lines = Line.search_fetch(
            [("session_id.step_ids", "=", line_id)], RULE_LINE_FIELDS
        )
        sessions = lines.session_id
        by_session = _by_session(sessions, lines)
        self.env.cache.insert_missing(
            sessions,
            self._fields["step_ids"],
            [tuple(by_session[sid].ids) for sid in sessions._ids],
        )
        return lines

    def _rule_checkins_and_keys(self, uuids):
        """The check-ins carrying the idempotency keys ``uuids``, of any
        session, found in the query that reads the sessions' own check-ins
        for the rules' facts (``self`` as given: the caller decides sudo).

        Logging a check-in looks for a replay of its key, then recomputes
        its session's counters from the session's check-ins: one query does
        both. The sessions' check-ins are then their one2many value in
        cache, as ``_rule_lines_and_checkins`` leaves it (the check-in
        created next is added to it by the ORM)."""
        Checkin = self.env["spa.checkin"]
        uuids = list(uuids)
        field = self._fields["checkin_ids"]
        sessions = self.browse(
            [
                sid
                for sid in self._ids
                if isinstance(sid, int)
                and not self.env.cache.contains(self.browse(sid), field)
            ]
        )
        if not sessions:
            if not uuids:
                return Checkin
            return Checkin.search_fetch([("uuid", "in", uuids)], RULE_CHECKIN_FIELDS)
        domain = [("session_id", "in", sessions.ids)]
        if uuids:
            domain = ["|", ("uuid", "in", uuids), *domain]
        records = Checkin.search_fetch(domain, RULE_CHECKIN_FIELDS)
        ids = set(sessions._ids)
        by_session = _by_session(
            sessions, records.filtered(lambda c: c.session_id.id in ids)
        )
        self.env.cache.insert_missing(
            sessions, field, [tuple(by_session[sid].ids) for sid in sessions._ids]
        )
        keys = set(uuids)
        return records.filtered(lambda c: c.uuid in keys)

    def _spa_candidate_intakes(self):
        """``{session id: [IntakeFacts]}``: the completed intakes of each
        session's client for its protocol's survey (rule 7), their day judged
        in the session's company."""
        # sudo: any intake of the client counts, whoever filled it in (the
        # client online, the front desk at check-in, the therapist); the
        # search is narrowed to the clients and surveys of these sessions.
        sessions_sudo = self.sudo()
        surveys = sessions_sudo.protocol_id.intake_survey_id
        result = {session.id: [] for session in self}
        if not surveys:
            return result
        inputs_sudo = (
            self.env["survey.user_input"]
            .sudo()
            .search_fetch(
                [
                    ("partner_id", "in", sessions_sudo.partner_id.ids),
                    ("survey_id", "in", surveys.ids),
                    ("state", "=", "done"),
                    ("test_entry", "=", False),
                ],
                SPA_INTAKE_FACT_FIELDS,
            )
        )
        if not inputs_sudo:
            return result
        facts_by_company = {
            company.id: inputs_sudo._spa_intake_facts(company)
            for company in sessions_sudo.company_id
        }
        for session in sessions_sudo:
            facts = facts_by_company.get(session.company_id.id, {})
            result[session.id] = [
                facts[i.id]
                for i in inputs_sudo
                if i.id in facts and i.partner_id == session.partner_id
            ]
        return result

    def _spa_intake_answer(self):
        """The client's intake to fill in now for this session (its
        protocol's survey): the front desk at check-in, the therapist on the
        tablet. Only the session's own therapist, the front desk and
        managers open it (``_spa_not_handled_by_caller``)."""
        self.ensure_one()
        if self._spa_not_handled_by_caller():
            raise AccessError(
                self.env._(
                    "Only the front desk, a manager or the session's own therapist "
                    "can open the health intake of %(session)s.",
                    # sudo: name the session refused, whatever they may read.
                    session=self.sudo().name,
                )
            )
        return self.protocol_id._spa_intake_answer_for(self.partner_id)

    def _spa_consent_badges(self, facts=None):
        """``{session id: badge}``: the consent badge of each session, what
        the server would decide now (``session_rules.badge_status``, as the
        appointment's ``spa_consent_status`` shows it), without going through
        the appointments; ``facts``: the sessions' ``_rule_facts()`` when the
        caller has them."""
        # The client's consents are the candidates of a session not started
        # (or started without one) only: a started session is judged on the
        # consent it relied on, read with its facts. The candidates first:
        # the consent a session relied on is among them, so the rules' facts
        # find it in cache.
        pending = self.filtered(
            lambda s: s.state not in session_rules.STARTED_STATES or not s.consent_id
        )
        by_partner = defaultdict(list)
        if pending:
            by_partner = self.env["spa.consent"]._spa_badge_facts(
                pending.partner_id, pending.protocol_id
            )
        facts = facts or self._rule_facts()
        today = self._spa_today_by_session()
        now = fields.Datetime.now()
        return {
            session.id: session_rules.badge_status(
                facts[session.id],
                by_partner[session.partner_id.id],
                today[session.id],
                now,
            )
            for session in self
        }

    def _spa_intake_statuses(self, facts=None):
        """``{session id: (badge, IntakeFacts or None)}``: rule 7 as it
        stands now (``session_rules.intake_status``); ``facts``: the
        sessions' ``_rule_facts(with_intake=True)`` when the caller has them."""
        # The client's intakes are the candidates of a session not started
        # only: a started one is judged on the intake it relied on, read
        # with its facts. The candidates first: the intake a session relied
        # on is among them, so its answers are read in the same batch.
        pending = self.filtered(lambda s: s.state not in session_rules.STARTED_STATES)
        intakes = pending._spa_candidate_intakes()
        facts = facts or self._rule_facts(with_intake=True)
        today = self._spa_today_by_session()
        return {
            session.id: session_rules.intake_status(
                facts[session.id], intakes.get(session.id, []), today[session.id]
            )
            for session in self
        }

    def _completion_problems(self, facts=None):
        """``{session id: problems}`` that block completing each session,
        judged on its company's day; ``facts``: the sessions' rule facts
        when the caller has read them (with the consent; the intake, if
        read, is not weighed)."""
        if facts is None:
            facts = self._rule_facts()
        facts = {session.id: facts[session.id] for session in self}
        today = self._spa_today_by_session()
        return {
            sid: session_rules.completion_problems(f, today[sid])
            for sid, f in facts.items()
        }

    def _spa_today_by_session(self):
        """``{session id: today}``, today being the session's company's day
        (``res.company._spa_today``)."""
        companies = self.company_id
        if not all(session.company_id for session in self):
            # The user's company (read with the user) only for a session
            # without one.
            companies |= self.env.company
        today = companies._spa_today_by_company()
        return {
            session.id: today[(session.company_id or self.env.company).id]
            for session in self
        }

    def _format_problems(self, problems):
        """One translated sentence naming every problem."""
        return "; ".join(self._format_problem_lines(problems))

    def _format_problem_lines(self, problems):
        """One translated line per problem."""
        self.ensure_one()
        parts = []
        for code, params in problems:
            if code in session_rules.CONSENT_CODES:
                parts.append(self._format_consent_problem(code, params))
            elif code in session_rules.INTAKE_CODES:
                parts.append(self._format_intake_problem(code, params))
            elif code == session_rules.NO_THERAPIST:
                parts.append(self.env._("no therapist assigned"))
            elif code == session_rules.STEPS_MISSING:
                names = params["names"]
                parts.append(
                    self.env._(
                        "%(count)s mandatory step(s) not done: %(steps)s",
                        count=len(names),
                        steps=", ".join(f"'{n}'" for n in names),
                    )
                )
            elif code == session_rules.CHECKINS_MISSING:
                items = [
                    self.env._("after '%(step)s'", step=n) for n in params["names"]
                ]
                extra = params["count"] - len(params["names"])
                if extra and items:
                    items.append(self.env._("%(count)s more at any point", count=extra))
                elif extra:
                    items.append(self.env._("at any point"))
                parts.append(
                    self.env._(
                        "%(count)s check-in(s) missing: %(items)s",
                        count=params["count"],
                        items=", ".join(items),
                    )
                )
            elif code == session_rules.STOP_RULE:
                if params["stop_requested"]:
                    parts.append(
                        self.env._(
                            "the client asked to stop: the session must be stopped"
                        )
                    )
                if params["pain_triggered"]:
                    parts.append(
                        self.env._(
                            "a check-in reported pain %(pain)s/10 "
                            "(stop threshold %(threshold)s): "
                            "the session must be stopped "
                            "and a healthcare professional recommended",
                            pain=params["max_pain"],
                            threshold=params["threshold"],
                        )
                    )
            else:
                parts.append(code)
        return parts

    def _format_consent_problem(self, code, params):
        if code == session_rules.NO_CONSENT:
            return self.env._(
                "no valid consent of the client for protocol '%(protocol)s'",
                protocol=self.protocol_id.name,
            )
        if code == session_rules.CONSENT_WITHDRAWN:
            return self.env._("the consent was withdrawn")
        if code == session_rules.CONSENT_NOT_GIVEN:
            return self.env._("the consent was not given")
        if code == session_rules.CONSENT_EXPIRED:
            return self.env._(
                "the consent expired (valid until %(date)s)",
                date=params.get("valid_until") or "-",
            )
        if code == session_rules.CONSENT_NOT_COVERING:
            return self.env._(
                "the consent does not cover protocol '%(protocol)s'",
                protocol=self.protocol_id.name,
            )
        if code == session_rules.CONSENT_TEXT_CHANGED:
            return self.env._(
                "the consent text of protocol '%(protocol)s' changed "
                "since the client agreed: a new consent is needed",
                protocol=self.protocol_id.name,
            )
        if code == session_rules.CONSENT_AFTER_START:
            return self.env._("the consent was given after the session started")
        return code

    def _format_intake_problem(self, code, params):
        if code == session_rules.NO_INTAKE:
            return self.env._(
                "no completed health intake of the client for protocol '%(protocol)s'",
                protocol=self.protocol_id.name,
            )
        if code == session_rules.INTAKE_EXPIRED:
            return self.env._(
                "the client's health intake is too old (finished on %(date)s, "
                "valid %(days)s days): the client answers it again",
                date=params.get("finished_on") or "-",
                days=params.get("validity_days"),
            )
        if code == session_rules.INTAKE_BLOCKED:
            return self.env._(
                "the client's health intake has a blocking answer (%(answers)s): "
                "a manager must clear it first",
                answers=", ".join(
                    self.env._("'%(question)s': %(answer)s", question=q, answer=a)
                    for q, a in params.get("answers", ())
                ),
            )
        return code


def _by_session(sessions, records):
    """``{session id: records of it}``, in the order of ``records``."""
    ids = {session.id: [] for session in sessions}
    for record in records:
        ids[record.session_id.id].append(record.id)
    return {
        session_id: records.browse(record_ids).with_prefetch(records._prefetch_ids)
        for session_id, record_ids in ids.items()
    }
