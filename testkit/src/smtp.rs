//! A real SMTP server for the tests that send mail.

/// A real SMTP server (Python's aiosmtpd, from `scripts/smtp_sink.py`) that keeps each message
/// it receives as a file. Stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut sink = SmtpSink { port, dir: tempfile::tempdir().unwrap(), child: None };
        sink.restart().await;
        sink
    }

    /// Starts the server (again) on the same port.
    pub async fn restart(&mut self) {
        let python = workspace().join(".tools/venv/bin/python");
        assert!(python.exists(), "{} is missing: run scripts/setup.sh", python.display());
        let child = std::process::Command::new(python)
            .arg(workspace().join("scripts/smtp_sink.py"))
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start the SMTP sink");
        self.child = Some(child);
        // Python and aiosmtpd take a while to start on a loaded machine: up to 30 s.
        for _ in 0..1200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("the SMTP sink exited ({status}) before listening on port {}", self.port);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the SMTP sink did not start in 30 s");
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            // The sink writes `.<name>.eml` first and renames it: a reader must skip it.
            .filter(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        files.iter().map(|p| Mail::parse(&std::fs::read(p).unwrap())).collect()
    }

    pub fn messages_to(&self, to: &str) -> Vec<Mail> {
        self.messages().into_iter().filter(|m| m.to.contains(to)).collect()
    }

    /// Waits (up to 10 s) until `to` has received `count` messages, and returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Mail> {
        for _ in 0..200 {
            let got = self.messages_to(to);
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{to} received {} messages, expected {count}", self.messages_to(to).len());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A received email, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    fn parse(raw: &[u8]) -> Mail {
        let parsed = mailparse::parse_mail(raw).expect("a valid email");
        let header = |name: &str| {
            parsed
                .headers
                .iter()
                .find(|h| h.get_key_ref().eq_ignore_ascii_case(name))
                .map(|h| h.get_value())
                .unwrap_or_default()
        };
        let part = |mime: &str| {
            parsed.subparts.iter().find(|p| p.ctype.mimetype == mime).map(|p| p.get_body().unwrap()).unwrap_or_default()
        };
        Mail {
            from: header("From"),
            to: header("To"),
            subject: header("Subject"),
            content_type: parsed.ctype.mimetype.clone(),
            text: part("text/plain"),
            html: part("text/html"),
        }
    }

    /// The first link in the text that starts with `prefix` (e.g. `http://…/smn/confirm`).
    pub fn link(&self, path: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(path))
            .map(|w| w.trim_end_matches(['.', ',']).to_owned())
    }
}
