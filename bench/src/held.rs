//! Agents waiting on the config stream (`GET /agent/v1/config/stream`, one WebSocket each), as
//! the agent waits since issue 18: the socket each agent holds, and the "agents one console
//! holds" row, as many as this machine's open-file limit lets one console hold, with the client
//! sockets spread over helper processes (`bench --hold-streams ADDR`, credentials on stdin), so
//! that the bench's own limit is not the one that binds.

use super::{idle_figures, open_fds, Backend, Baseline, Console, Res, IDLE_SECS};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// The row's target.
pub const TARGET: usize = 100_000;
/// Files the console keeps besides its agents' sockets (database, listener, log, ...), with room
/// to spare.
const HEADROOM: u64 = 1_000;
/// Sockets one helper process holds.
const PER_HELPER: usize = 5_000;
/// Handshakes in flight at once, per process: agents starting over a minute, not at one instant.
const HANDSHAKES: usize = 256;
const WAIT: &str = r#"{"after":0,"wait":30}"#;

/// Agents one console here can hold: the largest round thousand under the hard open-file limit
/// of a process (`ulimit -Hn`) less [`HEADROOM`], at most [`TARGET`].
pub fn agents() -> usize {
    let hard = hard_fd_limit();
    (hard.saturating_sub(HEADROOM) / 1000 * 1000).min(TARGET as u64) as usize
}

fn hard_fd_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_max
    } else {
        0
    }
}

/// One agent's config stream: the handshake (one of `handshakes` at a time), a first wait, then
/// a new wait each time the console answers "none", as the agent does. Counts each handshake
/// that ended in `counts.0` and each that failed in `counts.1`; returns when the console closes
/// the socket.
pub async fn hold_stream(
    addr: String,
    credential: String,
    handshakes: Arc<tokio::sync::Semaphore>,
    counts: Arc<(AtomicUsize, AtomicUsize)>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, protocol::WebSocketConfig, Message};
    let socket = async {
        let _turn = handshakes.acquire().await.ok()?;
        let mut req = format!("ws://{addr}{}", proto::agent::paths::CONFIG_STREAM).into_client_request().ok()?;
        req.headers_mut().insert("authorization", format!("Bearer {credential}").parse().ok()?);
        let tcp = tokio::net::TcpStream::connect(&addr).await.ok()?;
        // The bench's own side small too: thousands of them live in one process.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, tcp, Some(config)).await.ok()?;
        ws.send(Message::text(WAIT)).await.ok()?;
        Some(ws)
    }
    .await;
    counts.0.fetch_add(1, Ordering::Relaxed);
    let Some(mut ws) = socket else {
        counts.1.fetch_add(1, Ordering::Relaxed);
        return;
    };
    while let Some(Ok(m)) = ws.next().await {
        if matches!(&m, Message::Text(t) if t.as_str() == "{}") && ws.send(Message::text(WAIT)).await.is_err() {
            break;
        }
    }
}

/// `bench --hold-streams ADDR`: opens a config stream to the console at ADDR for each
/// credential on stdin (one a line, up to an empty line), prints `opened N failed M` once every
/// handshake has ended, and holds the streams until stdin closes.
pub async fn helper(addr: &str) -> Res<()> {
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut credentials = Vec::new();
    let mut line = String::new();
    while stdin.read_line(&mut line).await? > 0 && !line.trim().is_empty() {
        credentials.push(line.trim().to_owned());
        line.clear();
    }
    let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES));
    let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let total = credentials.len();
    let mut tasks = tokio::task::JoinSet::new();
    for credential in credentials.drain(..) {
        tasks.spawn(hold_stream(addr.to_owned(), credential, handshakes.clone(), counts.clone()));
    }
    while counts.0.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut out = tokio::io::stdout();
    let failed = counts.1.load(Ordering::Relaxed);
    out.write_all(format!("opened {} failed {failed}\n", total - failed).as_bytes()).await?;
    out.flush().await?;
    // Until the bench closes our stdin (or goes away).
    let mut rest = Vec::new();
    let _ = stdin.read_to_end(&mut rest).await;
    tasks.abort_all();
    Ok(())
}

/// A helper process holding some of the streams; killed when dropped.
struct Helper {
    child: tokio::process::Child,
}

impl Helper {
    async fn start(
        addr: &str,
        credentials: &[String],
    ) -> Res<(Helper, tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>)> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["--hold-streams", addr])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().ok_or("no stdin for the helper")?;
        let mut list = credentials.join("\n");
        list.push_str("\n\n");
        stdin.write_all(list.as_bytes()).await?;
        // Kept open: the helper holds its streams until it closes.
        child.stdin = Some(stdin);
        let stdout = child.stdout.take().ok_or("no stdout for the helper")?;
        Ok((Helper { child }, tokio::io::BufReader::new(stdout).lines()))
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The "agents one console holds" row: [`agents`] agents on the config stream of one fresh child
/// console, their sockets spread over helper processes; its RSS and CPU while they wait, beside
/// the target of [`TARGET`].
pub async fn bench_most(c: &Console, backend: Backend, credentials: &[String]) -> Res<()> {
    let agents = agents().min(credentials.len());
    let hard = hard_fd_limit();
    let Baseline { console, addr, pid, rss_before, fds_before, opened } = Baseline::start(&c.database_url).await?;
    let mut helpers = Vec::new();
    let mut reports = Vec::new();
    for chunk in credentials[..agents].chunks(PER_HELPER) {
        let (helper, lines) = Helper::start(&addr, chunk).await?;
        helpers.push(helper);
        reports.push(lines);
    }
    let (mut connected_by_helpers, mut failed) = (0, 0);
    for lines in &mut reports {
        let line =
            tokio::time::timeout(Duration::from_secs(300), lines.next_line()).await.map_err(|_| "a helper hung")??;
        let words: Vec<&str> = line.as_deref().unwrap_or("").split_whitespace().collect();
        match words.as_slice() {
            ["opened", n, "failed", m] => {
                connected_by_helpers += n.parse::<usize>()?;
                failed += m.parse::<usize>()?;
            }
            _ => return Err(format!("a helper said {line:?}").into()),
        }
    }
    let open_secs = opened.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_pct, peak_rss, rss, hwm) = idle_figures(pid).await;
    let connected = open_fds(pid).saturating_sub(fds_before);
    let mb = |kb: u64| kb as f64 / 1024.0;
    let verdict = if agents >= TARGET && failed == 0 && connected >= agents {
        "ok".to_owned()
    } else {
        format!("NOT MET here: capped by the open-file limit ({hard} per process, `ulimit -Hn`)")
    };
    println!(
        "agents one console holds ({}): {agents} on the config stream, server process: RSS {:.0} MB while they wait (peak {:.0} MB, high-water {:.0} MB; {:.0} MB before: {:.1} kB per agent), CPU {cpu_pct:.1}% of one core over {IDLE_SECS} s; {connected} sockets open ({connected_by_helpers} by {} client processes), {failed} handshakes failed; opened in {open_secs:.1} s (target {TARGET}) {verdict}",
        backend.name(),
        mb(rss),
        mb(peak_rss),
        mb(hwm),
        mb(rss_before),
        (hwm as f64 - rss_before as f64) / agents.max(1) as f64,
        helpers.len(),
    );
    drop(helpers);
    drop(console);
    Ok(())
}
