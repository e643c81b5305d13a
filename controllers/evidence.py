"""Download of an evidence bundle (``spa.evidence.export.wizard``)."""

import json

from odoo import http
from odoo.http import request


class SpaEvidenceController(http.Controller):
    @http.route(
        "/spa/evidence/bundle/<int:wizard_id>",
        type="http",
        auth="user",
        methods=["GET"],
        readonly=True,
    )
    def evidence_bundle(self, wizard_id, **kwargs):
        # The wizard is the caller's own (transient records are their
        # creator's); the bundle checks that the caller is a manager.
        wizard = request.env["spa.evidence.export.wizard"].browse(wizard_id).exists()
        if not wizard:
            raise request.not_found()
        wizard.check_access("read")
        bundle = wizard._bundle()
        body = json.dumps(bundle, indent=1, sort_keys=True)
        filename = f"evidence-bundle-{wizard_id}.json"
        return request.make_response(
            body,
            headers=[
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Disposition", http.content_disposition(filename)),
                ("Cache-Control", "no-store"),
            ],
        )
