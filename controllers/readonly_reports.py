"""The compliance analysis' exports and the compliance summary report on
Odoo's read-only path.

Odoo 18 serves a request on a read-only cursor (the read replica when
``--db_replica_host``/``--db_replica_port`` are set) when its route says
``readonly``; ``/web/dataset/call_kw`` asks the method (``@api.readonly``:
``web_search_read``, ``web_read_group``... the analysis' pivot and list),
and ``/report/<converter>/<reportname>`` is read-only already. The list
export (``/web/export/csv``, ``/web/export/xlsx``) and the report download
(``/report/download``, what *Print* fetches) declare nothing, so they run
read/write on the primary. Their routes are declared again here with a
``readonly`` that holds for the addon's read-only analysis and summary only;
every other model and report keeps Odoo's read/write path. Should one write
after all, Odoo retries the request read/write.
"""

import json
import re

from odoo import http
from odoo.http import request

from odoo.addons.web.controllers.export import CSVExport, ExcelExport
from odoo.addons.web.controllers.report import ReportController

# The models whose export only reads (a SQL view, nothing is written).
READONLY_EXPORT_MODELS = frozenset({"spa.compliance.report"})
# The reports whose rendering only reads.
READONLY_REPORTS = frozenset({"spa_session_protocol.report_compliance_summary"})
_REPORT_URL = re.compile(r"^/report/(?:pdf|text|html)/([^/?#]+)")


def _posted_data():
    """The request's ``data`` parameter (JSON), ``None`` if unreadable."""
    try:
        return json.loads(request.httprequest.values.get("data") or "null")
    except ValueError:
        return None


def export_is_readonly(controller):
    """Whether an export request reads one of the read-only analyses."""
    data = _posted_data()
    return isinstance(data, dict) and data.get("model") in READONLY_EXPORT_MODELS


def report_download_is_readonly(controller):
    """Whether a report download renders one of the read-only reports."""
    data = _posted_data()
    if not (isinstance(data, list) and data and isinstance(data[0], str)):
        return False
    match = _REPORT_URL.match(data[0])
    return bool(match) and match.group(1) in READONLY_REPORTS


class SpaReadonlyCSVExport(CSVExport):
    @http.route(
        "/web/export/csv", type="http", auth="user", readonly=export_is_readonly
    )
    def web_export_csv(self, data):
        return super().web_export_csv(data)


class SpaReadonlyExcelExport(ExcelExport):
    @http.route(
        "/web/export/xlsx", type="http", auth="user", readonly=export_is_readonly
    )
    def web_export_xlsx(self, data):
        return super().web_export_xlsx(data)


class SpaReadonlyReportController(ReportController):
    @http.route(
        ["/report/download"],
        type="http",
        auth="user",
        readonly=report_download_is_readonly,
    )
    def report_download(self, data, context=None, token=None, readonly=True):
        return super().report_download(
            data, context=context, token=token, readonly=readonly
        )
