from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.osv import expression


class SpaRetentionMixin(models.AbstractModel):
    """Clinical records kept for their company's retention period, then
    anonymised: the clinical free text is removed, counts, dates and states
    stay (so reports stay true and the evidence hash still verifies), unless
    the client is on legal hold (``res.partner.spa_legal_hold``).

    The model provides ``company_id``, ``partner_id``, ``state`` and the date
    the record ended (``_spa_retention_date_field``), and declares its
    clinical free text.
    """

    _name = "spa.retention.mixin"
    _description = "Spa Clinical Records Retention"

    # States in which a record is finished and its retention runs.
    _spa_retention_states = ("done", "stopped")
    _spa_retention_date_field = "date_done"
    # The clinical free text, anonymised after the retention period: fields
    # of the record, and ``{relation: (field, ...)}`` of its lines. Declared
    # by the model (also read by ``spa.evidence.chain.mixin``).
    _spa_free_text_fields = ()
    _spa_free_text_line_fields = {}

    anonymised_at = fields.Datetime(
        readonly=True,
        copy=False,
        help="When the clinical free text was anonymised (retention period or "
        "erasure request).",
    )

    def _spa_retention_end(self):
        """``{record: date}``: until when each finished record must be kept
        (the date it ended plus its company's retention)."""
        date_field = self._spa_retention_date_field
        return {
            record: record[date_field].date()
            + relativedelta(years=record.company_id.spa_retention_years)
            for record in self
            if record[date_field]
        }

    def _spa_anonymise(self):
        """Anonymise the clinical free text of the finished records of
        ``self`` and of their lines. Counts, dates, states and the evidence
        hash stay. Idempotent.

        :return: the records anonymised now
        """
        records = self.filtered(
            lambda r: r.state in self._spa_retention_states and not r.anonymised_at
        )
        if not records:
            return records
        # sudo: anonymising is a retention duty done by the server, through
        # the private write paths that finished records allow.
        records_sudo = records.sudo()
        for relation, fnames in self._spa_free_text_line_fields.items():
            lines_sudo = records_sudo.mapped(relation)
            for fname in fnames:
                lines_sudo.filtered(fname)._write_server({fname: False})
        records_sudo._write_server(
            dict.fromkeys(self._spa_free_text_fields, False)
            | {"anonymised_at": fields.Datetime.now()}
        )
        return records

    @api.model
    def _spa_retention_domain(self):
        """Finished records past their company's retention, not anonymised,
        whose client is not on legal hold (``False`` when no company)."""
        now = fields.Datetime.now()
        date_field = self._spa_retention_date_field
        # sudo: the retention runs for every company.
        cutoffs = [
            [
                ("company_id", "=", company.id),
                (
                    date_field,
                    "<",
                    now - relativedelta(years=company.spa_retention_years),
                ),
            ]
            for company in self.env["res.company"].sudo().search([])
        ]
        if not cutoffs:
            return False
        return expression.AND(
            [
                [
                    ("state", "in", self._spa_retention_states),
                    ("anonymised_at", "=", False),
                    ("partner_id.spa_legal_hold", "=", False),
                ],
                expression.OR(cutoffs),
            ]
        )

    @api.model
    def _spa_retention_anonymise_related(self, batch_size):
        """Hook: anonymise what else the retention covers (e.g. signatures);
        returns how many records it anonymised."""
        return 0

    @api.model
    def _cron_apply_retention(self, batch_size=1000):
        """Anonymise the clinical free text of records finished longer ago
        than their company's retention (and what the model's hook adds),
        unless the client is on legal hold; ``batch_size`` at a time, the
        cron is told what remains."""
        domain = self._spa_retention_domain()
        if not domain:
            return
        # sudo: the retention runs for every company and client.
        records_sudo = self.sudo().search(
            domain,
            order=f"{self._spa_retention_date_field}, id",
            limit=batch_size,
        )
        records_sudo._spa_anonymise()
        related = self._spa_retention_anonymise_related(batch_size)
        remaining = self.sudo().search_count(domain)
        self.env["ir.cron"]._notify_progress(
            done=len(records_sudo) + related, remaining=remaining
        )
