//! Any bytes as a command message: the JSON parser either refuses them or yields a message,
//! and the engine either carries it out or refuses it with nothing appended. Never a panic.
//! The engine has no provider configured and no saga loop, so only `execute` writes to the log.
#![no_main]

use forgelink::engine::{CommandMessage, Engine, EngineConfig};
use forgelink::events::Durability;
use forgelink::vault::VaultKey;
use libfuzzer_sys::fuzz_target;
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
        // Fuzzing is about parsing, not about fsync.
        config.durability = Durability::Async;
        let engine = rt.block_on(Engine::open(config)).expect("the engine opens");
        World {
            rt,
            engine,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The HTTP edge's parser (`POST /v1/commands`) and serde's own (`forgelink send`, library
    // callers) both run; whatever either accepts goes to the engine.
    let from_http = forgelink::api::parse_command(data).ok();
    if let Ok(msg) = serde_json::from_str::<CommandMessage>(text) {
        run(msg, text);
    }
    if let Some(msg) = from_http {
        run(msg, text);
    }
});

fn run(msg: CommandMessage, text: &str) {
    let w = world();
    let before = w.engine.log().head();
    if let Err(e) = w.rt.block_on(w.engine.execute(msg)) {
        assert_eq!(w.engine.log().head(), before, "refused ({e}) yet appended: {text}");
    }
}
