//! The readers of a host's own files: sshd_config with its `Include`s and `Match` blocks, and
//! sshd's PAM stack with its includes and substacks.

use agent::{pam_stack, sshd};
use proto::agent::limits;

use super::tree::with_tree;

/// sshd_config and the files it includes (globs, symlinks, loops), read as the agent reads them
/// for its facts and before an apply.
pub fn sshd_config(data: &[u8]) {
    with_tree(data, "etc/ssh/sshd_config", |root, head| {
        let paths = sshd::SshdPaths::new(root);
        let _ = sshd::parse_config(&paths);
        let (overrides, _more) = sshd::match_overrides(&paths);
        assert!(overrides.len() <= limits::LIST);
        if let Some(check) = sshd::drop_in_check(&paths) {
            assert!(check.earlier_settings.len() <= limits::LIST);
        }
        let text = String::from_utf8_lossy(head);
        let _ = sshd::includes_drop_in_dir(&paths, &text);
        for d in sshd::directives(&text).iter().filter(|d| d.key == "include").take(8) {
            for arg in d.args.iter().take(8) {
                let _ = sshd::glob_in(root, &paths.config_dir().join(arg));
            }
        }
    });
}

/// `/etc/pam.d/sshd` and the files it includes, checked as before an apply and for the facts.
pub fn pam_stack(data: &[u8]) {
    with_tree(data, "etc/pam.d/sshd", |root, head| {
        let facts = pam_stack::facts(root);
        assert!(facts.problems.len() <= pam_stack::MAX_PROBLEMS);
        let _ = pam_stack::stack_files(root);
        if let Ok(text) = std::str::from_utf8(head) {
            if let Err(problems) = pam_stack::check_text(root, text) {
                assert!(pam_stack::refusal(&problems).len() <= 4000);
            }
        }
    });
}
