#!/usr/bin/env python3
"""Concurrency check of spa_session_protocol against a real, committed database.

    python3 scripts/reliability/races.py [--iterations 200] [--db NAME] [--keep-db]

Creates a throwaway database, installs the addon (``-i spa_session_protocol
--stop-after-init``, without demo data), then runs each scenario below
``--iterations`` times. Every iteration prepares its records and commits them,
then two threads, each with a cursor of its own, start together and commit
their own transaction:

  done/withdraw    completing a session  vs  withdrawing its consent
  tick/stop        ticking a step        vs  stopping the session
  tick/done        ticking an optional step that needs a check-in
                                         vs  completing the session
  checkin/done     logging pain 8/10     vs  completing the session
  start/withdraw   starting a session    vs  withdrawing its consent
  done/done        completing two sessions of one company (evidence chain)

A loser must get a clean ``UserError`` or a PostgreSQL concurrency error
(serialization failure, lock not available, deadlock) that a retry resolves,
the way Odoo's RPC layer retries (``odoo.service.model.retrying``, with a
shorter back-off here). Any other exception is a crash and fails the run.

After each iteration the database must hold no completed session resting on a
consent withdrawn at or before its completion, no tick or check-in landed on
a finished session, and an intact evidence chain. Which transaction came
first is read inside each transaction (``clock_timestamp()`` taken while it
holds the row locks, just before its commit): the locks make those critical
sections disjoint, so the order is exact even within the same second.

Before the races, lock probes check that ``action_start``, ``action_done``,
step ``action_done`` and check-in ``create`` hold the session's row lock until
their transaction ends (a ``FOR UPDATE NOWAIT`` from another cursor fails).

Exit code 0 when every assertion held, 1 otherwise. Environment: ODOO_PYTHON
is not used (run it with the Python that imports Odoo); ODOO_ADDONS_PATH
overrides the core addons path; PG* variables as for Odoo.
"""

import argparse
import collections
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time

MODULE = "spa_session_protocol"
REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
)


def core_addons_path():
    if os.environ.get("ODOO_ADDONS_PATH"):
        return os.environ["ODOO_ADDONS_PATH"]
    import odoo  # noqa: PLC0415 - Odoo is only needed once the arguments are parsed

    pkg = os.path.dirname(os.path.realpath(odoo.__file__))
    paths = [os.path.join(pkg, "addons")]
    beside = os.path.join(os.path.dirname(pkg), "addons")
    if os.path.isfile(os.path.join(beside, "web", "__manifest__.py")):
        paths.insert(0, beside)
    return ",".join(paths)


def db_args():
    args = []
    for var, opt in (
        ("PGHOST", "db_host"),
        ("PGPORT", "db_port"),
        ("PGUSER", "db_user"),
        ("PGPASSWORD", "db_password"),
    ):
        if os.environ.get(var):
            args.append(f"--{opt}={os.environ[var]}")
    return args


def psql(dbname, sql):
    import psycopg2  # noqa: PLC0415

    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(sql)
    finally:
        conn.close()


class Races:
    def __init__(self, registry, iterations, verbose=False):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        self.api = api
        self.registry = registry
        self.iterations = iterations
        self.verbose = verbose
        self.failures = []
        self.known_breaks = set()
        self.figures = collections.defaultdict(collections.Counter)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            self._setup(env)

    # ------------------------------------------------------------------
    # Committed fixtures
    # ------------------------------------------------------------------

    def _setup(self, env):
        from odoo import Command, fields  # noqa: PLC0415

        grp = "spa_session_protocol.group_spa_"
        Users = env["res.users"].with_context(no_reset_password=True)
        self.therapist_id = Users.create(
            {
                "name": "Race Therapist",
                "login": "race_therapist",
                "groups_id": [Command.set([env.ref(f"{grp}therapist").id])],
            }
        ).id
        self.front_desk_id = Users.create(
            {
                "name": "Race Front Desk",
                "login": "race_front_desk",
                "groups_id": [Command.set([env.ref(f"{grp}front_desk").id])],
            }
        ).id
        # A short protocol: one mandatory step with its check-in, then one more.
        self.protocol_id = (
            env["spa.protocol"]
            .create(
                {
                    "name": "Race protocol",
                    "code": "RACE",
                    "min_checkin_count": 1,
                    "pain_stop_threshold": 7,
                    "step_ids": [
                        Command.create(
                            {"name": "Press", "sequence": 10, "requires_checkin": True}
                        ),
                        Command.create({"name": "Release", "sequence": 20}),
                        Command.create(
                            {
                                "name": "Adjust",
                                "sequence": 30,
                                "is_mandatory": False,
                                "requires_checkin": True,
                            }
                        ),
                    ],
                }
            )
            .id
        )
        self.today = fields.Date.today()

    def _prepare(self, ready=True, started=True, pressed=True):
        """Commit a client, a given consent and a session: started with its
        first step ticked and checked in (``pressed``), everything done
        (``ready``), or planned only."""
        api = self.api
        with self.registry.cursor() as cr:
            env = api.Environment(cr, self.therapist_id, {"tracking_disable": True})
            partner = env["res.partner"].sudo().create({"name": "Race client"})
            consent = (
                env["spa.consent"]
                .with_user(self.front_desk_id)
                .create(
                    {
                        "partner_id": partner.id,
                        "protocol_ids": [(6, 0, [self.protocol_id])],
                        "method": "verbal",
                    }
                )
            )
            consent.action_give()
            session = (
                env["spa.session"]
                .with_user(self.front_desk_id)
                .create(
                    {
                        "partner_id": partner.id,
                        "protocol_id": self.protocol_id,
                        "therapist_id": self.therapist_id,
                    }
                )
            )
            session = session.with_env(env)
            if started:
                session.action_start()
            if started and pressed:
                press, release = (
                    self._step(session, "Press"),
                    self._step(session, "Release"),
                )
                press.action_done()
                env["spa.checkin"].create(
                    {
                        "session_id": session.id,
                        "session_step_id": press.id,
                        "pain_level": 2,
                    }
                )
                if ready:
                    release.action_done()
            return session.id, consent.id

    @staticmethod
    def _step(session, name):
        return session.step_ids.filtered(lambda s: s.name == name)

    # ------------------------------------------------------------------
    # Running two transactions at once
    # ------------------------------------------------------------------

    def _transaction(self, uid, action, barrier, result, max_tries=5):
        """Run ``action(env)`` in a cursor of its own, retried on concurrency
        errors as Odoo's RPC does; record the outcome in ``result``."""
        from psycopg2 import errors  # noqa: PLC0415

        from odoo.exceptions import UserError  # noqa: PLC0415

        concurrency = (
            errors.SerializationFailure,
            errors.LockNotAvailable,
            errors.DeadlockDetected,
        )
        result.update(tries=0, retried=[], outcome=None, order=None, error=None)
        with self.registry.cursor() as cr:
            env = self.api.Environment(cr, uid, {"tracking_disable": True})
            barrier.wait()
            # A few milliseconds of jitter: either side may reach the locks first.
            time.sleep(random.uniform(0.0, 0.008))
            for tryno in range(1, max_tries + 1):
                result["tries"] = tryno
                try:
                    action(env)
                    env.flush_all()
                    # Inside the transaction, while it holds its row locks.
                    cr.execute("SELECT clock_timestamp()")
                    result["order"] = cr.fetchone()[0]
                    cr.commit()
                    result["outcome"] = "ok"
                    return
                except concurrency as exc:
                    cr.rollback()
                    env.transaction.reset()
                    result["retried"].append(type(exc).__name__)
                    time.sleep(random.uniform(0.0, 0.02 * 2**tryno))
                except UserError as exc:
                    cr.rollback()
                    result["outcome"] = "refused"
                    # one line, without the record names: the reason only
                    result["error"] = re.sub(
                        r"SES/\S+?[:.]?( |$)", "", " ".join(str(exc).split())
                    )[:160]
                    return
                except Exception as exc:  # noqa: BLE001 - a crash is what this script looks for
                    cr.rollback()
                    result["outcome"] = "crash"
                    result["error"] = f"{type(exc).__name__}: {exc}"
                    return
            result["outcome"] = "gave up"

    def _race(self, first, second):
        """Run two ``(uid, action)`` at once; return their results."""
        barrier = threading.Barrier(2)
        results = ({}, {})
        threads = [
            threading.Thread(target=self._transaction, args=(uid, action, barrier, res))
            for (uid, action), res in zip((first, second), results, strict=True)
        ]
        random.shuffle(threads)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            if thread.is_alive():
                raise RuntimeError(
                    "a racing transaction hangs (deadlock between cursors?)"
                )
        return results

    def _read(self, fn):
        with self.registry.cursor() as cr:
            env = self.api.Environment(cr, 1, {})
            return fn(env)

    def _tally(self, scenario, names, results):
        figures = self.figures[scenario]
        figures["iterations"] += 1
        for name, res in zip(names, results, strict=True):
            figures[f"{name} {res['outcome']}"] += 1
            if res["outcome"] == "refused" and self.verbose:
                figures[f"{name} refused: {res['error']}"] += 1
            figures["retries"] += len(res["retried"])
            for kind in res["retried"]:
                figures[f"retried after {kind}"] += 1
            if res["outcome"] in ("crash", "gave up"):
                self._fail(scenario, f"{name}: {res['outcome']} {res['error'] or ''}")
        winner = (
            min(
                (r["order"], n)
                for n, r in zip(names, results, strict=True)
                if r["outcome"] == "ok"
            )[1]
            if any(r["outcome"] == "ok" for r in results)
            else None
        )
        figures[f"first: {winner}"] += 1

    def _fail(self, scenario, message):
        self.failures.append(f"{scenario}: {message}")
        print(f"FAIL {scenario}: {message}", flush=True)

    # ------------------------------------------------------------------
    # Scenarios
    # ------------------------------------------------------------------

    def done_vs_withdraw(self):
        session_id, consent_id = self._prepare()
        done, withdraw = self._race(
            (
                self.therapist_id,
                lambda env: env["spa.session"].browse(session_id).action_done(),
            ),
            (
                self.front_desk_id,
                lambda env: env["spa.consent"].browse(consent_id).action_withdraw(),
            ),
        )
        self._tally("done/withdraw", ("done", "withdraw"), (done, withdraw))

        def check(env):
            session = env["spa.session"].browse(session_id)
            consent = env["spa.consent"].browse(consent_id)
            report = env["spa.compliance.report"].search(
                [("session_id", "=", session_id)]
            )
            return (
                session.state,
                session.date_done,
                consent.state,
                consent.withdrawn_at,
                report.compliance_state,
            )

        state, date_done, consent_state, withdrawn_at, compliance = self._read(check)
        if state == "done" and compliance != "compliant":
            # Completed on a consent valid at completion: the report must agree.
            when = "in the same second" if withdrawn_at == date_done else withdrawn_at
            self._fail(
                "done/withdraw",
                f"completed before the withdrawal (withdrawn {when}), "
                f"but reported {compliance}",
            )
        figures = self.figures["done/withdraw"]
        if state == "done":
            if done["outcome"] != "ok":
                self._fail(
                    "done/withdraw", "session done though the completion did not commit"
                )
            if consent_state == "withdrawn":
                if withdraw["order"] < done["order"]:
                    self._fail(
                        "done/withdraw", "completed on a consent already withdrawn"
                    )
                if withdrawn_at < date_done:
                    self._fail(
                        "done/withdraw",
                        "withdrawn after the completion, but stamped earlier "
                        f"({withdrawn_at} < {date_done})",
                    )
                elif withdrawn_at == date_done:
                    figures["withdrawn in the second of completion (after it)"] += 1
        elif state != "in_progress":
            self._fail("done/withdraw", f"unexpected session state {state}")
        if state == "in_progress" and consent_state != "withdrawn":
            self._fail(
                "done/withdraw",
                "neither the completion nor the withdrawal went through",
            )

    def tick_vs_stop(self):
        session_id, __ = self._prepare(ready=False)

        def tick(env):
            self._step(env["spa.session"].browse(session_id), "Release").action_done()

        tick_res, stop_res = self._race(
            (self.therapist_id, tick),
            (
                self.therapist_id,
                lambda env: env["spa.session"].browse(session_id).action_stop(),
            ),
        )
        self._tally("tick/stop", ("tick", "stop"), (tick_res, stop_res))

        def check(env):
            session = env["spa.session"].browse(session_id)
            step = self._step(session, "Release")
            return session.state, session.date_done, step.state, step.done_at

        state, date_done, step_state, done_at = self._read(check)
        if stop_res["outcome"] != "ok" or state != "stopped":
            self._fail(
                "tick/stop",
                "the stop did not go through: "
                f"{stop_res['outcome']} {stop_res['error']}",
            )
        if step_state == "done":
            if tick_res["order"] > stop_res["order"]:
                self._fail("tick/stop", "a step was ticked on a stopped session")
            if done_at > date_done:
                self._fail(
                    "tick/stop",
                    f"step ticked at {done_at}, after the stop at {date_done}",
                )
        elif tick_res["outcome"] == "ok":
            self._fail("tick/stop", "the tick committed but the step is not done")

    def tick_vs_done(self):
        """Ticking an optional step that needs a check-in after it, while the
        session is completed: either the tick lands first, and then the
        completion must see it and be refused for the missing check-in, or
        the completion lands first and the tick is refused."""
        session_id, __ = self._prepare()
        tick_res, done_res = self._race(
            (
                self.therapist_id,
                lambda env: self._step(
                    env["spa.session"].browse(session_id), "Adjust"
                ).action_done(),
            ),
            (
                self.therapist_id,
                lambda env: env["spa.session"].browse(session_id).action_done(),
            ),
        )
        self._tally("tick/done", ("tick", "done"), (tick_res, done_res))

        def check(env):
            session = env["spa.session"].browse(session_id)
            adjust = self._step(session, "Adjust")
            return (
                session.state,
                adjust.state,
                bool(
                    session.checkin_ids.filtered(lambda c: c.session_step_id == adjust)
                ),
            )

        state, adjust_state, adjust_checked = self._read(check)
        if state == "done" and adjust_state == "done" and not adjust_checked:
            self._fail(
                "tick/done",
                "completed with a ticked step that still lacks its check-in",
            )
        if tick_res["outcome"] == "ok" and done_res["outcome"] == "ok":
            self._fail("tick/done", "both the tick and the completion went through")

    def checkin_vs_done(self):
        session_id, __ = self._prepare()
        checkin_res, done_res = self._race(
            (
                self.therapist_id,
                lambda env: env["spa.checkin"].create(
                    {"session_id": session_id, "pain_level": 8}
                ),
            ),
            (
                self.therapist_id,
                lambda env: env["spa.session"].browse(session_id).action_done(),
            ),
        )
        self._tally("checkin/done", ("checkin", "done"), (checkin_res, done_res))

        def check(env):
            session = env["spa.session"].browse(session_id)
            return session.state, max(session.checkin_ids.mapped("pain_level"))

        state, max_pain = self._read(check)
        if state == "done" and max_pain >= 7:
            self._fail("checkin/done", "a session with a pain-8 check-in is done")
        if checkin_res["outcome"] == "ok" and done_res["outcome"] == "ok":
            self._fail(
                "checkin/done",
                "both the pain-8 check-in and the completion went through",
            )

    def start_vs_withdraw(self):
        session_id, consent_id = self._prepare(started=False)
        start_res, withdraw_res = self._race(
            (
                self.therapist_id,
                lambda env: env["spa.session"].browse(session_id).action_start(),
            ),
            (
                self.front_desk_id,
                lambda env: env["spa.consent"].browse(consent_id).action_withdraw(),
            ),
        )
        self._tally("start/withdraw", ("start", "withdraw"), (start_res, withdraw_res))

        def check(env):
            session = env["spa.session"].browse(session_id)
            consent = env["spa.consent"].browse(consent_id)
            return (
                session.state,
                session.date_start,
                session.consent_id.id,
                consent.state,
                consent.withdrawn_at,
            )

        state, date_start, linked, consent_state, withdrawn_at = self._read(check)
        if state == "in_progress":
            if linked != consent_id:
                self._fail("start/withdraw", "started on another consent")
            if (
                consent_state == "withdrawn"
                and withdraw_res["order"] < start_res["order"]
            ):
                self._fail("start/withdraw", "started on a consent already withdrawn")
            if consent_state == "withdrawn" and withdrawn_at < date_start:
                self._fail(
                    "start/withdraw",
                    f"withdrawal stamped {withdrawn_at}, before the start {date_start}",
                )

    def done_vs_done(self):
        first_id, __ = self._prepare()
        second_id, __ = self._prepare()
        results = self._race(
            (
                self.therapist_id,
                lambda env: env["spa.session"].browse(first_id).action_done(),
            ),
            (
                self.therapist_id,
                lambda env: env["spa.session"].browse(second_id).action_done(),
            ),
        )
        self._tally("done/done", ("first", "second"), results)
        for res in results:
            if res["outcome"] != "ok":
                self._fail(
                    "done/done", f"a completion failed: {res['outcome']} {res['error']}"
                )

    def evidence_intact(self, scenario="evidence"):
        def check(env):
            broken = env["spa.session"].check_evidence_integrity()
            env.cr.execute(
                """SELECT count(*) FROM (
                       SELECT company_id, evidence_sequence FROM spa_session
                        WHERE evidence_sequence IS NOT NULL
                     GROUP BY 1, 2 HAVING count(*) > 1) dup"""
            )
            return broken.mapped("name"), env.cr.fetchone()[0]

        broken, duplicates = self._read(check)
        new_breaks = sorted(set(broken) - self.known_breaks)
        self.known_breaks |= set(broken)
        if new_breaks:
            self._fail(
                scenario,
                f"{len(new_breaks)} finished session(s) no longer match their "
                f"evidence hash: {new_breaks[:5]}",
            )
        if duplicates:
            self._fail(scenario, f"{duplicates} evidence sequence number(s) used twice")
        self.figures[scenario]["sessions whose evidence hash broke"] += len(new_breaks)

    # ------------------------------------------------------------------
    # Lock probes
    # ------------------------------------------------------------------

    def lock_probes(self):
        """Each locking method, left uncommitted, must block a FOR UPDATE NOWAIT
        of the session row from another cursor."""
        from psycopg2 import errors  # noqa: PLC0415

        probes = {
            "session.action_start": (
                dict(started=False),
                lambda env, sid: env["spa.session"].browse(sid).action_start(),
            ),
            "session.action_done": (
                {},
                lambda env, sid: env["spa.session"].browse(sid).action_done(),
            ),
            "step.action_done": (
                dict(ready=False),
                lambda env, sid: self._step(
                    env["spa.session"].browse(sid), "Release"
                ).action_done(),
            ),
            "checkin.create": (
                {},
                lambda env, sid: env["spa.checkin"].create(
                    {"session_id": sid, "pain_level": 1}
                ),
            ),
        }
        for name, (prepare, action) in probes.items():
            session_id, __ = self._prepare(**prepare)
            with self.registry.cursor() as cr:
                env = self.api.Environment(
                    cr, self.therapist_id, {"tracking_disable": True}
                )
                action(env, session_id)
                env.flush_all()
                with self.registry.cursor() as probe:
                    try:
                        probe.execute(
                            "SELECT id FROM spa_session WHERE id = %s"
                            " FOR UPDATE NOWAIT",
                            [session_id],
                        )
                    except errors.LockNotAvailable:
                        locked = True
                    else:
                        locked = False
                    probe.rollback()
                cr.rollback()
            self.figures["lock probes"][f"{name} holds the session lock: {locked}"] += 1
            if not locked:
                self._fail("lock probe", f"{name} does not keep the session row locked")

    def run(self):
        self.lock_probes()
        scenarios = [
            self.done_vs_withdraw,
            self.tick_vs_stop,
            self.tick_vs_done,
            self.checkin_vs_done,
            self.start_vs_withdraw,
            self.done_vs_done,
        ]
        for scenario in scenarios:
            t0 = time.time()
            for i in range(self.iterations):
                scenario()
                if self.verbose and (i + 1) % 50 == 0:
                    print(
                        f"  {scenario.__name__}: {i + 1}/{self.iterations}", flush=True
                    )
            name = {
                "done_vs_withdraw": "done/withdraw",
                "tick_vs_stop": "tick/stop",
                "tick_vs_done": "tick/done",
                "checkin_vs_done": "checkin/done",
                "start_vs_withdraw": "start/withdraw",
                "done_vs_done": "done/done",
            }[scenario.__name__]
            # The evidence chain of the company after this scenario's sessions.
            self.evidence_intact(name)
            print(
                f"{name}: {self.iterations} iterations in {time.time() - t0:.1f}s",
                flush=True,
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument(
        "--db", help="database name (default: a new spa_races_<random>)"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="do not drop the database at the end"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    dbname = args.db or f"spa_races_{random.randrange(16**6):06x}"
    workdir = tempfile.mkdtemp(prefix="spa_races_")
    addons = os.path.join(workdir, "addons")
    os.makedirs(addons)
    os.symlink(REPO_ROOT, os.path.join(addons, MODULE))
    addons_path = f"{addons},{core_addons_path()}"
    common = [f"--addons-path={addons_path}", f"--data-dir={workdir}/data", *db_args()]
    print(f"database {dbname}: installing {MODULE} ...", flush=True)
    t0 = time.time()
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "-d",
            dbname,
            "-i",
            MODULE,
            "--without-demo=all",
            "--stop-after-init",
            "--max-cron-threads=0",
            "--http-port=0",
            "--log-level=warn",
            *common,
        ],
        cwd=workdir,
        check=False,
    )
    if install.returncode:
        print(f"install failed (exit {install.returncode})")
        return 2
    print(f"installed in {time.time() - t0:.0f}s", flush=True)

    import odoo  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    odoo.tools.config.parse_config(["-d", dbname, "--log-level=warn", *common])
    # A serialization failure is logged as a "bad query" by the SQL layer; the
    # races provoke them on purpose and count them in their figures.
    logging.getLogger("odoo.sql_db").setLevel(logging.CRITICAL)
    try:
        registry = Registry(dbname)
        races = Races(registry, args.iterations, verbose=args.verbose)
        races.run()
    finally:
        odoo.sql_db.close_all()
        if not args.keep_db:
            psql("postgres", f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            print(f"database {dbname} dropped")

    print("\nFigures")
    for scenario, counter in races.figures.items():
        print(f"  {scenario}")
        for key, count in sorted(counter.items()):
            print(f"    {key}: {count}")
    print()
    if races.failures:
        print(f"FAILED: {len(races.failures)} assertion(s) broken")
        for failure in collections.Counter(races.failures).most_common(20):
            print(f"  {failure[1]}x {failure[0]}")
        return 1
    print(f"OK: every race ended clean ({args.iterations} iterations per scenario)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
