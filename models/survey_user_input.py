from datetime import date

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import session_rules
from .spa_write_policy_mixin import MANAGER_GROUP, _server_grant

# The answers a client typed (free text, comments included): the clinical
# free text of an intake, anonymised with the sessions' after the retention
# period. Choices, dates and numbers stay, as a session's counts do.
SPA_FREE_TEXT_ANSWER_FIELDS = {
    "char_box": "value_char_box",
    "text_box": "value_text_box",
}

# What the rules weigh of an intake (``_spa_intake_facts``), read at once.
SPA_INTAKE_FACT_FIELDS = [
    "partner_id",
    "survey_id",
    "state",
    "end_datetime",
    "spa_cleared_at",
    "test_entry",
]

# What a session that relied on an intake proves about it: never changed
# afterwards, by any user (the answers, whose and when, the clearance).
FROZEN_INTAKE_FIELDS = frozenset(
    {
        "survey_id",
        "partner_id",
        "state",
        "end_datetime",
        "user_input_line_ids",
        "test_entry",
    }
)


class SurveyUserInput(models.Model):
    _name = "survey.user_input"
    _inherit = ["survey.user_input", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin): a
    # clearance is written by action_spa_clear only (managers), never by a
    # caller's write.
    _spa_guard_own_fields_only = True
    _spa_create_policy = {}
    _spa_write_policy = {}

    spa_cleared_by_id = fields.Many2one(
        "res.users",
        string="Cleared By",
        readonly=True,
        copy=False,
        ondelete="restrict",
        help="The manager who let sessions start despite a blocking answer.",
    )
    spa_cleared_at = fields.Datetime(string="Cleared At", readonly=True, copy=False)
    spa_clearance_note = fields.Text(
        string="Clearance Note",
        readonly=True,
        copy=False,
        help="Why the blocking answers were cleared (e.g. a doctor's letter).",
    )
    spa_contraindication_summary = fields.Text(
        string="Contraindications",
        compute="_compute_spa_contraindications",
        help="The answers marked as a contraindication.",
    )
    spa_has_block = fields.Boolean(
        string="Blocking Answer",
        compute="_compute_spa_contraindications",
        help="An answer blocks sessions from starting until a manager clears it.",
    )
    spa_session_ids = fields.One2many(
        "spa.session", "intake_id", string="Sessions Relying on It"
    )
    spa_answers_anonymised_at = fields.Datetime(
        string="Answers Anonymised At",
        readonly=True,
        copy=False,
        help="When the answers the client typed were anonymised (retention "
        "period or erasure request); the chosen answers stay.",
    )

    @api.depends(
        "user_input_line_ids.suggested_answer_id.spa_contraindication",
        "spa_cleared_at",
    )
    def _compute_spa_contraindications(self):
        facts = self._spa_intake_facts()
        for user_input in self:
            intake = facts.get(user_input.id)
            blocking = session_rules.intake_blocking_answers(intake)
            lines = [
                self.env._("Block: '%(question)s' %(answer)s", question=q, answer=a)
                for q, a in blocking
            ] + [
                self.env._("Caution: '%(question)s' %(answer)s", question=q, answer=a)
                for q, a in session_rules.intake_cautions(intake)
            ]
            user_input.spa_contraindication_summary = "\n".join(lines) or False
            user_input.spa_has_block = bool(blocking)

    # ------------------------------------------------------------------
    # Rule facts
    # ------------------------------------------------------------------

    def _spa_intake_facts(self, company=None):
        """``{id: session_rules.IntakeFacts}`` of ``self``, their finishing
        day judged in ``company``'s time zone (default: the current one)."""
        # sudo: the rules read the flagged answers whoever asks (the badge,
        # the start); the answers are returned to nobody here.
        inputs_sudo = self.sudo().with_prefetch()
        company = company or self.env.company
        answers = {}
        for line in inputs_sudo._spa_flagged_lines():
            answers.setdefault(line.user_input_id.id, []).append(
                session_rules.IntakeAnswerFacts(
                    question=line.question_id.title or "",
                    answer=line.suggested_answer_id.value or "",
                    contraindication=line.suggested_answer_id.spa_contraindication,
                )
            )
        if all(isinstance(uid, int) for uid in inputs_sudo._ids):
            inputs_sudo.fetch(SPA_INTAKE_FACT_FIELDS)
        return {
            user_input.id: session_rules.IntakeFacts(
                id=user_input.id,
                partner_id=user_input.partner_id.id or None,
                survey_id=user_input.survey_id.id,
                state=user_input.state,
                finished_at=user_input.end_datetime or None,
                finished_on=company._spa_date_of(user_input.end_datetime) or None,
                answers=tuple(answers.get(user_input.id, ())),
                cleared=bool(user_input.spa_cleared_at),
            )
            for user_input in inputs_sudo
            if not user_input.test_entry
        }

    def _spa_flagged_lines(self):
        """The answer lines of ``self`` that chose an answer flagged as a
        contraindication, not skipped, in the answers' order. Saved intakes:
        one query that finds and reads only those (most intakes have none);
        intakes in a form (new records): their lines, filtered."""
        if not self:
            return self.env["survey.user_input.line"]
        if not all(isinstance(uid, int) for uid in self.ids):
            return self.user_input_line_ids.filtered(
                lambda line: (
                    line.suggested_answer_id.spa_contraindication and not line.skipped
                )
            )
        return self.env["survey.user_input.line"].search_fetch(
            [
                ("user_input_id", "in", self.ids),
                ("suggested_answer_id.spa_contraindication", "!=", False),
                ("skipped", "=", False),
            ],
            ["user_input_id", "question_id", "suggested_answer_id"],
        )

    # ------------------------------------------------------------------
    # Clearance (managers)
    # ------------------------------------------------------------------

    def action_spa_clear(self, note):
        """Let sessions start despite the blocking answers of these intakes
        (e.g. a doctor's letter): managers only, with a note; the clearance
        is evidence and cannot change once a session relied on the intake."""
        # The user's own groups, not sudo: nobody else clears an intake.
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                self.env._("Only a spa manager can clear a client's health intake.")
            )
        if not note or not isinstance(note, str) or not note.strip():
            raise UserError(
                self.env._("Say why the intake is cleared (e.g. a doctor's letter).")
            )
        # sudo: the manager's right was checked above; managers may not be
        # survey officers.
        inputs_sudo = self.sudo()
        problems = []
        for user_input in inputs_sudo:
            if user_input.state != "done":
                problems.append(
                    self.env._(
                        "%(intake)s is not completed", intake=user_input.display_name
                    )
                )
            elif user_input.spa_cleared_at:
                problems.append(
                    self.env._(
                        "%(intake)s was already cleared",
                        intake=user_input.display_name,
                    )
                )
            elif not user_input.spa_has_block:
                problems.append(
                    self.env._(
                        "%(intake)s has no blocking answer",
                        intake=user_input.display_name,
                    )
                )
        if problems:
            raise UserError(
                self.env._(
                    "The intake cannot be cleared: %(problems)s.",
                    problems="; ".join(problems),
                )
            )
        inputs_sudo._write_server(
            {
                "spa_cleared_by_id": self.env.user.id,
                "spa_cleared_at": fields.Datetime.now(),
                "spa_clearance_note": note.strip(),
            }
        )
        return True

    def action_spa_open_clear_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Clear the Intake"),
            "res_model": "spa.intake.clear.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_user_input_id": self.id},
        }

    @api.model
    def _spa_intake_surveys(self):
        """The surveys that are the health intake of a protocol (archived
        protocols included)."""
        # sudo: which surveys are intakes is configuration, not a secret.
        return (
            self.env["spa.protocol"]
            .sudo()
            .with_context(active_test=False)
            .search([("intake_survey_id", "!=", False)])
            .intake_survey_id
        )

    def _spa_answer_url(self):
        """Where the intake is answered, with Survey's own flow."""
        self.ensure_one()
        return f"{self.survey_id.get_start_url()}?answer_token={self.access_token}"

    @api.model
    def _spa_is_intake_survey(self, survey):
        """Whether ``survey`` is the health intake of a protocol."""
        return bool(
            # sudo: which surveys are intakes is configuration, not a secret.
            self.env["spa.protocol"]
            .sudo()
            .with_context(active_test=False)
            .search_count([("intake_survey_id", "=", survey.id)], limit=1)
        )

    # ------------------------------------------------------------------
    # Evidence: an intake a session relied on is frozen
    # ------------------------------------------------------------------

    def _spa_relied_on(self):
        """The intakes of ``self`` a started session relied on."""
        if not self.ids:
            return self.browse()
        # sudo: any session of any therapist counts.
        sessions_sudo = (
            self.env["spa.session"].sudo().search([("intake_id", "in", self.ids)])
        )
        return self.browse(sessions_sudo.intake_id.ids)

    def _spa_check_not_relied_on(self):
        relied = self._spa_relied_on()
        if relied:
            raise UserError(
                self.env._(
                    "A session relied on the health intake %(intakes)s: it is "
                    "evidence and cannot be changed or deleted.",
                    intakes=", ".join(relied.sudo().mapped("display_name")),
                )
            )

    def write(self, vals):
        if FROZEN_INTAKE_FIELDS & set(vals) or {
            "spa_cleared_by_id",
            "spa_cleared_at",
            "spa_clearance_note",
        } & set(vals):
            self._spa_check_not_relied_on()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_relied_on(self):
        self._spa_check_not_relied_on()

    # ------------------------------------------------------------------
    # Retention: the typed answers are clinical free text
    # ------------------------------------------------------------------

    def _spa_retention_end(self):
        """``{intake: date}``: until when the answers of each health intake
        must be kept: no earlier than the sessions that relied on it (never
        while one runs), and at least its company's retention after it was
        finished. An intake carries no company: the sessions' companies
        decide, else the longest retention of all companies (it is never
        anonymised earlier than any company keeps its records)."""
        # sudo: the retention reads every session and company.
        Session = self.env["spa.session"].sudo()
        sessions = Session.search([("intake_id", "in", self.ids)])
        by_intake = {}
        for session in sessions:
            by_intake.setdefault(session.intake_id.id, Session)
            by_intake[session.intake_id.id] |= session
        longest = max(
            self.env["res.company"].sudo().search([]).mapped("spa_retention_years")
            or [0]
        )
        ends = {}
        for intake in self.sudo():
            relying = by_intake.get(intake.id, Session)
            if relying.filtered(lambda s: s.state in ("draft", "in_progress")):
                ends[intake] = date.max
                continue
            years = max(relying.company_id.mapped("spa_retention_years") or [longest])
            finished = intake.end_datetime or intake.create_date
            end = finished.date() + relativedelta(years=years)
            for until in relying._spa_retention_end().values():
                end = max(end, until)
            ends[intake] = end
        return ends

    def _spa_anonymise_answers(self):
        """Anonymise the answers the client typed in the health intakes of
        ``self`` whose retention ended (``_spa_retention_end``), unless the
        client is on legal hold. The chosen answers, the dates, the state
        and the clearance stay, so the evidence of the sessions that relied
        on it still verifies. Idempotent.

        :return: the intakes anonymised now
        """
        today = self.env.company._spa_today()
        surveys = self._spa_intake_surveys()
        intakes = self.sudo().filtered(
            lambda i: (
                not i.spa_answers_anonymised_at
                and not i.partner_id.spa_legal_hold
                and i.survey_id in surveys
            )
        )
        ends = intakes._spa_retention_end()
        due = self.browse([i.id for i, until in ends.items() if until <= today]).sudo()
        if not due:
            return self.browse()
        placeholder = self.env._("(anonymised)")
        for answer_type, fname in SPA_FREE_TEXT_ANSWER_FIELDS.items():
            lines = due.user_input_line_ids.filtered(
                lambda line, t=answer_type: line.answer_type == t
            )
            # The one server path past the frozen answers (see
            # survey.user_input.line's write).
            with _server_grant(lines._name, lines.ids, {fname}, "write"):
                lines.write({fname: placeholder})
        due._write_server({"spa_answers_anonymised_at": fields.Datetime.now()})
        return self.browse(due.ids)

    @api.model
    def _spa_cron_anonymise_answers(self, limit=None):
        """The health intakes whose retention ended, anonymised (the
        retention cron's part for intakes)."""
        # sudo: the retention runs for every company and client.
        companies = self.env["res.company"].sudo().search([])
        if not companies:
            return self.browse()
        shortest = min(companies.mapped("spa_retention_years"))
        cutoff = fields.Datetime.now() - relativedelta(years=shortest)
        surveys = self._spa_intake_surveys()
        # Intakes still relied on by a session kept in full are not due.
        candidates = self.sudo().search(
            [
                ("survey_id", "in", surveys.ids),
                ("spa_answers_anonymised_at", "=", False),
                ("partner_id.spa_legal_hold", "=", False),
                "|",
                ("end_datetime", "<", cutoff),
                "&",
                ("end_datetime", "=", False),
                ("create_date", "<", cutoff),
                "!",
                ("spa_session_ids", "any", [("anonymised_at", "=", False)]),
            ],
            order="id",
        )
        # The first ``limit`` that are due (another company's longer
        # retention may keep some of them): the cron is not held up by them.
        done = self.browse()
        step = limit or len(candidates) or 1
        for start in range(0, len(candidates), step):
            done |= candidates[start : start + step]._spa_anonymise_answers()
            if limit and len(done) >= limit:
                break
        return done
