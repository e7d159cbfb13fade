//! Every CLI output ends quietly when its reader stops early (`forgelink accounts --json |
//! head`): no panic, no message on stderr.

mod cli_support;

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    {
        let log = cli_support::open_log(dir.path());
        rt.block_on(async {
            for i in 0..400 {
                cli_support::account(&log, forgelink_events::Provider::GitLab, &format!("acme-{i}"), 99)
                    .await;
            }
        });
        log.flush().unwrap();
    }
    for args in [&["accounts", "--json"][..], &["accounts"][..], &["export"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_forgelink"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The reader is gone (its end of the pipe closed when it was dropped).
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{args:?} said: {stderr}");
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.success() || out.status.signal() == Some(libc_sigpipe()),
            "{args:?} ended {:?}",
            out.status
        );
    }
}

fn libc_sigpipe() -> i32 {
    13
}
