"""Survey's own answering flow, for the spa's health intakes."""

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

from odoo.addons.survey.controllers.main import Survey

FRONT_DESK_GROUP = "spa_session_protocol.group_spa_front_desk"
THERAPIST_GROUP = "spa_session_protocol.group_spa_therapist"


class SpaIntakeSurvey(Survey):
    def _check_validity(
        self, survey_token, answer_token, ensure_token=True, check_partner=True
    ):
        """The front desk at check-in and the therapist on the tablet fill in
        the client's intake with the client: the answer stays the client's
        (its partner), although the logged-in user is not the client."""
        validity = super()._check_validity(
            survey_token,
            answer_token,
            ensure_token=ensure_token,
            check_partner=check_partner,
        )
        if validity != "answer_wrong_user" or not answer_token:
            return validity
        user = request.env.user
        if not (user.has_group(FRONT_DESK_GROUP) or user.has_group(THERAPIST_GROUP)):
            return validity
        survey_sudo, answer_sudo = self._fetch_from_access_token(
            survey_token, answer_token
        )
        # Only to answer: a finished intake's answers are clinical detail the
        # front desk never reads.
        if (
            answer_sudo.partner_id
            and answer_sudo.state != "done"
            and answer_sudo._spa_is_intake_survey(survey_sudo)
        ):
            return True
        return validity

    @http.route()
    def survey_print(self, survey_token, review=False, answer_token=None, **post):
        """A health intake's answers are clinical detail: printed for the
        client who holds their link (not logged in, or logged in as that
        client) and for therapists and managers, never for another user such
        as the front desk who filled it in with the client at check-in."""
        survey_sudo, answer_sudo = self._fetch_from_access_token(
            survey_token, answer_token
        )
        user = request.env.user
        if (
            answer_sudo
            and not user._is_public()
            and answer_sudo.partner_id != user.partner_id
            and not user.has_group(THERAPIST_GROUP)
            and answer_sudo._spa_is_intake_survey(survey_sudo)
        ):
            raise NotFound()
        return super().survey_print(
            survey_token, review=review, answer_token=answer_token, **post
        )
