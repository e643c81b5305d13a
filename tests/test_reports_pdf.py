import os
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta

from lxml import html as lxml_html

from odoo.tests import HttpCase, tagged

from .common import SpaCommon, drawn_signature

# The client's drawn signature, as the pad exports it.
SIGNATURE = drawn_signature()[0].encode()


class ReportsCommon(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.Report = cls.env["ir.actions.report"]

    def _stopped_session(self):
        """A session on 17 March 2025, signed consent, stopped by pain."""
        self.give_consent(method="signature", signature=SIGNATURE)
        appointment = datetime(2025, 3, 17, 9, 0)
        session = self.session_of(self.book(start=appointment)).with_user(
            self.therapist
        )
        session.action_start()
        session.write(
            {
                "positioning": "seated",
                "adjust_lighter_pressure": True,
                "adjustment_note": "Softer on the left side",
            }
        )
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=8, note="Sharp")
        session.action_stop()
        return session

    def _html(self, report, ids, user=None, lang=None):
        Report = self.Report.with_user(user or self.manager)
        if lang:
            Report = Report.with_context(lang=lang)
        html, kind = Report._render_qweb_html(report, ids)
        self.assertEqual(kind, "html")
        return lxml_html.fromstring(html.decode())

    @staticmethod
    def text(node):
        """A node's text as a reader sees it: whitespace runs collapsed."""
        return " ".join(node.text_content().split())

    def one(self, tree, xpath):
        [node] = tree.xpath(xpath)
        return node

    def rows(self, tree, table_class):
        """The body rows of the table with that class, as lists of cell texts."""
        return [
            [self.text(cell) for cell in row.xpath("./td")]
            for row in tree.xpath(
                f"//table[contains(concat(' ', @class, ' '), ' {table_class} ')]"
                "/tbody/tr"
            )
        ]

    def row_of(self, tree, table_class, column, value):
        """The one row whose cell number `column` (0-based) is `value`."""
        [row] = [r for r in self.rows(tree, table_class) if r[column] == value]
        return row

    def labelled(self, table_row_tree, label):
        """In a label/value table: the cell right after the cell saying `label`."""
        return self.text(
            self.one(
                table_row_tree,
                f".//td[normalize-space(.)='{label}']/following-sibling::td[1]",
            )
        )


@tagged("post_install", "-at_install", "spa_reports")
class TestReportsPdf(ReportsCommon):
    def test_session_record_content_and_client_language(self):
        session = self._stopped_session()
        report = "spa_session_protocol.action_report_session_record"
        doc = self._html(report, session.ids, user=self.therapist)
        self.assertIn(
            session.sudo().name, self.text(self.one(doc, "//div[@class='page']/h2"))
        )
        info = self.one(doc, "//table[@id='informations']")
        self.assertEqual(
            self.text(self.one(info, ".//td[strong='Client']/div")), "Clara Client"
        )
        self.assertEqual(
            self.text(self.one(info, ".//td[strong='Therapist']/div")),
            "Theo Therapist",
        )
        self.assertEqual(
            self.text(self.one(doc, "//div[contains(@class, 'o_spa_date_planned')]"))[
                :10
            ],
            "03/17/2025",
        )

        # the consent section: its method, the drawn signature, valid for this session
        consent = self.one(doc, "//table[contains(@class, 'o_spa_consent')]")
        self.assertEqual(self.labelled(consent, "Method"), "Drawn signature")
        signature = self.one(consent, ".//img[contains(@class, 'o_spa_signature')]")
        self.assertTrue(signature.get("src").startswith("data:image/png;base64,"))
        self.assertIn("Valid for this session", self.text(consent))

        # the checklist row of the step, and its check-in row with the pain level
        step = self.row_of(doc, "o_spa_steps", 0, "Stabilise and apply pressure *")
        self.assertEqual(step[1], "Done")
        __, after_step, where, pain, asked_stop, note = self.row_of(
            doc, "o_spa_checkins", 1, "Stabilise and apply pressure"
        )
        self.assertEqual((where, pain, asked_stop, note), ("", "8", "No", "Sharp"))
        [pain_cell] = doc.xpath(
            "//table[contains(@class, 'o_spa_checkins')]/tbody/tr"
            "[td[2]='Stabilise and apply pressure']/td[4]/strong"
        )
        self.assertIn("text-danger", pain_cell.get("class"))  # 8 >= threshold 7

        self.assertEqual(self.labelled(doc, "Positioning"), "Seated upright on a chair")
        adjustments = self.labelled(doc, "Adjustments")
        self.assertIn("Lighter pressure.", adjustments)
        self.assertIn("Softer on the left side", adjustments)
        self.assertIn(
            "Referral recommended.",
            self.text(self.one(doc, "//div[contains(@class, 'o_spa_referral')]")),
        )

        # the client's language decides (t-lang), not the printing user's
        self.client.lang = "fr_FR"
        doc_fr = self._html(report, session.ids, user=self.therapist)
        planned = self.text(
            self.one(doc_fr, "//div[contains(@class, 'o_spa_date_planned')]")
        )
        self.assertEqual(planned[:10], "17/03/2025")

    def test_session_record_binding_and_rights(self):
        action = self.env.ref("spa_session_protocol.action_report_session_record")
        self.assertEqual(action.binding_model_id.model, "spa.session")
        bindings = (
            self.env["ir.actions.actions"]
            .with_user(self.therapist)
            .get_bindings("spa.session")
        )
        self.assertIn(action.id, [a["id"] for a in bindings.get("report", [])])
        bindings = (
            self.env["ir.actions.actions"]
            .with_user(self.front_desk)
            .get_bindings("spa.session")
        )
        self.assertNotIn(action.id, [a["id"] for a in bindings.get("report", [])])

    def test_compliance_summary(self):
        session = self._stopped_session()
        wizard = (
            self.env["spa.compliance.summary.wizard"]
            .with_user(self.manager)
            .create({"date_from": date(2025, 3, 5), "date_to": date(2025, 3, 31)})
        )
        action = wizard.action_print()
        self.assertEqual(
            action["report_name"], "spa_session_protocol.report_compliance_summary"
        )
        report = "spa_session_protocol.action_report_compliance_summary"
        doc = self._html(report, wizard.ids, lang="en_US")
        self.assertEqual(
            self.text(self.one(doc, "//span[contains(@class, 'o_spa_date_from')]")),
            "03/05/2025",
        )
        # the therapist's line: 1 session, compliant, stopped, referred
        therapist_rows = [
            row
            for row in self.rows(doc, "o_spa_summary_table")
            if row and row[0] == self.protocol.name
        ]
        self.assertTrue(therapist_rows)
        self.assertEqual(therapist_rows[0][1:3], ["1", "1"])  # sessions, compliant
        self.assertIn(
            "Theo Therapist",
            [self.text(h) for h in doc.xpath("//div[@class='page']//h4")],
        )
        # the referral to follow up: the session, its therapist, who follows up
        followup = session.sudo().activity_ids
        referral = self.row_of(doc, "o_spa_referrals", 0, session.sudo().name)
        self.assertEqual(referral[2], "Theo Therapist")
        self.assertIn(followup.user_id.name, referral[4])
        doc_fr = self._html(report, wizard.ids, lang="fr_FR")
        self.assertEqual(
            self.text(self.one(doc_fr, "//span[contains(@class, 'o_spa_date_from')]")),
            "05/03/2025",
        )

        values = (
            self.env["report.spa_session_protocol.report_compliance_summary"]
            .with_user(self.manager)
            ._get_report_values(wizard.ids)
        )
        summary = values["summaries"][wizard.id]
        [group] = summary["therapists"]
        self.assertEqual(group["therapist"], self.therapist)
        [line] = group["lines"]
        self.assertEqual(line["protocol"], self.protocol)
        self.assertEqual(line["sessions"], 1)
        self.assertEqual(line["stopped"], 1)
        self.assertEqual(line["referrals"], 1)
        self.assertEqual(line["compliant"], 1)
        self.assertEqual(line["rate"], 100.0)
        self.assertEqual(line["missing_checkins"], 0)
        self.assertEqual(summary["total"]["sessions"], 1)
        [referral] = summary["referrals"]
        self.assertTrue(referral["activity"])

    def test_summary_filters(self):
        self._stopped_session()
        wizard = (
            self.env["spa.compliance.summary.wizard"]
            .with_user(self.manager)
            .create(
                {
                    "date_from": date(2025, 3, 1),
                    "date_to": date(2025, 3, 31),
                    "therapist_ids": [(6, 0, self.therapist2.ids)],
                }
            )
        )
        values = self.env[
            "report.spa_session_protocol.report_compliance_summary"
        ]._get_report_values(wizard.ids)
        self.assertFalse(values["summaries"][wizard.id]["therapists"])
        doc = self._html(
            "spa_session_protocol.action_report_compliance_summary", wizard.ids
        )
        self.assertFalse(self.rows(doc, "o_spa_referrals"))
        self.assertIn(
            "No session in this period",
            self.text(self.one(doc, "//div[@class='page']")),
        )


@tagged("post_install", "-at_install", "spa_reports")
class TestReportsPdfRendering(ReportsCommon, HttpCase):
    """wkhtmltopdf fetches the report's assets from the server: in an
    HttpCase the server shares the test's transaction instead of waiting on
    its locks."""

    def test_pdf_when_wkhtmltopdf_available(self):
        if not shutil.which("wkhtmltopdf"):
            self.skipTest("wkhtmltopdf is not installed")
        session = self._stopped_session()
        Report = self.Report.with_user(self.therapist).with_context(
            force_report_rendering=True
        )
        pdf, kind = Report._render_qweb_pdf(
            "spa_session_protocol.action_report_session_record", session.ids
        )
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        wizard = (
            self.env["spa.compliance.summary.wizard"]
            .with_user(self.manager)
            .create(
                {
                    "date_from": date(2025, 3, 1),
                    "date_to": date(2025, 3, 1) + timedelta(days=30),
                }
            )
        )
        pdf, kind = (
            self.Report.with_user(self.manager)
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(
                "spa_session_protocol.action_report_compliance_summary", wizard.ids
            )
        )
        self.assertTrue(pdf.startswith(b"%PDF"))


@tagged("post_install", "-at_install", "spa_reports")
class TestReportsPdfText(ReportsCommon, HttpCase):
    """The PDFs as wkhtmltopdf prints them, read back with ``pdftotext
    -layout``: the company at the top (Debian's wkhtmltopdf drops the page
    header), values on their label's line, tables kept whole, counts as
    integers, and text a reader can search."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write(
            {"street": "12 Quiet Lane", "city": "Lakeside", "phone": "+32 2 555 01 23"}
        )

    def setUp(self):
        super().setUp()
        missing = [t for t in ("wkhtmltopdf", "pdftotext") if not shutil.which(t)]
        if missing:
            if os.environ.get("CI"):
                self.fail(f"{', '.join(missing)} missing: CI reads real PDFs")
            self.skipTest(f"{', '.join(missing)} not installed")

    def pdf_pages(self, report, ids, user):
        pdf, kind = (
            self.Report.with_user(user)
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(report, ids)
        )
        self.assertEqual(kind, "pdf")
        text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"],
            input=pdf,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        return text.split("\f")

    def assertCompanyOnTop(self, page):
        top = "\n".join(page.strip().splitlines()[:6])
        for text in (self.env.company.name, "12 Quiet Lane", "Lakeside", "555 01 23"):
            self.assertIn(text, top)

    def test_session_record_reads_right(self):
        session = self._stopped_session()
        pages = self.pdf_pages(
            "spa_session_protocol.action_report_session_record",
            session.ids,
            self.therapist,
        )
        self.assertCompanyOnTop(pages[0])
        self.assertIn(f"Session Record {session.sudo().name}", pages[0])
        # The values on one line, each under its label: the protocol too.
        lines = pages[0].splitlines()
        [labels] = [line for line in lines if re.search(r"Client\s+Therapist", line)]
        values = lines[lines.index(labels) + 1]
        self.assertIn("Clara Client", values)
        self.assertIn("Theo Therapist", values)
        self.assertIn(self.protocol.name, values)
        self.assertIn("Stopped", values)
        self.assertEqual(labels.index("Protocol"), values.index(self.protocol.name))
        self.assertEqual(labels.index("Status"), values.index("Stopped"))

    def test_positioning_table_is_never_split(self):
        """Sessions whose checklist grows two rows at a time (protocols with
        more and more optional steps): one of them brings the positioning
        table to a page break; heading and rows move whole to the next page."""
        Protocol = self.env["spa.protocol"].with_user(self.manager)
        start = datetime.combine(date.today() + timedelta(days=3), datetime.min.time())
        sessions = self.env["spa.session"]
        for variant in range(12):
            protocol = Protocol.browse(self.protocol.id).copy(
                {"name": f"Variant {variant}", "code": f"VAR{variant}"}
            )
            self.env["spa.protocol.step"].with_user(self.manager).create(
                [
                    {
                        "protocol_id": protocol.id,
                        "name": f"Extra step {n}",
                        "sequence": 1000 + n,
                        "is_mandatory": False,
                    }
                    for n in range(2 * variant)
                ]
            )
            sessions |= self.session_of(
                self.book(protocol=protocol, start=start + timedelta(hours=2 * variant))
            )
        pages = self.pdf_pages(
            "spa_session_protocol.action_report_session_record",
            sessions.ids,
            self.manager,
        )
        self.assertGreater(len(pages), len(sessions))
        seen = 0
        for number, page in enumerate(pages, start=1):
            if "Positioning and adjustments" not in page:
                continue
            seen += 1
            rest = page.split("Positioning and adjustments", 1)[1]
            self.assertRegex(rest, r"\n\s*Positioning\s+Not recorded", f"page {number}")
            self.assertRegex(rest, r"\n\s*Adjustments\s+None", f"page {number}")
        self.assertEqual(seen, len(sessions))

    def test_summary_counts_and_company(self):
        self._stopped_session()
        wizard = (
            self.env["spa.compliance.summary.wizard"]
            .with_user(self.manager)
            .create({"date_from": date(2025, 3, 1), "date_to": date(2025, 3, 31)})
        )
        pages = self.pdf_pages(
            "spa_session_protocol.action_report_compliance_summary",
            wizard.ids,
            self.manager,
        )
        self.assertCompanyOnTop(pages[0])
        totals = [
            line.split()
            for line in pages[0].splitlines()
            if re.match(r"\s*Total\s+\d", line)
        ]
        self.assertTrue(totals)
        for row in totals:
            # Total, sessions, finished, compliant: integers; the rate in %
            self.assertEqual(row[1:4], ["1", "1", "1"], row)
            self.assertEqual(row[4:6], ["100.0", "%"], row)
            # pending ... blocked attempts: integers; the lag comes last
            self.assertTrue(all(cell.isdigit() for cell in row[6:-1]), row)
