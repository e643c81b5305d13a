"""What the tablet runner asks of a session, as model methods.

The tablet's routes only transport: they parse the JSON, call one of these
methods per operation and serialise the answer. Everything that decides
(what an operation may do, replay detection, which consent a signature is
for, which fields the tablet may record) lives here, as the logged-in user,
so record rules, field groups and the models' own rules apply.
"""

from collections import Counter
from datetime import datetime, time, timedelta

import pytz

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import session_rules
from .spa_session_fields import RULE_COUNTER_FIELDS, RULE_SESSION_FIELDS
from .spa_write_policy_mixin import ROLE_THERAPIST

OP_KINDS = ("tick", "skip", "checkin", "record", "regions")
SESSION_ACTIONS = ("start", "done", "stop")
MAX_BATCH = 200
# What the runner and its operations read of a session, in the query that
# finds it as the user (``_tablet_session``).
TABLET_SESSION_FIELDS = [
    # What the rules' facts read (the runner's rules and badges ask them).
    *RULE_SESSION_FIELDS,
    "event_id",
    "date_planned",
    "checkin_count",
    "positioning",
    "adjust_angle",
    "adjust_direction",
    "adjust_lighter_pressure",
    "adjustment_note",
    "referral_recommended",
    "stop_reason",
]
# What the tablet may record on a session (op kind "record"), by value kind.
RECORD_BOOLEANS = (
    "adjust_angle",
    "adjust_direction",
    "adjust_lighter_pressure",
    "screening_has_pain",
)


class SpaSessionTablet(models.AbstractModel):
    """The tablet's concern of ``spa.session`` (which inherits it), apart from
    the lifecycle (models/spa_session.py) and the rules adapter
    (models/spa_session_rules.py)."""

    _name = "spa.session.tablet.mixin"
    _description = "Spa Session: Tablet Operations"

    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    @api.model
    def _tablet_sessions_today(self):
        """The logged-in therapist's sessions of the day (and any still in
        progress), with the client's consent state at a glance."""
        sessions = self.search(
            [("therapist_id", "=", self.env.uid), *self._tablet_today_domain()],
            order="date_planned, id",
        )
        # The rules' facts once, for both badges.
        facts = sessions._rule_facts(with_intake=True)
        statuses = sessions._tablet_consent_statuses(facts)
        state_labels = self._tablet_labels("spa.session", "state")
        status_labels = self._tablet_labels("calendar.event", "spa_consent_status")
        intakes = sessions._spa_intake_statuses(facts)
        intake_labels = self._tablet_labels("calendar.event", "spa_intake_status")
        # The progress at a glance, as the runner shows it (the same rules;
        # lines and check-ins are all it weighs).
        facts = sessions._rule_facts(with_consent=False)
        return [
            {
                "id": session.id,
                "name": session.name,
                "partner_name": session.partner_id.display_name,
                "protocol_name": session.protocol_id.display_name,
                "date_planned": fields.Datetime.to_string(session.date_planned),
                "state": session.state,
                "state_label": state_labels.get(session.state),
                "consent_status": statuses[session.id],
                "consent_status_label": status_labels.get(statuses[session.id]),
                "intake_status": intakes[session.id][0],
                "intake_status_label": intake_labels.get(intakes[session.id][0], False),
                "step_done_count": session.step_done_count,
                "step_total_count": session.step_total_count,
                "progress": session_rules.checklist_progress(facts[session.id]),
            }
            for session in sessions
        ]

    @api.model
    @api.model
    def _tablet_check_user(self):
        """The runner is the therapists' (and managers'): its answers hold
        clinical detail, which the front desk never reads."""
        # The session model's write policy: the user's roles by their groups.
        if ROLE_THERAPIST not in self._spa_user_roles():
            raise AccessError(
                self.env._("The session runner is for therapists and managers.")
            )

    def _tablet_session(self, session_id):
        """The session ``session_id`` the user may read, else a refusal."""
        self._tablet_check_user()
        session_id = self._tablet_id(session_id, self.env._("session"))
        # One query finds the session as the user (the record rules in its
        # WHERE clause) and reads what the runner and its operations read.
        session = self.search_fetch([("id", "=", session_id)], TABLET_SESSION_FIELDS)
        if not session:
            # Not found as the user: missing, or not theirs (the standard
            # access error, which names the rule).
            session = self.browse(session_id).exists()
            if not session:
                raise UserError(self.env._("This session does not exist."))
            session.check_access("read")
        return session

    def _tablet_session_to_write(self, session_id, field_names):
        """The session ``session_id`` an operation writes to, else a refusal:
        found and read as the server (``field_names``: what the operation
        weighs; nothing of it is answered), then the record rules checked as
        the user, for reading and for writing, on those values (Odoo's
        ``check_access``): another therapist's session is refused as the
        search as the user refuses it, with the standard access error."""
        self._tablet_check_user()
        session_id = self._tablet_id(session_id, self.env._("session"))
        # sudo: a lookup by id; the user's access is checked right below,
        # before anything is done with it.
        session_sudo = self.sudo().search_fetch([("id", "=", session_id)], field_names)
        if not session_sudo:
            raise UserError(self.env._("This session does not exist."))
        session = self.browse(session_sudo.ids)
        session.check_access("read")
        session.check_access("write")
        return session

    def _tablet_payload(self):
        """Everything the runner shows for one session, in one answer. Read
        as the user: a session of another therapist raises."""
        self.ensure_one()
        self._tablet_check_user()
        session = self
        # Evaluated on the session in cache when _tablet_session read it.
        session.check_access("read")
        # Each fact is read once, in batches (see _tablet_payload_records):
        # the rules' facts of the session (its lines, check-ins, the consent
        # it relies on, its intake) serve the consent badge, rule 7 and rule
        # 8's warnings; the body chart comes from the registry's cache. No
        # appointment is read.
        body_regions = self.env["spa.body.region"]._spa_chart_payload()
        if not session.checkin_count:
            # No check-in yet (the stored counter, read with the session in
            # the same snapshot): nothing to look for.
            self.env.cache.insert_missing(session, self._fields["checkin_ids"], [()])
        facts = session._rule_facts(with_intake=True)
        statuses = session._tablet_consent_statuses(facts)
        intake_status, intake = session._spa_intake_statuses(facts)[session.id]
        steps, checkins, names = session._tablet_payload_records(facts, body_regions)
        positionings = self._tablet_labels("spa.session", "positioning")
        status_labels = self._tablet_labels("calendar.event", "spa_consent_status")
        region_warnings = session._tablet_region_warnings(facts)
        intake_labels = self._tablet_labels("calendar.event", "spa_intake_status")
        checkins_per_step = Counter(checkin.session_step_id.id for checkin in checkins)
        # The completion columns over the facts read above (their compute
        # would read the same facts again).
        completion = session._spa_completion_values(
            session._completion_problems(facts)[session.id]
        )
        intake_url = False
        if session.state == "draft" and intake_status in ("missing", "expired"):
            intake_url = f"/spa/tablet/session/{session.id}/intake"
        return {
            "id": session.id,
            "name": session.name,
            "state": session.state,
            "state_label": self._tablet_labels("spa.session", "state").get(
                session.state
            ),
            "partner_name": names["partner"],
            "protocol_name": session.protocol_id.display_name,
            "event_id": session.event_id.id,
            "date_planned": fields.Datetime.to_string(session.date_planned),
            "consent_status": statuses[session.id],
            "consent_status_label": status_labels.get(statuses[session.id]),
            "consent_name": names["consent"],
            # Rule 7, asked of the same implementation as the start.
            "intake_status": intake_status,
            "intake_status_label": intake_labels.get(intake_status, False),
            "intake_cautions": [
                {"question": question, "answer": answer}
                for question, answer in session_rules.intake_cautions(intake)
            ],
            "intake_url": intake_url,
            "pain_stop_threshold": session.pain_stop_threshold,
            "stop_pain_levels": session.stop_pain_levels,
            "min_checkin_count": session.min_checkin_count,
            "positioning": session.positioning or False,
            "positioning_options": [
                {"value": key, "label": label} for key, label in positionings.items()
            ],
            "adjust_angle": session.adjust_angle,
            "adjust_direction": session.adjust_direction,
            "adjust_lighter_pressure": session.adjust_lighter_pressure,
            "adjustment_note": session.adjustment_note or "",
            "completion_blockers": completion["completion_blockers"] or "",
            # One line per blocker, and the progress at a glance: the same
            # rules, over the facts read above.
            "completion_blocker_lines": completion["completion_blocker_lines"],
            "progress": session_rules.checklist_progress(facts[session.id]),
            # The reasons the therapist may pick to stop; severe pain and the
            # client's wish come from a check-in (the stop rule).
            "stop_reason_options": [
                {"value": key, "label": label}
                for key, label in self._tablet_labels(
                    "spa.session", "stop_reason"
                ).items()
                if key not in ("pain", "client_request")
            ],
            "can_complete": completion["can_complete"],
            "is_stop_triggered": completion["is_stop_triggered"],
            "referral_recommended": session.referral_recommended,
            "stop_reason": session.stop_reason or False,
            "body_regions": body_regions,
            "steps": [
                {
                    "id": step.id,
                    "sequence": step.sequence,
                    "name": step.name,
                    "instructions": step.instructions or "",
                    "is_mandatory": step.is_mandatory,
                    "requires_checkin": step.requires_checkin,
                    "record_kind": step.record_kind,
                    "qualification_name": names["qualifications"].get(
                        step.qualification_id.id, ""
                    ),
                    "state": step.state,
                    "done_by_name": names["users"].get(step.done_by_id.id, ""),
                    "done_at": fields.Datetime.to_string(step.done_at),
                    "device_done_at": fields.Datetime.to_string(step.device_done_at),
                    "skip_reason": step.skip_reason or "",
                    "region_warning": region_warnings.get(step.id, ""),
                    "touched_regions": [
                        {
                            "id": region_id,
                            "name": names["regions"][region_id]["name"],
                            "is_sensitive": names["regions"][region_id]["is_sensitive"],
                        }
                        for region_id in step.touched_region_ids.ids
                    ],
                    "checkin_count": checkins_per_step[step.id],
                }
                for step in steps
            ],
            "checkins": [
                {
                    "id": checkin.id,
                    "uuid": checkin.uuid or False,
                    "step_id": checkin.session_step_id.id or False,
                    "pain_level": checkin.pain_level,
                    "stop_requested": checkin.stop_requested,
                    "triggers_stop": checkin.triggers_stop,
                    "region_id": checkin.body_region_id.id or False,
                    "region_name": (
                        names["regions"][checkin.body_region_id.id]["name"]
                        if checkin.body_region_id
                        else False
                    ),
                    # The server's time first, the device's beside it.
                    "logged_at": fields.Datetime.to_string(checkin.create_date),
                    "device_at": fields.Datetime.to_string(checkin.device_at),
                }
                for checkin in checkins
            ],
        }

    def _tablet_payload_records(self, facts, body_regions):
        """``(lines, check-ins, names)`` the payload shows, read once.

        The lines and check-ins are those the rules' facts read (as
        superuser, in cache), taken as the user: their record rules are
        checked on them here, in memory. The names (the client's, who ticked
        a line, the qualifications, the regions) are read in one batch per
        model as superuser, as Odoo reads a many2one's display name (the
        session and its lines were checked above)."""
        self.ensure_one()
        session_facts = facts[self.id]
        steps = self.env["spa.session.step"].browse(
            [step.id for step in session_facts.steps]
        )
        checkins = self.env["spa.checkin"].browse(
            [checkin.id for checkin in session_facts.checkins]
        )
        steps.check_access("read")
        checkins.check_access("read")
        users_sudo = steps.done_by_id.sudo()
        # The users' partners and the client in one query.
        partners_sudo = self.partner_id.sudo() | users_sudo.partner_id
        partners_sudo.mapped("display_name")
        regions = {row["id"]: row for row in body_regions}
        # Archived regions are not on the chart: read (rarely) by id.
        missing = (
            set(steps.touched_region_ids.ids) | set(checkins.body_region_id.ids)
        ) - set(regions)
        for region in self.env["spa.body.region"].sudo().browse(sorted(missing)):
            regions[region.id] = {
                "name": region.name,
                "is_sensitive": region.is_sensitive,
            }
        names = {
            "partner": self.partner_id.sudo().display_name,
            "consent": self.consent_id.sudo().display_name or False,
            "users": {user.id: user.display_name for user in users_sudo},
            "qualifications": self.env["spa.qualification"]._spa_names(),
            "regions": regions,
        }
        return steps, checkins, names

    def _tablet_region_warnings(self, facts=None):
        """``{line id: text}``: the to-do lines rule 8 would refuse to tick
        now (the session's consent does not cover a sensitive region they
        touch), said before the therapist performs the step. The rules'
        own function decides (``session_rules``); ``facts``: the session's
        ``_rule_facts()`` when the caller has them."""
        self.ensure_one()
        if self.state != "in_progress":
            return {}
        facts = (facts or self._rule_facts())[self.id]
        warnings = {}
        for step_facts in facts.steps:
            if step_facts.state != "todo":
                continue
            problems = session_rules.sensitive_region_problems(
                facts.consent, step_facts
            )
            for __, params in problems:
                line = self.env["spa.session.step"].browse(step_facts.id)
                warnings[step_facts.id] = line._format_sensitive_region_problem(params)
        return warnings

    def _tablet_consent_statuses(self, facts=None):
        """Consent state per session, as the appointment's badge shows it:
        the same rule (``_spa_consent_badges``), without reading the
        appointments; ``facts``: the sessions' ``_rule_facts()`` when the
        caller has them."""
        return {
            session_id: status or False
            for session_id, status in self._spa_consent_badges(facts).items()
        }

    @api.model
    def _tablet_status_for(self, partner, protocol):
        # A draft appointment in memory computes the same badge as a real one.
        event = self.env["calendar.event"].new(
            {"spa_client_id": partner.id, "spa_protocol_id": protocol.id}
        )
        return event.spa_consent_status or False

    # ------------------------------------------------------------------
    # Consent on the tablet
    # ------------------------------------------------------------------

    @api.model
    def _tablet_consent_target(self, session_id=None, event_id=None):
        """Client, protocol (and session, possibly empty) a tablet consent
        is for: the session's, else the appointment's live session's."""
        if session_id:
            session = self._tablet_session(session_id)
            return session.partner_id, session.protocol_id, session
        event = self.env["calendar.event"].browse(
            self._tablet_id(event_id, self.env._("appointment"))
        )
        event = event.exists()
        if not event:
            raise UserError(self.env._("This appointment does not exist."))
        if not (event.spa_client_id and event.spa_protocol_id):
            raise UserError(
                self.env._("The appointment has no client or session protocol yet.")
            )
        live = event.spa_session_ids.filtered(lambda s: s.state != "cancelled")
        return event.spa_client_id, event.spa_protocol_id, live[-1:]

    @api.model
    def _tablet_consent_info(self, session_id=None, event_id=None):
        """What the client reads before signing: the protocol's consent
        text. Readable by the front desk too (no clinical detail)."""
        partner, protocol, session = self._tablet_consent_target(session_id, event_id)
        status = (
            session._tablet_consent_statuses()[session.id]
            if session
            else self._tablet_status_for(partner, protocol)
        )
        return {
            "partner_name": partner.display_name,
            "protocol_id": protocol.id,
            "protocol_name": protocol.display_name,
            "consent_text": protocol.consent_text or "",
            "sensitive_regions": [
                {
                    "id": region.id,
                    "name": region.name,
                    "line": region.consent_line or "",
                }
                for region in protocol.sensitive_region_ids
            ],
            "consent_status": status,
            "session_id": session.id if session else False,
        }

    @api.model
    def _tablet_sign_consent(
        self,
        signature,
        signed_by,
        session_id=None,
        event_id=None,
        region_ids=None,
        strokes=None,
    ):
        """The client signed on the tablet: create the consent and give it,
        as the logged-in front desk or therapist user (who recorded it). The
        consent model checks the image itself (PNG or JPEG, at most 1 MiB).

        ``strokes`` are the points the finger drew on the pad: as on the
        client's own consent page, the signature must be their drawing
        (``spa.consent._spa_check_drawn_signature``)."""
        partner, protocol, session = self._tablet_consent_target(session_id, event_id)
        if not isinstance(signature, str) or not signature.strip():
            raise UserError(self.env._("The signature is missing or unreadable."))
        if not isinstance(signed_by, str) or not signed_by.strip():
            raise UserError(self.env._("The name of the person who signs is required."))
        regions = self._tablet_consent_regions(protocol, region_ids)
        # A data URL from the signature pad: keep the base64 image only.
        image = signature.split(",", 1)[-1].strip()
        self.env["spa.consent"]._spa_check_drawn_signature(image, strokes)
        consent = self.env["spa.consent"].create(
            {
                "partner_id": partner.id,
                "protocol_ids": [Command.set(protocol.ids)],
                "company_id": session.company_id.id if session else self.env.company.id,
                "method": "signature",
                "signature": image,
                "signed_by": signed_by.strip(),
                "body_region_ids": [Command.set(regions.ids)],
            }
        )
        consent.action_give()
        return consent

    @api.model
    def _tablet_consent_regions(self, protocols, region_ids):
        """The sensitive regions the client agreed to, each ticked
        separately: only regions of ``protocols`` the page listed."""
        if not region_ids:
            return self.env["spa.body.region"]
        if not isinstance(region_ids, list | tuple):
            raise UserError(self.env._("The agreed regions must be a list."))
        ids = {self._tablet_id(value, self.env._("region")) for value in region_ids}
        listed = protocols.sensitive_region_ids
        unknown = ids - set(listed.ids)
        if unknown:
            raise UserError(
                self.env._(
                    "Only the sensitive regions of the protocol can be agreed to "
                    "here; not: %(ids)s.",
                    ids=", ".join(str(i) for i in sorted(unknown)),
                )
            )
        return listed.filtered(lambda r: r.id in ids)

    # ------------------------------------------------------------------
    # Session actions
    # ------------------------------------------------------------------

    def _tablet_action(self, action, reason=None, note=None):
        """Start, complete or stop the session (online only: the server
        decides)."""
        self.ensure_one()
        if action not in SESSION_ACTIONS:
            raise UserError(
                self.env._("Unknown action %(action)s.", action=str(action))
            )
        for value, label in (
            (reason, self.env._("reason")),
            (note, self.env._("note")),
        ):
            if value and not isinstance(value, str):
                raise UserError(
                    self.env._("The stop %(what)s must be text.", what=label)
                )
        if action == "start":
            return self.action_start()
        if action == "done":
            return self.action_done()
        return self.action_stop(reason=reason or None, note=note or None)

    # ------------------------------------------------------------------
    # Queued operations (one call per operation)
    # ------------------------------------------------------------------

    @api.model
    def _tablet_apply_op(self, op):
        """Apply one operation queued on the device and return what the
        device needs to know (``replayed`` for a replay that changes
        nothing). A malformed or refused operation raises a ``UserError``
        naming what is wrong; the caller runs each one in its own savepoint."""
        if not isinstance(op, dict):
            raise UserError(self.env._("The operation is not an object."))
        kind = op.get("kind")
        if kind not in OP_KINDS:
            raise UserError(
                self.env._(
                    "Unknown operation %(kind)s; expected one of: %(kinds)s.",
                    kind=str(kind),
                    kinds=", ".join(OP_KINDS),
                )
            )
        key = op.get("uuid")
        if not isinstance(key, str) or not key.strip():
            raise UserError(self.env._("The operation has no idempotency key."))
        if kind in ("tick", "skip"):
            return self._tablet_step_op(op)
        if kind == "checkin":
            return self._tablet_checkin_op(op)
        if kind == "regions":
            return self._tablet_regions_op(op)
        return self._tablet_record_op(op)

    @api.model
    def _tablet_step_op(self, op):
        step_id = self._tablet_id(op.get("step_id"), self.env._("step"))
        # One query reads every line of the step's session as the server
        # (the tick's rules weigh them all: its facts find them in cache),
        # then the session; the record rules are checked on the line as the
        # user, on those values (Odoo's check_access): another therapist's
        # session is refused before anything is done or answered.
        lines_sudo = self.sudo()._rule_lines_of_line(step_id)
        step = self.env["spa.session.step"].browse(
            [line.id for line in lines_sudo if line.id == step_id]
        )
        if not step:
            raise UserError(self.env._("This checklist step does not exist."))
        step._spa_fetch_sessions()
        step.check_access("read")
        state, done_by = step.state, step.done_by_id
        target = "done" if op["kind"] == "tick" else "skipped"
        if state == target and done_by == self.env.user:
            # A replay of a tick or skip that already reached the server.
            return {"step_id": step.id, "replayed": True}
        # The tablet's clock beside the server's, as for a check-in.
        device_at = self._tablet_device_at(op.get("device_at"))
        if op["kind"] == "tick":
            step._spa_tick(device_at=device_at)
        else:
            reason = op.get("reason")
            if reason and not isinstance(reason, str):
                raise UserError(self.env._("The reason for skipping must be text."))
            step._spa_skip(reason or None, device_at=device_at)
        return {"step_id": step.id}

    @api.model
    def _tablet_regions_op(self, op):
        """The technique adapted: the regions a step will touch (the line's
        own write policy decides who may, and until when)."""
        step = self.env["spa.session.step"].browse(
            self._tablet_id(op.get("step_id"), self.env._("step"))
        )
        step = step.exists()
        if not step:
            raise UserError(self.env._("This checklist step does not exist."))
        region_ids = op.get("region_ids")
        if not isinstance(region_ids, list):
            raise UserError(self.env._("The regions must be a list."))
        ids = [
            self._tablet_id(value, self.env._("body region")) for value in region_ids
        ]
        regions = self.env["spa.body.region"].browse(ids).exists()
        if len(regions) != len(set(ids)):
            raise UserError(self.env._("This body region does not exist."))
        step.write({"touched_region_ids": [Command.set(regions.ids)]})
        return {"step_id": step.id}

    @api.model
    def _tablet_checkin_op(self, op):
        # What the check-in's create and the counters recomputed after it
        # read of the session (the rules' facts), not what the runner shows.
        session = self._tablet_session_to_write(
            op.get("session_id"), [*RULE_SESSION_FIELDS, *RULE_COUNTER_FIELDS]
        )
        step_id = op.get("step_id")
        vals = {
            "uuid": op["uuid"],
            "session_id": session.id,
            "session_step_id": (
                self._tablet_id(step_id, self.env._("step")) if step_id else False
            ),
            "pain_level": op.get("pain_level"),
            "stop_requested": self._tablet_bool(
                op.get("stop_requested"), self.env._("stop request")
            ),
            "device_at": self._tablet_device_at(op.get("device_at")),
        }
        if op.get("region_id"):
            vals["body_region_id"] = self._tablet_id(
                op["region_id"], self.env._("body region")
            )
        if op.get("note"):
            vals["note"] = op["note"]
        # Created in the session's company (the user's access to it was
        # checked above): its defaults are that company's, and Odoo knows
        # the company without reading the user's record for them.
        checkin = self.env["spa.checkin"].with_company(session.company_id).create(vals)
        return {"checkin_id": checkin.id}

    @api.model
    def _tablet_record_op(self, op):
        """The therapist's records (positioning, adjustments, screening):
        only those fields, only while the session runs."""
        # Imported here: the session model inherits this one.
        from .spa_session import POSITIONINGS, THERAPIST_RECORD_FIELDS

        session = self._tablet_session(op.get("session_id"))
        values = op.get("values")
        if not isinstance(values, dict) or not values:
            raise UserError(
                self.env._("The values to record must be an object of field values.")
            )
        unknown = set(values) - set(THERAPIST_RECORD_FIELDS)
        if unknown:
            raise UserError(
                self.env._(
                    "The tablet cannot record these fields: %(fields)s.",
                    fields=", ".join(sorted(map(str, unknown))),
                )
            )
        for fname in RECORD_BOOLEANS:
            if fname in values:
                values[fname] = self._tablet_bool(
                    values[fname], self._fields[fname].string
                )
        positioning = values.get("positioning")
        if positioning and positioning not in dict(POSITIONINGS):
            raise UserError(
                self.env._(
                    "Unknown positioning %(value)s; expected one of: %(values)s.",
                    value=str(positioning),
                    values=", ".join(dict(POSITIONINGS)),
                )
            )
        if session.state != "in_progress":
            raise UserError(
                self.env._(
                    "Records can only be made while the session is in progress: "
                    "%(session)s.",
                    session=session.name,
                )
            )
        session.write(values)
        return {"session_id": session.id}

    # ------------------------------------------------------------------
    # Parsing what a device sends
    # ------------------------------------------------------------------

    @api.model
    def _tablet_id(self, value, label):
        """A record id sent by the device: a positive integer (or its
        digits), else a refusal naming what it was for."""
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise UserError(
                self.env._("The %(what)s is missing or not valid.", what=label)
            )
        if value > 2**31 - 1:
            raise UserError(self.env._("This %(what)s does not exist.", what=label))
        return value

    @api.model
    def _tablet_bool(self, value, label):
        if value in (None, False, True, 0, 1):
            return bool(value)
        raise UserError(self.env._("The %(what)s must be true or false.", what=label))

    @api.model
    def _tablet_device_at(self, value):
        """The device's clock as a naive UTC datetime (ISO 8601, with or
        without a time zone); the check-in model decides whether it is
        plausible."""
        if not value:
            return False
        if not isinstance(value, str):
            raise UserError(self.env._("The device time must be an ISO 8601 text."))
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if moment.tzinfo:
                moment = moment.astimezone(pytz.utc).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise UserError(
                self.env._(
                    "The device time %(value)s is not a valid date and time.",
                    value=value[:40],
                )
            ) from None
        return moment.replace(microsecond=0)

    @api.model
    def _tablet_labels(self, model, field):
        return dict(self.env[model]._fields[field]._description_selection(self.env))

    @api.model
    def _tablet_today_bounds(self):
        """Today's start and end (naive UTC): the company's day."""
        tz = self.env.company._spa_tz()
        today = datetime.now(tz).date()
        start = tz.localize(datetime.combine(today, time.min))
        end = start + timedelta(days=1)
        return (
            start.astimezone(pytz.utc).replace(tzinfo=None),
            end.astimezone(pytz.utc).replace(tzinfo=None),
        )

    @api.model
    def _tablet_today_domain(self):
        """The sessions of today (the company's day) and any still in
        progress, cancelled ones left out: what a tablet lists."""
        start, end = self._tablet_today_bounds()
        return [
            ("state", "!=", "cancelled"),
            "|",
            ("state", "=", "in_progress"),
            "&",
            ("date_planned", ">=", start),
            ("date_planned", "<", end),
        ]
