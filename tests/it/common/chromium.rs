//! Runs `tests/browser/journey.mjs` (Playwright driving Debian's Chromium) and
//! returns what the browser saw.

use std::process::Command;

/// Where tests leave screenshots.
pub fn output_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/output");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Drives one sign-in journey; `input` is the script's JSON input.
pub async fn journey(input: serde_json::Value) -> serde_json::Value {
    run_script("journey.mjs", input).await
}

/// Runs `tests/browser/<script>` with `input`; returns what it printed, failing
/// the test when the script reports an error.
pub async fn run_script(script: &str, input: serde_json::Value) -> serde_json::Value {
    let v = run_script_unchecked(script, input).await;
    assert!(v.get("error").is_none(), "browser journey failed: {v}");
    v
}

/// Runs `tests/browser/<script>` with `input`; returns what it printed, an
/// `error` field included, so the caller can add what else it knows.
pub async fn run_script_unchecked(script: &str, input: serde_json::Value) -> serde_json::Value {
    let script = format!("{}/tests/browser/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .arg(input.to_string())
            .output()
            .expect("node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "browser journey printed no result:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v
}
