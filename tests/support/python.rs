//! The Python side of the interop tests: the virtual environment with the
//! pinned packages of `tests/interop/requirements.txt`, made under cargo's
//! `target/tmp` on first use (and again whenever that file changes). The
//! same directory and stamp as `tests/interop_python.rs`, so the two share
//! one environment. See `tests/interop/README.md`.
#![allow(dead_code, unreachable_pub)]

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

pub fn requirements_path() -> PathBuf {
    Path::new(MANIFEST_DIR).join("tests/interop/requirements.txt")
}

pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Runs `cmd`; on failure panics with `what`, the command and its output.
fn run(mut cmd: Command, what: &str) {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run {shown}: {e}\n{HELP}"));
    assert!(
        out.status.success(),
        "{what}: {shown} failed with {}\n--- stdout\n{}\n--- stderr\n{}\n{HELP}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

pub const HELP: &str = "The Python interop test needs python3 (3.9 or later) with the `venv` \
module and access to PyPI the first time it runs, to install the pinned packages of \
tests/interop/requirements.txt. On Debian: `apt-get install python3 python3-venv`. \
Set CTX_INTEROP_PYTHON to use another interpreter.";

/// The virtual environment with the pinned reference packages, made on first
/// use. Several test processes may race to make it (nextest runs each test in
/// its own process): each builds in a private directory and renames it into
/// place, and a loser throws its copy away.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let requirements =
            fs::read_to_string(requirements_path()).expect("read tests/interop/requirements.txt");
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = root.join("py-interop-venv");
        let stamp = |d: &Path| fs::read_to_string(d.join("ctx-requirements.txt")).ok();
        // Usable: made from these requirements, and its interpreter still
        // runs (a venv links to the Python it was made with).
        let usable = |d: &Path| {
            stamp(d).as_deref() == Some(requirements.as_str()) && venv_python(d).exists()
        };
        if usable(&dir) {
            return dir;
        }

        let python = env::var("CTX_INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let tmp = root.join(format!("py-interop-venv.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(root).expect("create target/tmp");

        let mut cmd = Command::new(&python);
        cmd.args(["-m", "venv"]).arg(&tmp);
        run(cmd, "creating the Python virtual environment");

        let mut cmd = Command::new(venv_python(&tmp));
        cmd.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            "-r",
        ])
        .arg(requirements_path());
        run(cmd, "installing the OpenTelemetry Python packages");
        fs::write(tmp.join("ctx-requirements.txt"), &requirements).expect("write venv stamp");

        if dir.exists() && !usable(&dir) {
            // An outdated or broken environment: move it aside, then delete it.
            let old = root.join(format!("py-interop-venv.old-{}", std::process::id()));
            if fs::rename(&dir, &old).is_ok() {
                let _ = fs::remove_dir_all(&old);
            }
        }
        if fs::rename(&tmp, &dir).is_err() {
            // Another process got there first with the same requirements.
            let _ = fs::remove_dir_all(&tmp);
            assert!(
                usable(&dir),
                "could not put the virtual environment in place at {}",
                dir.display()
            );
        }
        dir
    })
}
