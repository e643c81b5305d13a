import functools
import logging
import subprocess

from odoo import models

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)

REPORT_PREFIX = "spa_session_protocol."


@functools.cache
def wkhtmltopdf_has_patched_qt():
    """Whether the ``wkhtmltopdf`` on the PATH was built with its patched Qt
    (its ``--version`` says "with patched qt"), asked once per process.

    Only such a build prints the page header and footer Odoo passes with
    ``--header-html``/``--footer-html`` and keeps the text of web fonts as
    text; Debian's package (unpatched Qt) drops both and draws web-font
    glyphs as outlines that no PDF reader can search or copy."""
    try:
        version = subprocess.run(
            [_get_wkhtmltopdf_bin(), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        _logger.info("wkhtmltopdf --version could not be read: %s", error)
        return False
    return "patched qt" in version.lower()


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _render_qweb_pdf_prepare_streams(self, report_ref, data, res_ids=None):
        """Without the patched Qt, wkhtmltopdf prints one HTML document per
        PDF only (several records at once come back empty): the addon's
        reports are then printed record by record, and merged by the caller
        as usual."""
        report = self._get_report(report_ref)
        if (
            report.report_name.startswith(REPORT_PREFIX)
            and res_ids
            and len(res_ids) > 1
            and not wkhtmltopdf_has_patched_qt()
        ):
            streams = {}
            for res_id in res_ids:
                streams.update(
                    super()._render_qweb_pdf_prepare_streams(
                        report_ref, dict(data or {}), res_ids=[res_id]
                    )
                )
            return streams
        return super()._render_qweb_pdf_prepare_streams(
            report_ref, data, res_ids=res_ids
        )

    def _get_rendering_context(self, report, docids, data):
        """The addon's PDFs learn whether the page header is lost
        (``spa_pdf_fallback``): then they print the company in the body, in
        a system font, with a smaller top margin (see
        ``report_pdf_fallback``)."""
        data = super()._get_rendering_context(report, docids, data)
        if report.report_name.startswith(REPORT_PREFIX):
            data["spa_pdf_fallback"] = (
                data.get("report_type") == "pdf" and not wkhtmltopdf_has_patched_qt()
            )
        return data
