#!/usr/bin/env python3
"""Writes finished logins of an end user to their tenant's servers straight into the browser
tests' SQLite database, as the login side records them (the tests have no SSH client here), for
the portal's sign-in history. Test-only: never used by the console.

usage: sign-ins.py DB EMAIL   writes a fixed mix (push, authenticator, portal code, denials)
"""
import sqlite3
import sys
import uuid
from datetime import datetime, timedelta, timezone


def stamp(t):
    # As sqlx writes chrono times to SQLite (RFC 3339), so the console's comparisons hold.
    return t.isoformat(timespec="microseconds")


def main():
    db = sqlite3.connect(sys.argv[1], timeout=10)
    blob = db.execute("SELECT typeof(id) FROM users LIMIT 1").fetchone()[0] == "blob"

    def enc(u):
        return u.bytes if blob else str(u)

    user = db.execute("SELECT id, tenant_id FROM users WHERE email = ?", (sys.argv[2],)).fetchone()
    if user is None:
        sys.exit(f"no user {sys.argv[2]}")
    servers = db.execute(
        "SELECT id, name FROM servers WHERE tenant_id = ? ORDER BY name LIMIT 2", (user[1],)
    ).fetchall()
    # Written once, whatever a retried test asks.
    db.execute("DELETE FROM server_logins WHERE end_user_id = ?", (user[0],))
    now = datetime.now(timezone.utc)
    mix = [
        (0, 3, "allowed", "push approved"),
        (0, 30, "denied", "push denied"),
        (1, 60 * 5, "allowed", "code from authenticator Phone"),
        (1, 60 * 26, "allowed", "one-time code from the portal accepted"),
        (0, 60 * 24 * 3, "denied", "3 wrong codes"),
    ]
    for server, ago, result, reason in mix:
        sid, name = servers[server]
        at = now - timedelta(minutes=ago)
        db.execute(
            "INSERT INTO server_logins (id, tenant_id, server_id, server_name, account, source_ip, source_block,"
            " service, method, number, stage, code_hash, code_sent_at, code_expires_at, attempts, result, reason,"
            " offline, end_user_id, created_at, finished_at)"
            " VALUES (?, ?, ?, ?, 'deploy', '203.0.113.7', '203.0.113.7', 'sshd', 'code', 0, 'done', NULL, NULL,"
            " NULL, 0, ?, ?, 0, ?, ?, ?)",
            (enc(uuid.uuid4()), user[1], sid, name, result, reason, user[0], stamp(at), stamp(at)),
        )
    db.commit()


main()
