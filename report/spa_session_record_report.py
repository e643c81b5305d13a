from collections import defaultdict

from lxml import etree

from odoo import api, models
from odoo.tools import file_open

from ..tools import session_rules

# The outlines of the body chart, shipped with the addon and drawn on the
# tablet as well: the record prints the same drawing, inline (the PDF
# renderer draws inline SVG).
CHART_SIDES = ("front", "back")
CHART_SHAPES = ("circle", "path", "ellipse", "rect", "line", "polyline")
SVG_NS = "{http://www.w3.org/2000/svg}"


def _outline_shapes(side):
    """The shapes of ``static/src/img/body_<side>.svg``: ``[{tag, attrs,
    detail}]`` (``detail``: a thin inner line rather than the outline)."""
    path = f"spa_session_protocol/static/src/img/body_{side}.svg"
    with file_open(path, "rb") as svg:
        root = etree.fromstring(svg.read())
    shapes = []
    for element in root.iter():
        tag = etree.QName(element).localname
        if tag not in CHART_SHAPES:
            continue
        shapes.append(
            {
                "tag": tag,
                "attrs": {
                    k: v
                    for k, v in element.attrib.items()
                    if k in ("d", "cx", "cy", "r", "stroke-dasharray")
                },
                "detail": "o_spa_detail" in (element.get("class") or ""),
            }
        )
    return shapes


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
            "body_chart": self._spa_body_charts(sessions),
        }

    @api.model
    def _spa_body_charts(self, sessions):
        """``{session id: chart}``: the body chart of each session with the
        pain levels logged per region (the highest, and how many check-ins)
        and the regions its done steps touched."""
        outlines = {side: _outline_shapes(side) for side in CHART_SIDES}
        regions = self.env["spa.body.region"].search([])
        charts = {}
        for session in sessions:
            pains = defaultdict(list)
            for checkin in session.checkin_ids.filtered("body_region_id"):
                pains[checkin.body_region_id.id].append(checkin)
            touched = session.step_ids.filtered(
                lambda s: s.state == "done"
            ).touched_region_ids
            rows = []
            for region in regions:
                checkins = pains.get(region.id, [])
                max_pain = max((c.pain_level for c in checkins), default=None)
                rows.append(
                    {
                        "region": region,
                        "count": len(checkins),
                        "max_pain": max_pain,
                        "level": self._spa_pain_class(session, max_pain),
                        "touched": region in touched,
                    }
                )
            charts[session.id] = {
                "sides": [
                    {
                        "side": side,
                        "shapes": outlines[side],
                        "rows": [r for r in rows if r["region"].side == side],
                    }
                    for side in CHART_SIDES
                ],
                "rows": [r for r in rows if r["count"] or r["touched"]],
            }
        return charts

    @api.model
    def _spa_pain_class(self, session, pain):
        """How a pain level is coloured: the stop rule's levels in red."""
        if pain is None:
            return "none"
        if pain in session_rules.stop_pain_levels(session.pain_stop_threshold):
            return "severe"
        return "moderate" if pain >= 4 else "mild"
