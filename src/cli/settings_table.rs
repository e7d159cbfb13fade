//! THE table of `forgelink serve`'s settings: every key, its variable, its default, when it is
//! required and the forms it takes. The config loader accepts exactly these keys, and
//! `forgelink config --example` prints a complete commented `forgelink.toml` from this table,
//! so the reference cannot drift from what is read.

/// When a setting must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Always (start-up stops without it).
    Always,
    /// Only in the case the text says.
    When(&'static str),
    /// Never: it has a default, or is optional.
    No,
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// `section.key` (or `key` at the top).
    pub key: &'static str,
    pub required: Required,
    /// The default, as the file would spell it; `None` when there is none.
    pub default: Option<&'static str>,
    /// The value the example shows (a placeholder in `<...>` where the operator must fill in).
    pub example: &'static str,
    /// What it is, the forms it takes, one or more lines.
    pub help: &'static str,
}

const fn s(
    key: &'static str,
    required: Required,
    default: Option<&'static str>,
    example: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        key,
        required,
        default,
        example,
        help,
    }
}

use Required::{Always, No, When};

/// Every setting, in the order the example file lists them.
pub const SETTINGS: &[Setting] = &[
    s(
        "listen",
        No,
        Some("\"127.0.0.1:8080\""),
        "\"127.0.0.1:8080\"",
        "The address and port the HTTP server listens on (put a TLS proxy in front).",
    ),
    s(
        "data_dir",
        No,
        Some("\"./forgelink-data\""),
        "\"/var/lib/forgelink\"",
        "The data folder: the event log, the vault, the projections. `--data-dir` wins.",
    ),
    s(
        "store",
        No,
        Some("the folder DATA_DIR/log"),
        "\"postgres://forgelink@db.internal:5432/forgelink\"",
        "Where the event log lives: a folder (sled), or a PostgreSQL database as\n\
         postgres://USER[:PASSWORD]@HOST[:PORT]/DB; the vault goes there with it (sessions and\n\
         refreshes shared by the instances). The webhook inbox and the projections stay in data_dir.",
    ),
    s(
        "sagas",
        No,
        Some("true"),
        "false",
        "Whether this instance runs the saga steps (verifying approvals, scheduled refreshes,\n\
         repository creation, reconciliation). Instances on one database lease each step, so\n\
         several may; false leaves them to the others (this one serves API, pages, webhooks).",
    ),
    s(
        "public_url",
        Always,
        None,
        "\"<https://forgelink.example.com>\"",
        "The address people and providers reach forgelink at. Callbacks are\n\
       {public_url}/callback/{github,gitlab,bitbucket}, webhooks {public_url}/webhooks/...",
    ),
    s(
        "vault_key_file",
        When("unless vault_key is given: one of the two"),
        None,
        "\"<outside the data folder, e.g. /etc/forgelink/vault.key>\"",
        "The master vault key's file, outside the data folder (a backup of the folder must\n\
       not carry it); created with mode 0600 on the first start of a new folder.",
    ),
    s(
        "vault_key",
        When("unless vault_key_file is given: one of the two"),
        None,
        "\"<64 hexadecimal digits>\"",
        "The master vault key itself, 64 hexadecimal digits (32 bytes); usually from the\n\
       variable rather than the file.",
    ),
    s(
        "log_cache_mb",
        No,
        Some("the log's size, 8 to 128"),
        "64",
        "The event log's page cache, in MiB.",
    ),
    s(
        "admin_token",
        Always,
        None,
        "\"<at least 16 characters>\"",
        "The API's admin bearer token (commands, login links, `replay --verify`).",
    ),
    s(
        "viewer_token",
        No,
        None,
        "\"<at least 16 characters>\"",
        "A read-only bearer token for the API (accounts, history, export, deliveries).",
    ),
    s(
        "github.web_url",
        No,
        Some("\"https://github.com\""),
        "\"https://github.com\"",
        "GitHub's web address. GitHub Enterprise Server: https://HOST.",
    ),
    s(
        "github.api_url",
        No,
        Some("\"https://api.github.com\""),
        "\"https://api.github.com\"",
        "GitHub's REST API. GitHub Enterprise Server: https://HOST/api/v3.",
    ),
    s(
        "github.app_id",
        When("with [github]"),
        None,
        "\"<the App ID>\"",
        "The GitHub App's ID (its settings page, or `forgelink setup github`).",
    ),
    s(
        "github.app_slug",
        When("with [github]"),
        None,
        "\"<the app's URL name>\"",
        "The app's slug: github.com/apps/{slug}.",
    ),
    s(
        "github.client_id",
        When("with [github]"),
        None,
        "\"<Iv1.xxxxxxxxxxxxxxxx>\"",
        "The app's Client ID.",
    ),
    s(
        "github.client_secret",
        When("with [github]"),
        None,
        "\"<the app's client secret>\"",
        "The app's client secret.",
    ),
    s(
        "github.private_key_file",
        When("with [github]"),
        None,
        "\"<path of the app's .pem>\"",
        "The app's private key (PEM) as GitHub downloads it; readable by forgelink only.",
    ),
    s(
        "github.webhook_secret",
        When("with [github]"),
        None,
        "\"<the app's webhook secret>\"",
        "The secret GitHub signs the app's webhooks with (X-Hub-Signature-256).",
    ),
    s(
        "gitlab.base_url",
        No,
        Some("\"https://gitlab.com\""),
        "\"https://gitlab.com\"",
        "GitLab's address; a self-managed instance https://gitlab.example.com (a path prefix\n\
       is fine); https://HOST/api/v4 is accepted too.",
    ),
    s(
        "gitlab.client_id",
        When("with [gitlab]"),
        None,
        "\"<the Application ID>\"",
        "The OAuth application's Application ID (`forgelink setup gitlab` prints its settings).",
    ),
    s(
        "gitlab.client_secret",
        When("with [gitlab]"),
        None,
        "\"<the application's Secret>\"",
        "The OAuth application's Secret.",
    ),
    s(
        "gitlab.webhook_token",
        When("only if you add a group or instance webhook by hand pointing at {public_url}/webhooks/gitlab"),
        None,
        "\"<the hook's secret token>\"",
        "The secret token such a webhook sends as X-Gitlab-Token. The project hooks forgelink\n\
       registers itself carry a secret of their own and do not need it.",
    ),
    s(
        "bitbucket.web_url",
        No,
        Some("\"https://bitbucket.org\""),
        "\"https://bitbucket.org\"",
        "Bitbucket's web address (the authorize and token endpoints).",
    ),
    s(
        "bitbucket.api_url",
        No,
        Some("\"https://api.bitbucket.org/2.0\""),
        "\"https://api.bitbucket.org/2.0\"",
        "Bitbucket's API, as its reference writes it; without /2.0 is accepted too.",
    ),
    s(
        "bitbucket.key",
        When("with [bitbucket]"),
        None,
        "\"<the OAuth consumer's Key>\"",
        "The OAuth consumer's Key (`forgelink setup bitbucket` prints its settings).",
    ),
    s(
        "bitbucket.secret",
        When("with [bitbucket]"),
        None,
        "\"<the OAuth consumer's Secret>\"",
        "The OAuth consumer's Secret.",
    ),
    s(
        "bitbucket.webhook_secret",
        When("only if you add a workspace webhook by hand pointing at {public_url}/webhooks/bitbucket"),
        None,
        "\"<the webhook's secret>\"",
        "The secret such a webhook is signed with (X-Hub-Signature). The repository hooks\n\
       forgelink registers itself carry a secret of their own and do not need it.",
    ),
];

/// `forgelink config --example`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a complete, commented forgelink.toml (every setting, its variable, its default
    /// and when it is required).
    #[arg(long)]
    pub example: bool,
}

pub fn run(args: Args) -> Result<(), super::data::CliError> {
    if !args.example {
        return Err(super::data::CliError::Usage(
            "say what to print: `forgelink config --example`".into(),
        ));
    }
    print!("{}", example());
    Ok(())
}

/// The variable that sets `key`: `github.app_id` is `FORGELINK_GITHUB_APP_ID`.
pub fn env_name(key: &str) -> String {
    format!("FORGELINK_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Whether the example writes the key as a live line (the operator must fill it in) rather
/// than as a commented-out one.
fn live(setting: &Setting) -> bool {
    match setting.required {
        Required::Always => true,
        // A provider's credentials, and the vault key's file (the usual one of the two).
        Required::When(w) => w.starts_with("with [") || w.starts_with("unless vault_key is"),
        Required::No => false,
    }
}

/// The complete commented `forgelink.toml`.
pub fn example() -> String {
    let mut out = String::from(
        "# forgelink.toml: the settings of `forgelink serve --config forgelink.toml`.\n\
         # Generated by `forgelink config --example` from the settings table; every key is here.\n\
         # Every key can also be set by its variable (shown below), which wins over this file.\n\
         # Fill in the <...> values. A provider is enabled by giving any key of its section:\n\
         # delete the sections of providers you do not use. Check with `forgelink serve --check`.\n",
    );
    let mut section = "";
    for setting in SETTINGS {
        let (this, name) = setting.key.split_once('.').unwrap_or(("", setting.key));
        if this != section {
            section = this;
            out.push_str(&format!("\n[{section}]\n"));
            out.push_str(section_note(section));
        }
        out.push('\n');
        for line in setting.help.lines() {
            out.push_str(&format!("# {}\n", line.trim()));
        }
        let required = match setting.required {
            Required::Always => "required".to_string(),
            Required::When(w) => format!("required {w}"),
            Required::No => "optional".to_string(),
        };
        let default = setting
            .default
            .map_or(String::new(), |d| format!("; default {d}"));
        out.push_str(&format!("# {}; {required}{default}\n", env_name(setting.key)));
        let prefix = if live(setting) { "" } else { "# " };
        out.push_str(&format!("{prefix}{name} = {}\n", setting.example));
    }
    out
}

fn section_note(section: &str) -> &'static str {
    match section {
        "github" => {
            "# A GitHub App: `forgelink setup github` registers one from a manifest and fills\n\
             # this section in. GitHub Enterprise Server: set web_url and api_url.\n"
        }
        "gitlab" => "# An OAuth application on GitLab (scopes api read_user): `forgelink setup gitlab`.\n",
        "bitbucket" => "# An OAuth consumer on Bitbucket Cloud: `forgelink setup bitbucket`.\n",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid value for each placeholder of the example.
    fn filled(example: &str, dir: &std::path::Path) -> String {
        let pem = dir.join("app.pem");
        std::fs::write(
            &pem,
            "-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let mut out = String::new();
        for line in example.lines() {
            let line = match line.split_once(" = \"<") {
                Some((key, _)) => {
                    let value = match key {
                        "public_url" => "https://forgelink.example.com".to_string(),
                        "vault_key_file" => dir.join("keys/vault.key").display().to_string(),
                        "admin_token" => "0123456789abcdef0123".to_string(),
                        "app_id" => "12345".to_string(),
                        "private_key_file" => pem.display().to_string(),
                        _ => format!("{key}-value"),
                    };
                    format!("{key} = \"{value}\"")
                }
                None => line.to_string(),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_example_names_every_setting_with_its_variable() {
        let text = example();
        for setting in SETTINGS {
            let name = setting.key.split_once('.').map_or(setting.key, |(_, k)| k);
            assert!(text.contains(&env_name(setting.key)), "{}", setting.key);
            assert!(
                text.lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{name} = "))),
                "{} has a line",
                setting.key
            );
        }
        assert!(text.contains("GitHub Enterprise Server: https://HOST/api/v3"));
        assert!(text.contains("required only if you add a group or instance webhook"));
    }

    #[test]
    fn the_example_with_its_placeholders_filled_is_a_valid_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("forgelink.toml");
        std::fs::write(&path, filled(&example(), dir.path())).unwrap();
        let settings = super::super::config::Settings::load(Some(&path), std::iter::empty()).unwrap();
        let (listen, config) = settings.server_config(None).unwrap();
        super::super::config::require_vault_key(&config).unwrap();
        assert_eq!(listen.to_string(), "127.0.0.1:8080");
        assert!(config.engine.github.is_some() && config.engine.gitlab.is_some());
        assert!(config.engine.bitbucket.is_some());
        // Every key the example writes as a live line is one the loader knows.
        let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        assert!(table.contains_key("github") && table.contains_key("public_url"));
    }
}
