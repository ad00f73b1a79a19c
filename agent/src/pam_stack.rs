//! Proves that sshd's PAM auth stack runs HostGuard's module, and only after a right password.
//! It reads `/etc/pam.d/sshd` under the agent's root with HostGuard's line where the agent puts
//! it, follows `@include`, `include` and `substack` as libpam does, and then runs libpam's stack
//! rules (`pam_dispatch.c`) over every result each module could return. Anything it cannot
//! read or understand is a problem: when in doubt, the apply is refused.

use std::collections::HashSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::apply::{pam_with_hostguard, PAM_MARKER, PAM_SSHD};
use proto::agent::{PamStackCheck, PamStackProblem};

/// libpam's nesting limit for includes and substacks (`PAM_SUBSTACK_MAX_LEVEL`).
const MAX_DEPTH: usize = 16;
/// More auth lines than any real stack has; past this the check gives up (and refuses).
const MAX_HANDLERS: usize = 512;
/// Included files read, and their bytes, repeats counted; past either the check gives up (and
/// refuses). The depth limit alone lets a file that includes the next one twice fan out to 2^15
/// reads.
const MAX_INCLUDES: usize = 256;
const MAX_INCLUDED_BYTES: usize = 1 << 20;
/// Stack states explored before giving up (each is a distinct position and impression).
const MAX_STATES: usize = 200_000;
/// Problems reported; the rest are counted.
pub const MAX_PROBLEMS: usize = 16;
/// The console refuses longer texts (see proto's limits).
const MAX_TEXT: usize = proto::agent::limits::TEXT;

/// Longest line the check reads; libpam 1.5.2 splits physical lines over 1023 bytes into two.
const MAX_LINE: usize = 1000;

/// Modules that check the account's password: one of them must have succeeded before ours runs.
const PASSWORD_MODULES: &[&str] = &[
    "pam_unix.so",
    "pam_unix2.so",
    "pam_sss.so",
    "pam_ldap.so",
    "pam_krb5.so",
    "pam_winbind.so",
    "pam_systemd_home.so",
    "pam_userdb.so",
];

/// libpam's return values, in its order (`_pam_token_returns`); `default` is not one of them.
const RETURNS: [&str; 32] = [
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
];
const SUCCESS: usize = 0;
const AUTH_ERR: usize = 7;
const NEW_AUTHTOK_REQD: usize = 12;
const IGNORE: usize = 25;
/// A module returning PAM_INCOMPLETE pauses the stack rather than deciding anything.
const INCOMPLETE: usize = 31;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Action {
    Ignore,
    Ok,
    Done,
    Bad,
    Die,
    Reset,
    Jump(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Module,
    /// The place-holder libpam puts before a substack's lines; it is skipped, never run.
    Substack,
}

/// One entry of libpam's auth handler list.
#[derive(Clone, Debug)]
struct Handler {
    level: usize,
    kind: Kind,
    /// The module's file name (`pam_unix.so`).
    module: String,
    actions: [Action; 32],
    /// Whether the module can return PAM_IGNORE: any module can (pam_krb5 below its
    /// `minimum_uid`, pam_sss for unknown users, …) except pam_unix unless an option says so.
    may_ignore: bool,
    ours: bool,
    at: Place,
}

/// A line as the server names it, for messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Place {
    file: String,
    line: u32,
    text: String,
}

/// A problem with the stack: where, what and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based; 0 for the file as a whole.
    pub line: u32,
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {} Fix: {}", self.file, self.problem, self.fix)
        } else {
            write!(f, "{} line {}: {} Fix: {}", self.file, self.line, self.problem, self.fix)
        }
    }
}

const FIX_ANCHOR: &str = "HostGuard's line goes right after `@include common-auth` in /etc/pam.d/sshd";
const FIX_PASSWORD: &str = "make a failed password end the login before HostGuard's line: Debian's \
    `auth [success=1 default=ignore] pam_unix.so nullok` followed by `auth requisite pam_deny.so` \
    (in /etc/pam.d/common-auth), or `auth requisite pam_unix.so`";

fn problem(at: &Place, problem: String, fix: String) -> Problem {
    Problem { file: at.file.clone(), line: at.line, problem, fix }
}

/// Checks the stack the agent would write: `/etc/pam.d/sshd` under `root` with HostGuard's line
/// added (or as it is, if the line is there already).
pub fn check(root: &Path) -> Result<(), Vec<Problem>> {
    let path = root.join(PAM_SSHD);
    let shown = format!("/{PAM_SSHD}");
    let text = match read_in_root(root, &path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            vec![Problem {
                file: shown.clone(),
                line: 0,
                problem: "the file is not UTF-8, so its lines cannot be checked.".into(),
                fix: "remove the bytes that are not UTF-8.".into(),
            }]
        })?,
        Err(e) => {
            return Err(vec![Problem {
                file: shown,
                line: 0,
                problem: format!("the file cannot be read ({e})."),
                fix: "install openssh-server, whose package provides it.".into(),
            }])
        }
    };
    let with = pam_with_hostguard(&text).map_err(|e| {
        vec![Problem {
            file: shown,
            line: 0,
            problem: format!("{e}."),
            fix: format!("{FIX_ANCHOR}, where a failed password has already ended the login."),
        }]
    })?;
    check_text(root, &with)
}

/// Checks a stack whose `/etc/pam.d/sshd` has `sshd_text` (with HostGuard's line in it); the
/// files it includes are read under `root`.
pub fn check_text(root: &Path, sshd_text: &str) -> Result<(), Vec<Problem>> {
    let mut loader = Loader {
        root,
        handlers: Vec::new(),
        problems: Vec::new(),
        open: vec![root.join(PAM_SSHD)],
        includes: 0,
        bytes: 0,
        gave_up: false,
    };
    loader.load_text(&format!("/{PAM_SSHD}"), sshd_text, 0, 0, true);
    if loader.problems.is_empty() {
        let found = loader.handlers.iter().filter(|h| h.ours).count();
        if found != 1 {
            loader.problems.push(Problem {
                file: format!("/{PAM_SSHD}"),
                line: 0,
                problem: format!("the stack holds {found} HostGuard lines marked `{PAM_MARKER}`, not one."),
                fix: "remove the extra lines; the agent writes its own.".into(),
            });
        }
    }
    if loader.problems.is_empty() {
        loader.problems = simulate(&loader.handlers);
    }
    if loader.problems.is_empty() {
        Ok(())
    } else {
        Err(loader.problems)
    }
}

/// What the facts report: the problems, capped, with how many more there were.
pub fn facts(root: &Path) -> PamStackCheck {
    let problems = check(root).err().unwrap_or_default();
    let more = problems.len().saturating_sub(MAX_PROBLEMS);
    PamStackCheck {
        problems: problems
            .into_iter()
            .take(MAX_PROBLEMS)
            .map(|p| PamStackProblem {
                file: shorten(&p.file),
                line: p.line,
                problem: shorten(&p.problem),
                fix: shorten(&p.fix),
            })
            .collect(),
        more: u32::try_from(more).unwrap_or(u32::MAX),
    }
}

/// The refusal an apply gives: the first problems, each with its file, line and fix.
pub fn refusal(problems: &[Problem]) -> String {
    let mut text = String::from("sshd's PAM stack is not safe for HostGuard's module: ");
    text.push_str(&problems.iter().take(3).map(|p| shorten(&p.to_string())).collect::<Vec<_>>().join(" Also: "));
    if problems.len() > 3 {
        text.push_str(&format!(" ({} more problems)", problems.len() - 3));
    }
    // The console takes an apply's error up to 4000 bytes (and " nothing was changed" follows).
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() > 3800 {
            break;
        }
        end = i + c.len_utf8();
    }
    text.truncate(end);
    text
}

/// `text` cut to the console's limit, marked with "…" where it was cut.
pub fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_TEXT - 1).collect();
    out.push('…');
    out
}

/// Every file of the stack under the same root, with symlinks resolved inside it (so reading
/// them stays under the root).
pub fn stack_files(root: &Path) -> Vec<PathBuf> {
    let Some(sshd) = in_root(root, &root.join(PAM_SSHD)) else { return Vec::new() };
    let Ok(text) = fs::read_to_string(&sshd) else {
        return Vec::new();
    };
    let mut files = vec![sshd];
    collect_files(root, &text, &mut files, 0);
    files
}

fn collect_files(root: &Path, text: &str, files: &mut Vec<PathBuf>, depth: usize) {
    if depth >= MAX_DEPTH {
        return;
    }
    for (_, line) in logical_lines(text) {
        let words = tokens(&line);
        let name = match words.as_slice() {
            [at, name, ..] if at.eq_ignore_ascii_case("@include") => name,
            [_, control, name, ..]
                if control.eq_ignore_ascii_case("include") || control.eq_ignore_ascii_case("substack") =>
            {
                name
            }
            _ => continue,
        };
        if let Some(path) = resolve(root, name).and_then(|p| in_root(root, &p)) {
            if !files.contains(&path) {
                files.push(path.clone());
                if let Ok(t) = fs::read_to_string(&path) {
                    collect_files(root, &t, files, depth + 1);
                }
            }
        }
    }
}

/// Where libpam finds a config named in an include: an absolute path, else /etc/pam.d, else
/// /usr/lib/pam.d. `None` for names with `..`, which the check does not follow.
fn resolve(root: &Path, name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.components().any(|c| matches!(c, Component::ParentDir)) || name.is_empty() {
        return None;
    }
    if let Ok(rel) = p.strip_prefix("/") {
        return Some(root.join(rel));
    }
    let exists = |path: &Path| in_root(root, path).is_some_and(|real| real.exists());
    let etc = root.join("etc/pam.d").join(p);
    if exists(&etc) {
        return Some(etc);
    }
    let vendor = root.join("usr/lib/pam.d").join(p);
    Some(if exists(&vendor) { vendor } else { etc })
}

/// Where `path` (under `root`) really is when `root` is taken as `/`, as in a chroot: symlinks
/// resolve inside `root` (an absolute target starts again at `root`) and `..` stops at `root`.
/// The result has no symlinks left, so reading it stays inside `root`. `None` for a path not
/// under `root` or more than 40 links (the kernel's limit, so loops end).
pub fn in_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut todo: std::collections::VecDeque<std::ffi::OsString> = std::collections::VecDeque::new();
    for c in path.strip_prefix(root).ok()?.components() {
        todo.push_back(c.as_os_str().to_owned());
    }
    let mut cur = root.to_path_buf();
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        match Path::new(&part).components().next() {
            None | Some(Component::CurDir) => {}
            Some(Component::RootDir | Component::Prefix(_)) => cur = root.to_path_buf(),
            Some(Component::ParentDir) => {
                if cur != root {
                    cur.pop();
                }
            }
            Some(Component::Normal(name)) => {
                let next = cur.join(name);
                match fs::symlink_metadata(&next) {
                    Ok(m) if m.file_type().is_symlink() => {
                        links += 1;
                        if links > 40 {
                            return None;
                        }
                        let target = fs::read_link(&next).ok()?;
                        for c in target.components().rev() {
                            todo.push_front(c.as_os_str().to_owned());
                        }
                    }
                    _ => cur = next,
                }
            }
        }
    }
    Some(cur)
}

/// Reads `path` (under `root`) as it is inside `root`.
fn read_in_root(root: &Path, path: &Path) -> std::io::Result<Vec<u8>> {
    match in_root(root, path) {
        Some(real) => fs::read(real),
        None => Err(std::io::Error::other("too many symbolic links")),
    }
}

fn shown(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if root != Path::new("/") => format!("/{}", rel.display()),
        _ => path.display().to_string(),
    }
}

/// Lines as libpam assembles them: `#` starts a comment, a trailing `\` joins the next line.
/// Each comes with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (line, n) in text.lines().zip(1u32..) {
        let code = line.split('#').next().unwrap_or("");
        if current.is_empty() {
            start = n;
        }
        match code.trim_end().strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(code);
                if !current.trim().is_empty() {
                    out.push((start, std::mem::take(&mut current)));
                }
                current.clear();
            }
        }
    }
    if !current.trim().is_empty() {
        out.push((start, current));
    }
    out
}

/// Splits a line into words; `[...]` (which may hold spaces) is one word, as in libpam.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_brackets = false;
    for c in line.chars() {
        match c {
            '[' if cur.is_empty() && !in_brackets => {
                in_brackets = true;
                cur.push(c);
            }
            ']' if in_brackets => {
                in_brackets = false;
                cur.push(c);
            }
            // libpam splits on space, tab and newline only (lines hold no newline here).
            ' ' | '\t' if !in_brackets => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The actions of a control word (`required`, `[success=1 default=ignore]`, …), as libpam sets
/// them; `None` for anything it would not take as written.
fn parse_control(word: &str) -> Option<[Action; 32]> {
    let mut actions: [Option<Action>; 32] = [None; 32];
    let fill = |actions: &mut [Option<Action>; 32], action: Action| {
        for a in actions.iter_mut().filter(|a| a.is_none()) {
            *a = Some(action);
        }
    };
    match word.to_ascii_lowercase().as_str() {
        "required" | "requisite" => {
            actions[SUCCESS] = Some(Action::Ok);
            actions[NEW_AUTHTOK_REQD] = Some(Action::Ok);
            actions[IGNORE] = Some(Action::Ignore);
            fill(&mut actions, if word.eq_ignore_ascii_case("required") { Action::Bad } else { Action::Die });
        }
        "optional" => {
            actions[SUCCESS] = Some(Action::Ok);
            actions[NEW_AUTHTOK_REQD] = Some(Action::Ok);
            fill(&mut actions, Action::Ignore);
        }
        "sufficient" => {
            actions[SUCCESS] = Some(Action::Done);
            actions[NEW_AUTHTOK_REQD] = Some(Action::Done);
            fill(&mut actions, Action::Ignore);
        }
        _ => {
            let inner = word.strip_prefix('[')?.strip_suffix(']')?;
            for pair in inner.split_whitespace() {
                let (value, action) = pair.split_once('=')?;
                let action = match action {
                    "ignore" => Action::Ignore,
                    "ok" => Action::Ok,
                    "done" => Action::Done,
                    "bad" => Action::Bad,
                    "die" => Action::Die,
                    "reset" => Action::Reset,
                    n => match n.parse::<u32>() {
                        Ok(n) if n > 0 && n.to_string() == action => Action::Jump(n),
                        _ => return None,
                    },
                };
                if value == "default" {
                    fill(&mut actions, action);
                } else {
                    actions[RETURNS.iter().position(|r| *r == value)?] = Some(action);
                }
            }
            // libpam's default for what a bracket leaves unset.
            fill(&mut actions, Action::Bad);
        }
    }
    Some(actions.map(|a| a.unwrap_or(Action::Bad)))
}

/// Builds libpam's auth handler list from the config files.
struct Loader<'a> {
    root: &'a Path,
    handlers: Vec<Handler>,
    problems: Vec<Problem>,
    /// The files being read, to stop include loops.
    open: Vec<PathBuf>,
    /// Included files read so far, and their bytes (see [`MAX_INCLUDES`]).
    includes: usize,
    bytes: usize,
    /// Set once the check gave up on a stack too large to read.
    gave_up: bool,
}

impl Loader<'_> {
    fn load_text(&mut self, file: &str, text: &str, depth: usize, level: usize, top: bool) {
        // libpam assembles lines with these differently from any simple reading (a `\` before
        // `#` or CR-LF, comments inside continuations, splits past 1023 bytes), so a file with
        // any of them is refused rather than read.
        let mut unreadable = false;
        for (line, n) in text.split('\n').zip(1u32..) {
            let Some(why) = unsafe_line(line) else { continue };
            unreadable = true;
            if self.problems.len() >= MAX_PROBLEMS {
                return;
            }
            let at = Place { file: file.to_owned(), line: n, text: String::new() };
            self.problems.push(problem(
                &at,
                format!("the line {why}, which libpam may read differently from HostGuard's check."),
                "rewrite the line in plain ASCII without backslashes or carriage returns (Unix line endings), at most 1000 bytes long.".into(),
            ));
        }
        if unreadable {
            return;
        }
        for (n, line) in logical_lines(text) {
            if self.problems.len() >= MAX_PROBLEMS {
                return;
            }
            let at =
                Place { file: file.to_owned(), line: n, text: line.split_whitespace().collect::<Vec<_>>().join(" ") };
            let words = tokens(&line);
            let Some(first) = words.first() else { continue };
            let not_understood = |why: &str| {
                problem(
                    &at,
                    format!("HostGuard cannot tell what `{}` does ({why}), so it cannot prove the module runs only after a right password.", at.text),
                    "correct or remove the line.".into(),
                )
            };
            if first.eq_ignore_ascii_case("@include") {
                match words.get(1) {
                    Some(name) if words.len() == 2 => self.include(&at, name, depth, level, true),
                    _ => self.problems.push(not_understood("`@include` takes one file name")),
                }
                continue;
            }
            let kind = first.strip_prefix('-').unwrap_or(first).to_ascii_lowercase();
            match kind.as_str() {
                "auth" => {}
                "account" | "password" | "session" => continue,
                _ => {
                    self.problems.push(not_understood("unknown module type"));
                    continue;
                }
            }
            let (Some(control), Some(target)) = (words.get(1), words.get(2)) else {
                self.problems.push(not_understood("it names no control or module"));
                continue;
            };
            if control.eq_ignore_ascii_case("include") || control.eq_ignore_ascii_case("substack") {
                if control.eq_ignore_ascii_case("substack") {
                    self.handlers.push(Handler {
                        level,
                        kind: Kind::Substack,
                        module: String::new(),
                        actions: [Action::Ignore; 32],
                        may_ignore: true,
                        ours: false,
                        at: at.clone(),
                    });
                    self.include(&at, target, depth, level + 1, false);
                } else {
                    self.include(&at, target, depth, level, false);
                }
                continue;
            }
            let Some(actions) = parse_control(control) else {
                self.problems.push(not_understood("unknown control"));
                continue;
            };
            let module = Path::new(target).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if self.handlers.len() >= MAX_HANDLERS {
                self.problems.push(problem(
                    &at,
                    format!("the stack has more than {MAX_HANDLERS} auth lines, more than HostGuard checks."),
                    "shorten the stack.".into(),
                ));
                return;
            }
            let ours = top && line_is_ours(text, n);
            let may_ignore = module != "pam_unix.so" || words[3..].iter().any(|a| a.contains("ignore"));
            self.handlers.push(Handler { level, kind: Kind::Module, module, actions, may_ignore, ours, at });
        }
    }

    fn include(&mut self, at: &Place, name: &str, depth: usize, level: usize, all_types: bool) {
        if depth + 1 >= MAX_DEPTH || level >= MAX_DEPTH {
            self.problems.push(problem(
                at,
                format!("includes nest deeper than libpam's limit of {MAX_DEPTH}."),
                "include fewer levels of files.".into(),
            ));
            return;
        }
        self.includes += 1;
        if self.includes > MAX_INCLUDES || self.bytes > MAX_INCLUDED_BYTES {
            // Said once; the loaders above stop at the problem cap or at the end of their files.
            if !self.gave_up {
                self.gave_up = true;
                self.problems.push(problem(
                    at,
                    format!(
                        "the stack includes more than {MAX_INCLUDES} files or {} MiB (repeats counted), more than HostGuard checks.",
                        MAX_INCLUDED_BYTES >> 20
                    ),
                    "include each file once.".into(),
                ));
            }
            return;
        }
        let Some(path) = resolve(self.root, name) else {
            self.problems.push(problem(
                at,
                format!("`{name}` is not a file HostGuard follows (no `..` in include names)."),
                "name the file in /etc/pam.d directly.".into(),
            ));
            return;
        };
        let file = shown(self.root, &path);
        if self.open.contains(&path) {
            self.problems.push(problem(
                at,
                format!("{file} includes itself (an include loop); libpam refuses such a stack."),
                "remove the include that loops back.".into(),
            ));
            return;
        }
        let text = match read_in_root(self.root, &path).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                self.problems.push(problem(
                    at,
                    format!("{file} is not UTF-8, so its lines cannot be checked."),
                    format!("fix {file}."),
                ));
                return;
            }
            // libpam fails closed on a missing file: `@include` makes every login fail, an
            // auth `include` or `substack` a line that always fails.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !all_types {
                    self.handlers.push(Handler {
                        level,
                        kind: Kind::Module,
                        module: String::new(),
                        actions: [Action::Bad; 32],
                        may_ignore: true,
                        ours: false,
                        at: at.clone(),
                    });
                }
                return;
            }
            Err(e) => {
                self.problems.push(problem(
                    at,
                    format!("{file} cannot be read ({e})."),
                    "make the file readable or remove the include.".into(),
                ));
                return;
            }
        };
        self.bytes = self.bytes.saturating_add(text.len());
        self.open.push(path);
        self.load_text(&file, &text, depth + 1, level, false);
        self.open.pop();
    }
}

/// Why libpam might assemble a physical line unlike `logical_lines`, if it might.
fn unsafe_line(line: &str) -> Option<&'static str> {
    if line.len() > MAX_LINE {
        return Some("is longer than 1000 bytes");
    }
    line.bytes().find_map(|b| match b {
        b'\\' => Some("holds a backslash"),
        b'\r' => Some("holds a carriage return (Windows line ending)"),
        b'\t' => None,
        0..=0x1f | 0x7f => Some("holds a control character"),
        0x80.. => Some("holds a byte that is not ASCII"),
        _ => None,
    })
}

/// Whether line `n` of the top file is the one the agent writes.
fn line_is_ours(text: &str, n: u32) -> bool {
    text.lines().nth(n.saturating_sub(1) as usize).is_some_and(|l| l.contains(PAM_MARKER))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Impression {
    Undef,
    Positive,
    Negative,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ours {
    NotYet,
    Passed,
    Failed,
}

/// Where one run of the stack is: what libpam keeps (position, impression, whether the status
/// is PAM_SUCCESS, the saved state of each substack level) and what the check needs to know.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    pos: usize,
    prev_level: usize,
    impression: Impression,
    status_success: bool,
    saved: Vec<(Impression, bool)>,
    /// A password module returned success on this run.
    verified: bool,
    ours: Ours,
}

/// Why a run matters, for the message: the line that skipped ours, the password line that
/// failed, the line that reset after ours.
#[derive(Clone, Debug, Default)]
struct Blame {
    skipped_by: Option<usize>,
    password_failed: Option<usize>,
    reset_by: Option<usize>,
}

/// What a handler can do: (action, returned PAM_SUCCESS, proved the password) for each value it
/// can return. A password module proves the password with success, or with "new password
/// required" (which it says only after a right but expired password).
fn outcomes(h: &Handler) -> Vec<(Action, bool, bool)> {
    let values: Vec<usize> = if h.ours {
        vec![SUCCESS, AUTH_ERR]
    } else if h.module == "pam_deny.so" {
        vec![AUTH_ERR]
    } else {
        (0..RETURNS.len()).filter(|v| *v != INCOMPLETE && (*v != IGNORE || h.may_ignore)).collect()
    };
    let password = !h.ours && PASSWORD_MODULES.contains(&h.module.as_str());
    let mut out: Vec<(Action, bool, bool)> = Vec::new();
    for v in values {
        let o = (h.actions[v], v == SUCCESS, password && (v == SUCCESS || v == NEW_AUTHTOK_REQD));
        if !out.contains(&o) {
            out.push(o);
        }
    }
    out
}

/// Runs every path through the handlers and names each way past the module.
fn simulate(handlers: &[Handler]) -> Vec<Problem> {
    let Some(ours_at) = handlers.iter().position(|h| h.ours) else {
        return Vec::new();
    };
    let mut problems: Vec<Problem> = Vec::new();
    let mut seen: HashSet<State> = HashSet::new();
    let start = State {
        pos: 0,
        prev_level: 0,
        impression: Impression::Undef,
        status_success: false,
        saved: vec![(Impression::Undef, false); MAX_DEPTH + 1],
        verified: false,
        ours: Ours::NotYet,
    };
    let mut todo = vec![(start, Blame::default())];
    let mut report = |p: Problem| {
        if !problems.iter().any(|q| q.file == p.file && q.line == p.line && q.problem == p.problem) {
            problems.push(p);
        }
    };
    while let Some((mut s, blame)) = todo.pop() {
        if seen.len() > MAX_STATES {
            report(problem(
                &handlers[ours_at].at,
                "the stack has too many paths for HostGuard to check.".into(),
                "simplify the auth lines before it.".into(),
            ));
            break;
        }
        if !seen.insert(s.clone()) {
            continue;
        }
        // The end of the stack: what would pam_authenticate return?
        let Some(h) = handlers.get(s.pos) else {
            let success = s.impression == Impression::Positive && s.status_success;
            if !success {
                continue;
            }
            match s.ours {
                Ours::NotYet => {
                    let by = &handlers[blame.skipped_by.unwrap_or(ours_at)];
                    report(problem(
                        &by.at,
                        format!("`{}` can end the login with success before HostGuard's module runs, so the second factor is skipped.", by.at.text),
                        "remove it, or move it below HostGuard's line (right after `@include common-auth` in /etc/pam.d/sshd), or use `required` rather than `sufficient`, `done` or a jump past HostGuard's line.".to_owned(),
                    ));
                }
                Ours::Failed => {
                    let by = &handlers[blame.reset_by.unwrap_or(ours_at)];
                    report(problem(
                        &by.at,
                        format!(
                            "`{}` can undo HostGuard's refusal (`reset`), so a wrong code could still log in.",
                            by.at.text
                        ),
                        "remove the `reset` action.".into(),
                    ));
                }
                Ours::Passed => {}
            }
            continue;
        };
        let level = h.level;
        if s.prev_level < level {
            s.saved[level] = (s.impression, s.status_success);
        }
        s.prev_level = level;
        if h.kind == Kind::Substack {
            s.pos += 1;
            todo.push((s, blame));
            continue;
        }
        // Reached without a password module's success: a wrong password gets here.
        if h.ours && s.ours == Ours::NotYet && !s.verified {
            let (at, why) = match blame.password_failed {
                Some(i) => (
                    &handlers[i].at,
                    format!("when `{}` fails (a wrong password), the login goes on to HostGuard's module, which would then send codes for a wrong password.", handlers[i].at.text),
                ),
                None => (
                    &handlers[ours_at].at,
                    "no password check (pam_unix, pam_sss, …) has to succeed before HostGuard's module, so it would send codes for logins with a wrong password.".to_owned(),
                ),
            };
            report(problem(at, why, format!("{FIX_PASSWORD}.")));
        }
        for (action, success, proves_password) in outcomes(h) {
            let mut n = s.clone();
            let mut b = blame.clone();
            if PASSWORD_MODULES.contains(&h.module.as_str()) && n.ours == Ours::NotYet {
                if proves_password {
                    n.verified = true;
                } else {
                    b.password_failed = Some(n.pos);
                }
            }
            if h.ours && n.ours == Ours::NotYet {
                n.ours = if success { Ours::Passed } else { Ours::Failed };
            }
            let mut decided = false;
            match action {
                Action::Reset => {
                    (n.impression, n.status_success) = n.saved[level];
                    if n.ours == Ours::Failed {
                        b.reset_by = Some(n.pos);
                    }
                }
                Action::Ok | Action::Done => {
                    if n.impression == Impression::Undef || (n.impression == Impression::Positive && n.status_success) {
                        n.impression = Impression::Positive;
                        n.status_success = success;
                    }
                    decided = n.impression == Impression::Positive && action == Action::Done;
                }
                Action::Bad | Action::Die => {
                    if n.impression != Impression::Negative {
                        n.impression = Impression::Negative;
                        n.status_success = false;
                    }
                    decided = action == Action::Die;
                }
                Action::Ignore => {}
                Action::Jump(count) => {
                    let from = n.pos;
                    let mut left = count;
                    while left > 0 && handlers.get(n.pos + 1).is_some_and(|x| x.level >= level) {
                        loop {
                            n.pos += 1;
                            if handlers.get(n.pos + 1).is_none_or(|x| x.level <= level) {
                                break;
                            }
                        }
                        left -= 1;
                    }
                    if left > 0 {
                        n.impression = Impression::Negative;
                        n.status_success = false;
                    }
                    if n.ours == Ours::NotYet && from < ours_at && ours_at <= n.pos {
                        b.skipped_by = Some(from);
                    }
                }
            }
            if decided {
                let from = n.pos;
                while handlers.get(n.pos + 1).is_some_and(|x| x.level >= level) {
                    n.pos += 1;
                }
                if n.ours == Ours::NotYet && from < ours_at && ours_at <= n.pos {
                    b.skipped_by = Some(from);
                }
            }
            n.pos += 1;
            todo.push((n, b));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::PAM_LINE;

    /// Debian 12's common-auth, as its pam-auth-update writes it.
    const DEBIAN_COMMON_AUTH: &str = "#\n# /etc/pam.d/common-auth\n#\n\
        auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
        auth\trequisite\t\t\tpam_deny.so\n\
        auth\trequired\t\t\tpam_permit.so\n";
    const SSHD: &str = "# PAM configuration for the Secure Shell service\n\n@include common-auth\naccount    required     pam_nologin.so\n@include common-account\nsession    required     pam_limits.so\n";

    fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        dir
    }

    /// Checks `sshd` (HostGuard's line added after common-auth) with `common_auth` and `others`.
    fn check_stack(sshd: &str, common_auth: &str, others: &[(&str, &str)]) -> Result<(), Vec<Problem>> {
        let mut files = vec![("etc/pam.d/sshd", sshd), ("etc/pam.d/common-auth", common_auth)];
        files.extend_from_slice(others);
        let dir = root_with(&files);
        check(dir.path())
    }

    fn shown(r: Result<(), Vec<Problem>>) -> Vec<String> {
        r.err().unwrap_or_default().iter().map(|p| format!("{}:{} {}", p.file, p.line, p.problem)).collect()
    }

    #[test]
    fn debian_and_ubuntu_stacks_pass() {
        assert_eq!(check_stack(SSHD, DEBIAN_COMMON_AUTH, &[]), Ok(()));
        // Ubuntu with SSSD: either password module may succeed; both failing hits pam_deny.
        let ubuntu = "auth\t[success=2 default=ignore]\tpam_unix.so nullok\n\
            auth\t[success=1 default=ignore]\tpam_sss.so use_first_pass\n\
            auth\trequisite\t\t\tpam_deny.so\n\
            auth\trequired\t\t\tpam_permit.so\n\
            auth\toptional\t\t\tpam_cap.so\n";
        assert_eq!(check_stack(SSHD, ubuntu, &[]), Ok(()));
        // systemd-homed in front, and a requisite pam_unix on its own.
        let homed = "auth [success=2 default=ignore] pam_systemd_home.so\nauth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n";
        assert_eq!(check_stack(SSHD, homed, &[]), Ok(()));
        assert_eq!(check_stack(SSHD, "auth required pam_env.so\nauth requisite pam_unix.so\n", &[]), Ok(()));
        assert_eq!(check_stack(SSHD, "auth requisite pam_unix.so nullok try_first_pass\n", &[]), Ok(()));
        // Lines after HostGuard's do not matter, sufficient ones included (both factors passed).
        let after = SSHD.replace("@include common-auth\n", "@include common-auth\nauth sufficient pam_permit.so\n");
        assert_eq!(check_stack(&after, DEBIAN_COMMON_AUTH, &[]), Ok(()));
    }

    #[test]
    fn sufficient_before_our_line_is_refused_naming_file_and_line() {
        let duo = format!("auth sufficient /lib/security/pam_duo.so\n{DEBIAN_COMMON_AUTH}");
        let problems = check_stack(SSHD, &duo, &[]).unwrap_err();
        assert_eq!((problems[0].file.as_str(), problems[0].line), ("/etc/pam.d/common-auth", 1));
        assert!(
            problems[0].problem.contains("`auth sufficient /lib/security/pam_duo.so` can end the login with success"),
            "{problems:?}"
        );
        assert!(problems[0].fix.contains("move it below HostGuard's line"), "{problems:?}");

        let permit = SSHD.replace("@include common-auth\n", "auth sufficient pam_permit.so\n@include common-auth\n");
        assert_eq!(
            shown(check_stack(&permit, DEBIAN_COMMON_AUTH, &[])),
            ["/etc/pam.d/sshd:3 `auth sufficient pam_permit.so` can end the login with success before HostGuard's module runs, so the second factor is skipped."]
        );
    }

    #[test]
    fn done_on_success_before_our_line_is_refused() {
        for control in ["[success=done default=ignore]", "[default=done]", "[success=done default=die]"] {
            let ca =
                format!("auth required pam_env.so\nauth {control} pam_google_authenticator.so\n{DEBIAN_COMMON_AUTH}");
            let found = shown(check_stack(SSHD, &ca, &[]));
            assert!(
                found
                    .iter()
                    .any(|p| p.starts_with("/etc/pam.d/common-auth:2 ") && p.contains("end the login with success")),
                "{control}: {found:?}"
            );
        }
        // `done` only for failures ends the login with a failure: harmless.
        let ca = format!("auth [success=ok auth_err=done default=ignore] pam_env.so\n{DEBIAN_COMMON_AUTH}");
        assert_eq!(check_stack(SSHD, &ca, &[]), Ok(()));
    }

    #[test]
    fn a_jump_over_our_line_is_refused() {
        // common-auth's last line jumps one line on success: over HostGuard's, which follows it.
        let ca = "auth requisite pam_unix.so\nauth [success=1 default=ignore] pam_permit.so\n";
        let found = shown(check_stack(SSHD, ca, &[]));
        assert!(found.iter().any(|p| p.starts_with("/etc/pam.d/common-auth:2 ")), "{found:?}");
    }

    #[test]
    fn a_failed_password_that_goes_on_is_refused() {
        // A hand-written stack: pam_unix fails, the stack goes on to HostGuard's module.
        let problems = check_stack(SSHD, "auth required pam_unix.so\n", &[]).unwrap_err();
        assert_eq!((problems[0].file.as_str(), problems[0].line), ("/etc/pam.d/common-auth", 1));
        assert!(
            problems[0].problem.contains("when `auth required pam_unix.so` fails (a wrong password)"),
            "{problems:?}"
        );
        assert!(problems[0].fix.contains("auth requisite pam_unix.so"), "{problems:?}");
        // optional, or no password module at all.
        assert!(check_stack(SSHD, "auth optional pam_unix.so\nauth required pam_permit.so\n", &[]).is_err());
        let none = shown(check_stack(SSHD, "auth required pam_permit.so\n", &[]));
        assert_eq!(none.len(), 1, "{none:?}");
        assert!(none[0].starts_with("/etc/pam.d/sshd:4 no password check"), "{none:?}");
        // A jump on success that lands on pam_permit rather than past pam_deny.
        let wrong_jump = "auth [success=2 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth required pam_permit.so\nauth required pam_env.so\n";
        assert!(check_stack(SSHD, wrong_jump, &[]).is_ok(), "success skips to pam_env, failure dies");
        let wrong_default =
            "auth [success=1 default=ignore] pam_unix.so\nauth required pam_deny.so\nauth required pam_permit.so\n";
        assert!(check_stack(SSHD, wrong_default, &[]).is_err(), "required pam_deny does not stop the stack");
    }

    #[test]
    fn rhel_substack_is_refused_because_its_failure_does_not_stop() {
        let sshd = "#%PAM-1.0\nauth       substack     password-auth\nauth       include      postlogin\n@include common-auth\naccount    required     pam_nologin.so\n";
        let password_auth = "auth        required      pam_env.so\nauth        required      pam_faildelay.so delay=2000000\nauth        [default=1 ignore=ignore success=ok] pam_usertype.so isregular\nauth        [default=1 ignore=ignore success=ok] pam_localuser.so\nauth        sufficient    pam_unix.so nullok\nauth        [default=1 ignore=ignore success=ok] pam_usertype.so isregular\nauth        sufficient    pam_sss.so forward_pass\nauth        required      pam_deny.so\n";
        let found = shown(check_stack(
            sshd,
            "",
            &[("etc/pam.d/password-auth", password_auth), ("etc/pam.d/postlogin", "auth optional pam_permit.so\n")],
        ));
        assert!(
            found.iter().any(|p| p.contains("/etc/pam.d/password-auth:") && p.contains("a wrong password")),
            "{found:?}"
        );
        // `sufficient` inside a substack ends only the substack: not reported as a way past.
        assert!(!found.iter().any(|p| p.contains("end the login with success")), "{found:?}");
    }

    #[test]
    fn includes_are_followed_with_their_types() {
        // A `sufficient` hidden two includes deep, behind an `include` of auth lines only.
        let ca = "auth include local-auth\nauth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth required pam_permit.so\n";
        let found = shown(check_stack(
            SSHD,
            ca,
            &[
                ("etc/pam.d/local-auth", "account required pam_permit.so\n@include site-auth\n"),
                ("etc/pam.d/site-auth", "auth sufficient pam_permit.so\n"),
            ],
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("/etc/pam.d/site-auth:1 "), "{found:?}");
        // /usr/lib/pam.d, where libpam looks after /etc/pam.d.
        let vendor = shown(check_stack(
            SSHD,
            "@include vendor-auth\n",
            &[("usr/lib/pam.d/vendor-auth", "auth sufficient pam_permit.so\n")],
        ));
        assert!(vendor.iter().any(|p| p.starts_with("/usr/lib/pam.d/vendor-auth:1 ")), "{vendor:?}");
    }

    #[test]
    fn include_loops_missing_files_and_unknown_lines_are_refused() {
        let looped = shown(check_stack(
            SSHD,
            "auth include loop-a\n",
            &[("etc/pam.d/loop-a", "auth include loop-b\n"), ("etc/pam.d/loop-b", "@include loop-a\n")],
        ));
        assert!(
            looped.iter().any(|p| p.starts_with("/etc/pam.d/loop-b:1 ") && p.contains("include loop")),
            "{looped:?}"
        );
        let selfloop = shown(check_stack(SSHD, "@include common-auth\n", &[]));
        assert!(selfloop[0].contains("includes itself"), "{selfloop:?}");

        // A missing file fails closed in libpam: a stack that holds nothing else has no password check.
        let missing = shown(check_stack(SSHD, "auth substack nowhere\nauth required pam_permit.so\n", &[]));
        assert!(missing[0].contains("no password check"), "{missing:?}");
        assert_eq!(check_stack(SSHD, &format!("auth include nowhere\n{DEBIAN_COMMON_AUTH}"), &[]), Ok(()));
        assert!(!shown(check_stack(SSHD, "@include ../../etc/shadow\n", &[])).is_empty());

        for bad in [
            "auth [success=1 defualt=ignore] pam_unix.so\n",
            "auth maybe pam_unix.so\n",
            "auht required pam_unix.so\n",
            "auth required\n",
            "auth [success=0] pam_unix.so\n",
        ] {
            let found = shown(check_stack(SSHD, bad, &[]));
            assert!(found.iter().any(|p| p.contains("cannot tell what")), "{bad}: {found:?}");
        }
    }

    #[test]
    fn lines_after_ours_that_reset_a_refusal_are_refused() {
        let sshd = SSHD.replace(
            "@include common-auth\n",
            "@include common-auth\nauth [default=reset] pam_permit.so\nauth required pam_permit.so\n",
        );
        let found = shown(check_stack(&sshd, DEBIAN_COMMON_AUTH, &[]));
        assert!(found.iter().any(|p| p.starts_with("/etc/pam.d/sshd:5 ") && p.contains("reset")), "{found:?}");
    }

    /// Password modules other than pam_unix can return PAM_IGNORE (pam_krb5 below `minimum_uid`,
    /// pam_sss for users it does not know), which `requisite` lets through to our line.
    #[test]
    fn password_modules_that_may_ignore_are_not_trusted_alone() {
        for module in [
            "pam_krb5.so minimum_uid=1000",
            "pam_krb5.so",
            "pam_sss.so",
            "pam_sss.so ignore_unknown_user",
            "pam_winbind.so",
            "pam_ldap.so",
            "pam_systemd_home.so",
        ] {
            let found = shown(check_stack(SSHD, &format!("auth requisite {module}\n"), &[]));
            assert!(
                found
                    .iter()
                    .any(|p| p.starts_with("/etc/pam.d/common-auth:1 ") && p.contains("goes on to HostGuard's module")),
                "{module}: {found:?}"
            );
        }
        // pam_unix only when an option could make it ignore.
        assert!(check_stack(SSHD, "auth requisite pam_unix.so ignore_x\n", &[]).is_err());
        // Each of them is fine where an ignore falls through to pam_deny.
        let krb5 = "auth [success=2 default=ignore] pam_krb5.so minimum_uid=1000\nauth [success=1 default=ignore] pam_unix.so nullok try_first_pass\nauth requisite pam_deny.so\nauth required pam_permit.so\n";
        assert_eq!(check_stack(SSHD, krb5, &[]), Ok(()));
    }

    /// Stacks libpam 1.5.2 reads differently from a simple line reader (each let pamtester log
    /// in past the check): every line with a backslash, CR, control or non-ASCII byte, or over
    /// 1000 bytes, is refused with its file and line.
    #[test]
    fn lines_libpam_may_assemble_differently_are_refused() {
        let cases: [(&str, u32); 8] = [
            ("auth required pam_env.so \\# note\nauth sufficient pam_permit.so\n", 1),
            ("auth required pam_env.so \\\r\nauth sufficient pam_permit.so\r\n", 1),
            ("auth [success=1 default=ignore] pam_unix.so nullok \\\n# note\nauth requisite pam_deny.so\nauth required pam_permit.so\n", 1),
            ("auth required pam_env.so\r\n", 1),
            ("auth required pam_env.so\x0bsufficient pam_permit.so\n", 1),
            ("auth required pam_env.so\nauth\u{a0}sufficient pam_permit.so\n", 2),
            ("auth required pam_env.so\n# \u{e9}t\u{e9}\n", 2),
            ("auth required pam_env.so\0\n", 1),
        ];
        for (ca, line) in cases {
            let stack = format!("{ca}{DEBIAN_COMMON_AUTH}");
            let found = shown(check_stack(SSHD, &stack, &[]));
            assert!(
                found.iter().any(|p| p.starts_with(&format!("/etc/pam.d/common-auth:{line} the line "))),
                "{ca:?}: {found:?}"
            );
        }
        // A line past 1023 bytes: libpam reads its tail as a new line.
        let long =
            format!("auth required pam_env.so {}sufficient pam_permit.so\n{DEBIAN_COMMON_AUTH}", " ".repeat(1000));
        let found = shown(check_stack(SSHD, &long, &[]));
        assert!(found[0].starts_with("/etc/pam.d/common-auth:1 the line is longer than 1000 bytes"), "{found:?}");
        let fine = format!("auth required pam_env.so {}\n{DEBIAN_COMMON_AUTH}", " ".repeat(970));
        assert_eq!(check_stack(SSHD, &fine, &[]), Ok(()));
        // In the top file too, and the refusal names the fix.
        let sshd = SSHD.replace(
            "@include common-auth\n",
            "auth required pam_env.so \\# x\nauth sufficient pam_permit.so\n@include common-auth\n",
        );
        let err = check_stack(&sshd, DEBIAN_COMMON_AUTH, &[]).unwrap_err();
        assert_eq!((err[0].file.as_str(), err[0].line), ("/etc/pam.d/sshd", 3));
        assert!(refusal(&err).contains("without backslashes"), "{}", refusal(&err));
    }

    /// With `--root`, includes and symlinks are read as libpam chrooted at the root would read
    /// them: an absolute link starts again at the root, `..` in a link stops there.
    #[test]
    fn symlinks_never_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("common-auth"), DEBIAN_COMMON_AUTH).unwrap();
        let out = outside.path().display().to_string();
        for target in [out.clone(), format!("{}{}", "../".repeat(12), out.trim_start_matches('/'))] {
            let dir = root_with(&[
                ("etc/pam.d/sshd", SSHD),
                (&format!("{}/common-auth", out.trim_start_matches('/')), "auth sufficient pam_permit.so\n"),
            ]);
            std::os::unix::fs::symlink(&target, dir.path().join("etc/pam.d/sshd-site")).unwrap();
            std::os::unix::fs::symlink("sshd-site/common-auth", dir.path().join("etc/pam.d/common-auth")).unwrap();
            let found = shown(check(dir.path()));
            assert!(found.iter().any(|p| p.contains("`auth sufficient pam_permit.so`")), "{target}: {found:?}");
            let files = stack_files(dir.path());
            assert!(files.iter().all(|f| f.starts_with(dir.path())), "{files:?}");
            assert!(files.contains(&dir.path().join(out.trim_start_matches('/')).join("common-auth")), "{files:?}");
        }
        let dir = root_with(&[("etc/pam.d/sshd", SSHD)]);
        std::os::unix::fs::symlink("common-auth", dir.path().join("etc/pam.d/common-auth")).unwrap();
        assert!(check(dir.path()).is_err(), "a link loop is refused");
    }

    #[test]
    fn tokens_comments_and_continuations_are_read_like_libpam() {
        assert_eq!(
            tokens("auth [success=1 default=ignore]  pam_unix.so nullok"),
            ["auth", "[success=1 default=ignore]", "pam_unix.so", "nullok"]
        );
        // Only space and tab split words, as in libpam.
        assert_eq!(tokens("auth\trequired\u{a0}pam_env.so\x0cx"), ["auth", "required\u{a0}pam_env.so\x0cx"]);
        let lines = logical_lines("# c\nauth \\\n  sufficient pam_permit.so # tail\n\n-auth optional pam_x.so\n");
        assert_eq!(lines.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2, 5]);
        let cont = SSHD.replace("@include common-auth\n", "auth \\\n sufficient pam_permit.so\n@include common-auth\n");
        let found = shown(check_stack(&cont, DEBIAN_COMMON_AUTH, &[]));
        assert!(found[0].starts_with("/etc/pam.d/sshd:3 "), "{found:?}");
    }

    #[test]
    fn the_check_runs_on_the_stack_with_our_line_and_without_an_anchor_refuses() {
        let dir = root_with(&[("etc/pam.d/sshd", "auth required pam_unix.so\n")]);
        let found = check(dir.path()).unwrap_err();
        assert_eq!((found[0].file.as_str(), found[0].line), ("/etc/pam.d/sshd", 0));
        assert!(found[0].problem.contains("no `@include common-auth` line"), "{found:?}");
        // With our line already in, the same answer as without.
        let with = pam_with_hostguard(SSHD).unwrap();
        assert!(with.contains(PAM_LINE));
        assert_eq!(check_stack(&with, DEBIAN_COMMON_AUTH, &[]), Ok(()));
        let f = facts(root_with(&[]).path());
        assert_eq!(f.problems.len(), 1);
        assert!(f.problems[0].problem.contains("cannot be read"), "{f:?}");
    }

    #[test]
    fn a_refusal_fits_what_the_console_takes() {
        let p = Problem { file: "/etc/pam.d/é".repeat(200), line: 1, problem: "ü".repeat(2000), fix: "x".into() };
        let text = refusal(&[p.clone(), p.clone(), p.clone(), p]);
        assert!(text.len() <= 3800 && text.starts_with("sshd's PAM stack is not safe"), "{}", text.len());
    }

    #[test]
    fn an_include_fan_out_is_refused_quickly() {
        // Found by the fuzz corpus (fuzz/corpus/pam_stack/include-fanout-shallow): each file
        // includes the next four times, 4^11 reads in all, none of them an auth line.
        let mut files: Vec<(String, String)> =
            (1..12).map(|i| (format!("etc/pam.d/a{i}"), format!("@include a{}\n", i + 1).repeat(4))).collect();
        files.push(("etc/pam.d/a12".into(), "account required pam_env.so\n".into()));
        files.push(("etc/pam.d/common-auth".into(), format!("@include a1\n{DEBIAN_COMMON_AUTH}")));
        files.push(("etc/pam.d/sshd".into(), SSHD.into()));
        let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let dir = root_with(&files);
        let started = std::time::Instant::now();
        let found = shown(check(dir.path()));
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("includes more than 256 files"), "{found:?}");
    }

    #[test]
    fn facts_cap_texts_and_count() {
        let long = "x".repeat(3000);
        assert_eq!(shorten(&long).chars().count(), MAX_TEXT);
        assert!(shorten(&long).ends_with('…'));
        let many: String = (0..40).map(|i| format!("auth weird{i} pam_x.so\n")).collect();
        let dir = root_with(&[("etc/pam.d/sshd", SSHD), ("etc/pam.d/common-auth", &many)]);
        let f = facts(dir.path());
        assert_eq!(f.problems.len(), MAX_PROBLEMS);
    }
}
