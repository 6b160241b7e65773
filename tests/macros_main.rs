//! `#[weft::main]` on a real `main` (this test has no harness, see
//! `[[test]]` in Cargo.toml): the parent run starts itself again as a child
//! in each mode and checks what the child printed and how it exited.
//!
//! - `fail`: `main` returns `Err`; the process exits with 1 and std's
//!   `Error: ...` line on stderr.
//! - `workers`: the default runtime has `WEFT_WORKER_THREADS` workers.
//! - `explicit`: `worker_threads = 2` wins over `WEFT_WORKER_THREADS=3`.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MODE: &str = "WEFT_MACROS_MAIN_CHILD";

#[weft::main]
async fn main() -> Result<(), String> {
    match std::env::var(MODE).as_deref() {
        Ok("fail") => Err("the body failed".to_owned()),
        Ok("workers") => {
            println!(
                "workers={}",
                weft::Handle::current().metrics().num_workers()
            );
            Ok(())
        }
        Ok("explicit") => {
            // A runtime cannot start inside another one's `block_on`; a
            // fresh thread is outside every runtime.
            let n = std::thread::spawn(two_workers).join().unwrap();
            println!("workers={n}");
            Ok(())
        }
        Ok(other) => Err(format!("unknown mode {other}")),
        Err(_) => {
            parent();
            Ok(())
        }
    }
}

/// `#[weft::main]` works on any function name; this one is called, not
/// run as the program's entry.
#[weft::main(worker_threads = 2)]
async fn two_workers() -> usize {
    weft::Handle::current().metrics().num_workers()
}

/// Runs this binary again in `mode`; kills it if it has not exited after
/// 30 s (its output is a line or two, so the pipes never fill).
fn child(mode: &str, env_workers: Option<&str>) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match env_workers {
        Some(n) => cmd.env("WEFT_WORKER_THREADS", n),
        None => cmd.env_remove("WEFT_WORKER_THREADS"),
    };
    let mut child = cmd.spawn().expect("the child starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the {mode} child did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

fn parent() {
    let out = child("fail", None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("Error: \"the body failed\""),
        "stderr: {stderr}"
    );
    println!("ok: a main returning Err exits 1 with `Error: ...` on stderr");

    let out = child("workers", Some("3"));
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "workers=3");
    println!("ok: the default runtime follows WEFT_WORKER_THREADS");

    let out = child("explicit", Some("3"));
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "workers=2");
    println!("ok: worker_threads = 2 wins over WEFT_WORKER_THREADS=3");
}
