//! Returning to the page asked for after signing in: the sign-in address that remembers it
//! (`/login?next=…`), and the check that only a path on this site is ever followed — never
//! another host, however it is spelled or encoded (no open redirect).

/// The sign-in page's address, remembering `next` (the page to return to) when it is local.
pub(crate) fn sign_in_for(next: Option<&str>) -> String {
    match next.and_then(local_path) {
        Some(next) => format!(
            "/login?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish()
        ),
        None => "/login".to_owned(),
    }
}

/// `path` when it is a path on this site and nothing else: it starts with one `/`, and has no
/// backslash, no encoded slash or backslash, no space or control character and nothing beyond
/// printable ASCII — browsers read `//host`, `/\host` and `/\t/host` as another site.
pub(crate) fn local_path(path: &str) -> Option<&str> {
    let lower = path.to_ascii_lowercase();
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !["%2f", "%5c", "%09", "%0a", "%0d"]
            .iter()
            .any(|encoded| lower.contains(encoded));
    local.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_pages_are_remembered() {
        assert_eq!(
            sign_in_for(Some("/my/policies?group=possible&q=%E7%A0%94")),
            "/login?next=%2Fmy%2Fpolicies%3Fgroup%3Dpossible%26q%3D%25E7%25A0%2594"
        );
        assert_eq!(local_path("/inbox/7"), Some("/inbox/7"));
        assert_eq!(local_path("/"), Some("/"));
        assert_eq!(sign_in_for(None), "/login");
    }

    #[test]
    fn other_sites_are_never_followed() {
        for attack in [
            "//evil.example",
            "///evil.example",
            "http://evil.example",
            "https://evil.example/inbox",
            "evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\tevil.example",
            "/\t/evil.example",
            "/ /evil.example",
            "/%2Fevil.example",
            "/%2fevil.example",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/%0d%0aLocation: http://evil.example",
            "/\r\nSet-Cookie: x=1",
            "javascript:alert(1)",
            "/政策",
            "",
        ] {
            assert_eq!(local_path(attack), None, "{attack:?}");
            assert_eq!(sign_in_for(Some(attack)), "/login", "{attack:?}");
        }
    }
}
