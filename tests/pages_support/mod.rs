//! Shared helpers of the page tests: the demo server (three sandboxes, seeded) in a temporary
//! folder, a signed-in browser-like visitor, and the person's steps: open "Link account",
//! approve on the provider's page, wait for a status, read a page's CSRF token.
#![allow(dead_code)]

use forgelink::api::demo::{self, DemoHandle, DemoOptions};
use forgelink::api::pages::visitor::{form_action, hidden_inputs, Page, Visitor};
use std::time::Duration;

pub struct Site {
    pub demo: DemoHandle,
    pub visitor: Visitor,
    _dir: tempfile::TempDir,
}

/// Starts the demo and signs a visitor in with a login link.
pub async fn start() -> Site {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let demo = demo::start(DemoOptions::new(dir.path().join("data")))
        .await
        .expect("the demo starts");
    let mut visitor = Visitor::new(&demo.base_url).expect("a visitor");
    visitor
        .sign_in(&demo.login_link())
        .await
        .expect("the login link signs in");
    Site {
        demo,
        visitor,
        _dir: dir,
    }
}

impl Site {
    /// The log's head position: tests check that a refused form appended nothing.
    pub fn head(&self) -> u64 {
        self.demo.server.engine().log().head()
    }

    /// Fills in "Link account" with `provider` and `name` and submits it; the page it leads
    /// to (the provider's approval page when it worked).
    pub async fn link(&self, provider: &str, name: &str) -> Page {
        let form = self.visitor.get("/accounts/new").await.expect("the link form");
        assert_eq!(form.status, 200, "{}", form.body);
        let mut fields = vec![("csrf".to_string(), csrf(&form))];
        fields.push(("provider".into(), provider.into()));
        fields.push(("name".into(), name.into()));
        let action = form.resolve("/accounts").expect("a URL");
        self.visitor
            .submit(&action, &fields)
            .await
            .expect("the link form posts")
    }

    /// Approves on the provider's page as the person would: GitHub installs on `acme` for all
    /// repositories; GitLab authorizes; Bitbucket grants access. Returns the page the
    /// provider sends the person back to (through our callback).
    pub async fn approve(&self, page: &Page) -> Page {
        assert_eq!(
            page.status, 200,
            "the approval page at {}: {}",
            page.url, page.body
        );
        let mut fields = hidden_inputs(&page.body);
        let path = page.url.path().to_string();
        if path.contains("/installations/new") {
            fields.push(("org".into(), demo::seed::GITHUB_ORG.into()));
            fields.push(("repository_selection".into(), "all".into()));
        } else if path == "/oauth/authorize" {
            fields.push(("decision".into(), "authorize".into()));
        } else if path == "/site/oauth2/authorize" {
            fields.push(("decision".into(), "grant".into()));
        } else {
            panic!("not a provider's approval page: {}", page.url);
        }
        let action = form_action(&page.body).expect("the approval form");
        let url = page.resolve(&action).expect("a URL");
        self.visitor
            .submit(&url, &fields)
            .await
            .expect("the approval posts")
    }

    /// Opens the account's page until it shows `status` (bounded: 20 s); the last page.
    pub async fn wait_for(&self, name: &str, status: &str) -> Page {
        let mut last = None;
        for _ in 0..200 {
            let page = self
                .visitor
                .get(&format!("/accounts/{name}"))
                .await
                .expect("the account page");
            if shown_status(&page.body).as_deref() == Some(status) {
                return page;
            }
            last = Some(page);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let page = last.expect("a page");
        panic!(
            "{name} did not become {status}; it shows {:?}:\n{}",
            shown_status(&page.body),
            page.body
        );
    }
}

/// The page's CSRF token (the hidden `csrf` field).
pub fn csrf(page: &Page) -> String {
    hidden_inputs(&page.body)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no csrf field in {}", page.body))
}

/// The status an account page shows in its Connection card.
pub fn shown_status(body: &str) -> Option<String> {
    let at = body.find("id=\"status\"")?;
    let rest = &body[at..];
    let s = rest.find("data-status=\"")? + "data-status=\"".len();
    let end = rest[s..].find('"')?;
    Some(rest[s..s + end].to_string())
}
