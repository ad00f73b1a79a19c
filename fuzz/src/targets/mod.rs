//! One target per input HostGuard takes from a host or the network.

pub mod bodies;
pub mod files;
pub mod hss;
pub mod socket;
pub mod tree;

use crate::engine::Target;

const SSHD_DICT: &[&str] = &[
    "Include ", "Match ", "Match all\n", "Match User root\n", "UsePAM yes\n", "UsePAM no\n",
    "KbdInteractiveAuthentication yes\n", "ChallengeResponseAuthentication no\n", "AuthenticationMethods ",
    "PermitEmptyPasswords yes\n", "/etc/ssh/sshd_config.d/*.conf", "sshd_config.d/*.conf", "sshd_config", "*", "?",
    "[a-z]", "[!0-9]", "[]", "\"", "=", "#", "\n@@@ etc/ssh/sshd_config.d/10-a.conf\n",
    "\n@@@ etc/ssh/sshd_config.d/50-hostguard.conf\n", "\n@@@ etc/ssh/inc\n", "\n@@@> etc/ssh/loop sshd_config\n",
    "\n@@@> etc/ssh/sshd_config.d/link.conf /etc/ssh/sshd_config\n", "\n@@@> etc/ssh/up ../../..\n",
    "Include sshd_config sshd_config\n", "Include /etc/ssh/sshd_config.d/*.conf\n",
];

const PAM_DICT: &[&str] = &[
    "@include ", "auth ", "account ", "password ", "session ", "-auth ", "required ", "requisite ", "sufficient ",
    "optional ", "include ", "substack ", "[success=1 default=ignore]", "[default=die]", "[success=ok new_authtok_reqd=ok ignore=ignore default=bad]",
    "[", "]", "=", "pam_unix.so ", "pam_deny.so", "pam_permit.so", "pam_hostguard.so", "nullok", "try_first_pass",
    "# hostguard", "\\\n", "\r", "common-auth", "/etc/pam.d/common-auth", "\n@@@ etc/pam.d/common-auth\n",
    "\n@@@ usr/lib/pam.d/other\n", "\n@@@> etc/pam.d/loop sshd\n", "\n@@@> etc/pam.d/common-auth /etc/pam.d/sshd\n",
    "\n@@@ etc/pam.d/a\n", "@include a\n", "auth include a\n", "auth substack a\n",
];

const JSON_DICT: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "null", "true", "false", "\\u0000", "\\ud800", "\\\"", "1e400", "-0",
    "\"hostname\":", "\"ips\":", "\"os_type\":\"linux\"", "\"facts\":", "\"install_token\":", "\"revision\":",
    "\"enabled\":", "\"method\":\"code\"", "\"method\":\"sms\"", "\"server_id\":\"00000000-0000-0000-0000-000000000000\"",
    "\"ok\":", "\"error\":", "\"accepted\":", "\"error_code\":", "\"error_msg\":", "\"agent_version\":",
    "\"applied_revision\":", "\"account\":", "\"source_ip\":", "\"service\":\"sshd\"", "\"tty\":", "\"uid\":",
    "\"timeout_secs\":", "\"answer\":", "\"login_id\":", "\"step\":", "\"info\":", "\"action\":",
    "{\"type\":\"prompt\",\"text\":\"Code: \",\"echo\":false}", "{\"type\":\"choice\",\"text\":\"\",\"options\":[\"a\"]}",
    "{\"type\":\"allow\"}", "{\"type\":\"deny\",\"message\":\"no\"}", "\"ask_again\":true", "\"fail_mode\":\"safe\"",
    "\"fail_mode\":\"secure\"", "\"exempt_accounts\":", "\"exempt_networks\":[\"0.0.0.0/1\",\"128.0.0.0/1\"]",
    "\"::/0\"", "\"10.0.0.0/8\"", "\"break_glass\":", "\"sha256\":", "\"logins\":", "\"result\":\"allowed\"",
    "\"reason\":", "\"at\":\"2026-01-01T00:00:00Z\"", "\"type\":\"start\"", "\"type\":\"answer\"",
];

const HSS_DICT: &[&str] = &[
    "SDK-HMAC-SHA256 ", "Access=", "SignedHeaders=", "Signature=", ", ", ";", "host", "x-sdk-date",
    "content-type", "20260101T000000Z", "99991231T235959Z", "00000101T000000Z", "%", "%ff", "%2F", "%", "/v2/",
    "/v5/", "&", "=", "?", "GET", "POST", "\n", ": ",
];

pub const TARGETS: &[Target] = &[
    Target { name: "sshd_config", run: files::sshd_config, dict: SSHD_DICT, max_len: 64 * 1024 },
    Target { name: "pam_stack", run: files::pam_stack, dict: PAM_DICT, max_len: 64 * 1024 },
    Target { name: "agent_api", run: bodies::agent_api, dict: JSON_DICT, max_len: 64 * 1024 },
    Target { name: "login_protocol", run: bodies::login_protocol, dict: JSON_DICT, max_len: 64 * 1024 },
    Target { name: "hss_signature", run: hss::hss_signature, dict: HSS_DICT, max_len: 16 * 1024 },
    Target { name: "pam_socket", run: socket::pam_socket, dict: JSON_DICT, max_len: 48 * 1024 },
];

pub fn by_name(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
