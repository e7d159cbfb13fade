//! Reading and updating `forgelink.toml` for `setup`: the file is read as TOML, one section is
//! replaced, and it is written back whole (to a new file renamed over the old, owner-only).

use crate::cli::data::CliError;
use std::path::Path;

/// The file as a table; an absent file is an empty one.
pub fn read(path: &Path) -> Result<toml::Table, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.parse().map_err(|e: toml::de::Error| {
            CliError::Message(format!("{} is not valid TOML: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(source) => Err(CliError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Sets `section` of the file at `path` to `values` (and `public_url` when the file has
/// none), keeping every other setting.
pub fn write_section(
    path: &Path,
    public_url: &str,
    section: &str,
    values: toml::Table,
) -> Result<(), CliError> {
    let mut table = read(path)?;
    table
        .entry("public_url")
        .or_insert_with(|| toml::Value::String(public_url.to_string()));
    table.insert(section.to_string(), toml::Value::Table(values));
    let text =
        toml::to_string(&table).map_err(|e| CliError::Message(format!("writing the settings: {e}")))?;
    write_private(path, text.as_bytes())
}

/// Writes `bytes` to `path` readable by its owner only, replacing it in one step.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("forgelink");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
