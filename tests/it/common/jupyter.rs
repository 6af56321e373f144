//! The real JupyterLab (`jupyterlab==4.6.6` from PyPI, installed into a cached
//! virtualenv by scripts/setup.sh) on a loopback port, with its own token and
//! password empty so that portcullis is its only gate. Its Host, Origin and XSRF
//! checks stay on.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Jupyter {
    child: Child,
    pub port: u16,
    /// `/jupyter` or empty: Jupyter's `base_url`, without its trailing `/`.
    pub base: String,
    dir: tempfile::TempDir,
}

/// Where scripts/setup.sh installs JupyterLab.
pub fn venv() -> PathBuf {
    if let Ok(v) = std::env::var("PORTCULLIS_JUPYTER_VENV") {
        return v.into();
    }
    super::hermes::venv()
        .parent()
        .map(|cache| cache.join("jupyter-venv"))
        .unwrap_or_default()
}

impl Jupyter {
    /// Starts `jupyter lab` with `base_url = <base>/` and waits until it answers.
    pub async fn start(base: &str) -> Jupyter {
        let lab = venv().join("bin/jupyter-lab");
        assert!(
            lab.exists(),
            "{} is missing: run scripts/setup.sh",
            lab.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = super::free_port();
        let log = std::fs::File::create(d.join("jupyter.log")).unwrap();
        let child = Command::new(lab)
            .args([
                "--allow-root",
                "--no-browser",
                "--ip=127.0.0.1",
                &format!("--port={port}"),
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                &format!("--ServerApp.base_url={base}/"),
                &format!("--ServerApp.root_dir={}", d.display()),
                // Nothing reaches the internet: no extension index, no news.
                "--LabApp.extension_manager=readonly",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            ])
            .env("HOME", d)
            .env("JUPYTER_CONFIG_DIR", d.join("config"))
            .env("JUPYTER_DATA_DIR", d.join("data"))
            .env("JUPYTER_RUNTIME_DIR", d.join("runtime"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("jupyter-lab");
        let jupyter = Jupyter {
            child,
            port,
            base: base.to_string(),
            dir,
        };
        let status = format!("{}/api/status", jupyter.url());
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = reqwest::get(&status).await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "JupyterLab did not start:\n{}",
                jupyter.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        jupyter
    }

    /// `http://127.0.0.1:<port><base>`, as portcullis's `upstream.url`.
    /// The directory the Lab serves (its `root_dir`).
    pub fn root(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.base)
    }

    /// What Jupyter logged: every request it answered with a 4xx or 5xx is there.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("jupyter.log")).unwrap_or_default()
    }
}

impl Drop for Jupyter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
