//! The app's webhook deliveries as GitHub records them (app JWT): `GET /app/hook/deliveries`
//! (newest first, paged with `cursor` through `Link: rel="next"`, kept about three days),
//! `GET /app/hook/deliveries/{delivery_id}` (one delivery with the request GitHub sent), and
//! `POST /app/hook/deliveries/{delivery_id}/attempts` (send it again; `202 Accepted`). GitHub
//! never redelivers a failed delivery by itself: reconciliation uses these to find and heal
//! what was lost.

use super::wire::{next_link, same_origin};
use super::{GitHubClient, PROVIDER};
use crate::providers::{http, ProviderError};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

/// Most pages one listing reads.
const MAX_DELIVERY_PAGES: usize = 100;

/// One delivery attempt in GitHub's list. A redelivery is its own entry with the same `guid`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HookDelivery {
    pub id: u64,
    /// The `X-GitHub-Delivery` of the delivery.
    pub guid: String,
    pub delivered_at: DateTime<Utc>,
    #[serde(default)]
    pub redelivery: bool,
    /// `OK`, or what went wrong (`Invalid HTTP Response: 503`, a timeout, ...).
    #[serde(default)]
    pub status: String,
    /// The HTTP status the receiver answered (0 when it did not answer).
    #[serde(default)]
    pub status_code: u16,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub installation_id: Option<u64>,
}

impl HookDelivery {
    /// True when the receiver answered 2xx.
    pub fn delivered(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

/// The request GitHub sent for one delivery: its headers and JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct HookDeliveryRequest {
    pub headers: Vec<(String, String)>,
    pub payload: serde_json::Value,
}

#[derive(Deserialize)]
struct DeliveryJson {
    request: RequestJson,
}

#[derive(Deserialize)]
struct RequestJson {
    #[serde(default)]
    headers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    payload: serde_json::Value,
}

impl GitHubClient {
    /// The deliveries newer than the one with id `after` (all kept ones when 0), newest first.
    pub async fn hook_deliveries_after(&self, after: u64) -> Result<Vec<HookDelivery>, ProviderError> {
        let jwt = self.app_jwt()?;
        let mut url = format!("{}/app/hook/deliveries?per_page=100", self.api());
        let mut out = Vec::new();
        for _ in 0..MAX_DELIVERY_PAGES {
            let rb = self.request(Method::GET, &url).bearer_auth(&jwt);
            let resp = self.send(rb).await?;
            let next = next_link(resp.headers());
            let page: Vec<HookDelivery> = http::json(PROVIDER, "the app's webhook deliveries", resp).await?;
            let reached = page.iter().any(|d| d.id <= after);
            out.extend(page.into_iter().filter(|d| d.id > after));
            match next {
                Some(n) if !reached && same_origin(&n, self.api()) => url = n,
                Some(_) if !reached => {
                    return Err(ProviderError::BadResponse {
                        provider: PROVIDER,
                        detail: "the deliveries' next page link points outside the API".into(),
                    })
                }
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The request GitHub sent for delivery `id`.
    pub async fn hook_delivery_request(&self, id: u64) -> Result<HookDeliveryRequest, ProviderError> {
        let url = format!("{}/app/hook/deliveries/{id}", self.api());
        let rb = self.request(Method::GET, &url).bearer_auth(self.app_jwt()?);
        let what = format!("webhook delivery {id}");
        let d: DeliveryJson = http::json(PROVIDER, &what, self.send(rb).await?).await?;
        let headers = d
            .request
            .headers
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
            .collect();
        Ok(HookDeliveryRequest {
            headers,
            payload: d.request.payload,
        })
    }

    /// Asks GitHub to send delivery `id` again.
    pub async fn redeliver(&self, id: u64) -> Result<(), ProviderError> {
        let url = format!("{}/app/hook/deliveries/{id}/attempts", self.api());
        let rb = self.request(Method::POST, &url).bearer_auth(self.app_jwt()?);
        let resp = self.send(rb).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(http::error_from(PROVIDER, &format!("webhook delivery {id}"), resp).await)
        }
    }
}
