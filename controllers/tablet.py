"""JSON routes of the tablet session runner.

The runner is a thin client: every rule stays in the models. These routes
read through the ORM as the logged-in user (so record rules and field groups
apply), call the models' actions, and answer refusals as data (a message the
tablet shows), never as tracebacks.
"""

import base64
import binascii
import logging
from datetime import datetime, time, timedelta

import psycopg2
import pytz

from odoo import Command, fields, http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from ..models.spa_session import THERAPIST_RECORD_FIELDS

_logger = logging.getLogger(__name__)

# What the tablet may record on a session (op kind "record").
RECORD_FIELDS = THERAPIST_RECORD_FIELDS
OP_KINDS = ("tick", "skip", "checkin", "record")
SESSION_ACTIONS = ("start", "done", "stop")
MAX_BATCH = 200


def _message(error):
    """The user-facing text of a refusal."""
    return str(error.args[0]) if error.args else str(error)


class SpaTabletController(http.Controller):
    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    @http.route("/spa/tablet/sessions_today", type="json", auth="user")
    def sessions_today(self):
        """The logged-in therapist's sessions of the day (and any still in
        progress), with the client's consent state at a glance."""
        env = request.env
        start, end = self._today_bounds()
        sessions = env["spa.session"].search(
            [
                ("therapist_id", "=", env.uid),
                ("state", "!=", "cancelled"),
                "|",
                ("state", "=", "in_progress"),
                "&",
                ("date_planned", ">=", start),
                ("date_planned", "<", end),
            ],
            order="date_planned, id",
        )
        statuses = self._consent_statuses(sessions)
        state_labels = self._selection_labels("spa.session", "state")
        status_labels = self._selection_labels("calendar.event", "spa_consent_status")
        return {
            "sessions": [
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
                    "step_done_count": session.step_done_count,
                    "step_total_count": session.step_total_count,
                }
                for session in sessions
            ],
        }

    @http.route("/spa/tablet/session/<int:session_id>", type="json", auth="user")
    def session_data(self, session_id):
        """Everything the runner shows for one session, in one call."""
        try:
            session = request.env["spa.session"].browse(session_id)
            return {"ok": True, "session": self._session_payload(session)}
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    @http.route("/spa/tablet/consent_info", type="json", auth="user")
    def consent_info(self, session_id=None, event_id=None):
        """What the client reads before signing: the protocol's consent text.
        Readable by the front desk too (no clinical detail)."""
        try:
            partner, protocol, session = self._consent_target(session_id, event_id)
            statuses = self._consent_statuses(session) if session else {}
            status = (
                statuses.get(session.id)
                if session
                else self._status_for(partner, protocol)
            )
            return {
                "ok": True,
                "partner_name": partner.display_name,
                "protocol_id": protocol.id,
                "protocol_name": protocol.display_name,
                "consent_text": protocol.consent_text or "",
                "consent_status": status,
                "session_id": session.id if session else False,
            }
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------

    @http.route("/spa/tablet/sync", type="json", auth="user")
    def sync(self, ops):
        """Apply a batch of operations queued on the device, in order, each
        in its own savepoint: a refused one changes nothing and does not stop
        the others. Replays are harmless (idempotency keys, ticks already
        made by the same user)."""
        if not isinstance(ops, list) or len(ops) > MAX_BATCH:
            raise ValidationError(
                request.env._(
                    "The tablet sends a list of at most %(max)s operations.",
                    max=MAX_BATCH,
                )
            )
        results = []
        for op in ops:
            result = {"uuid": op.get("uuid") if isinstance(op, dict) else None}
            try:
                with request.env.cr.savepoint():
                    result.update(ok=True, **self._apply_op(op))
            except UserError as error:
                result.update(ok=False, error=_message(error))
            except (TypeError, ValueError):
                result.update(
                    ok=False, error=request.env._("The operation is malformed.")
                )
            except psycopg2.IntegrityError:
                # A concurrent submission of the same key: the replay will
                # find the record.
                result.update(
                    ok=False,
                    retry=True,
                    error=request.env._(
                        "The server was saving the same item at the same time; "
                        "it will be sent again."
                    ),
                )
            results.append(result)
        return {"results": results}

    @http.route("/spa/tablet/session/<int:session_id>/action", type="json", auth="user")
    def session_action(self, session_id, action, reason=None, note=None):
        """Start, complete or stop a session (online only: the server decides)."""
        env = request.env
        session = env["spa.session"].browse(session_id)
        try:
            if action not in SESSION_ACTIONS:
                raise UserError(env._("Unknown action %(action)s.", action=action))
            with env.cr.savepoint():
                if action == "start":
                    session.action_start()
                elif action == "done":
                    session.action_done()
                else:
                    session.action_stop(reason=reason or None, note=note or None)
            return {"ok": True, "session": self._session_payload(session)}
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    @http.route("/spa/tablet/consent", type="json", auth="user")
    def sign_consent(self, signature, signed_by, session_id=None, event_id=None):
        """The client signed on the tablet: create the consent and give it,
        as the logged-in front desk or therapist user (who recorded it)."""
        env = request.env
        try:
            partner, protocol, session = self._consent_target(session_id, event_id)
            image = self._signature_image(signature)
            if not (signed_by or "").strip():
                raise UserError(env._("The name of the person who signs is required."))
            with env.cr.savepoint():
                consent = env["spa.consent"].create(
                    {
                        "partner_id": partner.id,
                        "protocol_ids": [Command.set(protocol.ids)],
                        "company_id": (
                            session.company_id.id if session else env.company.id
                        ),
                        "method": "signature",
                        "signature": image,
                        "signed_by": signed_by.strip(),
                    }
                )
                consent.action_give()
            return {"ok": True, "consent_id": consent.id, "name": consent.name}
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    # ------------------------------------------------------------------
    # Operations
    # ------------------------------------------------------------------

    def _apply_op(self, op):
        env = request.env
        if not isinstance(op, dict) or op.get("kind") not in OP_KINDS:
            raise UserError(env._("Unknown operation."))
        if not op.get("uuid"):
            raise UserError(env._("The operation has no idempotency key."))
        kind = op["kind"]
        if kind in ("tick", "skip"):
            return self._apply_step_op(op)
        if kind == "checkin":
            return self._apply_checkin_op(op)
        return self._apply_record_op(op)

    def _apply_step_op(self, op):
        env = request.env
        step = env["spa.session.step"].browse(int(op.get("step_id") or 0)).exists()
        if not step:
            raise UserError(env._("This checklist step does not exist."))
        # Reading the step checks the record rules: another therapist's
        # session is refused here.
        state, done_by = step.state, step.done_by_id
        target = "done" if op["kind"] == "tick" else "skipped"
        if state == target and done_by == env.user:
            # A replay of a tick or skip that already reached the server.
            return {"step_id": step.id, "replayed": True}
        if op["kind"] == "tick":
            step.action_done()
        else:
            step.action_skip(op.get("reason") or None)
        return {"step_id": step.id}

    def _apply_checkin_op(self, op):
        env = request.env
        vals = {
            "uuid": op["uuid"],
            "session_id": int(op.get("session_id") or 0),
            "session_step_id": int(op.get("step_id") or 0) or False,
            "pain_level": op.get("pain_level"),
            "stop_requested": bool(op.get("stop_requested")),
            "device_at": self._device_at(op.get("device_at")),
        }
        if op.get("note"):
            vals["note"] = op["note"]
        session = env["spa.session"].browse(vals["session_id"]).exists()
        if not session:
            raise UserError(env._("This session does not exist."))
        session.check_access("write")
        checkin = env["spa.checkin"].create(vals)
        return {"checkin_id": checkin.id}

    def _apply_record_op(self, op):
        env = request.env
        session = env["spa.session"].browse(int(op.get("session_id") or 0)).exists()
        if not session:
            raise UserError(env._("This session does not exist."))
        values = op.get("values") or {}
        unknown = set(values) - set(RECORD_FIELDS)
        if unknown or not values:
            raise UserError(
                env._(
                    "The tablet cannot record these fields: %(fields)s.",
                    fields=", ".join(sorted(unknown)) or "-",
                )
            )
        if session.state != "in_progress":
            raise UserError(
                env._(
                    "Records can only be made while the session is in progress: "
                    "%(session)s.",
                    session=session.name,
                )
            )
        session.write(values)
        return {"session_id": session.id}

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _session_payload(self, session):
        """Read as the user: a session of another therapist raises."""
        env = request.env
        session = session.exists()
        if not session:
            raise UserError(env._("This session does not exist."))
        session.check_access("read")
        statuses = self._consent_statuses(session)
        steps = session.step_ids
        checkins = session.checkin_ids
        positionings = self._selection_labels("spa.session", "positioning")
        return {
            "id": session.id,
            "name": session.name,
            "state": session.state,
            "state_label": self._selection_labels("spa.session", "state").get(
                session.state
            ),
            "partner_name": session.partner_id.display_name,
            "protocol_name": session.protocol_id.display_name,
            "event_id": session.event_id.id,
            "date_planned": fields.Datetime.to_string(session.date_planned),
            "consent_status": statuses[session.id],
            "consent_status_label": self._selection_labels(
                "calendar.event", "spa_consent_status"
            ).get(statuses[session.id]),
            "consent_name": session.consent_id.display_name or False,
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
            "completion_blockers": session.completion_blockers or "",
            "can_complete": session.can_complete,
            "is_stop_triggered": session.is_stop_triggered,
            "referral_recommended": session.referral_recommended,
            "stop_reason": session.stop_reason or False,
            "steps": [
                {
                    "id": step.id,
                    "sequence": step.sequence,
                    "name": step.name,
                    "instructions": step.instructions or "",
                    "is_mandatory": step.is_mandatory,
                    "requires_checkin": step.requires_checkin,
                    "record_kind": step.record_kind,
                    "qualification_name": step.qualification_id.display_name or "",
                    "state": step.state,
                    "done_by_name": step.done_by_id.display_name or "",
                    "done_at": fields.Datetime.to_string(step.done_at),
                    "skip_reason": step.skip_reason or "",
                    "checkin_count": len(
                        checkins.filtered(lambda c, s=step: c.session_step_id == s)
                    ),
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
                    "device_at": fields.Datetime.to_string(checkin.device_at),
                    "logged_at": fields.Datetime.to_string(checkin.create_date),
                }
                for checkin in checkins
            ],
        }

    def _consent_target(self, session_id, event_id):
        """Client, protocol (and session) a tablet consent is for."""
        env = request.env
        session = env["spa.session"]
        if session_id:
            session = session.browse(int(session_id)).exists()
            if not session:
                raise UserError(env._("This session does not exist."))
            return session.partner_id, session.protocol_id, session
        event = env["calendar.event"].browse(int(event_id or 0)).exists()
        if not event:
            raise UserError(env._("This appointment does not exist."))
        if not (event.spa_client_id and event.spa_protocol_id):
            raise UserError(
                env._("The appointment has no client or session protocol yet.")
            )
        live = event.spa_session_ids.filtered(lambda s: s.state != "cancelled")
        return event.spa_client_id, event.spa_protocol_id, live[-1:]

    def _signature_image(self, signature):
        """The base64 PNG of a data URL from the signature pad."""
        env = request.env
        data = (signature or "").split(",", 1)[-1]
        try:
            if not data or not base64.b64decode(data, validate=True):
                raise ValueError
        except (binascii.Error, ValueError):
            raise UserError(env._("The signature is missing or unreadable.")) from None
        return data

    def _consent_statuses(self, sessions):
        """Consent state per session, as the appointment's badge shows it."""
        statuses = {}
        for session in sessions:
            if session.event_id:
                statuses[session.id] = session.event_id.spa_consent_status or False
            else:
                statuses[session.id] = self._status_for(
                    session.partner_id, session.protocol_id
                )
        return statuses

    def _status_for(self, partner, protocol):
        # A draft appointment in memory computes the same badge as a real one.
        event = request.env["calendar.event"].new(
            {"spa_client_id": partner.id, "spa_protocol_id": protocol.id}
        )
        return event.spa_consent_status or False

    def _selection_labels(self, model, field):
        env = request.env
        return dict(env[model]._fields[field]._description_selection(env))

    def _today_bounds(self):
        tz = pytz.timezone(request.env.user.tz or "UTC")
        today = datetime.now(tz).date()
        start = tz.localize(datetime.combine(today, time.min))
        end = start + timedelta(days=1)
        return (
            start.astimezone(pytz.utc).replace(tzinfo=None),
            end.astimezone(pytz.utc).replace(tzinfo=None),
        )

    def _device_at(self, value):
        """The device's clock, kept beside the server's (never trusted for
        the rules). Accepts ISO 8601 with or without a time zone."""
        if not value:
            return False
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return False
        if moment.tzinfo:
            moment = moment.astimezone(pytz.utc).replace(tzinfo=None)
        return moment.replace(microsecond=0)
