"""Routes of the treatment room's tablet (the kiosk).

No Odoo login: the page is ``/spa/kiosk`` for every room. The room's secret
token reaches the tablet in the URL's fragment (``/spa/kiosk#<token>``, which
a browser never sends to a server), or in the address the design names,
``/spa/kiosk/<token>`` (one request, then the script puts ``/spa/kiosk`` in
the address bar); the kiosk's script keeps it on the device
and sends it in the body of each JSON request (the ``token`` parameter),
never in a path or a query string, so no access log, proxy log, browser
history or Referer header carries it. The token opens the day's plan; a
therapist unlocks one session with their PIN and gets a short-lived unlock
bound to the room, themselves and that session. Every request that acts runs
as that therapist (``env(user=therapist)``, never the superuser and never an
Odoo session cookie of theirs), through the same methods as the logged-in
runner. The routes only transport; the room (``models/spa_room.py``) and the
session runner (``models/spa_session_tablet.py``) decide.
"""

from odoo import http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from ..models.spa_session_tablet import MAX_BATCH
from .tablet import SpaTabletController, _message

# The page, and the service worker's scope (the page and what is under it).
KIOSK_PATH = "/spa/kiosk"


class SpaKioskController(http.Controller):
    def _room(self, token):
        """The room whose token the request's body carries; a missing or
        wrong token is refused as one."""
        room = request.env["spa.room"]._spa_room_by_token(token)
        if not room:
            raise AccessError(
                request.env._(
                    "This tablet's address is no longer valid: ask a manager for "
                    "the room's new kiosk URL."
                )
            )
        return room

    def _unlocked(self, token, unlock):
        """(room, therapist env, session as the therapist) of a request."""
        room = self._room(token)
        user, session_sudo = room._kiosk_check_unlock(unlock)
        env = room._kiosk_env(user, session_sudo)
        return room, env, env["spa.session"]._tablet_session(session_sudo.id)

    @staticmethod
    def _private_page(template, values=None, status=200):
        """A kiosk page that no cache keeps and no Referer header names: the
        address it answers may carry a room's token."""
        response = request.render(template, values, status=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _answer(self, room, env, record, **values):
        """A fresh unlock (the idle delay starts again) with every answer."""
        return {
            "ok": True,
            "unlock": room._kiosk_issue_unlock(env.user, record),
            **values,
        }

    # ------------------------------------------------------------------
    # The page, the app manifest and the service worker
    # ------------------------------------------------------------------

    @http.route(
        KIOSK_PATH,
        type="http",
        auth="public",
        methods=["GET"],
        readonly=True,
        sitemap=False,
    )
    def kiosk_page(self):
        """The same page for every room: it holds no secret (the script
        reads the room's token from the fragment or the device)."""
        return self._private_page(
            "spa_session_protocol.kiosk_page", {"kiosk_path": KIOSK_PATH}
        )

    @http.route(
        f"{KIOSK_PATH}/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        readonly=True,
        sitemap=False,
    )
    def kiosk_page_with_token(self, token):
        """The room's tablet at the address the design names
        (``/spa/kiosk/<kiosk_token>``): the same page, whose script keeps the
        token on the device and puts ``/spa/kiosk`` in the address bar at
        once; every later request carries the token in its body. The links
        the back office gives use the fragment (``/spa/kiosk#<token>``),
        which never reaches a server's or a proxy's log. A wrong or old token
        gets the same 404 whatever it is."""
        room = request.env["spa.room"]._spa_room_by_token(token)
        if not room:
            return self._private_page(
                "spa_session_protocol.kiosk_page_old_address", status=404
            )
        return self._private_page(
            "spa_session_protocol.kiosk_page", {"kiosk_path": KIOSK_PATH, "room": room}
        )

    @http.route(
        f"{KIOSK_PATH}/manifest.webmanifest",
        type="http",
        auth="public",
        methods=["GET"],
        readonly=True,
        sitemap=False,
    )
    def kiosk_manifest(self):
        """The installed app opens ``/spa/kiosk``; the kiosk's script finds
        the room's token on the device. No room and no token here."""
        manifest = {
            "id": KIOSK_PATH,
            "name": request.env._("Treatment Room Tablet"),
            "short_name": request.env._("Room Tablet"),
            "start_url": KIOSK_PATH,
            "scope": KIOSK_PATH,
            "display": "fullscreen",
            "orientation": "any",
            "background_color": "#ffffff",
            "theme_color": "#714B67",
            "icons": [
                {
                    "src": "/spa_session_protocol/static/src/kiosk/kiosk_icon.svg",
                    "sizes": "any",
                    "type": "image/svg+xml",
                }
            ],
        }
        return request.make_json_response(
            manifest, headers=[("Content-Type", "application/manifest+json")]
        )

    @http.route(
        f"{KIOSK_PATH}/sw.js",
        type="http",
        auth="public",
        methods=["GET"],
        readonly=True,
        sitemap=False,
    )
    def kiosk_service_worker(self):
        """The service worker of the kiosk's scope ``/spa/kiosk`` (the page
        and what is under it; a worker's scope above its own folder needs the
        ``Service-Worker-Allowed`` header)."""
        script = http.Stream.from_path(
            "spa_session_protocol/static/src/kiosk/kiosk_service_worker.js"
        )
        response = script.get_response()
        response.headers["Content-Type"] = "text/javascript"
        response.headers["Service-Worker-Allowed"] = KIOSK_PATH
        # A worker lives under its script's policy: Odoo's static files say
        # "default-src 'none'", which would refuse every fetch it makes.
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        response.headers["Cache-Control"] = "no-cache"
        return response

    # ------------------------------------------------------------------
    # Locked: the day's plan, unlocking
    # ------------------------------------------------------------------

    @http.route(f"{KIOSK_PATH}/plan", type="json", auth="public", readonly=True)
    def kiosk_plan(self, token=None):
        try:
            return {"ok": True, **self._room(token)._kiosk_plan()}
        except AccessError as error:
            return {"ok": False, "refused": True, "error": _message(error)}

    @http.route(f"{KIOSK_PATH}/unlock", type="json", auth="public")
    def kiosk_unlock(self, token=None, session_id=None, pin=None):
        try:
            return self._room(token)._kiosk_unlock(session_id, pin)
        except (AccessError, UserError) as error:
            return {"ok": False, "error": _message(error)}

    @http.route(f"{KIOSK_PATH}/lock", type="json", auth="public")
    def kiosk_lock(self, token=None, unlock=None):
        try:
            return {"ok": self._room(token)._kiosk_lock(unlock)}
        except AccessError as error:
            return {"ok": False, "error": _message(error)}

    # ------------------------------------------------------------------
    # Unlocked: the session runner, as the therapist
    # ------------------------------------------------------------------

    @http.route(f"{KIOSK_PATH}/session", type="json", auth="public")
    def kiosk_session(self, token=None, unlock=None):
        try:
            room, env, session = self._unlocked(token, unlock)
            return self._answer(room, env, session, session=session._tablet_payload())
        except (AccessError, UserError) as error:
            return {"ok": False, "locked": True, "error": _message(error)}

    @http.route(f"{KIOSK_PATH}/sync", type="json", auth="public")
    def kiosk_sync(self, token=None, unlock=None, ops=None):
        """The device's queued operations for the unlocked session, each in
        its own savepoint, as the therapist (as ``/spa/tablet/sync``)."""
        try:
            room, env, session = self._unlocked(token, unlock)
        except (AccessError, UserError) as error:
            return {"ok": False, "locked": True, "error": _message(error)}
        if not isinstance(ops, list):
            return {
                "ok": False,
                "error": env._("The tablet sends its operations as a list."),
            }
        tablet = SpaTabletController()
        results = []
        for op in ops[:MAX_BATCH]:
            try:
                room._kiosk_check_op_scope(op, session)
            except UserError as error:
                key = op.get("uuid") if isinstance(op, dict) else None
                results.append(
                    {
                        "uuid": key if isinstance(key, str) else None,
                        "ok": False,
                        "status": "refused",
                        "error": _message(error),
                    }
                )
                continue
            results.append(tablet._sync_one(op, env=env))
        session.invalidate_recordset()
        return self._answer(
            room, env, session, results=results, session=session._tablet_payload()
        )

    @http.route(f"{KIOSK_PATH}/action", type="json", auth="public")
    def kiosk_action(
        self, token=None, unlock=None, action=None, reason=None, note=None
    ):
        """Start, complete or stop the unlocked session (online only)."""
        try:
            room, env, session = self._unlocked(token, unlock)
        except (AccessError, UserError) as error:
            return {"ok": False, "locked": True, "error": _message(error)}
        try:
            with env.cr.savepoint():
                session._tablet_action(action, reason=reason, note=note)
        except UserError as error:
            return self._answer(
                room,
                env,
                session,
                ok=False,
                error=_message(error),
                session=session._tablet_payload(),
            )
        return self._answer(room, env, session, session=session._tablet_payload())
