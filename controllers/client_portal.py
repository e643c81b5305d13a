"""The client's own records on the portal (``/my/spa``).

What a client sees here is what the record rules of ``base.group_portal`` let
them read: every search and check runs as the client, never as superuser; the
controller adds only the client's own partner to the domain, for the staff
who open their own portal too. Only the names of what those records point to
(the protocols' names, the questionnaires' titles), which clients may not read
by themselves, are read as superuser, for the records found as the client.
"""

from odoo import fields, http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from .portal import spa_client_tz

FINISHED = ("done", "stopped")
SESSIONS_PER_PAGE = 10


class SpaClientPortal(CustomerPortal):
    # ------------------------------------------------------------------
    # Whose records, which records
    # ------------------------------------------------------------------

    def _spa_client_partners(self):
        user = request.env.user
        return user.partner_id | user.commercial_partner_id

    def _spa_finished_domain(self):
        return [
            ("partner_id", "in", self._spa_client_partners().ids),
            ("state", "in", FINISHED),
        ]

    def _spa_appointment_domain(self):
        return [
            ("partner_id", "in", self._spa_client_partners().ids),
            ("state", "=", "draft"),
            "|",
            ("date_planned", "=", False),
            ("date_planned", ">=", fields.Datetime.now()),
        ]

    def _spa_consent_domain(self):
        return [("partner_id", "in", self._spa_client_partners().ids)]

    def _spa_intake_domain(self):
        return [
            ("partner_id", "in", self._spa_client_partners().ids),
            ("state", "=", "done"),
        ]

    def _spa_own(self, model, record_id, states=None):
        """The record ``record_id`` of ``model`` when the client may read it
        (record rules, as the client) and it is theirs, else None."""
        record = request.env[model].browse(record_id).exists()
        if not record:
            return None
        try:
            record.check_access("read")
        except AccessError:
            return None
        if record.partner_id not in self._spa_client_partners():
            return None
        if states and record.state not in states:
            return None
        return record

    # ------------------------------------------------------------------
    # Portal home
    # ------------------------------------------------------------------

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "spa_record_count" in counters:
            Session = request.env["spa.session"]
            Consent = request.env["spa.consent"]
            count = 0
            if Session.has_access("read"):
                count += Session.search_count(self._spa_finished_domain())
                count += Session.search_count(self._spa_appointment_domain())
            if Consent.has_access("read"):
                count += Consent.search_count(self._spa_consent_domain())
            values["spa_record_count"] = count
        return values

    # ------------------------------------------------------------------
    # Pages
    # ------------------------------------------------------------------

    @http.route(
        ["/my/spa", "/my/spa/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
        readonly=True,
    )
    def spa_my_records(self, page=1, message=None, **kw):
        Session = request.env["spa.session"]
        Consent = request.env["spa.consent"]
        values = self._prepare_portal_layout_values()
        finished_domain = self._spa_finished_domain()
        session_count = Session.search_count(finished_domain)
        pager = portal_pager(
            url="/my/spa",
            total=session_count,
            page=page,
            step=SESSIONS_PER_PAGE,
        )
        sessions = Session.search(
            finished_domain,
            order="date_done desc, id desc",
            limit=SESSIONS_PER_PAGE,
            offset=pager["offset"],
        )
        appointments = Session.search(
            self._spa_appointment_domain(), order="date_planned asc, id"
        )
        consents = Consent.search(self._spa_consent_domain())
        Intake = request.env["survey.user_input"]
        intakes = Intake.browse()
        if Intake.has_access("read"):
            intakes = Intake.search(
                self._spa_intake_domain(),
                order="end_datetime desc, id desc",
                limit=20,
            )
        # sudo: clients do not read the protocols' configuration, only the
        # names of the treatments of their own records (found above as them).
        consents_sudo = consents.sudo()
        protocols_sudo = (
            sessions.protocol_id.sudo()
            | appointments.protocol_id.sudo()
            | consents_sudo.protocol_ids
        )
        values.update(
            {
                "page_name": "spa",
                "default_url": "/my/spa",
                "pager": pager,
                "sessions": sessions,
                "session_count": session_count,
                "appointments": appointments,
                "consents": consents,
                "intakes": intakes,
                # sudo: the titles of the questionnaires the client answered
                # (their answers were found above, as them).
                "intake_titles": {i.id: i.sudo().survey_id.title for i in intakes},
                "protocol_names": {p.id: p.name for p in protocols_sudo},
                "consent_protocols": {
                    consent.id: ", ".join(consent.protocol_ids.mapped("name"))
                    for consent in consents_sudo
                },
                "message": message,
                # Times in the client's time zone, never raw UTC.
                "client_tz": spa_client_tz(
                    request.env.user.partner_id, request.env.company
                ),
            }
        )
        return request.render("spa_session_protocol.portal_my_spa", values)

    @http.route(
        "/my/spa/session/<int:session_id>/pdf",
        type="http",
        auth="user",
        website=True,
        readonly=True,
    )
    def spa_my_session_pdf(self, session_id, **kw):
        session = self._spa_own("spa.session", session_id, states=FINISHED)
        if not session:
            raise request.not_found()
        # The client's copy prints only what the client is entitled to see;
        # the report renders as superuser, as every portal report does.
        return self._show_report(
            model=session,
            report_type="pdf",
            report_ref="spa_session_protocol.action_report_session_client",
            download=True,
        )

    @http.route(
        "/my/spa/consent/<int:consent_id>/withdraw",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
    )
    def spa_my_consent_withdraw(self, consent_id, **kw):
        consent = self._spa_own("spa.consent", consent_id)
        if not consent:
            raise request.not_found()
        # sudo: portal users may not write consents; the client withdraws
        # their own consent (checked above, as them) through its action,
        # which records them as who withdrew it.
        consent_sudo = consent.sudo()
        try:
            consent_sudo._action_withdraw_from_portal()
        except UserError:
            # Already withdrawn or never given: the page says it as it is.
            return request.redirect("/my/spa?message=not_withdrawn")
        return request.redirect("/my/spa?message=withdrawn")
