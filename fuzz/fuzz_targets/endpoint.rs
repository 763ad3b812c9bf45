//! `Endpoint::parse` and `redact_url`: never a panic; bounded errors and redactions; an endpoint
//! writes back to text that parses to the same endpoint; and neither a redacted URL nor an
//! endpoint error ever shows the URL's user-info password, query values or fragment.
#![no_main]

use std::sync::LazyLock;

use acs_chat_fuzz::{assert_bounded, assert_hidden};
use acs_chat_protocol::{Endpoint, redact_url};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// The fixed words of every endpoint error (one input for each way to fail).
static KNOWN: LazyLock<Vec<String>> = LazyLock::new(|| {
    [
        "h",
        "ftp://h",
        "https://h?x",
        "https://u@h",
        "https://h:x",
        "https:///x",
    ]
    .iter()
    .map(|url| Endpoint::parse(url).expect_err(url).to_string())
    .collect()
});

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any text.
    Raw(String),
    /// A URL built from parts, with secrets where a URL can carry them.
    Url(Parts),
}

#[derive(Arbitrary, Debug)]
struct Parts {
    scheme: Scheme,
    user: Option<String>,
    password: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
    query: Vec<(String, String)>,
    fragment: Option<String>,
}

#[derive(Arbitrary, Debug)]
enum Scheme {
    Https,
    Http,
    Other(String),
}

/// `text` without the characters that would end its part of a URL.
fn part(text: &str, ends: &str) -> String {
    text.chars().filter(|c| !ends.contains(*c)).collect()
}

/// A secret: letters and digits only, so it never arises from the redaction's own text.
fn secret(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).collect()
}

impl Parts {
    /// The URL, the same URL without its secrets, and the secrets.
    fn build(&self) -> (String, String, Vec<String>) {
        let scheme = match &self.scheme {
            Scheme::Https => "https".to_owned(),
            Scheme::Http => "http".to_owned(),
            Scheme::Other(s) => part(s, ":/?#@"),
        };
        let mut url = format!("{scheme}://");
        let mut public = url.clone();
        let mut secrets = Vec::new();
        if self.user.is_some() || self.password.is_some() {
            let user = part(self.user.as_deref().unwrap_or_default(), ":/?#@");
            url.push_str(&user);
            public.push_str(&user);
            if let Some(password) = &self.password {
                let password = secret(password);
                url.push(':');
                url.push_str(&password);
                secrets.push(password);
            }
            url.push('@');
            public.push('@');
        }
        let mut rest = part(&self.host, "/?#@");
        if let Some(port) = self.port {
            rest.push_str(&format!(":{port}"));
        }
        let path = part(&self.path, "?#");
        if !path.is_empty() && !path.starts_with('/') {
            rest.push('/');
        }
        rest.push_str(&path);
        url.push_str(&rest);
        public.push_str(&rest);
        for (i, (name, value)) in self.query.iter().enumerate() {
            let name = part(name, "&=#");
            let value = secret(value);
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&name);
            url.push('=');
            url.push_str(&value);
            public.push_str(&name);
            secrets.push(value);
        }
        if let Some(fragment) = &self.fragment {
            let fragment = secret(fragment);
            url.push('#');
            url.push_str(&fragment);
            secrets.push(fragment);
        }
        (url, public, secrets)
    }
}

fn check_endpoint(url: &str) -> Result<Endpoint, String> {
    let shown = redact_url(url);
    assert_bounded("redact_url", &shown);
    match Endpoint::parse(url) {
        Ok(endpoint) => {
            let written = endpoint.to_string();
            assert!(!written.contains(['?', '#']), "{url:?} -> {written}");
            // The port is the one written, or the scheme's default.
            let authority = written
                .split_once("://")
                .and_then(|(_, rest)| rest.split('/').next())
                .expect("scheme://authority");
            let port = authority.strip_prefix(endpoint.host()).expect("the host");
            let default = if endpoint.is_https() { 443 } else { 80 };
            let expected = match port.strip_prefix(':') {
                None | Some("") => Some(default),
                Some(digits) => digits.parse().ok(),
            };
            assert_eq!(Some(endpoint.port()), expected, "{url:?} -> {written}");
            let again = Endpoint::parse(&written)
                .unwrap_or_else(|e| panic!("{url:?} was written as {written:?}: {e}"));
            assert_eq!(again, endpoint, "{url:?} was written as {written:?}");
            Ok(endpoint)
        }
        Err(e) => {
            let shown = e.to_string();
            assert_bounded("an endpoint error", &shown);
            Err(shown)
        }
    }
}

fuzz_target!(|input: Input| match input {
    Input::Raw(text) => drop(check_endpoint(&text)),
    Input::Url(parts) => {
        let (url, public, secrets) = parts.build();
        let shown = redact_url(&url);
        let error = check_endpoint(&url).err().unwrap_or_default();
        for secret in secrets.iter().filter(|s| !public.contains(s.as_str())) {
            assert_hidden("redact_url", &shown, secret, 8, &KNOWN);
            assert_hidden("an endpoint error", &error, secret, 8, &KNOWN);
        }
    }
});
