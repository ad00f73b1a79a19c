import fs from "node:fs";
import path from "node:path";

// The SMTP sink started by start-console.sh keeps each message it receives here.
const mailDir = path.join(__dirname, "..", "..", "target", "e2e", "mail");

function decodeQuotedPrintable(s: string): string {
  return s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** All messages to `to`, as decoded text, oldest first. */
export function mailTo(to: string): string[] {
  if (!fs.existsSync(mailDir)) return [];
  return fs
    .readdirSync(mailDir)
    .filter((f) => f.endsWith(".eml"))
    .sort()
    .map((f) => fs.readFileSync(path.join(mailDir, f), "utf8"))
    .filter((raw) => raw.split(/\r?\n/).some((line) => /^X-Envelope-To:/i.test(line) && line.includes(to)))
    .map((raw) => {
      const base64Blocks = [...raw.matchAll(/\r?\n\r?\n([A-Za-z0-9+/=\r\n]{40,})/g)].map((m) =>
        Buffer.from(m[1].replace(/\s/g, ""), "base64").toString("utf8"),
      );
      return [decodeQuotedPrintable(raw), ...base64Blocks].join("\n");
    });
}

/** The first link in the newest message to `to` that contains `pathPart`. */
export function linkIn(to: string, pathPart: string): string | undefined {
  const messages = mailTo(to);
  const last = messages[messages.length - 1];
  if (!last) return undefined;
  const match = last.match(new RegExp(`https?://[^\\s"<>]*${pathPart.replace(/[?]/g, "\\?")}[^\\s"<>]*`));
  return match?.[0].replace(/&amp;/g, "&");
}
