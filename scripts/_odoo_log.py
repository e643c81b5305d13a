"""Read Odoo 18.0 server logs for scripts/test (standard library only).

    _odoo_log.py filter < log            live, short view of a running server log
    _odoo_log.py check --mode tests|install|pytest [--db NAME]... [--addon-dir DIR] LOG
    _odoo_log.py junit [--strict-pdf] JUNIT_XML

``check`` prints one line per problem found, then ``RESULT tests=K failed=F
errors=E skipped=S problems=P``, and exits 1 when P > 0. Mode ``pytest`` reads the
log file Odoo wrote while pytest-odoo ran the tests (pytest counts the tests).

``junit`` reads pytest's JUnit XML report: one ``SKIP test: reason`` line per skipped
test, a ``PROBLEM:`` line per skip that hides a missing tool (a browser test without
Chromium or websocket-client; with ``--strict-pdf``, a PDF test without
wkhtmltopdf), then ``RESULT tests=K failed=F errors=E skipped=S problems=P``.

What Odoo 18.0 prints (odoo/tests/result.py, odoo/service/server.py,
odoo/modules/loading.py):

* with tests enabled and --stop-after-init, always, once per database:
  ``odoo.tests.result: N failed, M error(s) of K tests when loading database 'db'``
  (INFO when all passed, WARNING when K == 0, ERROR otherwise);
* per module with failures: ``odoo.modules.loading: Module X: N failures, M errors
  of K tests`` (ERROR);
* per skipped test, from the test module's logger: ``skipped Class.test : reason``
  (INFO), e.g. ``websocket-client module is not installed`` or ``Chrome executable
  not found`` for an HttpCase that could not start a browser.
"""

import argparse
import re
import sys

MODULE = "spa_session_protocol"
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
RECORD_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<pid>\d+) "
    r"(?P<level>[A-Z?]+) (?P<db>\S+) (?P<logger>[^\s:]+): (?P<msg>.*)$"
)
SUMMARY_RE = re.compile(
    r"^(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<tests>\d+) tests "
    r"when loading database '(?P<db>[^']*)'"
)
SKIP_RE = re.compile(r"^skipped (?P<test>\S+) : (?P<reason>.*)$")
BROWSER_RE = re.compile(r"websocket|chrom|browser|devtools|headless", re.IGNORECASE)
OURS_RE = re.compile(r"spa_session_protocol|\bspa[._][a-z]")
# INFO lines worth showing live, besides anything logged by the addon itself
SHOW_INFO_RE = re.compile(
    r"init db|Starting post tests|post-tests in|modules loaded in|Modules loaded"
    r"|tests when loading database|^skipped |: \d+ tests [\d.]+s"
)


class Record:
    __slots__ = ("level", "logger", "msg", "extra")

    def __init__(self, level, logger, msg):
        self.level = level
        self.logger = logger
        self.msg = msg
        self.extra = []

    @property
    def text(self):
        return "\n".join([self.msg, *self.extra])


def records(lines):
    """Group raw lines into log records (header line + continuation lines)."""
    current = None
    for raw in lines:
        line = ANSI_RE.sub("", raw.rstrip("\n"))
        match = RECORD_RE.match(line)
        if match:
            if current:
                yield current
            current = Record(match["level"], match["logger"], match["msg"])
        elif current:
            current.extra.append(line)
        else:
            yield Record("RAW", "", line)
    if current:
        yield current


def is_ours(record, db_names, addon_dir, not_ours=()):
    if record.logger.startswith(f"odoo.addons.{MODULE}"):
        return True
    text = record.text
    for db in db_names:
        text = text.replace(db, "<db>")
    # e.g. the cache directory holding Odoo's virtualenv is called after the addon
    for prefix in not_ours:
        text = text.replace(prefix, "<elsewhere>")
    if addon_dir and addon_dir in text:
        return True
    return bool(OURS_RE.search(text))


def is_addon_info(logger):
    """The addon's own INFO lines, except HttpCase's per-test browser plumbing
    (logger ``...tests.test_x.Class.test_y``); the browser console stays visible."""
    if not logger.startswith(f"odoo.addons.{MODULE}"):
        return False
    return logger.endswith(".browser") or logger.count(".") <= 4


def do_filter(stream, out):
    show = True  # lines before the first log record (startup messages)
    for line in stream:
        clean = ANSI_RE.sub("", line)
        match = RECORD_RE.match(clean)
        if match:
            level, logger, msg = match["level"], match["logger"], match["msg"]
            show = (
                level in ("WARNING", "ERROR", "CRITICAL")
                or is_addon_info(logger)
                or logger.startswith("odoo.tests")
                or (logger == "odoo.modules.loading" and MODULE in msg)
                or bool(SHOW_INFO_RE.search(msg))
            )
        if show and clean.strip():
            out.write(clean if clean.endswith("\n") else clean + "\n")
            out.flush()


TEST_OUTCOME_RE = re.compile(
    r"^(FAIL|ERROR): |^Module \S+: \d+ failures, \d+ errors of \d+ tests"
    r"|^At least one test failed|^\d+ failed, \d+ error\(s\) of \d+ tests when loading"
    r"|: at least one error occurred in a test"
)


PYTEST_ODOO_IMPORT = (
    "ERROR odoo.tests.common: Importing test framework, avoid importing from "
    "business modules and when not running in test mode"
)


# A race of CPython 3.11's parser (ast.parse from two threads at once, CPython
# issue gh-106905), seen here when two HTTP threads of a test server read a
# manifest for the first time while serving static files: not Odoo's, not the
# addon's; reported as a note, not counted as a failure.
INTERPRETER_RACE = "AST constructor recursion depth mismatch"


class Findings:
    def __init__(self):
        self.notes = []
        self.problems = []
        self.test_errors = []
        self.summary = None
        self.skipped = 0

    def add(self, rec, db_names, addon_dir, not_ours=()):
        first = rec.msg
        if rec.logger == "odoo.tests.result" and SUMMARY_RE.match(first):
            self.summary = SUMMARY_RE.match(first)
        skip = SKIP_RE.match(first)
        if skip and rec.level == "INFO":
            self.skipped += 1
            if BROWSER_RE.search(skip["reason"]):
                self.problems.append(
                    f"browser test skipped ({skip['test']}: {skip['reason']}); "
                    "install Chromium and the websocket-client Python package"
                )
        if rec.level in ("ERROR", "CRITICAL"):
            line = f"{rec.level} {rec.logger}: {first}"
            if rec.level == "ERROR" and INTERPRETER_RACE in rec.text:
                self.notes.append(f"{line} ({INTERPRETER_RACE}: CPython gh-106905)")
            elif rec.level == "ERROR" and TEST_OUTCOME_RE.search(first):
                self.test_errors.append(line)
            else:
                self.problems.append(line)
        elif rec.level == "WARNING":
            if "websocket-client module is not installed" in first:
                self.problems.append(
                    "websocket-client is not installed in Odoo's Python: "
                    "HttpCase tests (tours, hoot) cannot run"
                )
            elif is_ours(rec, db_names, addon_dir, not_ours):
                self.problems.append(f"WARNING {rec.logger}: {first}")


def do_check(path, mode, db_names, addon_dir, out, not_ours=()):
    """Problems make a run fail besides failing tests themselves; ERROR lines that
    only report failing tests are listed as TESTFAIL."""
    found = Findings()
    with open(path, encoding="utf-8", errors="replace") as log:
        for rec in records(log):
            found.add(rec, db_names, addon_dir, not_ours)
    problems = found.problems
    tests = failed = errors = 0
    if mode == "pytest":
        # failing tests are pytest's to count; what Odoo logged at ERROR is a problem
        problems.extend(found.test_errors)
        found.test_errors = []
        # pytest-odoo imports odoo.tests before it turns test mode on (Odoo's own
        # runner does it the other way round), so Odoo always logs this once
        problems = [p for p in problems if PYTEST_ODOO_IMPORT not in p]
    if mode == "tests":
        if found.summary is None:
            problems.append(
                "no 'N failed, M error(s) of K tests when loading database' line: "
                "Odoo stopped before running the tests"
            )
        else:
            tests = int(found.summary["tests"])
            failed = int(found.summary["failed"])
            errors = int(found.summary["errors"])
            if tests == 0:
                problems.append(
                    f"Odoo ran 0 tests ('of 0 tests'): {MODULE} not installed, wrong "
                    "--test-tags, or tests/__init__.py imports no test module"
                )
    test_errors = found.test_errors
    if failed + errors == 0:
        # ERROR lines that look like test outcomes while no test failed: suspicious
        problems.extend(test_errors)
        test_errors = []
    for line in test_errors:
        out.write(f"TESTFAIL: {line}\n")
    for problem in dict.fromkeys(problems):  # each distinct problem once
        out.write(f"PROBLEM: {problem}\n")
    for note in dict.fromkeys(found.notes):
        out.write(f"NOTE (not counted): {note}\n")
    out.write(
        f"RESULT tests={tests} failed={failed} errors={errors} "
        f"skipped={found.skipped} problems={len(problems)}\n"
    )
    return 1 if problems else 0


PDF_RE = re.compile(r"wkhtmltopdf", re.IGNORECASE)


def do_junit(path, strict_pdf, out):
    """Counts and skip reasons of a pytest JUnit XML report."""
    import xml.etree.ElementTree as ET  # noqa: PLC0415 (only this command needs it)

    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = errors = skipped = 0
    problems = []
    for suite in suites:
        for case in suite.iter("testcase"):
            tests += 1
            name = f"{case.get('classname', '')}.{case.get('name', '')}".rsplit(".", 2)
            name = ".".join(name[-2:])
            if case.find("failure") is not None:
                failed += 1
            elif case.find("error") is not None:
                errors += 1
            skip = case.find("skipped")
            if skip is not None:
                skipped += 1
                reason = skip.get("message", "") or (skip.text or "")
                out.write(f"SKIP {name}: {reason}\n")
                if BROWSER_RE.search(reason):
                    problems.append(
                        f"browser test skipped ({name}: {reason}); "
                        "install Chromium and the websocket-client Python package"
                    )
                elif strict_pdf and PDF_RE.search(reason):
                    problems.append(
                        f"PDF test skipped ({name}: {reason}); CI renders real "
                        "PDFs: install wkhtmltopdf"
                    )
    for problem in problems:
        out.write(f"PROBLEM: {problem}\n")
    out.write(
        f"RESULT tests={tests} failed={failed} errors={errors} "
        f"skipped={skipped} problems={len(problems)}\n"
    )
    return 1 if problems else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("filter")
    check = sub.add_parser("check")
    check.add_argument("--mode", choices=("tests", "install", "pytest"), required=True)
    check.add_argument("--db", action="append", default=[])
    check.add_argument("--addon-dir", default="")
    check.add_argument(
        "--not-ours",
        action="append",
        default=[],
        help="a path prefix whose mentions do not make a warning the addon's",
    )
    check.add_argument("log")
    junit = sub.add_parser("junit")
    junit.add_argument("--strict-pdf", action="store_true")
    junit.add_argument("xml")
    args = parser.parse_args(argv)
    if args.command == "filter":
        do_filter(sys.stdin, sys.stdout)
        return 0
    if args.command == "junit":
        return do_junit(args.xml, args.strict_pdf, sys.stdout)
    return do_check(
        args.log, args.mode, args.db, args.addon_dir, sys.stdout, args.not_ours
    )


if __name__ == "__main__":
    sys.exit(main())
