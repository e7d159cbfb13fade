//! A person's browser, in code, for `forgelink demo --walkthrough` and the page tests: it signs
//! in with a one-time login link, keeps the cookies our server sets (the session, and any other)
//! and sends them back only to our server, drops a cookie the server clears,
//! follows redirects as a browser does (a 303 after a form becomes a GET, even to the provider's
//! pages), and reads forms out of the HTML it gets back.

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use url::Url;

/// Most redirects one request follows, as browsers cap them.
const MAX_REDIRECTS: usize = 10;

/// Why a visit failed.
#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    #[error("{url}: {detail}")]
    Http { url: String, detail: String },
    #[error("{0}: more than 10 redirects")]
    TooManyRedirects(String),
    #[error("the login link set no session cookie (answer {0})")]
    NoSession(u16),
    #[error("not a URL: {0}")]
    BadUrl(String),
}

/// A page as the browser ends up on it.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the last redirect led.
    pub url: Url,
    pub status: StatusCode,
    pub body: String,
}

impl Page {
    /// A form's `action`, resolved against this page's URL.
    pub fn resolve(&self, href: &str) -> Result<Url, VisitError> {
        self.url
            .join(href)
            .map_err(|_| VisitError::BadUrl(href.to_string()))
    }
}

/// The browser.
pub struct Visitor {
    http: reqwest::Client,
    origin: Url,
    /// Our server's cookies, name -> value.
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

fn http_error(url: &Url, e: impl std::fmt::Display) -> VisitError {
    VisitError::Http {
        url: url.to_string(),
        detail: e.to_string(),
    }
}

impl Visitor {
    /// A browser for the server at `base_url` (`http://127.0.0.1:PORT`), not signed in yet.
    pub fn new(base_url: &str) -> Result<Visitor, VisitError> {
        let origin = Url::parse(base_url).map_err(|_| VisitError::BadUrl(base_url.to_string()))?;
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| http_error(&origin, e))?;
        Ok(Visitor {
            http,
            origin,
            cookies: Default::default(),
        })
    }

    /// Opens the one-time login link and keeps the session cookie it sets.
    pub async fn sign_in(&mut self, login_link: &str) -> Result<(), VisitError> {
        let url = Url::parse(login_link).map_err(|_| VisitError::BadUrl("the login link".into()))?;
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| http_error(&url, e))?;
        self.keep_cookies(&url, &resp);
        if self.session().is_some() {
            Ok(())
        } else {
            Err(VisitError::NoSession(resp.status().as_u16()))
        }
    }

    /// The session cookie's value, when signed in.
    pub fn session(&self) -> Option<String> {
        let jar = self.cookies.lock().ok()?;
        jar.iter()
            .find(|(k, _)| k.ends_with(super::super::auth::SESSION_COOKIE))
            .map(|(_, v)| v.clone())
    }

    /// Forgets every cookie, like a fresh browser.
    pub fn sign_out(&mut self) {
        if let Ok(mut jar) = self.cookies.lock() {
            jar.clear();
        }
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.origin.origin()
    }

    /// Keeps what our server sets (`Max-Age=0` or an empty value removes the cookie).
    fn keep_cookies(&self, url: &Url, resp: &reqwest::Response) {
        if !self.same_origin(url) {
            return;
        }
        let Ok(mut jar) = self.cookies.lock() else { return };
        for v in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            let removed = value.is_empty() || parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if removed {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn request(&self, method: reqwest::Method, url: &Url) -> reqwest::RequestBuilder {
        // As a browser's navigation asks: a refusal then comes as a page, not a problem.
        let mut req = self.http.request(method, url.clone()).header(
            reqwest::header::ACCEPT,
            "text/html,application/xhtml+xml,*/*;q=0.8",
        );
        if self.same_origin(url) {
            let header = self
                .cookies
                .lock()
                .map(|jar| {
                    jar.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            if !header.is_empty() {
                req = req.header(reqwest::header::COOKIE, header);
            }
        }
        req
    }

    /// `GET url` (absolute, or a path on our server), following redirects.
    pub async fn get(&self, url: &str) -> Result<Page, VisitError> {
        let url = self
            .origin
            .join(url)
            .map_err(|_| VisitError::BadUrl(url.to_string()))?;
        let resp = self
            .request(reqwest::Method::GET, &url)
            .send()
            .await
            .map_err(|e| http_error(&url, e))?;
        self.follow(url, resp).await
    }

    /// Submits a form (`application/x-www-form-urlencoded`) to `url`, following redirects.
    pub async fn submit(&self, url: &Url, fields: &[(String, String)]) -> Result<Page, VisitError> {
        let resp = self
            .request(reqwest::Method::POST, url)
            .form(fields)
            .send()
            .await
            .map_err(|e| http_error(url, e))?;
        self.follow(url.clone(), resp).await
    }

    /// Submits a form without following where it leads: the answer as it came.
    pub async fn submit_once(
        &self,
        url: &Url,
        fields: &[(String, String)],
    ) -> Result<reqwest::Response, VisitError> {
        let resp = self
            .request(reqwest::Method::POST, url)
            .form(fields)
            .send()
            .await
            .map_err(|e| http_error(url, e))?;
        self.keep_cookies(url, &resp);
        Ok(resp)
    }

    async fn follow(&self, mut url: Url, mut resp: reqwest::Response) -> Result<Page, VisitError> {
        for _ in 0..MAX_REDIRECTS {
            self.keep_cookies(&url, &resp);
            if !resp.status().is_redirection() {
                let status = resp.status();
                let body = resp.text().await.map_err(|e| http_error(&url, e))?;
                return Ok(Page { url, status, body });
            }
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| http_error(&url, "a redirect without a Location"))?;
            url = url
                .join(location)
                .map_err(|_| VisitError::BadUrl(location.to_string()))?;
            resp = self
                .request(reqwest::Method::GET, &url)
                .send()
                .await
                .map_err(|e| http_error(&url, e))?;
        }
        Err(VisitError::TooManyRedirects(url.to_string()))
    }
}

/// The `name`/`value` of every `<input type="hidden">` in `html`, in order.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    tags(html, "input")
        .filter(|attrs| attr(attrs, "type").as_deref() == Some("hidden"))
        .filter_map(|attrs| Some((attr(attrs, "name")?, attr(attrs, "value").unwrap_or_default())))
        .collect()
}

/// The `action` of the first `<form>` in `html`.
pub fn form_action(html: &str) -> Option<String> {
    tags(html, "form").find_map(|attrs| attr(attrs, "action"))
}

/// The values of the `<option>`s of the `<select>` with this `id`, in order.
pub fn select_options(html: &str, id: &str) -> Vec<String> {
    let start = html.match_indices("<select").map(|(i, _)| i).find(|&i| {
        let rest = &html[i + "<select".len()..];
        let end = rest.find('>').unwrap_or(rest.len());
        attr(&rest[..end], "id").as_deref() == Some(id)
    });
    let Some(start) = start else {
        return vec![];
    };
    let rest = &html[start..];
    let end = rest.find("</select>").unwrap_or(rest.len());
    tags(&rest[..end], "option")
        .filter_map(|attrs| attr(attrs, "value"))
        .collect()
}

/// The attribute text of every `<name ...>` tag.
fn tags<'h>(html: &'h str, name: &str) -> impl Iterator<Item = &'h str> {
    let open = format!("<{name}");
    let mut found = Vec::new();
    for (i, _) in html.match_indices(&open) {
        let rest = &html[i + open.len()..];
        // `<input` must not match `<inputx`.
        let whole = rest
            .chars()
            .next()
            .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/');
        if let (true, Some(end)) = (whole, rest.find('>')) {
            found.push(&rest[..end]);
        }
    }
    found.into_iter()
}

/// The value of `name="..."` in a tag's attribute text, unescaped.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut from = 0;
    while let Some(i) = attrs[from..].find(&needle) {
        let at = from + i;
        // A whole attribute name: preceded by whitespace.
        if at == 0 || attrs[..at].ends_with(char::is_whitespace) {
            let rest = &attrs[at + needle.len()..];
            let end = rest.find('"')?;
            return Some(unescape(&rest[..end]));
        }
        from = at + needle.len();
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_read_as_a_browser_would_submit_them() {
        let html = r#"<form method="post" action="/oauth/authorize">
            <input type="hidden" name="state" value="a&amp;b">
            <input type="text" name="name" value="x">
            <input type="hidden" name="data-name" value="no">
            <select id="group_id" name="group_id"><option value="7">acme</option><option value="9" selected>b</option></select>"#;
        assert_eq!(form_action(html).as_deref(), Some("/oauth/authorize"));
        assert_eq!(
            hidden_inputs(html),
            vec![("state".into(), "a&b".into()), ("data-name".into(), "no".into())]
        );
        assert_eq!(select_options(html, "group_id"), vec!["7", "9"]);
        assert!(select_options(html, "workspace").is_empty());
    }
}
