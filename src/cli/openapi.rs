//! `forgelink openapi`: writes the OpenAPI 3.1 document of the HTTP API, as the code makes it
//! (the one a server serves at `/v1/openapi.json`), to `docs/openapi.json` or `--out FILE`
//! (`-`: standard output).

use super::data::CliError;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write it; `-` for standard output.
    #[arg(long, value_name = "FILE", default_value = "docs/openapi.json")]
    pub out: PathBuf,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let text = forgelink::api::openapi::render();
    if args.out.as_os_str() == "-" {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(());
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(CliError::Write)?;
    }
    std::fs::write(&args.out, text).map_err(CliError::Write)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
