"""Portal pages of the addon (client consent signing)."""

import binascii

import pytz

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request
from odoo.tools import consteq

from odoo.addons.portal.controllers.portal import CustomerPortal


def spa_client_tz(partner, company):
    """The time zone the client's pages show times in: the client's own
    (their contact's), else the company's (its working calendar's), else the
    browser's (the ``tz`` cookie Odoo's web client sets), else UTC."""
    # sudo: a time zone is no secret; a visitor holding the consent's link
    # (or the client on their portal) may not read the contact or calendar.
    company_tz = company.sudo()._spa_tz().zone if company else None
    if company_tz == "UTC":
        # UTC is also what a company without a working calendar answers:
        # the browser's time zone then says more.
        company_tz = None
    for tz in (
        partner.sudo().tz,
        company_tz,
        request.httprequest.cookies.get("tz"),
    ):
        if tz and tz in pytz.all_timezones_set:
            return tz
    return "UTC"


class SpaConsentPortal(CustomerPortal):
    def _spa_consent_sudo(self, consent_id, access_token):
        """The consent when the visitor holds its link's token, else None:
        nothing of the client leaks.

        The token is required from every visitor, logged in or not: a
        member of staff who may read the consent in the back office still
        cannot sign it "online" in the client's name without the link the
        client received (``_document_check_access`` alone would let them in
        on their read right).
        """
        if not access_token or not isinstance(access_token, str):
            return None
        try:
            consent_sudo = self._document_check_access(
                "spa.consent", consent_id, access_token=access_token
            )
        except (AccessError, MissingError):
            return None
        if not (
            consent_sudo.access_token
            and consteq(consent_sudo.access_token, access_token)
        ):
            return None
        return consent_sudo

    def _spa_status_message(self, consent_sudo, status):
        env = request.env
        company = consent_sudo.company_id.name
        if status == "given":
            return env._("This consent was already given. Thank you.")
        if status == "recorded":
            return env._(
                "Your consent for this treatment is already recorded with "
                "%(company)s: there is nothing left to sign here. Thank you.",
                company=company,
            )
        if status == "withdrawn":
            return env._(
                "This consent was withdrawn. Please contact %(company)s if you want "
                "to give a new one.",
                company=company,
            )
        if status == "expired":
            return env._(
                "This link has expired. Please ask %(company)s for a new link.",
                company=company,
            )
        return False

    @http.route(
        "/my/spa/consent/<int:consent_id>",
        type="http",
        auth="public",
        website=True,
        sitemap=False,
    )
    def spa_consent_page(
        self, consent_id, access_token=None, message=None, region_error=None, **kw
    ):
        consent_sudo = self._spa_consent_sudo(consent_id, access_token)
        if not consent_sudo:
            raise request.not_found()
        lang = consent_sudo.partner_id.lang
        if lang and lang in dict(request.env["res.lang"].get_installed()):
            request.update_context(lang=lang)
        consent_sudo = consent_sudo.with_context(lang=request.env.lang)
        status = consent_sudo._portal_status()
        values = {
            "consent": consent_sudo,
            "status": status,
            "status_message": self._spa_status_message(consent_sudo, status),
            "just_signed": message == "signed" and status == "given",
            "region_error": bool(region_error),
            "client_tz": spa_client_tz(
                consent_sudo.partner_id, consent_sudo.company_id
            ),
            "sensitive_regions": consent_sudo.protocol_ids.sensitive_region_ids,
            "intake_url": self._spa_intake_url(consent_sudo, access_token)
            if status == "given"
            else False,
            "consent_text": consent_sudo.consent_text
            if status != "sign"
            else consent_sudo._agreed_text(),
            # The page says which text it shows: signing what changed since
            # (another protocol, another client, another text) is refused.
            "accept_url": consent_sudo.get_portal_url(
                suffix="/accept",
                query_string=f"&shown={consent_sudo._spa_shown_version()}",
            ),
        }
        return request.render("spa_session_protocol.spa_consent_portal_page", values)

    @http.route(
        "/my/spa/consent/<int:consent_id>/regions",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def spa_consent_regions(self, consent_id, access_token=None, **post):
        """The client agrees to each sensitive region separately (a box per
        region); the page then shows the text with the areas agreed, which
        is what they sign."""
        consent_sudo = self._spa_consent_sudo(consent_id, access_token)
        if not consent_sudo:
            raise request.not_found()
        region_ids = []
        for key in post:
            if key.startswith("region_") and key[7:].isdigit():
                region_ids.append(int(key[7:]))
        try:
            with request.env.cr.savepoint():
                consent_sudo._action_agree_regions_from_portal(region_ids)
        except UserError:
            return request.redirect(
                consent_sudo.get_portal_url(query_string="&region_error=1")
            )
        return request.redirect(consent_sudo.get_portal_url())

    @http.route(
        "/my/spa/consent/<int:consent_id>/accept",
        type="json",
        auth="public",
        website=True,
    )
    def spa_consent_accept(
        self,
        consent_id,
        access_token=None,
        name=None,
        signature=None,
        shown=None,
        strokes=None,
    ):
        access_token = access_token or request.httprequest.args.get("access_token")
        shown = shown or request.httprequest.args.get("shown")
        consent_sudo = self._spa_consent_sudo(consent_id, access_token)
        if not consent_sudo:
            return {"error": request.env._("This link is not valid.")}
        status = consent_sudo._portal_status()
        if status != "sign":
            return {"error": self._spa_status_message(consent_sudo, status)}
        if not signature or not isinstance(signature, str):
            return {"error": request.env._("Please sign in the box first.")}
        if name is not None and not isinstance(name, str):
            return {
                "error": request.env._("The name of the person who signs is not valid.")
            }
        # The token check above stands for the client; the consent is given
        # as the visitor (the public user when not logged in), with sudo
        # because visitors have no right on consents: recorded_by_id then
        # shows it was recorded online, not by a member of staff.
        signer_sudo = consent_sudo.with_user(request.env.user).sudo()
        try:
            with request.env.cr.savepoint():
                signer_sudo._action_sign_from_portal(
                    name, signature, shown, strokes=strokes
                )
        except (TypeError, binascii.Error):
            return {"error": request.env._("The signature could not be read.")}
        except UserError as error:
            return {"error": error.args[0]}
        return {
            "force_refresh": True,
            "redirect_url": consent_sudo.get_portal_url(query_string="&message=signed"),
        }

    def _spa_intake_url(self, consent_sudo, access_token):
        """The link to the health intake after the consent, when one of its
        protocols asks for an intake the client has not answered recently."""
        protocols = consent_sudo.protocol_ids.filtered("intake_survey_id")
        if not protocols:
            return False
        # The rule's own verdict (rule 7), as a session of the first such
        # protocol would see it: no link when the client's intake is valid.
        session_sudo = (
            request.env["spa.session"]
            .sudo()
            .new(
                {
                    "partner_id": consent_sudo.partner_id.id,
                    "protocol_id": protocols[0].id,
                    "company_id": consent_sudo.company_id.id,
                }
            )
        )
        status, __ = session_sudo._spa_intake_statuses()[session_sudo.id]
        if status in ("valid", "caution"):
            return False
        return consent_sudo.get_portal_url(suffix="/intake")

    @http.route(
        "/my/spa/consent/<int:consent_id>/intake",
        type="http",
        auth="public",
        website=True,
        sitemap=False,
    )
    def spa_consent_intake(self, consent_id, access_token=None, **kw):
        """From the consent's link, on to the health intake of its protocol:
        the client answers with Survey's own flow, the answer is theirs
        (its partner is the consent's client)."""
        consent_sudo = self._spa_consent_sudo(consent_id, access_token)
        if not consent_sudo or consent_sudo.state != "given":
            raise request.not_found()
        protocol_sudo = consent_sudo.protocol_ids.filtered("intake_survey_id")[:1]
        if not protocol_sudo:
            raise request.not_found()
        user_input_sudo = protocol_sudo._spa_intake_answer_for(consent_sudo.partner_id)
        return request.redirect(user_input_sudo._spa_answer_url())
