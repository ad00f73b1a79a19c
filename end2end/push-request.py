#!/usr/bin/env python3
"""Writes a pending push request for an end user straight into the browser tests' SQLite
database, as the login side does when a person chooses Push at the SSH prompt (the tests have
no SSH client here). Test-only: never used by the console.

usage: push-request.py DB EMAIL NUMBER [SERVER ACCOUNT SOURCE_IP]   prints the request's id
       push-request.py DB --status ID                               prints its status
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
    # Ids are stored as the console's driver writes them (16 bytes, or text on some versions).
    blob = db.execute("SELECT typeof(id) FROM users LIMIT 1").fetchone()[0] == "blob"

    def enc(u):
        return u.bytes if blob else str(u)

    if sys.argv[2] == "--status":
        row = db.execute("SELECT status FROM push_requests WHERE id = ?", (enc(uuid.UUID(sys.argv[3])),)).fetchone()
        print(row[0] if row else "missing")
        return
    email, number = sys.argv[2], int(sys.argv[3])
    server, account, ip = (sys.argv[4:7] + ["e2e-web-01", "deploy", "203.0.113.7"][len(sys.argv[4:7]):])[:3]
    user = db.execute("SELECT id, tenant_id FROM users WHERE email = ?", (email,)).fetchone()
    if user is None:
        sys.exit(f"no user {email}")
    now = datetime.now(timezone.utc)
    rid = uuid.uuid4()
    db.execute(
        "INSERT INTO push_requests (id, tenant_id, user_id, login_id, server_name, account, source_ip, number,"
        " status, wrong_numbers, created_at, expires_at, decided_at, device_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, NULL, NULL)",
        (enc(rid), user[1], user[0], enc(uuid.uuid4()), server, account, ip, number, stamp(now),
         stamp(now + timedelta(seconds=60))),
    )
    db.commit()
    print(rid)


main()
