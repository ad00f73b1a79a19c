//! Everything the agent learns from or asks of sshd: its version, its effective settings (from
//! `sshd -T`, or from our own reading of sshd_config when that cannot run), and `sshd -t`.

use std::collections::HashMap;
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::api::SshdMatchOverride;
use proto::agent::{limits, SshdDropInCheck, SshdSetting};

/// The settings the console's readiness rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SshdSettings {
    pub use_pam: Option<bool>,
    pub kbd_interactive: Option<bool>,
    pub permit_empty_passwords: Option<bool>,
}

/// Paths of the sshd configuration under the agent's root.
#[derive(Debug, Clone)]
pub struct SshdPaths {
    pub root: PathBuf,
}

impl SshdPaths {
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }

    /// `<root>/etc/ssh`, where sshd resolves relative `Include`s.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("etc/ssh")
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("sshd_config")
    }

    pub fn drop_in_dir(&self) -> PathBuf {
        self.config_dir().join("sshd_config.d")
    }

    /// A path under our root as the server itself names it (`<root>/etc/ssh/x` → `/etc/ssh/x`).
    pub fn shown(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rel) if self.root != Path::new("/") => format!("/{}", rel.display()),
            _ => path.display().to_string(),
        }
    }

    /// Maps a path written in a config file to where it is under our root.
    fn resolve(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_relative() {
            self.config_dir().join(p)
        } else if self.root == Path::new("/") || p.starts_with(&self.root) {
            p.to_path_buf()
        } else {
            // A stock `/etc/ssh/...` path inside a sandbox root means the sandbox's copy.
            self.root.join(p.strip_prefix("/").unwrap_or(p))
        }
    }
}

/// The version sshd prints, e.g. `OpenSSH_9.2p1`. sshd has no version flag before 9.x's `-V`;
/// older ones reject it but still print the version line to stderr, which is all we need.
pub fn version(sshd: &Path) -> Option<String> {
    let out = Command::new(sshd).arg("-V").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("OpenSSH_"))
        .and_then(|l| l.split([',', ' ']).next())
        .map(str::to_owned)
}

/// Runs `sshd -T -f <config>` and returns its lower-case `key → value` lines. This is the truth
/// when it works, but it needs what sshd needs to start (host keys, the privilege separation
/// directory), so callers fall back to [`parse_config`].
pub fn effective_config(sshd: &Path, config: &Path) -> Result<HashMap<String, String>, String> {
    let out = Command::new(sshd)
        .arg("-T")
        .arg("-f")
        .arg(config)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", sshd.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect())
}

/// Runs `sshd -t -f <config>`; `Err` carries sshd's complaint (trimmed) or why it could not run.
pub fn test_config(sshd: &Path, config: &Path) -> Result<(), String> {
    let out = Command::new(sshd)
        .arg("-t")
        .arg("-f")
        .arg(config)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", sshd.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    let stderr: String = stderr.chars().take(2000).collect();
    Err(if stderr.is_empty() { format!("exit status {}", out.status) } else { stderr })
}

/// The settings we report, preferring `sshd -T` and falling back to parsing the files.
pub fn settings(sshd: &Path, paths: &SshdPaths) -> SshdSettings {
    match effective_config(sshd, &paths.config_file()) {
        Ok(map) => settings_from_effective(&map),
        Err(e) => {
            tracing::debug!("sshd -T failed ({e}); reading sshd_config ourselves");
            parse_config(paths).unwrap_or_default()
        }
    }
}

pub fn settings_from_effective(map: &HashMap<String, String>) -> SshdSettings {
    let flag = |k: &str| map.get(k).and_then(|v| yes_no(v));
    SshdSettings {
        use_pam: flag("usepam"),
        // sshd before 8.7 prints the old name.
        kbd_interactive: flag("kbdinteractiveauthentication").or_else(|| flag("challengeresponseauthentication")),
        permit_empty_passwords: flag("permitemptypasswords"),
    }
}

fn yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// One directive of an sshd_config file: the lower-cased keyword and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub key: String,
    pub args: Vec<String>,
    /// 1-based line in its file.
    pub line: u32,
}

/// Splits sshd_config text into directives the way sshd does: `#` comments, `Key value` or
/// `Key=value`, double-quoted arguments.
pub fn directives(text: &str) -> Vec<Directive> {
    text.lines()
        .zip(1u32..)
        .filter_map(|(line, n)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let end = line.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(line.len());
            let key = line[..end].to_ascii_lowercase();
            let rest = line[end..].trim_start();
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            Some(Directive { key, args: split_args(rest), line: n })
        })
        .collect()
}

fn split_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut started = false;
    for c in s.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                started = true;
            }
            '#' if !in_quotes && !started => break,
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    args.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(cur);
    }
    args
}

/// HostGuard's drop-in's file name; sshd reads the drop-in directory in this name's sort order.
const DROP_IN_NAME: &str = "50-hostguard.conf";

/// What sshd meets as it reads sshd_config and its `Include`s.
enum Step<'a> {
    /// An included file, just before sshd reads it; also HostGuard's drop-in's place in a glob
    /// that would include it, whether or not it exists yet.
    File(&'a Path),
    /// A directive other than `Include` and `Match`, with the criteria of the `Match` block it is
    /// in (`Match all` included; a block ends at the end of its file).
    Directive { file: &'a Path, directive: &'a Directive, criteria: Option<&'a str> },
}

/// Walks `<root>/etc/ssh/sshd_config` and its `Include`s in the order sshd reads them (globs in
/// sorted order, at most 16 levels deep) until `visit` breaks. `None` when sshd_config cannot be
/// read.
/// Also `None` past [`MAX_INCLUDED_FILES`]: such a configuration is not read to the end, so
/// nothing is concluded from it.
fn walk(paths: &SshdPaths, visit: &mut dyn FnMut(Step<'_>) -> ControlFlow<()>) -> Option<()> {
    let main = paths.config_file();
    let text = fs::read_to_string(&main).ok()?;
    let ours = paths.drop_in_dir().join(DROP_IN_NAME);
    let mut budget = Budget { files: MAX_INCLUDED_FILES, bytes: MAX_INCLUDED_BYTES, spent: false };
    let _ = walk_file(paths, &ours, &main, &text, None, 0, &mut budget, visit);
    (!budget.spent).then_some(())
}

/// Included files one walk visits, and their bytes, repeats counted. The depth limit alone lets
/// a file that includes another twice fan out to 2^16 reads (sshd itself refuses a loop, and no
/// real configuration comes near these).
const MAX_INCLUDED_FILES: usize = 256;
const MAX_INCLUDED_BYTES: usize = 1 << 20;

/// What one walk may still read.
struct Budget {
    files: usize,
    bytes: usize,
    /// Set when the walk stopped for want of budget.
    spent: bool,
}

impl Budget {
    fn take(&mut self, files: usize, bytes: usize) -> ControlFlow<()> {
        match (self.files.checked_sub(files), self.bytes.checked_sub(bytes)) {
            (Some(f), Some(b)) => {
                (self.files, self.bytes) = (f, b);
                ControlFlow::Continue(())
            }
            _ => {
                self.spent = true;
                ControlFlow::Break(())
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn walk_file(
    paths: &SshdPaths,
    ours: &Path,
    file: &Path,
    text: &str,
    mut criteria: Option<String>,
    depth: usize,
    budget: &mut Budget,
    visit: &mut dyn FnMut(Step<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    for d in directives(text) {
        match d.key.as_str() {
            "match" => criteria = Some(d.args.join(" ")),
            "include" if depth < 16 => {
                for pattern in &d.args {
                    let pattern = paths.resolve(pattern);
                    let mut files = glob_in(&paths.root, &pattern);
                    if pattern_names(&pattern, ours) && !files.iter().any(|f| f == ours) {
                        files.push(ours.to_path_buf());
                        files.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
                    }
                    for inc in files {
                        budget.take(1, 0)?;
                        visit(Step::File(&inc))?;
                        let real = crate::pam_stack::in_root(&paths.root, &inc);
                        if let Some(Ok(t)) = real.map(fs::read_to_string) {
                            budget.take(0, t.len())?;
                            walk_file(paths, ours, &inc, &t, criteria.clone(), depth + 1, budget, visit)?;
                        }
                    }
                }
            }
            "include" => {}
            _ => visit(Step::Directive { file, directive: &d, criteria: criteria.as_deref() })?,
        }
    }
    ControlFlow::Continue(())
}

/// Reads `<root>/etc/ssh/sshd_config` and its `Include`s like sshd does for the global section:
/// the first value of a keyword wins, directives inside `Match` blocks are not global (a `Match`
/// ends at the end of the file it is in), and unset keywords take sshd's defaults
/// (UsePAM no, KbdInteractiveAuthentication yes, PermitEmptyPasswords no).
/// `None` when the main file cannot be read.
pub fn parse_config(paths: &SshdPaths) -> Option<SshdSettings> {
    let mut found: HashMap<String, String> = HashMap::new();
    walk(paths, &mut |step| {
        if let Step::Directive { directive: d, criteria: None, .. } = step {
            let key = d.key.as_str();
            let key = if key == "challengeresponseauthentication" { "kbdinteractiveauthentication" } else { key };
            if let Some(v) = d.args.first() {
                found.entry(key.to_owned()).or_insert_with(|| v.clone());
            }
        }
        ControlFlow::Continue(())
    })?;
    let flag = |k: &str, default: bool| Some(found.get(k).and_then(|v| yes_no(v)).unwrap_or(default));
    Some(SshdSettings {
        use_pam: flag("usepam", false),
        kbd_interactive: flag("kbdinteractiveauthentication", true),
        permit_empty_passwords: flag("permitemptypasswords", false),
    })
}

/// The settings 2FA depends on (lower-case, as sshd spells them).
const KEYWORDS: [(&str, &str); 4] = [
    ("usepam", "UsePAM"),
    ("kbdinteractiveauthentication", "KbdInteractiveAuthentication"),
    ("challengeresponseauthentication", "ChallengeResponseAuthentication"),
    ("authenticationmethods", "AuthenticationMethods"),
];

fn keyword_name(key: &str) -> Option<&'static str> {
    KEYWORDS.iter().find(|(k, _)| *k == key).map(|(_, name)| *name)
}

/// `Match all` criteria, which applies to every login, like the global section after it.
fn matches_all(criteria: &str) -> bool {
    criteria.eq_ignore_ascii_case("all")
}

/// Every `UsePAM`, `KbdInteractiveAuthentication` (or its old name) and `AuthenticationMethods`
/// inside a `Match` block of sshd_config or the files it includes, with where it is. sshd
/// applies them to the logins that match, so the global settings (and `sshd -T` without `-C`)
/// can look ready while those logins skip keyboard-interactive.
/// Paths are reported as the server sees them (without a sandbox root). At most
/// [`limits::LIST`] are listed, each text cut to what the console takes; the second value counts
/// the rest, so one huge block cannot get the whole report refused and hide a later one.
pub fn match_overrides(paths: &SshdPaths) -> (Vec<SshdMatchOverride>, u32) {
    let mut out = Vec::new();
    let mut more = 0u32;
    let read_all = walk(paths, &mut |step| {
        if let Step::Directive { file, directive: d, criteria: Some(c) } = step {
            if let Some(name) = keyword_name(&d.key).filter(|_| !matches_all(c)) {
                if out.len() >= limits::LIST {
                    more = more.saturating_add(1);
                } else {
                    out.push(SshdMatchOverride {
                        file: shorten(&paths.shown(file)),
                        line: d.line,
                        criteria: shorten(c),
                        keyword: name.to_owned(),
                        value: shorten(&d.args.join(" ")),
                    });
                }
            }
        }
        ControlFlow::Continue(())
    });
    // A readable config whose includes ran past the walk's budget: what was not read may hold
    // an override, so the console must not take the list as complete (a blocker there).
    if read_all.is_none() && fs::metadata(paths.config_file()).is_ok() {
        more = more.max(1);
    }
    (out, more)
}

/// `text` cut to the console's limit, marked with "…" where it was cut.
fn shorten(text: &str) -> String {
    crate::pam_stack::shorten(text)
}

/// Whether sshd would read HostGuard's drop-in and which global settings of the keywords 2FA
/// depends on it reads before it (sshd keeps the first value it reads, so those win over ours).
/// Works whether or not the drop-in exists yet: it takes the place `50-hostguard.conf` would have
/// in the drop-in directory's glob. `None` when sshd_config cannot be read.
pub fn drop_in_check(paths: &SshdPaths) -> Option<SshdDropInCheck> {
    let ours = paths.drop_in_dir().join(DROP_IN_NAME);
    let mut earlier = Vec::new();
    let mut more = 0u32;
    walk(paths, &mut |step| match step {
        Step::File(f) if f == ours => ControlFlow::Break(()),
        // As `match_overrides` counts it: what follows `Match all` applies to every login.
        Step::Directive { file, directive: d, criteria } if criteria.is_none_or(matches_all) => {
            if let Some(name) = keyword_name(&d.key) {
                if earlier.len() >= limits::LIST {
                    more = more.saturating_add(1);
                } else {
                    earlier.push(SshdSetting {
                        file: shorten(&paths.shown(file)),
                        line: d.line,
                        keyword: name.to_owned(),
                        value: shorten(&d.args.join(" ")),
                    });
                }
            }
            ControlFlow::Continue(())
        }
        _ => ControlFlow::Continue(()),
    })?;
    let text = fs::read_to_string(paths.config_file()).ok()?;
    // The same test apply uses to refuse, so readiness and apply agree.
    Some(SshdDropInCheck { included: includes_drop_in_dir(paths, &text), earlier_settings: earlier, more })
}

/// Expands `*`, `?` and `[...]` in every component of `pattern`, as sshd's glob(3) does, sorted
/// by the whole path like glob(3) in the C locale. Wildcards do not match a leading dot. A
/// pattern without wildcards names one file, which may not exist.
/// `pattern` is under `root` and expands as sshd in a chroot at `root` would: symlinks and `..`
/// never lead out of `root` (see [`crate::pam_stack::in_root`]).
pub fn glob_in(root: &Path, pattern: &Path) -> Vec<PathBuf> {
    let real = |p: &Path| crate::pam_stack::in_root(root, p);
    let mut found: Vec<PathBuf> = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if !has_wildcard(&part) {
            found.iter_mut().for_each(|p| p.push(component));
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            let Some(Ok(entries)) = real(dir).map(fs::read_dir) else { continue };
            for e in entries.filter_map(Result::ok) {
                let n = e.file_name().to_string_lossy().into_owned();
                if !n.starts_with('.') && wildcard_match(part.as_bytes(), n.as_bytes()) {
                    next.push(dir.join(&n));
                }
            }
        }
        found = next;
        // Bounded like sshd's own include depth: a pattern cannot fan out without end.
        if found.len() > 4096 {
            found.truncate(4096);
        }
    }
    if has_wildcard(&pattern.to_string_lossy()) {
        found.retain(|p| real(p).is_some_and(|r| r.exists()));
    }
    found.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    found
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Whether `path` is one `pattern` could name, component by component.
fn pattern_names(pattern: &Path, path: &Path) -> bool {
    let (p, f): (Vec<_>, Vec<_>) = (pattern.components().collect(), path.components().collect());
    p.len() == f.len()
        && p.iter().zip(&f).all(|(p, f)| {
            let (p, f) = (p.as_os_str().to_string_lossy(), f.as_os_str().to_string_lossy());
            if has_wildcard(&p) {
                !f.starts_with('.') && wildcard_match(p.as_bytes(), f.as_bytes())
            } else {
                p == f
            }
        })
}

/// glob(3)'s matching of one name: `*`, `?` and `[...]` classes (with ranges and `!`/`^`).
fn wildcard_match(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard_match(&pat[1..], s) || (!s.is_empty() && wildcard_match(pat, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard_match(&pat[1..], &s[1..]),
        (Some(b'['), Some(&c)) => match class_match(&pat[1..], c) {
            Some((true, rest)) => wildcard_match(rest, &s[1..]),
            Some((false, _)) => false,
            // No closing bracket: a plain `[`.
            None => c == b'[' && wildcard_match(&pat[1..], &s[1..]),
        },
        (Some(a), Some(b)) if a == b => wildcard_match(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// Matches `c` against the class that starts after `[`; the result and the pattern after `]`.
fn class_match(pat: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negated, mut i) = match pat.first() {
        Some(b'!' | b'^') => (true, 1),
        _ => (false, 0),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let &lo = pat.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negated, &pat[i + 1..]));
        }
        first = false;
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&hi| hi != b']') {
            let hi = pat[i + 2];
            matched |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

/// Whether the main sshd_config includes `sshd_config.d/*.conf` (relative, the stock absolute
/// `/etc/ssh/...` path, or the same path under our root), so our drop-in is read.
pub fn includes_drop_in_dir(paths: &SshdPaths, config_text: &str) -> bool {
    let wanted = paths.drop_in_dir().join("*.conf");
    directives(config_text)
        .iter()
        .filter(|d| d.key == "include")
        .flat_map(|d| d.args.iter())
        .any(|arg| paths.resolve(arg) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_like_sshd() {
        let d = directives("# c\n  UsePAM yes\nKbdInteractiveAuthentication=no\nInclude \"/a b/*.conf\" x # tail\n");
        assert_eq!(d[0], Directive { key: "usepam".into(), args: vec!["yes".into()], line: 2 });
        assert_eq!(d[1], Directive { key: "kbdinteractiveauthentication".into(), args: vec!["no".into()], line: 3 });
        assert_eq!(d[2].args, vec!["/a b/*.conf".to_owned(), "x".to_owned()]);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*.conf", b"50-hostguard.conf"));
        assert!(!wildcard_match(b"*.conf", b"50-hostguard.conf.bak"));
        assert!(wildcard_match(b"a?c", b"abc"));
        assert!(wildcard_match(b"[0-4]*.conf", b"10-a.conf"));
        assert!(!wildcard_match(b"[!0-4]*.conf", b"10-a.conf"));
        assert!(wildcard_match(b"[]x]", b"]"));
        assert!(wildcard_match(b"a[", b"a["));
    }

    #[test]
    fn include_wildcards_in_every_component_are_followed() {
        let (_dir, paths) =
            root_with("Include /etc/ssh/sshd_config.d/*/*.conf\nInclude /etc/ssh/s?te-[a-c]/x.conf\n", &[]);
        for (rel, text) in [
            ("sshd_config.d/10-team/a.conf", "Match User deploy\n AuthenticationMethods publickey\n"),
            ("sshd_config.d/20-other/b.conf", "Match User ci\n UsePAM no\n"),
            ("sshd_config.d/.hidden/c.conf", "Match User x\n UsePAM no\n"),
            ("site-b/x.conf", "Match Group ops\n KbdInteractiveAuthentication no\n"),
            ("site-z/x.conf", "Match Group z\n KbdInteractiveAuthentication no\n"),
        ] {
            let p = paths.config_dir().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        let found: Vec<String> =
            match_overrides(&paths).0.iter().map(|o| format!("{}:{} {}", o.file, o.line, o.criteria)).collect();
        assert_eq!(
            found,
            [
                "/etc/ssh/sshd_config.d/10-team/a.conf:2 User deploy",
                "/etc/ssh/sshd_config.d/20-other/b.conf:2 User ci",
                "/etc/ssh/site-b/x.conf:2 Group ops",
            ]
        );
        // Our drop-in's place in a pattern with a wildcard directory.
        assert!(pattern_names(
            Path::new("/r/etc/*/sshd_config.d/*.conf"),
            Path::new("/r/etc/ssh/sshd_config.d/50-hostguard.conf")
        ));
        assert!(!pattern_names(Path::new("/r/etc/*/*.conf"), Path::new("/r/etc/ssh/sshd_config.d/50-hostguard.conf")));
    }

    /// With `--root`, Includes read only files under the root, as sshd chrooted there would:
    /// an absolute symlink starts again at the root and `..` stops there.
    #[test]
    fn includes_never_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("a.conf"), "Match User outside\n UsePAM no\n").unwrap();
        let out = outside.path().display().to_string();
        let up = "../".repeat(outside.path().components().count() + 4);
        let (dir, paths) = root_with(&format!("Include /etc/ssh/site/*.conf\nInclude {up}{out}/b.conf\n"), &[]);
        let copy = dir.path().join(out.trim_start_matches('/'));
        fs::create_dir_all(&copy).unwrap();
        fs::write(copy.join("a.conf"), "Match User inside\n UsePAM no\n").unwrap();
        fs::write(copy.join("b.conf"), "Match User inside-b\n UsePAM no\n").unwrap();
        fs::write(outside.path().join("b.conf"), "Match User outside-b\n UsePAM no\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), paths.config_dir().join("site")).unwrap();
        let found: Vec<String> = match_overrides(&paths).0.into_iter().map(|o| o.criteria).collect();
        // site/*.conf is the root's copy (a.conf, b.conf); the `..` Include its b.conf again.
        assert_eq!(found, ["User inside", "User inside-b", "User inside-b"]);
    }

    #[test]
    fn an_over_long_match_block_is_cut_and_counted_so_a_later_one_is_still_seen() {
        let huge = format!("Match User {}\n AuthenticationMethods publickey\n", "u".repeat(5000));
        let many: String = (0..80).map(|i| format!("Match User u{i}\n UsePAM yes\n")).collect();
        let (_dir, paths) = root_with(
            DEBIAN,
            &[("10-huge.conf", &huge), ("20-many.conf", &many), ("30-late.conf", "Match User late\n UsePAM no\n")],
        );
        let (found, more) = match_overrides(&paths);
        assert_eq!(found.len(), limits::LIST);
        assert_eq!(more, 82 - 64, "82 found, 64 listed");
        assert_eq!(found[0].criteria.chars().count(), limits::TEXT);
        assert!(found[0].criteria.ends_with('…'));
        assert!(found.iter().all(|o| o.criteria.chars().count() <= limits::TEXT && o.file.len() <= limits::TEXT));

        // The same for settings read before our drop-in.
        let early: String = (0..70).map(|i| format!("AuthenticationMethods publickey{i}\n")).collect();
        let (_dir, paths) = root_with(&format!("{early}{DEBIAN}"), &[]);
        let check = drop_in_check(&paths).unwrap();
        assert_eq!((check.earlier_settings.len(), check.more), (limits::LIST, 6));
    }

    #[test]
    fn parser_first_value_wins_and_skips_match() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let paths = SshdPaths::new(root);
        fs::create_dir_all(paths.drop_in_dir()).unwrap();
        // Stock Debian absolute include, resolved inside the sandbox root.
        fs::write(
            paths.config_file(),
            "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nPermitEmptyPasswords no\nMatch User x\n  PermitEmptyPasswords yes\n",
        )
        .unwrap();
        fs::write(
            paths.drop_in_dir().join("10-a.conf"),
            "ChallengeResponseAuthentication no\nUsePAM no\nMatch all\nPermitEmptyPasswords yes\n",
        )
        .unwrap();
        fs::write(paths.drop_in_dir().join("20-b.conf"), "KbdInteractiveAuthentication yes\n").unwrap();
        let s = parse_config(&paths).unwrap();
        assert_eq!(
            s,
            SshdSettings { use_pam: Some(false), kbd_interactive: Some(false), permit_empty_passwords: Some(false) }
        );
        assert!(includes_drop_in_dir(&paths, &fs::read_to_string(paths.config_file()).unwrap()));
        assert!(!includes_drop_in_dir(&paths, "Include /elsewhere/*.conf\n"));
        assert!(includes_drop_in_dir(&paths, "Include sshd_config.d/*.conf\n"));
    }

    #[test]
    fn match_blocks_are_found_through_includes() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SshdPaths::new(dir.path());
        fs::create_dir_all(paths.drop_in_dir()).unwrap();
        fs::write(paths.config_file(), "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nMatch Address 10.0.0.0/8\n  KbdInteractiveAuthentication no\n").unwrap();
        fs::write(
            paths.drop_in_dir().join("60-deploy.conf"),
            "AuthenticationMethods any\nMatch User deploy,ci\n\tAuthenticationMethods publickey\n  X11Forwarding no\nMatch all\nUsePAM no\n",
        )
        .unwrap();
        let found = match_overrides(&paths).0;
        let show = |o: &SshdMatchOverride| format!("{}:{} [{}] {} {}", o.file, o.line, o.criteria, o.keyword, o.value);
        assert_eq!(
            found.iter().map(show).collect::<Vec<_>>(),
            [
                "/etc/ssh/sshd_config.d/60-deploy.conf:3 [User deploy,ci] AuthenticationMethods publickey",
                "/etc/ssh/sshd_config:4 [Address 10.0.0.0/8] KbdInteractiveAuthentication no",
            ]
        );
    }

    /// A sandbox root with `sshd_config` and drop-ins `(name, text)`.
    fn root_with(config: &str, drop_ins: &[(&str, &str)]) -> (tempfile::TempDir, SshdPaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = SshdPaths::new(dir.path());
        fs::create_dir_all(paths.drop_in_dir()).unwrap();
        fs::write(paths.config_file(), config).unwrap();
        for (name, text) in drop_ins {
            fs::write(paths.drop_in_dir().join(name), text).unwrap();
        }
        (dir, paths)
    }

    fn earlier(paths: &SshdPaths) -> (bool, Vec<String>) {
        let check = drop_in_check(paths).unwrap();
        let shown = check.earlier_settings.iter().map(|s| format!("{}:{} {} {}", s.file, s.line, s.keyword, s.value));
        (check.included, shown.collect())
    }

    const DEBIAN: &str =
        "Include /etc/ssh/sshd_config.d/*.conf\n\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\n";

    #[test]
    fn stock_debian_reads_our_drop_in_first() {
        let (_dir, paths) = root_with(DEBIAN, &[]);
        assert_eq!(earlier(&paths), (true, vec![]));
        // Relative and sandbox-absolute spellings of the same Include.
        let (_dir, paths) = root_with("Include sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n", &[]);
        assert_eq!(earlier(&paths), (true, vec![]));
        let sandboxed = format!("Include {}/*.conf\nUsePAM no\n", paths.drop_in_dir().display());
        fs::write(paths.config_file(), sandboxed).unwrap();
        assert_eq!(earlier(&paths), (true, vec![]));
    }

    #[test]
    fn settings_above_the_include_are_listed() {
        let config =
            format!("# local\nKbdInteractiveAuthentication no\nPort 22\nChallengeResponseAuthentication=yes\n{DEBIAN}");
        let (_dir, paths) = root_with(&config, &[]);
        assert_eq!(
            earlier(&paths),
            (
                true,
                vec![
                    "/etc/ssh/sshd_config:2 KbdInteractiveAuthentication no".to_owned(),
                    "/etc/ssh/sshd_config:4 ChallengeResponseAuthentication yes".to_owned(),
                ]
            )
        );
    }

    #[test]
    fn drop_ins_that_sort_before_ours_are_listed_and_later_ones_are_not() {
        let (_dir, paths) = root_with(
            DEBIAN,
            &[
                ("10-cloud.conf", "PasswordAuthentication no\nUsePAM no\n"),
                ("49-x.conf", "AuthenticationMethods publickey keyboard-interactive\n"),
                // Ours (present while 2FA is on) is not an override of itself.
                ("50-hostguard.conf", "UsePAM yes\nKbdInteractiveAuthentication yes\n"),
                ("60-x.conf", "UsePAM no\nAuthenticationMethods publickey\n"),
                ("05-notes.txt", "UsePAM no\n"),
            ],
        );
        assert_eq!(
            earlier(&paths),
            (
                true,
                vec![
                    "/etc/ssh/sshd_config.d/10-cloud.conf:2 UsePAM no".to_owned(),
                    "/etc/ssh/sshd_config.d/49-x.conf:1 AuthenticationMethods publickey keyboard-interactive"
                        .to_owned(),
                ]
            )
        );
        // The same answer before our drop-in exists: it takes its place in the glob's order.
        fs::remove_file(paths.drop_in_dir().join("50-hostguard.conf")).unwrap();
        assert_eq!(earlier(&paths).1.len(), 2);
    }

    #[test]
    fn without_the_include_nothing_of_ours_is_read() {
        let (_dir, paths) = root_with("KbdInteractiveAuthentication no\nInclude /etc/ssh/other/*.conf\n", &[]);
        let (included, settings) = earlier(&paths);
        assert!(!included);
        assert_eq!(settings, ["/etc/ssh/sshd_config:1 KbdInteractiveAuthentication no"]);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(drop_in_check(&SshdPaths::new(dir.path())), None, "no sshd_config at all");
    }

    #[test]
    fn nested_includes_are_followed_in_order() {
        let (_dir, paths) = root_with(
            &format!("Include /etc/ssh/local.conf\n{DEBIAN}"),
            &[("20-site.conf", "Include /etc/ssh/site/*.conf\n")],
        );
        fs::write(paths.config_dir().join("local.conf"), "ChallengeResponseAuthentication no\n").unwrap();
        fs::create_dir_all(paths.config_dir().join("site")).unwrap();
        fs::write(paths.config_dir().join("site/a.conf"), "\nAuthenticationMethods publickey\n").unwrap();
        assert_eq!(
            earlier(&paths),
            (
                true,
                vec![
                    "/etc/ssh/local.conf:1 ChallengeResponseAuthentication no".to_owned(),
                    "/etc/ssh/site/a.conf:2 AuthenticationMethods publickey".to_owned(),
                ]
            )
        );
    }

    #[test]
    fn match_blocks_are_not_earlier_settings() {
        let (_dir, paths) = root_with(
            DEBIAN,
            &[
                ("10-ci.conf", "Match User ci\n  AuthenticationMethods publickey\n  KbdInteractiveAuthentication no\n"),
                // A Match block ends at the end of its file; `Match all` ends it too.
                ("20-x.conf", "Match Address 10.0.0.0/8\n  UsePAM no\nMatch all\nUsePAM no\n"),
            ],
        );
        assert_eq!(earlier(&paths), (true, vec!["/etc/ssh/sshd_config.d/20-x.conf:4 UsePAM no".to_owned()]));

        // A file included inside a Match block is part of that block.
        fs::write(paths.config_file(), format!("Match Group ops\n  Include /etc/ssh/ops.conf\nMatch all\n{DEBIAN}"))
            .unwrap();
        fs::write(paths.config_dir().join("ops.conf"), "AuthenticationMethods publickey\n").unwrap();
        fs::remove_file(paths.drop_in_dir().join("20-x.conf")).unwrap();
        assert_eq!(earlier(&paths), (true, vec![]));
        let found = match_overrides(&paths).0;
        assert_eq!((found[0].file.as_str(), found[0].criteria.as_str()), ("/etc/ssh/ops.conf", "Group ops"));
    }

    #[test]
    fn an_include_loop_ends() {
        let (_dir, paths) = root_with(&format!("UsePAM no\nInclude /etc/ssh/sshd_config\n{DEBIAN}"), &[]);
        let (included, settings) = earlier(&paths);
        // sshd itself refuses a config this deep; all we need is an answer.
        assert!(included);
        assert_eq!(settings[0], "/etc/ssh/sshd_config:1 UsePAM no");
    }

    #[test]
    fn an_include_fan_out_ends_without_an_answer() {
        // Found by the fuzz corpus (fuzz/corpus/sshd_config/include-fanout): each level read
        // sshd_config four times, 4^16 reads in all.
        let (_dir, paths) = root_with("Include sshd_config sshd_config sshd_config sshd_config\nUsePAM yes\n", &[]);
        let started = std::time::Instant::now();
        assert_eq!(parse_config(&paths), None);
        assert_eq!(drop_in_check(&paths), None);
        // What the walk did not read may hold a Match override: the list is not complete.
        assert!(match_overrides(&paths).1 >= 1);
        // Found by `scripts/fuzz.sh`: the same with a larger file, each read of it parsed again.
        let big = format!("Include sshd_config sshd_config sshd_config sshd_config\n{}", "UsePAM yes\n".repeat(20_000));
        let (_dir, paths) = root_with(&big, &[]);
        assert_eq!(parse_config(&paths), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn parser_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SshdPaths::new(dir.path());
        assert_eq!(parse_config(&paths), None);
        fs::create_dir_all(paths.config_dir()).unwrap();
        fs::write(paths.config_file(), "Port 22\n").unwrap();
        let s = parse_config(&paths).unwrap();
        assert_eq!(
            s,
            SshdSettings { use_pam: Some(false), kbd_interactive: Some(true), permit_empty_passwords: Some(false) }
        );
    }
}
