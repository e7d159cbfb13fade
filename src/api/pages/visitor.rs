//! A person's browser, in code, for `forgelink demo --walkthrough` and the page tests: it signs
//! in with a one-time login link, keeps the session cookie (and sends it only to our server),
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
    session: Option<String>,
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
            session: None,
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
        let prefix = format!("{}=", super::super::auth::SESSION_COOKIE);
        let session = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find_map(|v| v.trim().strip_prefix(&prefix).map(str::to_string));
        match session {
            Some(s) => {
                self.session = Some(s);
                Ok(())
            }
            None => Err(VisitError::NoSession(resp.status().as_u16())),
        }
    }

    /// Forgets the session, like a fresh browser.
    pub fn sign_out(&mut self) {
        self.session = None;
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.origin.origin()
    }

    fn request(&self, method: reqwest::Method, url: &Url) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, url.clone());
        if let (true, Some(s)) = (self.same_origin(url), &self.session) {
            req = req.header(
                reqwest::header::COOKIE,
                format!("{}={s}", super::super::auth::SESSION_COOKIE),
            );
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
        self.request(reqwest::Method::POST, url)
            .form(fields)
            .send()
            .await
            .map_err(|e| http_error(url, e))
    }

    async fn follow(&self, mut url: Url, mut resp: reqwest::Response) -> Result<Page, VisitError> {
        for _ in 0..MAX_REDIRECTS {
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
