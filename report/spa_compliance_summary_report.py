from odoo import api, models

# (field, aggregate) of spa.compliance.report summed or averaged per group,
# under the key each has in a summary line (see _line).
SUMMARY_MEASURES = (
    "__count",
    "compliant_count:sum",
    "non_compliant_count:sum",
    "stopped_count:sum",
    "referral_count:sum",
    "checkin_missing_count:sum",
    "refusal_count:sum",
    "unfinished_count:sum",
    "documentation_lag:avg",
    "finished_count:sum",
    "pending_count:sum",
    "compliance_rate:avg",
)
SUMMARY_KEYS = (
    "sessions",
    "compliant",
    "non_compliant",
    "stopped",
    "referrals",
    "missing_checkins",
    "refusals",
    "unfinished",
    "lag",
    "finished",
    "pending",
    "rate",
)
# The averages: empty (None) when nothing counts towards them.
SUMMARY_AVERAGES = frozenset({"lag", "rate"})


class SpaComplianceSummaryReport(models.AbstractModel):
    _name = "report.spa_session_protocol.report_compliance_summary"
    _description = "Spa Compliance Summary Report"

    @api.model
    def _get_report_values(self, docids, data=None):
        wizards = self.env["spa.compliance.summary.wizard"].browse(docids)
        return {
            "doc_ids": docids,
            "doc_model": "spa.compliance.summary.wizard",
            "docs": wizards,
            "summaries": {wizard.id: self._summary(wizard) for wizard in wizards},
        }

    @api.model
    def _line(self, values):
        """A summary line from the aggregates of one group: counts as
        integers; the compliance rate is the analysis's own (over the
        finished sessions), empty when none is finished."""
        line = dict(zip(SUMMARY_KEYS, values, strict=True))
        for key, value in line.items():
            if key in SUMMARY_AVERAGES:
                # _read_group gives False for an average over nothing.
                line[key] = None if value is False or value is None else value
            else:
                line[key] = int(value or 0)
        return line

    @api.model
    def _summary(self, wizard):
        """The period's figures per therapist and protocol, in three grouped
        queries (per pair, per therapist, overall) and one for referrals."""
        Report = self.env["spa.compliance.report"]
        domain = wizard._report_domain()
        rows = Report._read_group(
            domain,
            ["therapist_id", "protocol_id"],
            SUMMARY_MEASURES,
            order="therapist_id, protocol_id",
        )
        per_therapist = dict(
            (therapist, self._line(values))
            for therapist, *values in Report._read_group(
                domain, ["therapist_id"], SUMMARY_MEASURES
            )
        )
        [total] = Report._read_group(domain, [], SUMMARY_MEASURES)
        therapists = []
        by_therapist = {}
        for therapist, protocol, *values in rows:
            if therapist not in by_therapist:
                by_therapist[therapist] = {
                    "therapist": therapist,
                    "lines": [],
                    "total": per_therapist[therapist],
                }
                therapists.append(by_therapist[therapist])
            by_therapist[therapist]["lines"].append(
                {"protocol": protocol, **self._line(values)}
            )
        return {
            "wizard": wizard,
            "therapists": therapists,
            "total": self._line(total),
            "referrals": self._referrals(domain),
        }

    @api.model
    def _referrals(self, domain):
        """Sessions of the period stopped with a referral, with their
        follow-up activity (open, or none left open)."""
        lines = self.env["spa.compliance.report"].search(
            [*domain, ("referral_recommended", "=", True)], order="date, id"
        )
        sessions = lines.session_id
        todo = self.env.ref("mail.mail_activity_data_todo")
        # sudo: the summary states whether each referral is followed up,
        # whoever the activity is assigned to.
        activities_sudo = (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "spa.session"),
                    ("res_id", "in", sessions.ids),
                    ("activity_type_id", "=", todo.id),
                ]
            )
        )
        followup = {a.res_id: a for a in activities_sudo}
        return [
            {
                "line": line,
                "activity": followup.get(line.session_id.id),
            }
            for line in lines
        ]
