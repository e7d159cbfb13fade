//! Where the vault's files live and who may read them: the wrapped data keys beside the vault's
//! own store, folders 0700 and files 0600 whatever the process umask was.

use std::path::{Path, PathBuf};

/// The folder of the wrapped data keys of the vault in `dir`: beside it, not inside sled's own.
pub fn data_keys_dir(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}-keys"))
}

/// Creates `dir` (and its parents) when missing; `dir` itself is then accessible to its owner
/// only (0700).
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes every folder under `dir` (and `dir`) 0700 and every file 0600: data files are the
/// owner's only, whatever the process umask was when a store created them.
pub fn restrict_permissions(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(dir)?;
        if meta.is_dir() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            // Every entry is tried; the first failure is reported after.
            let mut first = Ok(());
            for entry in std::fs::read_dir(dir)? {
                let done = entry.and_then(|e| restrict_permissions(&e.path()));
                if first.is_ok() {
                    first = done;
                }
            }
            first?;
        } else if meta.is_file() {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
