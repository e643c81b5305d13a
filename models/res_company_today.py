# A file of its own: the company's day is one concern (the rules' "today"),
# apart from the retention settings of res_company.py.
# pylint: disable=consider-merging-classes-inherited
import pytz

from odoo import fields, models


class ResCompany(models.Model):
    """Today is the company's day: the validity of consents, certifications
    and intakes is judged on the date in the company's time zone (its working
    calendar's, else UTC), never in the caller's context or preferences."""

    _inherit = "res.company"

    def _spa_tz(self):
        """The company's time zone: its working calendar's, else UTC.

        The working calendar comes with the ``resource`` module; without it
        (this addon does not need it) every company keeps UTC."""
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
