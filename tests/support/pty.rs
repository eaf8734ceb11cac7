//! Run the built binary in a real pseudo-terminal: stdin, stdout and stderr are the pty's
//! slave side, with a window size, as when a person types the command.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};

/// What a run in the terminal showed.
pub(crate) struct Screen {
    /// `None`: killed after the deadline (it hung).
    pub(crate) code: Option<i32>,
    /// Everything written to the terminal (stdout and stderr together), as bytes turned text.
    pub(crate) text: String,
}

/// Run `keydoctor args…` in a pty of `cols` columns from `dir`; kill it after `deadline`.
pub(crate) fn run_in_pty(
    args: &[&str],
    dir: &Path,
    cols: u16,
    env: &[(&str, &str)],
    deadline: Duration,
) -> Screen {
    let master =
        openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let name = name.to_str().expect("pts name").to_string();
    tcsetwinsize(
        &master,
        Winsize {
            ws_row: 50,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .expect("window size");
    let slave: OwnedFd = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&name)
        .expect("open pts")
        .into();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydoctor"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn keydoctor");
    drop(cmd); // the parent's copies of the slave side: the master sees EOF when the child ends

    // Read the master side on its own thread, or the child blocks once the pty buffer fills.
    let (tx, rx) = mpsc::channel();
    let mut reader = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(all);
    });

    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Linux answers EIO on the master once the last slave is closed: the reader ends then.
    let bytes = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    Screen {
        code,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
