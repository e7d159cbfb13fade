//! `forgelink deliveries [--state parked] [--provider P] [--json]`: the webhook inbox, newest
//! first, with the count per state; `forgelink deliveries retry ID|--all-parked` puts parked
//! deliveries back in the queue. With `--server URL` (and the admin token for `retry`) it asks
//! a running server (`GET /v1/deliveries`, `POST /v1/deliveries/{id}/retry`); without, it reads
//! the data folder's inbox directly (a folder held by a running server is refused: use
//! `--server`), and a retried delivery is processed when the server next starts.

use super::data::{print_json, CliError, DataDir};
use super::remote::{self, Remote};
use super::table;
use forgelink::api::deliveries::delivery_json;
use forgelink::client::DeliveriesFilter;
use forgelink::inbox::{DeliveryState, InboxStore};
use forgelink_events::Provider;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// Only deliveries in this state: pending, done or parked.
    #[arg(long)]
    pub state: Option<DeliveryState>,
    /// Only deliveries from this provider: github, gitlab or bitbucket.
    #[arg(long)]
    pub provider: Option<Provider>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// JSON for machines instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Puts a parked delivery (by the ID the list shows), or every parked one, back in the queue.
    Retry {
        /// The delivery's ID, as `forgelink deliveries` shows it.
        #[arg(required_unless_present = "all_parked")]
        id: Option<u64>,
        /// Every parked delivery.
        #[arg(long, conflicts_with = "id")]
        all_parked: bool,
    },
}

pub fn run(data_dir: Option<PathBuf>, args: Args) -> Result<(), CliError> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("./forgelink-data"));
    match &args.action {
        Some(Action::Retry { id, all_parked }) => retry(&data_dir, &args.remote, *id, *all_parked),
        None => list(&data_dir, &args),
    }
}

fn list(data_dir: &std::path::Path, args: &Args) -> Result<(), CliError> {
    let answer = match args.remote.client()? {
        Some(client) => remote::block_on(client.deliveries(&DeliveriesFilter {
            state: args.state.map(|s| s.as_str().to_string()),
            provider: args.provider,
            limit: Some(args.limit),
        }))?,
        None => {
            let store = open(data_dir)?;
            let found = store
                .list(args.state, args.provider, args.limit)
                .map_err(CliError::Message)?;
            let deliveries: Vec<Value> = found.iter().map(delivery_json).collect();
            json!({
                "deliveries": deliveries,
                "count": deliveries.len(),
                "counts": {
                    "pending": store.count(DeliveryState::Pending),
                    "done": store.count(DeliveryState::Done),
                    "parked": store.count(DeliveryState::Parked),
                },
            })
        }
    };
    if args.json {
        return print_json(&answer);
    }
    let rows: Vec<Vec<String>> = answer["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let text = |k: &str| d[k].as_str().map_or_else(|| "-".to_string(), str::to_string);
            let why = match d["state"].as_str() {
                Some("done") => text("outcome"),
                _ => text("last_error"),
            };
            vec![
                d["id"].to_string(),
                text("provider"),
                text("event"),
                text("delivery_id"),
                text("state"),
                d["attempts"].to_string(),
                text("received_at"),
                why,
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("no deliveries");
    } else {
        let header = [
            "ID",
            "PROVIDER",
            "EVENT",
            "DELIVERY",
            "STATE",
            "ATTEMPTS",
            "RECEIVED",
            "OUTCOME OR LAST ERROR",
        ];
        print!("{}", table::render(&header, &rows));
    }
    let c = &answer["counts"];
    println!(
        "{} pending, {} done, {} parked",
        c["pending"], c["done"], c["parked"]
    );
    if c["parked"].as_u64().unwrap_or(0) > 0 {
        println!("retry the parked ones once the cause is fixed: forgelink deliveries retry --all-parked");
    }
    Ok(())
}

fn retry(data_dir: &std::path::Path, r: &Remote, id: Option<u64>, all: bool) -> Result<(), CliError> {
    if let Some(client) = r.client()? {
        let answer = remote::block_on(client.retry_deliveries(id.filter(|_| !all)))?;
        println!("{} deliveries back in the queue", answer["count"]);
        return Ok(());
    }
    let store = open(data_dir)?;
    let seqs = match id.filter(|_| !all) {
        Some(id) => vec![id],
        None => store.in_state(DeliveryState::Parked).map_err(CliError::Message)?,
    };
    for seq in &seqs {
        let mut d = store.get(*seq).map_err(CliError::Message)?.ok_or_else(|| {
            CliError::Message(format!("no delivery {seq}; `forgelink deliveries` lists them"))
        })?;
        if d.state != DeliveryState::Parked {
            return Err(CliError::Message(format!(
                "delivery {seq} is {}, not parked: there is nothing to retry",
                d.state.as_str()
            )));
        }
        d.state = DeliveryState::Pending;
        d.attempts = 0;
        store.update(&d).map_err(CliError::Message)?;
    }
    println!(
        "{} deliveries back in the queue; the server processes them when it starts",
        seqs.len()
    );
    Ok(())
}

fn open(data_dir: &std::path::Path) -> Result<InboxStore, CliError> {
    let dir = DataDir::new(data_dir.to_path_buf());
    if !dir.log_dir().exists() {
        return Err(CliError::NoData(data_dir.to_path_buf()));
    }
    InboxStore::open(&data_dir.join("deliveries")).map_err(|e| {
        CliError::Message(format!(
            "{e}; when a server is running, ask it with --server URL (and --token)"
        ))
    })
}
