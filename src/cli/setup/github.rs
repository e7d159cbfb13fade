//! `forgelink setup github`: GitHub's App Manifest flow ("Registering a GitHub App from a
//! manifest"). A page on 127.0.0.1 posts the manifest (forgelink's URLs, the permissions and
//! events it needs) to `{github}/settings/apps/new` (or `/organizations/{org}/settings/apps/new`)
//! with a random `state`; the person confirms on GitHub, which sends the browser back to this
//! page with a `code`; `POST {api}/app-manifests/{code}/conversions` turns it into the app's id,
//! slug, client id and secret, webhook secret and private key. The key goes to a file of its
//! own and the rest to the `[github]` section of the config, both owner-only; no secret is
//! printed. GitHub Enterprise Server works the same with `--github-url https://HOST`.

use super::{config_file, Common};
use crate::cli::data::CliError;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use forgelink::providers::base_url;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// GitHub's web address; GitHub Enterprise Server: https://HOST.
    #[arg(long, value_name = "URL", default_value = "https://github.com")]
    pub github_url: String,
    /// GitHub's REST API [default: https://api.github.com for github.com, else URL/api/v3].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Register the app for this organization instead of your personal account.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// The app's name on GitHub (unique there).
    #[arg(long, default_value = "forgelink")]
    pub name: String,
    /// Only the owner account may install the app (default: any account may, which linking
    /// other organizations needs).
    #[arg(long)]
    pub private: bool,
    /// Where to write the app's private key [default: github-app.pem next to the config].
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Replace a [github] section the config already has (another app's settings).
    #[arg(long)]
    pub replace: bool,
    /// The local port of the set-up page (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// The permissions forgelink's GitHub calls need: create repositories in an organization
/// (Administration: write), read and write their contents (blueprints, the first commit),
/// read metadata.
fn permissions() -> Value {
    json!({"administration": "write", "contents": "write", "metadata": "read"})
}

/// The events forgelink follows besides the installation ones every app gets.
const EVENTS: [&str; 2] = ["push", "repository"];

/// Everything the page and the return need.
struct Flow {
    web: String,
    api: String,
    public_url: String,
    org: Option<String>,
    manifest: Value,
    state: String,
    config: PathBuf,
    key_file: PathBuf,
    done: Mutex<Option<oneshot::Sender<Result<String, String>>>>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let public_url = args.common.public_url()?;
    let web =
        base_url::github_web(&args.github_url).map_err(|e| CliError::Usage(format!("--github-url: {e}")))?;
    let api_raw = args.api_url.clone().unwrap_or_else(|| {
        if web == "https://github.com" {
            "https://api.github.com".into()
        } else {
            format!("{web}/api/v3")
        }
    });
    let api = base_url::github_api(&api_raw).map_err(|e| CliError::Usage(format!("--api-url: {e}")))?;
    let config = args.common.config.clone();
    if !args.replace {
        if let Some(app) = config_file::read(&config)?.get("github") {
            let id = app
                .get("app_id")
                .map_or_else(|| "?".to_string(), ToString::to_string);
            return Err(CliError::Message(format!(
                "{} already has a [github] section (app {id}); pass --replace to register a new app in its place",
                config.display()
            )));
        }
    }
    let key_file = args.key_file.clone().unwrap_or_else(|| {
        config
            .parent()
            .map_or_else(|| PathBuf::from("github-app.pem"), |d| d.join("github-app.pem"))
    });
    let runtime = super::super::runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| CliError::Message(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
        let local = format!("http://{}", listener.local_addr()?);
        let manifest = json!({
            "name": args.name,
            "url": public_url,
            "hook_attributes": {"url": format!("{public_url}/webhooks/github"), "active": true},
            "redirect_url": format!("{local}/done"),
            "callback_urls": [format!("{public_url}/callback/github")],
            "setup_url": format!("{public_url}/callback/github"),
            "setup_on_update": true,
            // forgelink checks a returning installation with the person's own token (the code
            // GitHub adds when user authorization during installation is on).
            "request_oauth_on_install": true,
            "public": !args.private,
            "default_permissions": permissions(),
            "default_events": EVENTS,
        });
        let (tx, rx) = oneshot::channel();
        let flow = Arc::new(Flow {
            web,
            api,
            public_url,
            org: args.org,
            manifest,
            state: random_state(),
            config,
            key_file,
            done: Mutex::new(Some(tx)),
        });
        let app = Router::new()
            .route("/", get(page))
            .route("/done", get(done))
            .with_state(flow.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        println!("Open {local}/ in a browser signed in to GitHub to register the app.");
        println!("Waiting for GitHub to send you back (Ctrl-C to stop)...");
        let outcome = tokio::select! {
            r = rx => r.unwrap_or_else(|_| Err("the set-up page stopped".into())),
            _ = tokio::signal::ctrl_c() => Err("stopped before GitHub sent the browser back".into()),
        };
        let _ = stop_tx.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), server).await;
        let report = outcome.map_err(CliError::Message)?;
        print!("{report}");
        Ok(())
    })
}

fn random_state() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The page that posts the manifest to GitHub when the person presses the button.
async fn page(State(flow): State<Arc<Flow>>) -> Html<String> {
    let target = match &flow.org {
        Some(org) => format!("{}/organizations/{org}/settings/apps/new", flow.web),
        None => format!("{}/settings/apps/new", flow.web),
    };
    let owner = flow.org.as_deref().unwrap_or("your personal account");
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Register forgelink on GitHub</title></head><body><main>\n\
         <h1>Register forgelink as a GitHub App</h1>\n\
         <p>GitHub will ask you to confirm a new app owned by {owner}, reaching forgelink at \
         <code>{public}</code>. Its keys come back to this computer only.</p>\n\
         <form method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\n\
         <button type=\"submit\">Continue to GitHub</button>\n</form></main></body></html>\n",
        owner = esc(owner),
        public = esc(&flow.public_url),
        action = esc(&format!("{target}?state={}", flow.state)),
        manifest = esc(&flow.manifest.to_string()),
    ))
}

#[derive(Deserialize)]
struct Back {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

/// GitHub sends the browser back here with the code; forgelink converts it and writes.
async fn done(State(flow): State<Arc<Flow>>, Query(back): Query<Back>) -> Response {
    if back.state != flow.state || back.code.is_empty() {
        return finish(
            &flow,
            Err(
                "This address was not opened by GitHub for this set-up (its state does not match); \
                 start again from the set-up page."
                    .into(),
            ),
        );
    }
    let outcome = convert_and_write(&flow, &back.code).await;
    finish(&flow, outcome)
}

/// Answers the browser, and ends the command with the outcome.
fn finish(flow: &Flow, outcome: Result<String, String>) -> Response {
    let body = match &outcome {
        Ok(report) => format!("<h1>forgelink is registered</h1><pre>{}</pre>", esc(report)),
        Err(e) => format!(
            "<h1>The registration did not finish</h1><p role=\"alert\">{}</p>",
            esc(e)
        ),
    };
    if let Some(tx) = flow.done.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = tx.send(outcome);
    }
    (
        [(header::CONNECTION, "close")],
        Html(format!("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>forgelink set-up</title></head><body><main>{body}</main></body></html>\n")),
    )
        .into_response()
}

/// `POST {api}/app-manifests/{code}/conversions`, then the key file and the config section.
async fn convert_and_write(flow: &Flow, code: &str) -> Result<String, String> {
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err("GitHub's code has characters a code never has; start again.".into());
    }
    let url = format!("{}/app-manifests/{code}/conversions", flow.api);
    let http = reqwest::Client::builder()
        .user_agent("forgelink")
        .build()
        .map_err(|e| e.to_string())?;
    let response = http
        .post(&url)
        .header(header::ACCEPT, "application/vnd.github+json")
        .send()
        .await
        .map_err(|e| format!("cannot reach {}: {}", flow.api, e.without_url()))?;
    let status = response.status();
    let app: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let words = app["message"].as_str().unwrap_or("no message");
        return Err(format!(
            "GitHub answered {status} to the conversion ({words}): the code works once and for one hour; start again"
        ));
    }
    let text = |k: &str| {
        app[k]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("GitHub's answer has no `{k}`"))
    };
    let id = app["id"].as_u64().ok_or("GitHub's answer has no app `id`")?;
    let (slug, client_id) = (text("slug")?, text("client_id")?);
    let (client_secret, webhook_secret, pem) =
        (text("client_secret")?, text("webhook_secret")?, text("pem")?);
    if !pem.contains("PRIVATE KEY-----") {
        return Err("GitHub's answer holds no PEM private key".into());
    }
    config_file::write_private(&flow.key_file, pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut section = toml::Table::new();
    let mut put = |k: &str, v: toml::Value| {
        section.insert(k.to_string(), v);
    };
    put("web_url", flow.web.clone().into());
    put("api_url", flow.api.clone().into());
    put("app_id", (id as i64).into());
    put("app_slug", slug.clone().into());
    put("client_id", client_id.into());
    put("client_secret", client_secret.into());
    put("private_key_file", flow.key_file.display().to_string().into());
    put("webhook_secret", webhook_secret.into());
    config_file::write_section(&flow.config, &flow.public_url, "github", section)
        .map_err(|e| e.to_string())?;
    let owner = app["owner"]["login"].as_str().unwrap_or("?");
    Ok(format!(
        "Registered the GitHub App `{slug}` (id {id}) owned by {owner}.\n\
         Wrote its settings to [github] in {config} and its private key to {key} (both readable by you only).\n\
         People install it at {web}/apps/{slug}/installations/new (forgelink sends them there).\n\
         Check it: forgelink serve --config {config} --check\n",
        config = flow.config.display(),
        key = flow.key_file.display(),
        web = flow.web,
    ))
}
