"""JSON routes of the tablet session runner.

The routes only transport: they parse the JSON, call one ``spa.session``
method per operation (``models/spa_session_tablet.py``) as the logged-in
user, and serialise the answer. Refusals come back as data (a message the
tablet shows), never as tracebacks; one bad operation of a batch never
takes the others with it.
"""

import contextlib
import logging

import psycopg2

from odoo import http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from ..models.spa_session_tablet import MAX_BATCH

_logger = logging.getLogger(__name__)

# What a malformed operation may raise before the models name the problem
# (a value of a type nobody checked yet): refused as malformed, never a 500.
MALFORMED_ERRORS = (
    TypeError,
    ValueError,
    OverflowError,
    KeyError,
    AttributeError,
    psycopg2.DataError,
)


def _message(error):
    """The user-facing text of a refusal."""
    return str(error.args[0]) if error.args else str(error)


def _rollback_alone(env, alone):
    """Undo a refused operation that was the request's only one: its
    transaction (and the caches) roll back, as its savepoint would."""
    if alone:
        env.cr.rollback()


class SpaTabletController(http.Controller):
    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    @http.route("/spa/tablet/sessions_today", type="json", auth="user")
    def sessions_today(self):
        return {"sessions": request.env["spa.session"]._tablet_sessions_today()}

    @http.route("/spa/tablet/session/<int:session_id>", type="json", auth="user")
    def session_data(self, session_id):
        """Everything the runner shows for one session, in one call."""
        try:
            session = request.env["spa.session"]._tablet_session(session_id)
            return {"ok": True, "session": session._tablet_payload()}
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    @http.route("/spa/tablet/consent_info", type="json", auth="user")
    def consent_info(self, session_id=None, event_id=None):
        try:
            info = request.env["spa.session"]._tablet_consent_info(session_id, event_id)
            return {"ok": True, **info}
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------

    @http.route("/spa/tablet/sync", type="json", auth="user")
    def sync(self, ops):
        """Apply a batch of operations queued on the device, in order, each
        in its own savepoint: a refused or malformed one changes nothing and
        does not stop the others. Each gets its own result, matched by its
        idempotency key (at most ``MAX_BATCH`` per call)."""
        if not isinstance(ops, list):
            raise ValidationError(
                request.env._("The tablet sends its operations as a list.")
            )
        # A longer queue is answered in parts: unanswered operations stay
        # pending on the device and go with its next sync.
        ops = ops[:MAX_BATCH]
        if len(ops) == 1:
            # The request's only operation (a tablet online sends each as it
            # happens): the request's own transaction isolates it.
            return {"results": [self._sync_one(ops[0], alone=True)]}
        return {"results": [self._sync_one(op) for op in ops]}

    def _sync_one(self, op, env=None, alone=False):
        """Apply ``op`` in its own savepoint; ``alone``: the only operation
        of the request, whose transaction holds nothing else: a refusal
        rolls the transaction back instead (two statements fewer)."""
        env = env or request.env
        key = op.get("uuid") if isinstance(op, dict) else None
        result = {"uuid": key if isinstance(key, str) else None}
        try:
            with contextlib.nullcontext() if alone else env.cr.savepoint():
                answer = env["spa.session"]._tablet_apply_op(op)
                if alone:
                    # What the savepoint's release does: write it now, so
                    # that a constraint refuses it here.
                    env.cr.flush()
            result.update(ok=True, status="done", **answer)
        except UserError as error:
            _rollback_alone(env, alone)
            result.update(ok=False, status="refused", error=_message(error))
        except psycopg2.IntegrityError:
            _rollback_alone(env, alone)
            # A concurrent submission of the same key: the replay will find
            # the record.
            result.update(
                ok=False,
                status="retry",
                retry=True,
                error=env._(
                    "The server was saving the same item at the same time; "
                    "it will be sent again."
                ),
            )
        except MALFORMED_ERRORS as error:
            _rollback_alone(env, alone)
            _logger.info("Malformed tablet operation refused: %s", error)
            result.update(
                ok=False,
                status="refused",
                error=env._("The operation is malformed: %(error)s", error=str(error)),
            )
        return result

    @http.route("/spa/tablet/session/<int:session_id>/action", type="json", auth="user")
    def session_action(self, session_id, action, reason=None, note=None):
        """Start, complete or stop a session (online only: the server decides)."""
        env = request.env
        try:
            session = env["spa.session"]._tablet_session(session_id)
            with env.cr.savepoint():
                session._tablet_action(action, reason=reason, note=note)
            return {"ok": True, "session": session._tablet_payload()}
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    @http.route("/spa/tablet/consent", type="json", auth="user")
    def sign_consent(
        self,
        signature,
        signed_by,
        session_id=None,
        event_id=None,
        region_ids=None,
        strokes=None,
    ):
        """The client signed on the tablet: the consent is created and given
        as the logged-in front desk or therapist user (who recorded it).
        ``strokes``: the points drawn on the pad (the signature must be their
        drawing, as on the client's consent page)."""
        env = request.env
        try:
            with env.cr.savepoint():
                consent = env["spa.session"]._tablet_sign_consent(
                    signature,
                    signed_by,
                    session_id=session_id,
                    event_id=event_id,
                    region_ids=region_ids,
                    strokes=strokes,
                )
            return {"ok": True, "consent_id": consent.id, "name": consent.name}
        except UserError as error:
            return {"ok": False, "error": _message(error)}

    # ------------------------------------------------------------------
    # The health intake on the tablet
    # ------------------------------------------------------------------

    @http.route("/spa/tablet/session/<int:session_id>/intake", type="http", auth="user")
    def session_intake(self, session_id):
        """The client answers the health intake on the therapist's tablet,
        with Survey's own flow; the answer is the client's."""
        session = request.env["spa.session"]._tablet_session(session_id)
        if session.state != "draft":
            raise request.not_found()
        return request.redirect(session._spa_intake_answer()._spa_answer_url())
