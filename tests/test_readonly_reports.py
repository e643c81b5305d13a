import json
import re
import threading
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_reports")
class TestReadonlyReports(HttpCase, SpaCommon):
    """The compliance analysis' exports and the summary report are served
    on Odoo's read-only path (the replica when one is configured); other
    models' exports keep Odoo's read/write path."""

    def setUp(self):
        super().setUp()
        self.give_consent()
        session = self.session_of(self.book()).with_user(self.therapist)
        session.action_start()
        self.run_compliant_protocol(session)
        session.action_done()
        # A manager allowed to export (Odoo's own right to export data).
        self.manager.groups_id |= self.env.ref("base.group_allow_export")
        self.authenticate("spa_mgr", "spa_mgr")
        page = self.url_open("/odoo").text
        self.token = re.search(r"csrf_token\W+([0-9a-fA-Fo]{20,})", page).group(1)

    def cursor_modes_of(self, model_name, method):
        """Record the cursor mode each call of ``model_name.method`` ran in
        (the real method runs)."""
        modes = []
        cls = type(self.env[model_name])
        original = getattr(cls, method)

        def spy(records, *args, **kwargs):
            modes.append(getattr(threading.current_thread(), "cursor_mode", None))
            return original(records, *args, **kwargs)

        patcher = patch.object(cls, method, spy)
        patcher.start()
        self.addCleanup(patcher.stop)
        return modes

    def export(self, route, model, fields):
        data = {
            "model": model,
            "fields": [{"name": f, "label": f} for f in fields],
            "ids": False,
            "domain": [],
            "groupby": [],
            "context": {"lang": "en_US"},
            "import_compat": False,
        }
        return self.url_open(
            route, data={"data": json.dumps(data), "csrf_token": self.token}
        )

    def test_the_analysis_export_is_read_only(self):
        modes = self.cursor_modes_of("spa.compliance.report", "export_data")
        for route, kind in (
            ("/web/export/xlsx", "spreadsheetml"),
            ("/web/export/csv", "text/csv"),
        ):
            response = self.export(
                route, "spa.compliance.report", ["session_id", "compliance_state"]
            )
            self.assertEqual(response.status_code, 200, response.text[:300])
            self.assertIn(kind, response.headers["Content-Type"])
        self.assertEqual(modes, ["ro", "ro"])

    def test_other_exports_keep_the_read_write_path(self):
        modes = self.cursor_modes_of("res.partner", "export_data")
        response = self.export("/web/export/csv", "res.partner", ["name"])
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertEqual(modes, ["rw"])

    def test_the_summary_report_download_is_read_only(self):
        wizard = (
            self.env["spa.compliance.summary.wizard"].with_user(self.manager).create({})
        )
        modes = self.cursor_modes_of(
            "report.spa_session_protocol.report_compliance_summary",
            "_get_report_values",
        )
        response = self.url_open(
            "/report/download",
            data={
                "data": json.dumps(
                    [
                        "/report/pdf/spa_session_protocol.report_compliance_summary/"
                        f"{wizard.id}",
                        "qweb-pdf",
                    ]
                ),
                "context": json.dumps({"lang": "en_US"}),
                "token": "test",
                "csrf_token": self.token,
            },
        )
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertEqual(modes, ["ro"])
        # Its HTML page (Odoo's own read-only route) reads the same way.
        response = self.url_open(
            f"/report/html/spa_session_protocol.report_compliance_summary/{wizard.id}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(modes, ["ro", "ro"])
