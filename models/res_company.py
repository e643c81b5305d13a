from odoo import fields, models

from .spa_write_policy_mixin import ROLE_MANAGER, ROLE_SETTINGS

COMPANY_SETTINGS_FIELDS = (
    "spa_retention_years",
    "spa_consent_link_on_booking",
    "spa_consent_link_days",
)


class ResCompany(models.Model):
    _name = "res.company"
    _inherit = ["res.company", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin): the
    # settings are the managers' and administrators'; the chain head is the
    # server's.
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

    spa_evidence_sequence = fields.Integer(
        string="Last Evidence Sequence",
        readonly=True,
        copy=False,
        help="Place of the company's last finished session in its evidence chain.",
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
    ]
