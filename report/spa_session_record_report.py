from odoo import api, models


class SpaSessionRecordReport(models.AbstractModel):
    _name = "report.spa_session_protocol.report_session_record"
    _description = "Spa Session Record Report"

    @api.model
    def _get_report_values(self, docids, data=None):
        sessions = self.env["spa.session"].browse(docids)
        sessions.check_access("read")
        # sudo: whether the consent was valid is a fact about sessions the
        # user may read (checked above), computed by the compliance view.
        lines_sudo = (
            self.env["spa.compliance.report"]
            .sudo()
            .search([("session_id", "in", sessions.ids)])
        )
        return {
            "doc_ids": docids,
            "doc_model": "spa.session",
            "docs": sessions,
            # The health intake is clinical detail: therapists and managers.
            "intake_shown": self.env.user.has_group(
                "spa_session_protocol.group_spa_therapist"
            ),
            "valid_consent": {
                line.session_id.id: line.has_valid_consent for line in lines_sudo
            },
        }
