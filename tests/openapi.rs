//! The OpenAPI document: `docs/openapi.json` is what the code generates (regenerate it with
//! `cargo run -- openapi`), it is OpenAPI 3.1-shaped (every `$ref` resolves, every route of THE
//! table is in it with its credential, operation ids are unique, links name real operations),
//! and the server serves the same document at `/v1/openapi.json` without a credential.

mod http_support;

use forgelink::api::openapi::{document, render, PATH};
use forgelink::api::routes::{table, Need};
use serde_json::Value;
use std::collections::HashSet;

#[test]
fn docs_openapi_json_is_what_the_code_generates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == render(),
        "docs/openapi.json differs from the code's document: run `cargo run -- openapi` and commit it"
    );
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_in_the_document_resolves() {
    let doc = document();
    let mut found = Vec::new();
    refs(doc, &mut found);
    assert!(found.len() > 20, "the document refers to its schemas");
    for r in found {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("{r} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

#[test]
fn every_route_of_the_table_is_described_with_its_credential() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut ids = HashSet::new();
    let mut count = 0;
    for route in table() {
        let method = route.method.as_str().to_ascii_lowercase();
        let op = &doc["paths"][route.path][&method];
        assert!(
            op.is_object(),
            "{} {} is not in the document",
            route.method,
            route.path
        );
        count += 1;
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_string()),
            "unique ids"
        );
        let security = op["security"].as_array().unwrap();
        assert_eq!(security.is_empty(), route.need == Need::None, "{}", route.path);
        for requirement in security {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(schemes.contains_key(scheme), "{scheme}");
            }
        }
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2') || s.starts_with('3')));
        if route.need != Need::None {
            assert!(responses.contains_key("401"), "{} {}", route.method, route.path);
        }
        // Every `{name}` of the path is a required path parameter.
        for name in route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            let declared = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true);
            assert!(declared, "{} {} declares {name}", route.method, route.path);
        }
    }
    let described: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        described, count,
        "nothing is described that the table does not route"
    );
    // Links name real operations.
    let mut links = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for r in op["responses"].as_object().unwrap().values() {
                for link in r["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    links.push(link["operationId"].as_str().unwrap().to_string());
                }
            }
        }
    }
    assert!(!links.is_empty());
    for l in links {
        assert!(ids.contains(&l), "link to {l}");
    }
}

#[test]
fn every_command_message_type_is_described_with_its_fields() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let one_of = schemas["CommandMessage"]["oneOf"].as_array().unwrap();
    let types = forgelink::api::message_types();
    assert_eq!(one_of.len(), types.len());
    for t in types {
        let s = &schemas[format!("{t}Message")];
        assert_eq!(s["properties"]["type"]["const"], t);
        assert_eq!(s["additionalProperties"], false);
        for envelope in ["command_id", "correlation_id", "actor"] {
            assert!(s["properties"][envelope].is_object(), "{t}.{envelope}");
        }
        assert!(s["description"].is_string(), "{t} says what it asks for");
    }
    let start = &schemas["StartLinkMessage"];
    assert_eq!(start["required"], serde_json::json!(["type", "account"]));
    assert!(start["properties"]["account"]["examples"].is_array());
    assert!(start["properties"]["for"].is_object(), "the HTTP-only `for`");
    assert_eq!(
        schemas["SelectGroupMessage"]["properties"]["group_id"]["type"],
        "integer"
    );
    for p in ["type", "title", "status", "detail", "field"] {
        assert!(schemas["Problem"]["properties"][p].is_object(), "Problem.{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_document_without_a_credential() {
    let h = http_support::Http::start().await;
    let r = h.client.get(h.url(PATH)).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(r.text().await.unwrap(), render());
    h.demo.shutdown().await;
}
