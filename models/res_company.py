import pytz

from odoo import fields, models

from .spa_write_policy_mixin import ROLE_MANAGER, ROLE_SETTINGS

COMPANY_SETTINGS_FIELDS = (
    "spa_retention_years",
    "spa_consent_link_on_booking",
    "spa_consent_link_days",
    "spa_kiosk_idle_minutes",
    "spa_tsa_url",
    "spa_aftercare_enabled",
)


class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin): the
    # settings are the managers' and administrators'; the chain head and the
    # last verified link are the server's.
    _spa_guard_own_fields_only = True
    _spa_create_policy = {
        ROLE_MANAGER: COMPANY_SETTINGS_FIELDS,
        ROLE_SETTINGS: COMPANY_SETTINGS_FIELDS,
    }
    _spa_write_policy = {
        ROLE_MANAGER: {"*": COMPANY_SETTINGS_FIELDS},
        ROLE_SETTINGS: {"*": COMPANY_SETTINGS_FIELDS},
    }

    spa_retention_years = fields.Integer(
        string="Clinical Records Retention (years)",
        default=10,
        help="Finished sessions keep their clinical free text (check-in notes, "
        "screening answers, signatures) this many years; afterwards it is "
        "anonymised, unless the client is on legal hold. Counts, dates and "
        "states stay.",
    )
    spa_consent_link_on_booking = fields.Boolean(
        string="Send Consent Link on Booking",
        default=True,
        help="When an appointment is booked for a client who has an email address "
        "and no valid consent for its protocol, email them a link to read and "
        "sign the consent before the visit.",
    )
    spa_consent_link_days = fields.Integer(
        string="Consent Link Validity (days)",
        default=30,
        help="Days a consent link sent to a client stays open for signing.",
    )

    spa_kiosk_idle_minutes = fields.Integer(
        string="Kiosk Idle Delay (minutes)",
        default=3,
        help="A treatment room's tablet locks itself after this many minutes "
        "without a touch; the therapist unlocks it again with their PIN.",
    )
    spa_tsa_url = fields.Char(
        string="Time-Stamping Authority URL",
        help="RFC 3161 service that signs the daily anchor of the evidence chain "
        "(e.g. https://freetsa.org/tsr). Empty: anchors are recorded without a "
        "timestamp token.",
    )
    spa_aftercare_enabled = fields.Boolean(
        string="Send Aftercare Emails",
        default=True,
        help="When a session ends, email the client the aftercare instructions of "
        "its protocol (done) or the referral letter (stopped with a referral to a "
        "healthcare professional).",
    )

    spa_evidence_sequence = fields.Integer(
        string="Last Evidence Sequence",
        readonly=True,
        copy=False,
        help="Place of the company's last finished session in its evidence chain.",
    )
    spa_evidence_head_hash = fields.Char(
        string="Last Evidence Hash",
        readonly=True,
        copy=False,
        help="Evidence hash of the company's last finished session (the chain "
        "head): removing the last sessions of the chain is found against it.",
    )
    # The last link an integrity check found intact: incremental checks start
    # after it. The server's (written by the check only).
    spa_evidence_verified_sequence = fields.Integer(
        string="Last Verified Evidence Place",
        readonly=True,
        copy=False,
        help="Place of the last link of the evidence chain an integrity check "
        "found intact; an incremental check reads the links after it.",
    )
    spa_evidence_verified_hash = fields.Char(
        string="Last Verified Evidence Hash",
        readonly=True,
        copy=False,
        help="Evidence hash of that link when it was verified.",
    )
    spa_evidence_verified_at = fields.Datetime(
        string="Evidence Last Verified At",
        readonly=True,
        copy=False,
        help="When an integrity check last found the company's evidence chain intact.",
    )

    _sql_constraints = [
        (
            "spa_retention_years_check",
            "CHECK(spa_retention_years >= 1)",
            "The retention period of clinical records must be at least one year.",
        ),
        (
            "spa_consent_link_days_check",
            "CHECK(spa_consent_link_days >= 1)",
            "A consent link must stay valid at least one day.",
        ),
        (
            "spa_kiosk_idle_minutes_check",
            "CHECK(spa_kiosk_idle_minutes >= 1 AND spa_kiosk_idle_minutes <= 60)",
            "The kiosk's idle delay is between 1 and 60 minutes.",
        ),
    ]

    # ------------------------------------------------------------------
    # Today is the company's day: the validity of consents, certifications
    # and intakes is judged on the date in the company's time zone (its
    # working calendar's, else UTC), never in the caller's context.
    # ------------------------------------------------------------------

    def _spa_tz(self):
        """The company's time zone: its working calendar's, else UTC.

        The working calendar comes with the ``resource`` module (installed with
        HR, planning, ...); the addon does not depend on it: without it every
        company keeps UTC."""
        self.ensure_one()
        tz = False
        if "resource_calendar_id" in self._fields:
            # sudo: the time zone of the company's calendar is no secret; a
            # portal or public visitor (signing a consent) may not read it.
            tz = self.sudo().resource_calendar_id.tz
        try:
            return pytz.timezone(tz or "UTC")
        except pytz.UnknownTimeZoneError:
            return pytz.utc

    def _spa_date_of(self, moment):
        """The company's date of ``moment`` (a naive UTC datetime)."""
        self.ensure_one()
        if not moment:
            return None
        return pytz.utc.localize(moment).astimezone(self._spa_tz()).date()

    def _spa_today(self):
        """Today in the company's time zone."""
        return self._spa_date_of(fields.Datetime.now())

    def _spa_today_by_company(self):
        """``{company id: today}`` for the companies of ``self``."""
        return {company.id: company._spa_today() for company in self}
