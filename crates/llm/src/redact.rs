//! Credentials in URLs, hidden before a URL is printed anywhere (a log line, an error, `check`).
//!
//! A URL may carry a secret in its user info (`https://user:pass@host`, `https://token@host`)
//! or in its query (`?password=…`, `?sslpassword=…`, `?api_key=…`, `?access_token=…`). Both
//! are replaced by [`REDACTED`]; the rest of the URL stays readable for the operator.

/// What a hidden credential prints as.
pub const REDACTED: &str = "[redacted]";

/// Words that make a query parameter secret when its name contains one (case-insensitive).
const SECRET_WORDS: [&str; 4] = ["password", "token", "secret", "key"];

/// Whether a query parameter named `name` holds a secret.
pub fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| lower.contains(word))
}

/// `url` with its credentials replaced by `[redacted]`: the password (or a user name given
/// without one, which is then the token) and the value of every secret query parameter.
/// Text that is not a URL is returned as it is.
pub fn redact_url(url: &str) -> String {
    redact_urls_in(url)
}

/// `text` with the credentials of every URL in it (`scheme://…`) redacted, and the value of
/// every secret `?key=` / `&key=` query parameter anywhere in it.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // User info: `scheme://USERINFO@host` — the authority ends at the first '/', '?', '#' or
    // a character that cannot be in a URL.
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let after = &rest[authority_start..];
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || !is_url_char(c))
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(sign) => {
                let userinfo = &authority[..sign];
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(REDACTED);
                    }
                    None => out.push_str(REDACTED),
                }
                out.push_str(&authority[sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    redact_secret_params(&out)
}

/// `text` with every URL (`scheme://…`) in it replaced by `<url>`: for messages that reach
/// people who must not learn a server's address.
pub fn without_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        out.push_str(&rest[..scheme_start]);
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>'))
            .unwrap_or(after.len());
        out.push_str("<url>");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Characters that may appear in a URL's authority as people write it.
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'*+,;=:@[]".contains(c)
}

/// Replaces the value of every `?name=value` / `&name=value` whose name is secret.
fn redact_secret_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find(['?', '&']) {
        out.push_str(&rest[..=sep]);
        rest = &rest[sep + 1..];
        let name_len = rest
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.is_empty() || !rest[name_len..].starts_with('=') || !is_secret_param(name) {
            continue;
        }
        let value = &rest[name_len + 1..];
        let value_len = value
            .find(|ch: char| {
                matches!(ch, '&' | '#' | '"' | '\'' | ')' | '>' | ',' | ';') || ch.is_whitespace()
            })
            .unwrap_or(value.len());
        out.push_str(name);
        out.push('=');
        if value_len > 0 {
            out.push_str(REDACTED);
        }
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

/// `error` and its causes on one line (`error: cause: its cause`), with the credentials of every
/// URL in them redacted: for a message that may quote a database driver's or a server's URL.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    redact_urls_in(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_and_secret_parameters_are_hidden() {
        assert_eq!(
            redact_url("postgres://bot:hunter2@db:5432/mcpcord?sslmode=require&sslpassword=pw9"),
            "postgres://bot:[redacted]@db:5432/mcpcord?sslmode=require&sslpassword=[redacted]"
        );
        assert_eq!(
            redact_url("https://ghp_abcdef@example.com/v1"),
            "https://[redacted]@example.com/v1"
        );
        assert_eq!(
            redact_url("http://gpu:8080/v1?api_key=k1&x=1&Access_Token=t2#f"),
            "http://gpu:8080/v1?api_key=[redacted]&x=1&Access_Token=[redacted]#f"
        );
        assert_eq!(
            redact_url("sqlite://mcpcord.sqlite?mode=rwc"),
            "sqlite://mcpcord.sqlite?mode=rwc"
        );
        assert_eq!(
            redact_url("postgres://h/db?password=p%40ss"),
            "postgres://h/db?password=[redacted]"
        );
    }

    #[test]
    fn urls_inside_text_are_found() {
        let text = "error sending request for url (http://u:s3cret@10.0.0.2:11434/api/chat): refused; 25 tokens=3 ✓";
        let clean = redact_urls_in(text);
        assert!(!clean.contains("s3cret"), "{clean}");
        assert!(
            clean.contains("http://u:[redacted]@10.0.0.2:11434/api/chat)"),
            "{clean}"
        );
        assert!(
            clean.ends_with("tokens=3 ✓"),
            "ordinary fields stay: {clean}"
        );
        assert_eq!(
            without_urls("error sending request for url (http://u:p@h:1/x): refused"),
            "error sending request for url (<url>): refused"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the stored login")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_chain_is_one_line_without_credentials() {
        let error = Outer(std::io::Error::other(
            "cannot reach postgres://bot:hunter2@db:5432/mcpcord",
        ));
        assert_eq!(
            error_chain(&error),
            "cannot read the stored login: cannot reach postgres://bot:[redacted]@db:5432/mcpcord"
        );
    }
}
