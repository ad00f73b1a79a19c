//! Inputs that are a small file tree: the first file's text, then more files (or symlinks) each
//! after a header line. The tree is written under a fresh directory for every input, and the
//! harness never writes through a symlink, so nothing leaves that directory.
//!
//! ```text
//! <text of the first file>
//! @@@ etc/ssh/sshd_config.d/10-a.conf
//! <its text>
//! @@@> etc/ssh/loop.conf sshd_config          (a symlink and its target, written as is)
//! ```

use std::cell::RefCell;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

const MAX_FILES: usize = 24;
const MAX_DEPTH: usize = 8;

thread_local! {
    static DIR: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// Writes the tree for `data` under a fresh root, with the first file at `first`, and calls `f`
/// with the root and the first file's bytes.
pub fn with_tree(data: &[u8], first: &str, f: impl FnOnce(&Path, &[u8])) {
    let root = DIR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = tempfile::Builder::new().prefix("hostguard-fuzz").tempdir().ok();
        }
        d.as_ref().map(|t| t.path().join("root"))
    });
    let Some(root) = root else { return };
    let _ = fs::remove_dir_all(&root);
    if fs::create_dir(&root).is_err() {
        return;
    }
    let mut chunks = split(data);
    let head = chunks.remove(0).1;
    write_file(&root, Path::new(first), head);
    for (header, body) in chunks.into_iter().take(MAX_FILES) {
        if let Some(rest) = header.strip_prefix(b">") {
            let text = String::from_utf8_lossy(rest);
            let mut words = text.split_whitespace();
            if let (Some(link), Some(target)) = (words.next(), words.next()) {
                if let Some(at) = prepare(&root, Path::new(link)) {
                    let _ = std::os::unix::fs::symlink(target, at);
                }
            }
        } else {
            let name = String::from_utf8_lossy(&header).trim().to_owned();
            write_file(&root, Path::new(&name), body);
        }
    }
    f(&root, head);
}

/// `(header, body)` pairs; the first has an empty header.
fn split(data: &[u8]) -> Vec<(Vec<u8>, &[u8])> {
    let mut out = Vec::new();
    let mut header = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i <= data.len() {
        let line_start = i == 0 || data[i - 1] == b'\n';
        if i < data.len() && line_start && data[i..].starts_with(b"@@@") {
            let end = data[i..].iter().position(|&b| b == b'\n').map_or(data.len(), |p| i + p);
            out.push((std::mem::take(&mut header), &data[start..i]));
            header = data[i + 3..end].trim_ascii_start().to_vec();
            start = (end + 1).min(data.len());
            i = start;
            continue;
        }
        i += 1;
    }
    out.push((header, &data[start..]));
    out
}

/// The place for `rel` under `root`, with its directories created, or `None` when `rel` is not
/// a plain relative path, already exists, or a directory on the way is not a real directory.
fn prepare(root: &Path, rel: &Path) -> Option<PathBuf> {
    let parts: Vec<_> = rel.components().collect();
    if parts.is_empty() || parts.len() > MAX_DEPTH || !parts.iter().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut at = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(_) if i + 1 == parts.len() => return None,
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return None,
            Err(_) if i + 1 == parts.len() => {}
            Err(_) => fs::create_dir(&at).ok()?,
        }
    }
    Some(at)
}

fn write_file(root: &Path, rel: &Path, body: &[u8]) {
    if let Some(at) = prepare(root, rel) {
        // create_new never follows a symlink that appeared in the meantime.
        if let Ok(mut f) = fs::OpenOptions::new().write(true).create_new(true).open(at) {
            let _ = f.write_all(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_files() {
        let parts = split(b"a\n@@@ x/y\nb\n@@@> l t\n");
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], (vec![], &b"a\n"[..]));
        assert_eq!(parts[1], (b"x/y".to_vec(), &b"b\n"[..]));
        assert_eq!(parts[2], (b"> l t".to_vec(), &b""[..]));
    }

    #[test]
    fn stays_inside() {
        let data = b"x\n@@@> etc/out /\n@@@ etc/out/tmp/escaped\nno\n@@@ ../up\nno\n";
        with_tree(data, "etc/first", |root, head| {
            assert_eq!(head, b"x\n");
            assert!(root.join("etc/first").is_file());
            assert!(root.join("etc/out").is_symlink());
            assert!(!root.parent().unwrap().join("up").exists());
        });
        assert!(!Path::new("/tmp/escaped").exists());
    }
}
