//! Any bytes as the query of a provider's callback (`GET /callback/{provider}?...`): the edge
//! either refuses the query (naming the field) or makes a `CompleteAuthorization` of it, which
//! the engine carries out or refuses with nothing appended. Never a panic. One link is started
//! first, so a state the engine knows exists (the fuzzer will not guess it; the shapes around
//! it are what is being tried).
#![no_main]

use forgelink::api::callback_request;
use forgelink::engine::{CommandMessage, Engine, EngineConfig, Request};
use forgelink::events::{Durability, Provider};
use forgelink::vault::VaultKey;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::OnceLock;

struct World {
    rt: tokio::runtime::Runtime,
    engine: Engine,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut config = EngineConfig::new(dir.path());
        config.vault_key = Some(VaultKey::generate());
        config.run_sagas = false;
        config.durability = Durability::Async;
        let engine = rt.block_on(Engine::open(config)).expect("the engine opens");
        let named = CommandMessage::new(Request::NameAccount {
            provider: Provider::GitLab,
            unique_name: "acme".into(),
            account_id: None,
        });
        rt.block_on(engine.execute(named)).expect("the account is named");
        World {
            rt,
            engine,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let query: HashMap<String, String> = url::form_urlencoded::parse(data).into_owned().collect();
    let Ok(request) = callback_request(&query) else {
        return;
    };
    let w = world();
    let before = w.engine.log().head();
    if let Err(e) = w.rt.block_on(w.engine.execute(CommandMessage::new(request))) {
        assert_eq!(w.engine.log().head(), before, "refused ({e}) yet appended");
    }
});
