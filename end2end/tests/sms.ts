import { execFileSync } from "node:child_process";
import path from "node:path";

// start-console.sh's database. With no SMS gateway configured the console holds each SMS in its
// outbox, secrets and all (operators see them masked): the tests read codes there.
const database = path.join(__dirname, "..", "..", "target", "e2e", "hostguard.db");

const query = `
import json, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
row = db.execute(
    "SELECT secrets FROM outbox WHERE recipient = ? AND channel = 'sms' AND secrets IS NOT NULL "
    "ORDER BY created_at DESC LIMIT 1", (sys.argv[2],)).fetchone()
print(json.loads(row[0])[0] if row else "")
`;

/** The code in the newest SMS to `number`, or "" when there is none yet. */
export function smsCode(number: string): string {
  return execFileSync("python3", ["-c", query, database, number], { encoding: "utf8" }).trim();
}
