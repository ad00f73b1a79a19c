//! The agent API's text rules as OpenAPI schemas (the `openapi` feature): what the console checks
//! on a hostname, an address or a PAM item, written where the document can say it, so a client
//! built from the document sends nothing the console refuses. The console's checks are in
//! `domain` (`agents::limits`, `logins::limits`); the server's tests hold the two together.

use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};

/// The Unicode `White_Space` characters that are not controls. Spelled out because `\s` differs
/// between regex dialects (ECMAScript's includes U+FEFF, Rust's `trim` does not).
const SPACE_NOT_CONTROL: &str = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// What `char::is_control` matches (Unicode `Cc`).
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

/// What `str::trim` takes away (Unicode `White_Space`), as the inside of a regex class.
fn space() -> String {
    format!(r"\t-\r\u0085{SPACE_NOT_CONTROL}")
}

fn text(max: Option<usize>, pattern: String, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).max_length(max).pattern(Some(pattern)).description(Some(description))
}

/// 1 to 64 letters, digits, `-`, `_` or `.`; whitespace around it is trimmed and not counted.
pub fn hostname() -> ObjectBuilder {
    let space = space();
    text(
        None,
        format!("^[{space}]*[A-Za-z0-9._-]{{1,64}}[{space}]*$"),
        "1 to 64 letters, digits, `-`, `_` or `.`; whitespace around it is ignored.",
    )
}

/// At most 32 IPv4 or IPv6 addresses.
pub fn ips() -> ArrayBuilder {
    let ip =
        |format: &str| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::Custom(format.into())));
    ArrayBuilder::new()
        .items(AnyOfBuilder::new().item(ip("ipv4")).item(ip("ipv6")))
        .max_items(Some(32))
        .description(Some("At most 32 IPv4 or IPv6 addresses."))
}

/// A list of names kept joined by commas: each has something besides whitespace, and no comma.
fn names(count: usize, max: usize, what: &str) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            text(Some(max), format!("^[^,]*[^,{}][^,]*$", space()), &format!("1 to {max} characters, no comma"))
                .min_length(Some(1)),
        )
        .max_items(Some(count))
        .description(Some(format!("At most {count} {what} of 1 to {max} characters, without commas.")))
}

pub fn conflicting_software() -> ArrayBuilder {
    names(32, 128, "names")
}

pub fn must_change_password_accounts() -> ArrayBuilder {
    names(256, 64, "account names")
}

/// A PAM item the login needs: not only whitespace, and one line (no control characters).
fn pam_required(max: usize, description: &str) -> ObjectBuilder {
    let visible = format!("[^{CONTROL}{SPACE_NOT_CONTROL}]");
    text(Some(max), format!("^[^{CONTROL}]*{visible}[^{CONTROL}]*$"), description).min_length(Some(1))
}

/// A PAM item that may be empty, but is one line.
fn pam_optional(max: usize, description: &str) -> ObjectBuilder {
    text(Some(max), format!("^[^{CONTROL}]*$"), description)
}

pub fn account() -> ObjectBuilder {
    pam_required(64, "The account being logged in to (PAM_USER), e.g. `root`; 1 to 64 characters, not only whitespace, no control characters.")
}

pub fn service() -> ObjectBuilder {
    pam_required(64, "The PAM service, e.g. `sshd`; 1 to 64 characters, not only whitespace, no control characters.")
}

pub fn source_ip() -> ObjectBuilder {
    pam_optional(255, "The address the login comes from (PAM_RHOST); empty for a local login. At most 255 characters, no control characters.")
}

pub fn tty() -> ObjectBuilder {
    pam_optional(64, "The terminal (PAM_TTY), e.g. `ssh`; may be empty. At most 64 characters, no control characters.")
}

/// [`crate::login::LoginStart::timeout_secs`], a `u64`: written out, as OpenAPI's `int64` format
/// stops at 2^63 - 1 (which is why it cannot carry the field's own comment).
pub fn timeout_secs() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .minimum(Some(0usize))
        .maximum(Some(usize::try_from(u64::MAX).unwrap_or(usize::MAX)))
        .description(Some(
            "The whole seconds the module will still wait for this login (its deadline, less the time already spent). \
             Absent from older modules.",
        ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_visible_class_leaves_out_spaces_and_controls() {
        let p = super::account().build().pattern.unwrap();
        assert_eq!(
            p,
            r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
        );
    }
}
