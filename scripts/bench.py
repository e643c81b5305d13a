"""Benchmarks of spa_session_protocol against plain Odoo and raw PostgreSQL.

Run by ``scripts/bench`` (which creates and drops the throwaway database);
the interpreter must import Odoo 18.0. Not a test: it prints figures and
ratios, and flags each target as met or not, but its exit status only says
whether it could run.

    python3 scripts/bench.py --db DB --addons-path PATH --data-dir DIR
        [--only P1,P2,P3,P4] [--sessions 1000000] [--tablets 20]
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.cookiejar import CookieJar

import odoo
from odoo import SUPERUSER_ID, Command, api, fields
from odoo.modules.registry import Registry
from odoo.tools import SQL

GRP = "spa_session_protocol.group_spa_"
PASSWORD = "bench-Pa55word"
RESULTS = []


def log(msg):
    print(msg, flush=True)


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def figure(code, label, value, target=None, met=None):
    RESULTS.append((code, label, value, target, met))
    flag = "" if met is None else ("  [met]" if met else "  [NOT met]")
    log(f"  {code:<4} {label:<52} {value:>14}  {target or ''}{flag}")


@contextmanager
def rolled_back(env):
    """Run the block in a savepoint and undo it, caches included."""
    env.flush_all()
    env.cr.execute("SAVEPOINT spa_bench")
    try:
        yield
    finally:
        env.cr.execute("ROLLBACK TO SAVEPOINT spa_bench")
        env.cr.precommit.clear()
        env.cr.postcommit.clear()
        env.invalidate_all()
        env.transaction.clear()


def query_count(env, func):
    env.flush_all()
    before = env.cr.sql_log_count
    func()
    env.flush_all()
    return env.cr.sql_log_count - before


# ----------------------------------------------------------------------
# Data shared by the measures
# ----------------------------------------------------------------------


def make_user(env, login, groups, name, company=None):
    company = company or env.company
    existing = env["res.users"].search([("login", "=", login)])
    if existing:
        return existing
    return (
        env["res.users"]
        .with_context(no_reset_password=True, tracking_disable=True)
        .create(
            {
                "login": login,
                "name": name,
                "password": PASSWORD,
                "email": f"{login}@example.com",
                "company_id": company.id,
                "company_ids": [Command.set(company.ids)],
                "groups_id": [Command.set([env.ref(g).id for g in groups])],
                "tz": "Europe/Brussels",
            }
        )
    )


def base_data(env):
    fd = make_user(env, "bench_fd", [f"{GRP}front_desk"], "Bench Front Desk")
    therapist = make_user(env, "bench_th", [f"{GRP}therapist"], "Bench Therapist")
    manager = make_user(env, "bench_mgr", [f"{GRP}manager"], "Bench Manager")
    clients = env["res.partner"].create(
        [{"name": f"Bench Client {i}"} for i in range(50)]
    )
    env["spa.certification"].create(
        {
            "user_id": therapist.id,
            "qualification_id": env.ref(
                "spa_session_protocol.qualification_advanced_techniques"
            ).id,
            "date_from": fields.Date.today() - datetime.timedelta(days=30),
        }
    )
    return fd, therapist, manager, clients


def event_vals(n, start, clients=None, protocol=None, therapist=None, tag="Bench"):
    vals = []
    for i in range(n):
        begin = start + datetime.timedelta(minutes=60 * i)
        v = {
            "name": f"{tag} {i}",
            "start": begin,
            "stop": begin + datetime.timedelta(minutes=50),
        }
        if protocol:
            v |= {
                "spa_protocol_id": protocol.id,
                "spa_client_id": clients[i % len(clients)].id,
                "spa_therapist_id": therapist.id,
            }
        vals.append(v)
    return vals


# ----------------------------------------------------------------------
# P1 booking overhead
# ----------------------------------------------------------------------


def bench_p1(env, fd, therapist, clients, n=500, rounds=5):
    log(f"\nP1 booking overhead: {n} appointments in one create, best of {rounds}")
    protocol = env.ref("spa_session_protocol.protocol_upper_back")
    Event = env["calendar.event"].with_user(fd)
    start = fields.Datetime.now().replace(microsecond=0) + datetime.timedelta(days=3)
    plain_vals = event_vals(n, start, tag="Plain")
    spa_vals = event_vals(n, start, clients, protocol, therapist, tag="Spa")

    def timed(vals):
        with rolled_back(env):
            t0 = time.perf_counter()
            events = Event.create(vals)
            env.cr.precommit.run()
            env.flush_all()
            elapsed = time.perf_counter() - t0
            assert len(events) == len(vals)
            if "spa_protocol_id" in vals[0]:
                assert len(events.sudo().spa_session_ids) == len(vals)
        return elapsed

    timed(plain_vals[:50])  # warm-up: caches, rules, the sequence
    timed(spa_vals[:50])
    plain, spa = [], []
    for __ in range(rounds):
        plain.append(timed(plain_vals))
        spa.append(timed(spa_vals))
    best_plain, best_spa = min(plain), min(spa)
    ratio = best_spa / best_plain
    log(f"  ({load()}; plain runs {[round(t, 2) for t in plain]}, "
        f"spa runs {[round(t, 2) for t in spa]})")
    figure("P1", f"{n} plain calendar events (s)", f"{best_plain:.3f}")
    figure("P1", f"{n} booked appointments + sessions (s)", f"{best_spa:.3f}")
    figure("P1", "booking / plain", f"{ratio:.2f}x", "<= 1.3x", ratio <= 1.3)


# ----------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--db-arg", action="append", default=[])
    parser.add_argument("--only", default="P1,P2,P3,P4")
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--tablets", type=int, default=20)
    args = parser.parse_args()
    only = set(args.only.upper().split(","))
    odoo_args = [
        f"--addons-path={args.addons_path}",
        f"--data-dir={args.data_dir}",
        f"--database={args.db}",
        "--log-level=warn",
        *args.db_arg,
    ]
    if args.config:
        odoo_args = ["-c", args.config, *odoo_args]
    odoo.tools.config.parse_config(odoo_args)
    log(
        f"spa_session_protocol benchmarks, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
        f"{os.cpu_count()} cores, {load()}, Odoo {odoo.release.version}"
    )
    registry = Registry(args.db)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": False})
        fd, therapist, manager, clients = base_data(env)
        cr.commit()
        if "P1" in only:
            bench_p1(env, fd, therapist, clients)
    log(f"\nSummary ({datetime.date.today()}, {os.cpu_count()} cores, {load()})")
    for code, label, value, target, met in RESULTS:
        if target:
            log(f"  {code:<4} {label:<40} {value:>10}  target {target}: "
                f"{'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
